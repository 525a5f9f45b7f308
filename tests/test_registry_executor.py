"""RegistryPusher's executor with real TFX artifacts: pushes only when both blessings are there and blessed and,
unless told otherwise, ExampleValidator found no anomalies."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.components.base.base_executor import BaseExecutor
from tfx.types import channel, standard_artifacts

from components.registry import executor as registry_executor
from components.registry.component import RegistryPusher
from components.registry.names import InvalidName
from components.registry.store import Registry
from tests.helpers import anomalies_artifact, blessing_artifact, tflite_report, write_model_files

UNEXPECTED_LABEL = anomalies_pb2.AnomalyInfo(
    short_description="Unexpected string values",
    description="Examples contain values missing from the schema: triangle (~33%).",
)


def _push(
    tmp_path: Path,
    model_blessed: int | None,
    tflite_blessed: int,
    run_id: str = "run-1",
    report: dict | None = None,
    attempt: str = "0",
    anomalies: dict | None = None,
    block_on_anomalies: int = 1,
) -> standard_artifacts.PushedModel:
    """Run the executor once on a TFLite Model artifact written under tmp_path, with ExampleValidator's
    `anomalies` (feature -> anomaly; none by default); return the PushedModel."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "TFLite" / "tflite_model")
    if not Path(model.uri).exists():
        write_model_files(Path(model.uri), b"quantized weights")
        (Path(model.uri) / "report.json").write_text(json.dumps(report or tflite_report()))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "Pusher" / attempt)
    input_dict = {
        "model": [model],
        "tflite_blessing": [blessing_artifact(tmp_path / f"tflite_blessing{attempt}", tflite_blessed)],
        "anomalies": [anomalies_artifact(tmp_path / f"anomalies{attempt}", anomalies or {})],
    }
    if model_blessed is not None:
        input_dict["model_blessing"] = [blessing_artifact(tmp_path / f"model_blessing{attempt}", model_blessed)]
    executor = registry_executor.Executor(BaseExecutor.Context(pipeline_run_id=run_id))
    executor.Do(
        input_dict,
        {"pushed_model": [pushed]},
        {
            "registry_root": str(tmp_path / "registry"),
            "model_name": "mobilenet_v1",
            "block_on_anomalies": block_on_anomalies,
        },
    )
    return pushed


def test_pushes_when_both_blessings_are_blessed(tmp_path):
    pushed = _push(tmp_path, model_blessed=1, tflite_blessed=1)

    version_dir = tmp_path / "registry" / "mobilenet_v1" / "1"
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == str(version_dir)
    assert pushed.get_string_custom_property("pushed_version") == "1"
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["pipeline_run_id"] == "run-1" and manifest["quantization"] == "int8"
    assert manifest["source_examples"] == "Transform/transformed_examples/7" and "candidates" not in manifest
    assert (Path(pushed.uri) / "model.tflite").read_bytes() == (version_dir / "model.tflite").read_bytes()
    assert Registry(str(tmp_path / "registry")).verify("mobilenet_v1", 1).sha256 == manifest["sha256"]


def test_the_same_model_is_never_published_twice_but_a_different_one_is(tmp_path):
    _push(tmp_path, 1, 1, run_id="run-1")
    retried = _push(tmp_path, 1, 1, run_id="run-1", attempt="1")
    cached_run = _push(tmp_path, 1, 1, run_id="run-2", attempt="2")
    assert retried.get_string_custom_property("pushed_version") == "1"
    assert cached_run.get_string_custom_property("pushed_version") == "1"
    first_version = tmp_path / "registry" / "mobilenet_v1" / "1"
    assert cached_run.get_string_custom_property("pushed_destination") == str(first_version)
    write_model_files(tmp_path / "TFLite" / "tflite_model", b"retrained weights")
    next_run = _push(tmp_path, 1, 1, run_id="run-3", attempt="3")
    assert next_run.get_string_custom_property("pushed_version") == "2"
    assert [v.version for v in Registry(str(tmp_path / "registry")).versions("mobilenet_v1")] == [1, 2]


def test_holds_back_without_the_evaluatorsblessing_artifact(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        pushed = _push(tmp_path, model_blessed=None, tflite_blessed=1)
    assert pushed.get_int_custom_property("pushed") == 0
    assert (
        "held back and not pushed: model_blessing: no blessing from the Evaluator (TFMA accuracy thresholds)"
        in caplog.text
    )
    assert Registry(str(tmp_path / "registry")).versions("mobilenet_v1") == []


def test_anomalies_hold_back_a_blessed_model_naming_each_one(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        pushed = _push(tmp_path, 1, 1, anomalies={"label": UNEXPECTED_LABEL})
    expected = (
        "anomalies: ExampleValidator found anomalies against the schema: split train: feature 'label': "
        "Unexpected string values (Examples contain values missing from the schema: triangle (~33%).)"
    )
    assert pushed.get_int_custom_property("pushed") == 0
    assert f"mobilenet_v1 was held back and not pushed: {expected}" in caplog.text
    assert pushed.get_string_custom_property("blocking_anomalies") == (
        "split train: feature 'label': Unexpected string values (Examples contain values missing from the schema: "
        "triangle (~33%).)"
    )
    registry = Registry(str(tmp_path / "registry"))
    assert registry.versions("mobilenet_v1") == []
    (record,) = registry.held_back("mobilenet_v1")
    assert record["reasons"] == [expected + " (fix the data or the schema, or set gates.block_on_anomalies=false)"]


def test_anomalies_that_do_not_block_are_logged_and_the_model_is_pushed(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        pushed = _push(tmp_path, 1, 1, anomalies={"label": UNEXPECTED_LABEL}, block_on_anomalies=0)
    assert pushed.get_int_custom_property("pushed") == 1
    assert (
        "mobilenet_v1: ExampleValidator found anomalies, not blocking (gates.block_on_anomalies=false): "
        "split train: feature 'label': Unexpected string values"
    ) in caplog.text
    assert not pushed.has_custom_property("blocking_anomalies")


@pytest.mark.parametrize(
    "model_blessed, tflite_blessed, held_by",
    [(0, 1, "model_blessing"), (1, 0, "tflite_blessing"), (0, 0, "model_blessing")],
)
def test_holds_back_when_a_blessing_is_not_blessed(tmp_path, caplog, model_blessed, tflite_blessed, held_by):
    report = tflite_report(
        blessed=False,
        gates=[
            {"name": "max_model_bytes", "measured": 3485000, "limit": 1000, "passed": False},
            {"name": "min_accuracy", "measured": 0.81, "limit": 0.5, "passed": True},
        ],
    )
    with caplog.at_level(logging.WARNING):
        pushed = _push(tmp_path, model_blessed, tflite_blessed, report=report)

    assert pushed.get_int_custom_property("pushed") == 0
    assert not pushed.has_custom_property("pushed_destination")
    registry = Registry(str(tmp_path / "registry"))
    assert registry.versions("mobilenet_v1") == [] and registry.list_models() == []
    (record,) = registry.held_back("mobilenet_v1")
    assert record["reasons"][0].startswith(f"{held_by} ") and record["tflite_accuracy"] == 0.81
    assert f"held back and not pushed: {held_by}" in caplog.text
    if tflite_blessed == 0:
        assert "failing gates: max_model_bytes: measured 3485000, limit 1000" in caplog.text
        assert "min_accuracy" not in caplog.text


def test_component_declares_inputs_outputs_and_validates_the_model_name():
    inputs = {
        "model": channel.Channel(type=standard_artifacts.Model),
        "tflite_blessing": channel.Channel(type=standard_artifacts.ModelBlessing),
        "model_blessing": channel.Channel(type=standard_artifacts.ModelBlessing),
        "anomalies": channel.Channel(type=standard_artifacts.ExampleAnomalies),
    }
    pusher = RegistryPusher(
        **inputs, registry_root="gs://bucket/registry", model_name="mobilenet_v2", block_on_anomalies=True
    )
    assert set(pusher.inputs) == {"model", "tflite_blessing", "model_blessing", "anomalies"}
    assert pusher.outputs["pushed_model"].type == standard_artifacts.PushedModel
    assert pusher.exec_properties == {
        "registry_root": "gs://bucket/registry",
        "model_name": "mobilenet_v2",
        "block_on_anomalies": 1,
    }
    with pytest.raises(InvalidName, match="invalid model name '../x'"):
        RegistryPusher(**inputs, registry_root="registry", model_name="../x", block_on_anomalies=True)


def test_the_pusher_cannot_be_wired_without_the_evaluators_blessing_or_the_anomalies():
    """Both are required inputs of its spec: a pipeline that leaves one out does not build."""
    from components.registry.spec import RegistryPusherSpec

    assert not RegistryPusherSpec.INPUTS["model_blessing"].optional
    assert not RegistryPusherSpec.INPUTS["anomalies"].optional
    with pytest.raises(TypeError, match="model_blessing"):
        RegistryPusher(
            model=channel.Channel(type=standard_artifacts.Model),
            tflite_blessing=channel.Channel(type=standard_artifacts.ModelBlessing),
            anomalies=channel.Channel(type=standard_artifacts.ExampleAnomalies),
            registry_root="registry",
            model_name="mobilenet_v1",
            block_on_anomalies=True,
        )
