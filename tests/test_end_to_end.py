"""One real pipeline run on tiny data (LocalDagRunner, Beam DirectRunner, sqlite ML Metadata, TFLite interpreter).

The first run pushes V1 and V2; a second run in the same home, with a size gate no model can meet, reuses the
cached upstream steps, compares each model with the version the first run pushed (the no-regression baseline),
holds both back and pushes nothing. The no-regression gate's verdicts are tested on the Kubeflow path
(tests/test_kubeflow_local_launcher.py), which runs the same TFLite step.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke_tflite, write_image_folder

pytestmark = pytest.mark.slow

TINY_RUN = [
    "--set", "model.input_size=32", "--set", "model.alpha=0.25", "--set", "model.v2_alpha=0.35",
    "--set", "train.epochs=1", "--set", "train.batch_size=16",
    "--set", "gates.min_accuracy=0", "--set", "gates.max_accuracy_drop=1", "--set", "gates.max_regression=1",
    "--set", "tflite.representative_examples=8", "--set", "tflite.latency_runs=3",
    # `make test` runs two test files at once on 2 cores, so a latency measured here is not the model's.
    "--set", "gates.max_latency_ms=100000",
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
    return {"first": first, "second": second, "root": root}


def _versions(registry: Path, name: str) -> list[str]:
    return sorted(p.name for p in (registry / name).iterdir() if p.name.isdigit())


def test_first_run_pushes_both_models(runs):
    first, registry = runs["first"], runs["root"] / "registry"
    assert first.returncode == 0, first.stdout + first.stderr
    for component in ("ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "TFLite_mobilenet_v2",
                      "Pusher_mobilenet_v2"):
        assert f"> {component}" in first.stdout
    assert "epoch 1/1" in first.stdout
    assert "beam: DirectRunner in_memory, 1 worker(s) (beam.direct_running_mode=auto" in first.stdout
    for name in ("mobilenet_v1", "mobilenet_v2"):
        version = registry / name / "1"
        assert str(version) in first.stdout
        manifest = json.loads((version / "manifest.json").read_text())
        assert manifest["model_name"] == name and manifest["version"] == 1
        assert manifest["quantization"] == "int8"
        assert manifest["size_bytes"] == (version / "model.tflite").stat().st_size
        labels = (version / "labels.txt").read_text().split("\n")
        assert sorted(label for label in labels if label) == ["ankle boot", "circle", "square"]
        assert invoke_tflite(version / "model.tflite") == ([1, 32, 32, 3], (1, 3))


def test_second_run_reuses_cache_and_holds_back_oversized_models(runs):
    second, registry = runs["second"], runs["root"] / "registry"
    assert second.returncode == 0, second.stdout + second.stderr
    timings = second.stdout.split("component", 1)[1]
    for component in ("ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "Trainer_mobilenet_v2"):
        assert any(line.startswith(component) and line.rstrip().endswith("cached") for line in timings.splitlines())
    for name in ("mobilenet_v1", "mobilenet_v2"):
        assert f"{name} was held back and not pushed: max_model_bytes" in second.stdout
        assert str(registry / name / "2") not in second.stdout
        assert _versions(registry, name) == ["1"]
        assert (f"{name}: no-regression baseline: version 1 (latest version, channel production is not set): "
                "accuracy") in second.stdout
