"""One real pipeline run on tiny data (LocalDagRunner, Beam DirectRunner, sqlite ML Metadata, TFLite interpreter).

The first run pushes V1 and V2; a second run in the same home, with a size gate no model can meet, reuses the
cached upstream steps, holds both models back and pushes nothing. Then the no-regression gate, both ways: a V1
trained longer beats the first run's one-epoch V1 and is pushed as version 2; a V1 trained for one step is worse
than that and is held back by the Evaluator.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import write_image_folder

TINY_RUN = [
    "--set", "model.input_size=32", "--set", "model.alpha=0.25", "--set", "model.v2_alpha=0.35",
    "--set", "train.epochs=1", "--set", "train.batch_size=16",
    "--set", "gates.min_accuracy=0", "--set", "gates.max_accuracy_drop=1", "--set", "gates.max_regression=1",
    "--set", "tflite.representative_examples=8", "--set", "tflite.latency_runs=3",
    "--set", "beam.direct_num_workers=2",
]


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, env=env,
                          timeout=1500, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run the pipeline twice on the same tiny folder; return both results and the paths."""
    root = tmp_path_factory.mktemp("e2e")
    data = write_image_folder(root / "data", {"circle": 40, "square": 40, "ankle boot": 40}, size=24)
    common = ["run", "--data", str(data), "--home", str(root / "home"), "--registry", str(root / "registry"),
              *TINY_RUN]
    first = _run_cli(*common)
    second = _run_cli(*common, "--set", "gates.max_model_bytes=1000")
    no_regression = [*common, "--models", "v1", "--set", "gates.max_regression=0"]
    better = _run_cli(*no_regression, "--set", "train.epochs=12")
    worse = _run_cli(*no_regression, "--set", "train.max_train_steps=1")
    return {"first": first, "second": second, "better": better, "worse": worse, "root": root}


def _versions(registry: Path, name: str) -> list[str]:
    return sorted(p.name for p in (registry / name).iterdir() if p.name.isdigit())


def test_first_run_pushes_both_models(runs):
    first, registry = runs["first"], runs["root"] / "registry"
    assert first.returncode == 0, first.stdout + first.stderr
    for component in ("ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "TFLite_mobilenet_v2",
                      "Pusher_mobilenet_v2"):
        assert f"> {component}" in first.stdout
    assert "epoch 1/1" in first.stdout
    for name in ("mobilenet_v1", "mobilenet_v2"):
        version = registry / name / "1"
        assert str(version) in first.stdout
        manifest = json.loads((version / "manifest.json").read_text())
        assert manifest["model_name"] == name and manifest["version"] == 1
        assert manifest["quantization"] == "int8"
        assert manifest["size_bytes"] == (version / "model.tflite").stat().st_size
        labels = (version / "labels.txt").read_text().split("\n")
        assert sorted(label for label in labels if label) == ["ankle boot", "circle", "square"]
        interpreter = tf.lite.Interpreter(model_path=str(version / "model.tflite"))
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        assert list(detail["shape"]) == [1, 32, 32, 3]
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
        output = interpreter.get_output_details()[0]
        assert interpreter.get_tensor(output["index"]).shape == (1, 3)


def test_second_run_reuses_cache_and_holds_back_oversized_models(runs):
    second, registry = runs["second"], runs["root"] / "registry"
    assert second.returncode == 0, second.stdout + second.stderr
    timings = second.stdout.split("component", 1)[1]
    for component in ("ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "Trainer_mobilenet_v2"):
        assert any(line.startswith(component) and line.rstrip().endswith("cached") for line in timings.splitlines())
    for name in ("mobilenet_v1", "mobilenet_v2"):
        assert f"{name} was held back and not pushed: max_model_bytes" in second.stdout
        assert str(registry / name / "2") not in second.stdout
    assert _versions(registry, "mobilenet_v2") == ["1"]


def test_a_better_model_clears_the_no_regression_gate_and_is_pushed(runs):
    better, registry = runs["better"], runs["root"] / "registry"
    assert better.returncode == 0, better.stdout + better.stderr
    assert str(registry / "mobilenet_v1" / "2") in better.stdout
    assert _versions(registry, "mobilenet_v1") == ["1", "2"]
    first_accuracy = json.loads((registry / "mobilenet_v1" / "1" / "manifest.json").read_text())["float_accuracy"]
    better_accuracy = json.loads((registry / "mobilenet_v1" / "2" / "manifest.json").read_text())["float_accuracy"]
    assert better_accuracy >= first_accuracy


def test_a_worse_model_is_held_back_by_the_no_regression_gate(runs):
    worse, registry = runs["worse"], runs["root"] / "registry"
    assert worse.returncode == 0, worse.stdout + worse.stderr
    assert "mobilenet_v1 was held back and not pushed" in worse.stdout
    assert "change vs baseline" in worse.stdout
    assert _versions(registry, "mobilenet_v1") == ["1", "2"]
