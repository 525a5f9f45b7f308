"""Hostile or mistaken configuration: every unknown key, wrong type and impossible value is an error naming the key,
raised by `pipeline run` before any component runs (nothing is created in the run home or the registry)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pipeline import cli
from pipeline import config as config_lib
from pipeline.config import REPO_ROOT


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.max_bad_fraction=-0.1", "data.max_bad_fraction: -0.1 is invalid; expected between 0 and 1"),
        ("data.max_bad_fraction=1.5", "data.max_bad_fraction: 1.5 is invalid; expected between 0 and 1"),
        (
            "data.max_image_pixels=100_000_000",
            "data.max_image_pixels: 100000000 is invalid; expected 1 to 89,478,485 "
            "(PIL's decompression-bomb limit, above which it decodes what it only "
            "warns about)",
        ),
        ("data.max_image_pixels=0", "data.max_image_pixels: 0 is invalid; expected 1 to 89,478,485"),
        ("model.input_size=31", "model.input_size: 31 is invalid; expected an integer from 32 to 512"),
        ("model.input_size=-32", "model.input_size: -32 is invalid; expected an integer from 32 to 512"),
        ("model.input_size=32.5", "model.input_size: expected an integer, got '32.5'"),
        ("model.v1_alpha=0.35", "model.v1_alpha: 0.35 is invalid; expected one of 0.25, 0.5, 0.75, 1.0"),
        ("model.v2_alpha=0.25", "model.v2_alpha: 0.25 is invalid; expected one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4"),
        ("model.v1_alpha=wide", "model.v1_alpha: expected a number, got 'wide'"),
        ("train.batch_size=-1", "train.batch_size: -1 is invalid; expected at least 1"),
        ("train.epochs=true", "train.epochs: expected an integer, got 'true'"),
        ("train.learning_rate=inf", "train.learning_rate: inf is invalid; expected positive and finite"),
        ("train.learning_rate=nan", "train.learning_rate: nan is invalid; expected positive and finite"),
        ("gates.max_model_bytes=0", "gates.max_model_bytes: 0 is invalid; expected positive"),
        ("gates.max_latency_ms=inf", "gates.max_latency_ms: inf is invalid; expected positive and finite"),
        ("gates.min_accuracy=80", "gates.min_accuracy: 80.0 is invalid; expected a fraction from 0 to 1"),
        ("tflite.representative_examples=-5", "tflite.representative_examples: -5 is invalid; expected at least 1"),
        ("tflite.latency_runs=0", "tflite.latency_runs: 0 is invalid; expected at least 1"),
        ("tflite.integer_io=uint16", "tflite.integer_io: 'uint16' is invalid; expected empty (float I/O) or uint8"),
        (
            "tflite.integer_io=int8",
            "tflite.integer_io: 'int8' is invalid; expected empty (float I/O) or uint8 (MediaPipe "
            "Tasks and the TFLite Task Library refuse an int8 input tensor)",
        ),
        ("beam.runner=LocalRunner", "beam.runner: 'LocalRunner' is invalid"),
        (
            "registry.model_prefix=../../etc",
            "registry.model_prefix: '../../etc' is invalid; expected a prefix that makes "
            "model names <prefix>_v1 / <prefix>_v2 of 1-64 of a-z 0-9 _ . -",
        ),
        ("registry.model_prefix=/abs", "registry.model_prefix: '/abs' is invalid"),
        ("registry.model_prefix=Mobile Net", "registry.model_prefix: 'Mobile Net' is invalid"),
        ("pipeline.name=", "pipeline.name: '' is invalid; expected 1 to 63 characters"),
        ("pipeline.name=" + "p" * 64, "pipeline.name: '" + "p" * 64 + "' is invalid; expected 1 to 63 characters"),
        (
            "model.widht=2",
            "model.widht: unknown key (known in model: architectures, bn_momentum, dropout, "
            "input_size, v1_alpha, v2_alpha, weights)",
        ),
        ("model.alpha=0.5", "model.alpha: renamed model.v1_alpha (the V1 width; model.v2_alpha is V2's)"),
        (
            "modle.alpha=0.5",
            "modle.alpha: unknown key (sections: beam, data, gates, kubeflow, model, pipeline, registry, tflite, "
            "train)",
        ),
    ],
)
def test_impossible_values_are_errors_naming_the_key(override, message):
    with pytest.raises(config_lib.ConfigError, match="^" + re.escape(message)):
        config_lib.load_config(None, [override])


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("train:\n  epochs: [1, 2]\n", "train.epochs: expected an integer, got [1, 2]"),
        ("train:\n  epochs: 2.5\n", "train.epochs: expected an integer, got 2.5"),
        ("model:\n  architectures: 5\n", "model.architectures: expected a list, got 5"),
        ("registry:\n  root: {bucket: x}\n", "registry.root: expected a string, got {'bucket': 'x'}"),
        ("pipeline:\n  enable_cache: sometimes\n", "pipeline.enable_cache: expected true or false, got 'sometimes'"),
        ("model: null\n", "model: expected a mapping of keys in "),
        ("- train\n- model\n", ": expected a mapping of sections, got list"),
        ("train:\n  epochs: 3\n  seed: 1\n  shuffle: true\n", "train.shuffle: unknown key"),
        ("train: {epochs: 3\n", ": not valid YAML"),
    ],
)
def test_bad_yaml_files_are_errors_naming_the_key(tmp_path, yaml_text, message):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(config_lib.ConfigError, match=re.escape(message)):
        config_lib.load_config(str(path))


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--set", "model.input_size=16"],
            "error: model.input_size: 16 is invalid; expected an integer from 32 to 512",
        ),
        (["--set", "train.epochs=-3"], "error: train.epochs: -3 is invalid; expected at least 1"),
        (
            ["--set", "model.v1_alpha=0.3"],
            "error: model.v1_alpha: 0.3 is invalid; expected one of 0.25, 0.5, 0.75, 1.0",
        ),
        (["--set", "gates.max_size=1"], "error: gates.max_size: unknown key (known in gates: "),
        (["--models", "v1,v3"], "error: model.architectures: ['v1', 'v3'] is invalid"),
    ],
)
def test_pipeline_run_refuses_a_bad_config_before_any_component_runs(tmp_path, capsys, flags, message):
    data, home, registry = tmp_path / "data", tmp_path / "home", tmp_path / "registry"
    code = cli.main(["run", "--data", str(data), "--home", str(home), "--registry", str(registry), *flags])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1
    assert not home.exists() and not registry.exists()


@pytest.mark.parametrize("overrides, code", [([], 0), (["--set", "train.epochs=0"], 2)])
def test_the_command_ends_with_its_code_its_output_written_and_the_exit_handlers_run(overrides, code):
    """`pipeline.cli.command` ends the process without the interpreter's finalization, but only after the exit
    handlers and with everything printed."""
    program = (
        "import atexit, sys; atexit.register(lambda: print('exit handler ran')); "
        f"sys.argv = ['mobilenet-pipeline', 'show-config', *{overrides!r}]; "
        "from pipeline.cli import command; command()"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == code, result.stderr
    assert result.stdout.rstrip().endswith("exit handler ran")
    if code:
        assert "error: train.epochs: 0 is invalid" in result.stderr
    else:
        assert "registry:" in result.stdout and "epochs: 15" in result.stdout
