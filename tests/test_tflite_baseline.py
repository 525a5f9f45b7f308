"""The no-regression baseline: the registry's current model, compared on the same eval images, and its gate."""

from pathlib import Path

import numpy as np
import pytest

from components.registry.store import Registry
from components.tflite import baseline, gates, report

LABELS = ["ankle boot", "bag", "coat"]
INPUT_SHAPE = [1, 32, 32, 3]
LIMITS = {"min_accuracy": 0.0, "max_accuracy_drop": 1.0, "max_model_bytes": 10**9, "max_latency_ms": 1e9}


def _publish(registry: Registry, folder: Path, payload: bytes, labels=LABELS, input_shape=INPUT_SHAPE) -> int:
    folder.mkdir(parents=True)
    (folder / "model.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + payload)
    (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    fields = {
        "architecture": "mobilenet_v1",
        "quantization": "int8",
        "tflite_accuracy": 0.8,
        "float_accuracy": 0.8,
        "latency_ms": {"median": 1.0},
        "input_shape": input_shape,
        "labels_count": len(labels),
        "source_examples": "Transform/transformed_examples/7",
    }
    return registry.publish("mobilenet_v1", str(folder / "model.tflite"), str(folder / "labels.txt"), fields).version


EVAL_LABELS = np.array([0, 1, 2, 0, 1, 2])
"""The candidate's eval images by class index in LABELS: two of each class."""
EVAL_IMAGES = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1)
"""Image i holds the value i, so a fake predictor can tell which eval images it was given."""


def _measure(
    root: Path, channel: str = "production", predicted_names=("ankle boot", "bag", "coat") * 2, labels=LABELS
) -> tuple[baseline.Baseline, np.ndarray, list[bytes]]:
    """measure_baseline with a predictor that answers, for eval image i, the class `predicted_names[i]` in the
    baseline's own label order (read back from the registry's labels.txt)."""
    seen: list[bytes] = []

    def predict(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
        seen.append(model_bytes)
        version_labels = _registry_labels(root)
        scores = np.zeros((len(images), len(version_labels)), np.float32)
        for row, image in enumerate(images):
            scores[row, version_labels.index(predicted_names[int(image.reshape(-1)[0])])] = 1.0
        return scores

    result, subset = baseline.measure_baseline(
        str(root), "mobilenet_v1", channel, labels, INPUT_SHAPE, EVAL_IMAGES, EVAL_LABELS, predict
    )
    return result, subset, seen


def _registry_labels(root: Path) -> list[str]:
    registry = Registry(str(root))
    entry = registry.show("mobilenet_v1")
    return (Path(entry.path) / "labels.txt").read_text().split("\n")[:-1]


def test_a_first_run_has_no_baseline_and_says_so(tmp_path):
    result, _, seen = _measure(tmp_path / "registry")
    assert not result.compared and not seen and result.readable
    assert "first version of mobilenet_v1" in result.describe()
    assert "judged on the absolute gates alone" in result.describe()


def test_the_latest_version_is_the_baseline_until_the_channel_is_set(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    _publish(registry, tmp_path / "a", b"first")
    _publish(registry, tmp_path / "b", b"second")
    result, subset, seen = _measure(tmp_path / "registry")
    assert (result.version, result.accuracy, result.compared_images) == (2, 1.0, 6) and subset.all()
    assert result.source == "latest version, channel production is not set"
    assert seen == [b"\x1c\x00\x00\x00TFL3second"]
    registry.promote("mobilenet_v1", 1, "production")
    result, _, seen = _measure(tmp_path / "registry")
    assert (result.version, result.source) == (1, "channel production")
    assert seen == [b"\x1c\x00\x00\x00TFL3first"]
    assert result.describe() == "version 1 (channel production): accuracy 1.0000 on the same eval images"


def test_a_baseline_with_the_labels_in_another_order_is_compared_class_by_class(tmp_path):
    """An older version whose vocabulary was ordered by frequency (or any order): its outputs are read by name.
    Compared by position, its right answers would all count as wrong (and before, it was not compared at all)."""
    _publish(Registry(str(tmp_path / "registry")), tmp_path / "a", b"first", labels=["coat", "ankle boot", "bag"])
    result, subset, _ = _measure(
        tmp_path / "registry", predicted_names=("ankle boot", "bag", "coat", "bag", "bag", "coat")
    )
    assert result.compared and not result.classes_changed and subset.all()
    assert result.accuracy == pytest.approx(5 / 6)


def test_a_class_added_is_named_and_the_gate_compares_the_classes_both_know(tmp_path):
    _publish(Registry(str(tmp_path / "registry")), tmp_path / "a", b"first", labels=["ankle boot", "bag"])
    result, subset, _ = _measure(
        tmp_path / "registry", predicted_names=("ankle boot", "ankle boot", "-", "ankle boot", "bag", "-")
    )
    assert result.classes_added == ("coat",) and result.classes_removed == ()
    assert subset.tolist() == [True, True, False, True, True, False] and result.compared_images == 4
    assert result.accuracy == pytest.approx(3 / 4)
    assert result.describe() == (
        "version 1 (latest version, channel production is not set): accuracy 0.7500 on the 4 "
        "eval images of the classes both know; class added: coat"
    )


def test_a_baseline_of_another_input_shape_or_no_shared_class_is_not_measured(tmp_path):
    _publish(Registry(str(tmp_path / "registry")), tmp_path / "a", b"first", input_shape=[1, 96, 96, 3])
    result, _, seen = _measure(tmp_path / "registry")
    assert not result.compared and not seen and result.readable
    assert result.reason == "version 1 takes input [1, 96, 96, 3], this model [1, 32, 32, 3]"
    _publish(Registry(str(tmp_path / "other")), tmp_path / "b", b"first", labels=["cat", "dog", "eel"])
    result, _, seen = _measure(tmp_path / "other")
    assert not result.compared and not seen and result.readable
    assert result.reason == "version 1 shares no class with this model"
    assert result.class_changes() == "classes added: ankle boot, bag, coat; classes removed: cat, dog, eel"


@pytest.mark.parametrize("damage", ["model bytes", "labels file", "manifest", "model that does not load"])
def test_a_baseline_that_cannot_be_read_holds_the_model_back_with_the_reason(tmp_path, damage):
    root = tmp_path / "registry"
    _publish(Registry(str(root)), tmp_path / "a", b"first")
    version = root / "mobilenet_v1" / "1"
    if damage == "model bytes":
        (version / "model.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3tampered")
    elif damage == "labels file":
        (version / "labels.txt").unlink()
    elif damage == "manifest":
        (version / "manifest.json").write_text("{not json")

    def predict(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
        raise ValueError("Model provided has model identifier 'TFL3', should be a valid flatbuffer")

    result, _ = baseline.measure_baseline(
        str(root), "mobilenet_v1", "production", LABELS, INPUT_SHAPE, EVAL_IMAGES, EVAL_LABELS, predict
    )
    assert not result.readable and not result.compared
    expected = {
        "model bytes": "IntegrityError",
        "labels file": "IntegrityError",
        "manifest": "JSONDecodeError",
        "model that does not load": "ValueError",
    }[damage]
    assert result.reason.startswith(expected), result.reason
    assert "cannot be read" in result.describe() and "held back" in result.describe()
    (gate,) = [
        r
        for r in gates.evaluate_gates({**_measured(0.9, None), "baseline_unreadable": result.reason}, LIMITS)
        if r.name == gates.BASELINE_GATE
    ]
    assert not gate.passed and gate.measured == result.reason


def _measured(tflite_accuracy: float, baseline_accuracy: float | None) -> dict:
    return {
        "builtin_ops_only": True,
        "tflite_accuracy": tflite_accuracy,
        "accuracy_drop": 0.0,
        "size_bytes": 1,
        "latency_ms": {"median": 1.0},
        "baseline_accuracy": baseline_accuracy,
    }


def test_the_regression_gate_compares_with_the_baseline_within_max_regression():
    names = [result.name for result in gates.evaluate_gates(_measured(0.7, None), LIMITS)]
    assert names == list(gates.GATE_NAMES)
    (equal,) = [r for r in gates.evaluate_gates(_measured(0.7, 0.7), LIMITS) if r.name == gates.REGRESSION_GATE]
    assert equal.passed and equal.measured == 0.0 and equal.limit == 0.0
    (worse,) = [r for r in gates.evaluate_gates(_measured(0.6, 0.7), LIMITS) if r.name == gates.REGRESSION_GATE]
    assert not worse.passed and worse.measured == pytest.approx(0.1)
    (allowed,) = [
        r
        for r in gates.evaluate_gates(_measured(0.6, 0.7), {**LIMITS, "max_regression": 0.1})
        if r.name == gates.REGRESSION_GATE
    ]
    assert allowed.passed


def test_the_summary_names_the_baseline():
    candidate = report.candidate_entry(
        {
            "quantization": "int8",
            "size_bytes": 10,
            "tflite_accuracy": 0.6,
            "accuracy_drop": 0.0,
            "latency_ms": {"median": 1.0},
        },
        gates.evaluate_gates(_measured(0.6, 0.7), LIMITS),
    )
    identity = {
        "model_name": "mobilenet_v1",
        "architecture": "mobilenet_v1",
        "input_shape": INPUT_SHAPE,
        "labels_count": 3,
        "eval_examples": 10,
        "baseline": baseline.Baseline(1, "channel production", 0.7, compared_images=10).to_json(),
    }
    built = report.build_report(identity, 0.6, [candidate], None)
    text = report.summary(built)
    assert "no-regression baseline: version 1 (channel production): accuracy 0.7000" in text
    assert "gate max_regression failed: measured 0.09999999999999998, limit 0.0" in text
    assert "no-regression baseline: version 1" in report.markdown(built)
