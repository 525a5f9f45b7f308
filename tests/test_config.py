"""The typed config: defaults, YAML, --set overrides, errors that name the key, and the Trainer's settings."""

import json
import re
from pathlib import Path

import pytest

from components.trainer.hyperparameters import Hyperparameters
from pipeline import config as config_lib


def test_defaults_are_valid():
    config = config_lib.load_config()
    assert config.model.architectures == ["v1", "v2"]
    assert config.tflite.quantization == ["int8"]
    assert config.model.bn_momentum == 0.9


def test_yaml_then_set_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 7\nmodel:\n  v1_alpha: 0.5\n  architectures: [v2]\n")
    config = config_lib.load_config(str(path), ["train.epochs=3", "tflite.quantization=float32,int8"])
    assert config.train.epochs == 3
    assert config.model.v1_alpha == 0.5
    assert config.model.architectures == ["v2"]
    assert config.tflite.quantization == ["float32", "int8"]


@pytest.mark.parametrize(
    "override, key",
    [
        ("foo.bar=1", "foo.bar"),
        ("train.nope=1", "train.nope"),
        ("train.epochs=many", "train.epochs"),
        ("train.epochs=0", "train.epochs"),
        ("model.v1_alpha=0.3", "model.v1_alpha"),
        ("model.v2_alpha=0.25", "model.v2_alpha"),
        ("model.input_size=16", "model.input_size"),
        ("model.architectures=v3", "model.architectures"),
        ("data.eval_fraction=1.5", "data.eval_fraction"),
        ("data.example_jpeg_quality=101", "data.example_jpeg_quality"),
        ("train.quantization_aware_epochs=-1", "train.quantization_aware_epochs"),
        ("gates.max_model_bytes=-1", "gates.max_model_bytes"),
        ("tflite.quantization=int4", "tflite.quantization"),
        ("pipeline.enable_cache=maybe", "pipeline.enable_cache"),
    ],
)
def test_bad_values_name_the_key(override, key):
    with pytest.raises(config_lib.ConfigError, match=rf"^{key}:"):
        config_lib.load_config(None, [override])


def test_yaml_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  width: 2\n")
    with pytest.raises(config_lib.ConfigError, match="model.width: unknown key"):
        config_lib.load_config(str(path))
    with pytest.raises(config_lib.ConfigError, match="cannot read config file"):
        config_lib.load_config(str(tmp_path / "missing.yaml"))
    with pytest.raises(config_lib.ConfigError, match="expected key=value"):
        config_lib.load_config(None, ["train.epochs"])


@pytest.mark.parametrize(
    "overrides, count, expected",
    [
        ([], 120, ("in_memory", 1)),
        ([], 5000, ("in_memory", 1)),
        ([], 5001, ("multi_processing", 2)),
        ([], None, ("multi_processing", 2)),
        (["beam.in_memory_max_examples=0"], 120, ("multi_processing", 2)),
        (["beam.direct_running_mode=multi_processing"], 120, ("multi_processing", 2)),
        (["beam.direct_running_mode=in_memory", "beam.direct_num_workers=3"], 10**6, ("in_memory", 3)),
    ],
)
def test_auto_beam_mode_runs_small_folders_in_one_process(overrides, count, expected):
    assert config_lib.load_config(None, overrides).beam.direct_mode(count) == expected


def test_localize_returns_absolute_paths_and_leaves_the_config_as_it_was(tmp_path, monkeypatch):
    from pipeline import local_runner

    monkeypatch.chdir(tmp_path)
    config = config_lib.load_config(
        None, ["data.root=images", "registry.root=gs://bucket/registry", "pipeline.home=runs"]
    )
    local, paths = local_runner.localize(config)
    assert (config.data.root, config.pipeline.home) == ("images", "runs")
    assert local.data.root == str(tmp_path / "images") and local.pipeline.home == str(tmp_path / "runs")
    assert local.registry.root == "gs://bucket/registry" and paths.home == tmp_path / "runs"


def test_runs_started_in_the_same_second_in_one_home_get_a_log_each(tmp_path, monkeypatch):
    """The log's name also names the run's report: two runs at once (one per architecture, `bench.branches`) must
    not share either."""
    from pipeline import local_runner

    monkeypatch.setattr(local_runner.time, "strftime", lambda pattern: "run-20261202-120000")
    paths = local_runner.RunPaths(tmp_path / "home")
    logs = [paths.new_log() for _ in range(3)]
    assert [Path(log).name for log in logs] == [
        "run-20261202-120000.log",
        "run-20261202-120000-2.log",
        "run-20261202-120000-3.log",
    ]
    assert all(Path(log).is_file() for log in logs)


def test_the_trainer_gets_every_setting_from_the_config_and_it_survives_tfx_json():
    config = config_lib.load_config(
        None, ["train.epochs=3", "model.v1_alpha=0.5", "model.v2_alpha=0.35", "train.quantization_aware_epochs=1"]
    )
    v1, v2 = config.trainer_hparams("v1"), config.trainer_hparams("v2")
    assert (v1.name, v1.alpha, v1.epochs, v1.quantization_aware_epochs) == ("mobilenet_v1", 0.5, 3, 1)
    assert (v2.name, v2.alpha, v2.architecture) == ("mobilenet_v2", 0.35, "v2")
    assert Hyperparameters.from_custom_config(json.loads(json.dumps(v1.to_custom_config()))) == v1


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("epochs"), "missing epochs; unknown nothing"),
        (lambda c: c.update(epoch=3), "missing nothing; unknown epoch"),
        (lambda c: c.update(epochs="3"), "epochs: expected int, got '3'"),
        (lambda c: c.update(augment=1), "augment: expected bool, got 1"),
        (lambda c: c.update(seed=True), "seed: expected int, got True"),
    ],
)
def test_a_trainer_custom_config_that_is_not_the_configs_is_refused_by_field(change, message):
    custom_config = config_lib.load_config(None, []).trainer_hparams("v1").to_custom_config()
    change(custom_config)
    with pytest.raises(ValueError, match=re.escape(message)):
        Hyperparameters.from_custom_config(custom_config)


def test_every_setting_is_documented_beside_its_default_and_the_reference_is_current():
    """docs/configuration.md is generated from the fields' metadata: a setting added or changed without running
    `python -m pipeline.config_reference` fails here."""
    from pipeline import config_reference

    for _, _, rows in config_reference.settings():
        for key, _, _, meaning in rows:
            assert len(meaning.split()) >= 3, f"{key} has no meaning in pipeline/config.py"
    assert config_reference.REFERENCE_PATH.read_text(encoding="utf-8") == config_reference.markdown(), (
        "docs/configuration.md is stale: run python -m pipeline.config_reference"
    )
    assert "train.augment = true" in config_reference.plain_text()
