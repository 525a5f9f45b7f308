"""`registry list|show|promote|rollback` on a real registry folder: tables, --json and one-line errors."""

from __future__ import annotations

import json

import pytest

from components.registry.store import Registry
from tests.helpers import publish_files, run_registry_cli


@pytest.fixture
def registry(tmp_path) -> Registry:
    """mobilenet_v1 versions 1 and 2, mobilenet_v2 version 1."""
    registry = Registry(str(tmp_path / "registry"))
    publish_files(registry, tmp_path / "a", b"v1 first")
    publish_files(registry, tmp_path / "b", b"v1 second")
    publish_files(registry, tmp_path / "c", b"v2 first", name="mobilenet_v2")
    return registry


def test_list_shows_an_aligned_table_and_json(registry, capsys):
    run_registry_cli(registry, capsys, "promote", "mobilenet_v1", "1", "--channel", "production")
    code, out, _ = run_registry_cli(registry, capsys, "list")
    assert code == 0
    header, *rows = out.splitlines()[1:]
    assert header.split() == ["model", "versions", "latest", "quantization", "size", "tflite", "acc", "production"]
    assert rows[0].split()[:4] == ["mobilenet_v1", "2", "2", "int8"] and rows[0].split()[-1] == "1"
    assert rows[1].split()[:3] == ["mobilenet_v2", "1", "1"] and rows[1].split()[-1] == "-"
    for column, values in (("latest", "21"), ("quantization", "ii")):
        start = header.index(column)
        assert [row[start] for row in rows] == list(values) and all(row[start - 1] == " " for row in rows)

    code, out, _ = run_registry_cli(registry, capsys, "list", "--json")
    assert code == 0 and json.loads(out) == [
        {"name": "mobilenet_v1", "versions": [1, 2], "latest_version": 2, "channels": {"production": 1}},
        {"name": "mobilenet_v2", "versions": [1], "latest_version": 1, "channels": {}},
    ]


def test_show_lists_versions_or_one_manifest(registry, capsys):
    code, out, _ = run_registry_cli(registry, capsys, "show", "mobilenet_v1")
    lines = out.splitlines()
    assert code == 0 and lines[1].split()[:2] == ["version", "created"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert registry.show("mobilenet_v1", 2).sha256[:12] in lines[3]

    code, out, _ = run_registry_cli(registry, capsys, "show", "mobilenet_v1", "1")
    fields = dict(line.split(None, 1) for line in out.splitlines()[1:])
    assert code == 0 and fields["version"] == "1" and fields["sha256"] == registry.show("mobilenet_v1", 1).sha256
    assert fields["latency_ms"] == "median=4.2 p90=5.0 threads=2 runs=50"

    code, out, _ = run_registry_cli(registry, capsys, "show", "mobilenet_v1", "1", "--json")
    shown = json.loads(out)
    assert shown["manifest"] == registry.show("mobilenet_v1", 1).manifest and shown["channels"] == []


def test_promote_and_rollback_move_the_channel(registry, capsys):
    assert run_registry_cli(registry, capsys, "promote", "mobilenet_v1", "1", "--channel", "production")[0] == 0
    code, out, _ = run_registry_cli(registry, capsys, "promote", "mobilenet_v1", "2", "--channel", "production")
    assert code == 0 and "now serves version 2 (was version 1)" in out
    code, out, _ = run_registry_cli(registry, capsys, "rollback", "mobilenet_v1", "--channel", "production", "--json")
    assert code == 0 and json.loads(out)["version"] == 1 and json.loads(out)["history"] == []
    assert registry.channels("mobilenet_v1")["production"].version == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "mobilenet_v1", "7"], "error: model 'mobilenet_v1' has no version 7 (versions: 1, 2)"),
        (["show", "resnet"], "error: model 'resnet' has no versions in registry"),
        (
            ["promote", "../x", "1", "--channel", "production"],
            "error: invalid model name '../x': contains a path separator",
        ),
        (["promote", "mobilenet_v1", "1", "--channel", "/abs"], "error: invalid channel '/abs': is an absolute path"),
        (
            ["rollback", "mobilenet_v1", "--channel", "staging"],
            "error: channel 'staging' of model 'mobilenet_v1' is not set",
        ),
        (["list", "--registry", "/nonexistent/registry"], "error: registry /nonexistent/registry does not exist"),
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_code_2(registry, capsys, argv, message):
    code, out, err = run_registry_cli(registry, capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_promote_refuses_a_tampered_model(registry, capsys, tmp_path):
    model = tmp_path / "registry" / "mobilenet_v1" / "2" / "model.tflite"
    model.write_bytes(model.read_bytes()[:-1])
    code, _, err = run_registry_cli(registry, capsys, "promote", "mobilenet_v1", "2", "--channel", "production")
    assert code == 2 and "mobilenet_v1 version 2: model.tflite has sha256" in err and "Traceback" not in err
    assert registry.channels("mobilenet_v1") == {}


def test_the_main_cli_runs_registry_commands(registry, capsys):
    from pipeline import cli

    assert cli.main(["registry", "list", "--registry", registry.root, "--json"]) == 0
    assert [model["name"] for model in json.loads(capsys.readouterr().out)] == ["mobilenet_v1", "mobilenet_v2"]


def test_the_registry_commands_take_the_root_from_a_config_file_or_set(registry, capsys, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"registry:\n  root: {registry.root}\n")
    code, out, _ = run_registry_cli(Registry(str(tmp_path / "elsewhere")), capsys, "list", "--config", str(config))
    assert code == 0 and out.startswith(f"registry {registry.root}")
    code, _, err = run_registry_cli(registry, capsys, "list", "--set", f"registry.root={tmp_path / 'none'}")
    assert code == 2 and "does not exist (give --registry, or --config/--set with registry.root)" in err
