"""Continuous training with `mobilenet-pipeline run` (LocalDagRunner), three nights on one data root that grows.

Night 1: span A only, version 1 is pushed. Night 2: span B adds photos and a class; the run trains on A and B
warm-started from version 1 (the head re-initialised, since the classes changed), at a learning rate that wrecks
the network, so the no-regression gate, comparing the classes both models know, holds it back and the registry
records the candidate. Night 3: nothing added; the run ends after the new-data check with the `no new data`
line, trains nothing and adds no version, in at most a third of night 2's time.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components.registry.store import Registry
from tests.helpers import TINY_RUN, write_image_folder

pytestmark = pytest.mark.slow

MODEL = "mobilenet_v1"
SPAN_A, SPAN_B = "span-1", "span-2"
NIGHT_1 = ["--set", "train.epochs=10"]
"""Enough for a model clearly better than a wrecked one (see tests/test_end_to_end.py)."""
WRECKED = ["--set", "train.epochs=2", "--set", "train.learning_rate=10", "--set", "train.recalibrate_bn_batches=0"]
"""Adam at a rate of 10, without the BatchNorm recalibration that would rescale what it wrecked, leaves a
warm-started network near chance: a model the gate must hold back."""
REGRESSION_GATE = ["--set", "gates.max_regression=0"]


def _run(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    command = [
        str(Path(sys.executable).parent / "mobilenet-pipeline"),
        "run",
        "--data",
        str(root / "data"),
        "--home",
        str(root / "home"),
        "--registry",
        str(root / "registry"),
        "--models",
        "v1",
        *TINY_RUN,
        *REGRESSION_GATE,
        "--set",
        "data.spans=2",
        "--set",
        "model.weights=production",
        *args,
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    write_image_folder(root / "data" / SPAN_A, {"circle": 30, "square": 30, "ankle boot": 30}, size=24)
    first = _run(root, *NIGHT_1)
    write_image_folder(root / "data" / SPAN_B, {"circle": 10, "square": 10, "bird": 20}, size=24, seed=9)
    second = _run(root, *WRECKED)
    third = _run(root, *WRECKED)
    return {"root": root, "first": first, "second": second, "third": third}


def _manifest(root: Path, version: int) -> dict:
    return json.loads((root / "registry" / MODEL / str(version) / "manifest.json").read_text())


def test_night_1_pushes_version_1_recording_what_it_was_trained_on(nights):
    (result, _), root = nights["first"], nights["root"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{MODEL}: first model in the registry; training on span {SPAN_A}" in result.stdout
    assert "nothing in the registry for mobilenet_v1 yet; training from scratch" in result.stdout
    manifest = _manifest(root, 1)
    assert manifest["training_input"]["spans"] == [SPAN_A] and manifest["training_input"]["files"] == 90
    assert len(manifest["settings_sha256"]) == 64 and manifest["file_sha256"]["weights.h5"]
    Registry(str(root / "registry")).verify(MODEL, 1)


def test_night_2_warm_starts_from_version_1_and_the_regression_gate_holds_back_a_worse_model(nights):
    (result, _), root = nights["second"], nights["root"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{MODEL}: new data since {MODEL} version 1 (span {SPAN_A} -> spans {SPAN_A}..{SPAN_B})" in result.stdout
    assert (
        "warm start from mobilenet_v1 version 1 (latest version, channel production is not set): loaded 54 of "
        "55 layers; classifier head re-initialised: the classes changed (added bird)"
    ) in result.stdout
    assert (
        "no-regression baseline: version 1 (latest version, channel production is not set): accuracy" in result.stdout
    ) and "eval images of the classes both know; class added: bird" in result.stdout
    assert "gate max_regression failed" in result.stdout
    assert f"{MODEL} was held back and not pushed: max_regression" in result.stdout
    assert f"{MODEL}: class added: bird since the baseline" in result.stdout
    registry = Registry(str(root / "registry"))
    assert [entry.version for entry in registry.versions(MODEL)] == [1]
    (record,) = registry.held_back(MODEL)
    assert record["training_input"]["spans"] == [SPAN_A, SPAN_B] and record["training_input"]["files"] == 130
    assert record["baseline"]["classes_added"] == ["bird"] and record["warm_start"]["head"].startswith("re-init")
    (gate,) = [gate for gate in record["gates"] if gate["name"] == "max_regression"]
    assert not gate["passed"] and gate["limit"] == 0 and gate["measured"] > 0


def test_night_3_with_nothing_new_ends_after_the_check_and_trains_nothing(nights):
    """The last judged model is the candidate night 2 held back: the same data and settings would train the same
    model and meet the same verdict."""
    (result, seconds), (_, second_seconds), root = nights["third"], nights["second"], nights["root"]
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("no new data since")]
    assert line.startswith(f"no new data since {MODEL}'s candidate held back at 20")
    assert line.endswith(f"(spans {SPAN_A}..{SPAN_B})")
    assert "- Trainer_mobilenet_v1 skipped: nothing to train" in result.stdout
    assert "epoch 1/" not in result.stdout
    registry = Registry(str(root / "registry"))
    assert [entry.version for entry in registry.versions(MODEL)] == [1] and len(registry.held_back(MODEL)) == 1
    assert seconds <= second_seconds / 3, (seconds, second_seconds)
