"""`registry pull` and `registry diff` on a real registry (issue #14): the round trip, a tampered file or a moved
channel refused with nothing written, a pull killed before its commit leaving the previous files intact, a
registry on S3 (moto) and on GCS (fake-gcs-server) pulled to a local folder and to a tf.io.gfile URL (ram://), and
the one-line errors."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from components.registry import pull as pull_lib
from components.registry.filesystems import filesystem_for
from components.registry.store import Registry, VersionNotFound
from tests.helpers import TFLITE_HEADER, kill_at_commit, publish_files, run_registry_cli, signal_and_hang


@pytest.fixture
def registry(tmp_path) -> Registry:
    """mobilenet_v1 versions 1 and 2; production serves 1, staging 2."""
    registry = Registry(str(tmp_path / "registry"))
    publish_files(registry, tmp_path / "a", b"v1 first")
    publish_files(registry, tmp_path / "b", b"v1 second")
    registry.promote("mobilenet_v1", 1, "production")
    registry.promote("mobilenet_v1", 2, "staging")
    return registry


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_pull_copies_the_production_version_and_prints_what_it_checked(registry, tmp_path, capsys):
    assets = tmp_path / "app" / "src" / "main" / "assets"
    code, out, err = run_registry_cli(registry, capsys, "pull", "mobilenet_v1", "--to", str(assets))
    assert (code, err) == (0, "")
    version = registry.show("mobilenet_v1", 1)
    assert _files(assets) == {name: (Path(version.path) / name).read_bytes() for name in pull_lib.PULLED_FILES}
    assert out.splitlines()[0] == (
        f"pulled mobilenet_v1 version 1 (channel production) into {assets}: model.tflite, labels.txt, manifest.json"
    )
    assert f"sha256 {version.sha256} verified against the manifest and the channel" in out

    code, out, _ = run_registry_cli(
        registry, capsys, "pull", "mobilenet_v1", "--channel", "staging", "--to", str(assets), "--json"
    )
    pulled = json.loads(out)
    assert code == 0 and (pulled["version"], pulled["channel"]) == (2, "staging")
    assert hashlib.sha256((assets / "model.tflite").read_bytes()).hexdigest() == pulled["sha256"]
    code, out, _ = run_registry_cli(
        registry, capsys, "pull", "mobilenet_v1", "--version", "1", "--to", str(assets), "--json"
    )
    assert code == 0 and (json.loads(out)["version"], json.loads(out)["channel"]) == (1, None)


def test_a_tampered_file_or_a_moved_channel_is_refused_and_nothing_is_written(registry, tmp_path, capsys):
    assets = tmp_path / "assets"
    assert run_registry_cli(registry, capsys, "pull", "mobilenet_v1", "--to", str(assets))[0] == 0
    before = _files(assets)
    model = Path(registry.show("mobilenet_v1", 1).path) / "model.tflite"
    original = model.read_bytes()
    model.write_bytes(TFLITE_HEADER + b"tampered")
    code, out, err = run_registry_cli(registry, capsys, "pull", "mobilenet_v1", "--to", str(assets))
    assert (code, out) == (2, "") and err.startswith("error: mobilenet_v1 version 1: model.tflite has sha256 ")
    assert err.rstrip().endswith("nothing was written") and _files(assets) == before

    model.write_bytes(original)
    channel = Path(registry.root) / "mobilenet_v1" / "channels" / "production.json"
    pointer = json.loads(channel.read_text())
    channel.write_text(json.dumps({**pointer, "sha256": "0" * 64}))
    code, _, err = run_registry_cli(registry, capsys, "pull", "mobilenet_v1", "--to", str(assets))
    assert code == 2 and "the channel recorded sha256 0000" in err and _files(assets) == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["unknown_model"], "error: model 'unknown_model' has no versions in registry"),
        (
            ["mobilenet_v1", "--channel", "beta"],
            "error: channel 'beta' of model 'mobilenet_v1' serves no version "
            "(channels: production (version 1), staging (version 2)); promote one",
        ),
        (["mobilenet_v1", "--version", "9"], "error: model 'mobilenet_v1' has no version 9 (versions: 1, 2)"),
    ],
)
def test_an_unknown_model_channel_or_version_is_one_line_and_exit_2(registry, tmp_path, capsys, argv, message):
    code, out, err = run_registry_cli(registry, capsys, "pull", *argv, "--to", str(tmp_path / "assets"))
    assert (code, out) == (2, "") and err.startswith(message) and len(err.splitlines()) == 1
    assert not (tmp_path / "assets").exists() or not any((tmp_path / "assets").iterdir())


def test_an_empty_channel_says_how_to_fill_it(tmp_path, capsys):
    registry = Registry(str(tmp_path / "registry"))
    publish_files(registry, tmp_path / "a", b"only")
    code, _, err = run_registry_cli(registry, capsys, "pull", "mobilenet_v1", "--to", str(tmp_path / "assets"))
    assert code == 2 and err.startswith(
        "error: channel 'production' of model 'mobilenet_v1' serves no version "
        "(channels: none); promote one with: registry promote mobilenet_v1 VERSION "
        "--channel production"
    )


def _pull_and_hang_before_commit(root: str, destination: str, started) -> None:
    pull_lib.pull(
        Registry(root),
        "mobilenet_v1",
        destination,
        channel="staging",
        before_commit=functools.partial(signal_and_hang, started),
    )


def test_a_pull_killed_before_its_commit_leaves_the_previous_files_and_the_next_pull_cleans_up(registry, tmp_path):
    assets = tmp_path / "assets"
    pull_lib.pull(registry, "mobilenet_v1", str(assets))
    before = _files(assets)
    kill_at_commit(_pull_and_hang_before_commit, (registry.root, str(assets)))
    visible = {name: data for name, data in _files(assets).items() if not name.startswith(".")}
    assert visible == before  # version 1's files, whole
    assert len(_files(assets)) == len(before) + 3  # the killed pull had staged its three hidden files

    pulled = pull_lib.pull(registry, "mobilenet_v1", str(assets), channel="staging")
    assert pulled.version == 2 and set(_files(assets)) == set(pull_lib.PULLED_FILES)
    assert json.loads((assets / "manifest.json").read_text())["version"] == 2


def test_a_failure_while_staging_removes_what_it_staged(registry, tmp_path):
    assets = tmp_path / "assets"
    pull_lib.pull(registry, "mobilenet_v1", str(assets))
    before = _files(assets)

    def fail(folder: str) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        pull_lib.pull(registry, "mobilenet_v1", str(assets), channel="staging", before_commit=fail)
    assert _files(assets) == before


def test_a_failure_between_the_renames_leaves_a_manifest_that_does_not_match_the_model(registry, tmp_path, monkeypatch):
    """The documented window: the renames are not one step. The previous manifest.json stays (renamed last), so
    its sha256 tells the new model apart; no staged file is left."""
    from components.registry import filesystems

    assets = tmp_path / "assets"
    pull_lib.pull(registry, "mobilenet_v1", str(assets))
    before = _files(assets)
    replace, calls = filesystems.LocalFilesystem.replace, []

    def fail_on_the_second(self, temporary: str, path: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk gone")
        replace(self, temporary, path)

    monkeypatch.setattr(filesystems.LocalFilesystem, "replace", fail_on_the_second)
    with pytest.raises(OSError, match="disk gone"):
        pull_lib.pull(registry, "mobilenet_v1", str(assets), channel="staging")
    after = _files(assets)
    assert set(after) == set(pull_lib.PULLED_FILES)
    assert after["manifest.json"] == before["manifest.json"] and after["model.tflite"] != before["model.tflite"]
    assert hashlib.sha256(after["model.tflite"]).hexdigest() != json.loads(after["manifest.json"])["sha256"]


def test_registry_pull_from_an_object_store_verifies_the_files_into_a_local_folder(object_store_root, tmp_path, capsys):
    registry = Registry(object_store_root)
    publish_files(registry, tmp_path / "a", b"remote first")
    publish_files(registry, tmp_path / "b", b"remote second")
    registry.promote("mobilenet_v1", 2, "production")
    assets = tmp_path / "app" / "src" / "main" / "assets"
    command = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "registry",
            "pull",
            "mobilenet_v1",
            "--registry",
            object_store_root,
            "--to",
            str(assets),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = command.stdout

    assert (command.returncode, command.stderr) == (0, "")
    manifest = json.loads((assets / "manifest.json").read_text())
    assert (manifest["version"], manifest["model_name"]) == (2, "mobilenet_v1")
    assert (assets / "model.tflite").read_bytes() == TFLITE_HEADER + b"remote second"
    assert hashlib.sha256((assets / "model.tflite").read_bytes()).hexdigest() == manifest["sha256"]
    assert hashlib.sha256((assets / "labels.txt").read_bytes()).hexdigest() == manifest["labels_sha256"]
    assert f"sha256 {manifest['sha256']} verified against the manifest and the channel" in out
    code, _, err = run_registry_cli(
        registry, capsys, "pull", "mobilenet_v1", "--channel", "staging", "--to", str(assets)
    )
    assert code == 2 and "channel 'staging' of model 'mobilenet_v1' serves no version" in err


def test_pull_from_an_object_store_to_a_gfile_url(s3_root, tmp_path):
    """ram:// (tf.io.gfile's in-memory filesystem) stands for any other destination URL."""
    registry = Registry(s3_root)
    publish_files(registry, tmp_path / "a", b"remote")
    registry.promote("mobilenet_v1", 1, "production")
    destination = f"ram://assets-{uuid.uuid4().hex}"
    pulled = pull_lib.pull(registry, "mobilenet_v1", destination)
    filesystem = filesystem_for(destination)
    assert sorted(filesystem.listdir(destination)) == sorted(pull_lib.PULLED_FILES)
    with filesystem.open(f"{destination}/model.tflite", "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == pulled.manifest["sha256"]
    with pytest.raises(VersionNotFound):
        pull_lib.pull(registry, "mobilenet_v2", destination)


def test_diff_shows_two_versions_side_by_side_and_marks_what_changed(registry, capsys):
    code, out, _ = run_registry_cli(registry, capsys, "diff", "mobilenet_v1", "production", "2")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("mobilenet_v1: production (version 1) against version 2; ")
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["version"].split()[1:] == ["1", "2", "*"]
    assert rows["sha256"].rstrip().endswith("*") and not rows["architecture"].rstrip().endswith("*")
    code, out, _ = run_registry_cli(registry, capsys, "diff", "mobilenet_v1", "staging", "2", "--json")
    assert code == 0 and json.loads(out)["changed"] == []
    code, _, err = run_registry_cli(registry, capsys, "diff", "mobilenet_v1", "beta", "1")
    assert code == 2 and err.startswith("error: 'beta' is neither a version number nor a channel")
