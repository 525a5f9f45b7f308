"""The no-regression baseline: the registry's current model, compared on the same eval images, and its gate."""
from pathlib import Path

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
    fields = {"architecture": "mobilenet_v1", "quantization": "int8", "tflite_accuracy": 0.8, "float_accuracy": 0.8,
              "latency_ms": {"median": 1.0}, "input_shape": input_shape, "labels_count": len(labels),
              "source_examples": "Transform/transformed_examples/7"}
    return registry.publish("mobilenet_v1", str(folder / "model.tflite"), str(folder / "labels.txt"), fields).version


def _measure(root: Path, channel: str = "production") -> tuple[baseline.Baseline, list[bytes]]:
    seen: list[bytes] = []

    def accuracy_of(model_bytes: bytes) -> float:
        seen.append(model_bytes)
        return 0.75

    return baseline.measure_baseline(str(root), "mobilenet_v1", channel, LABELS, INPUT_SHAPE, accuracy_of), seen


def test_a_first_run_has_no_baseline_and_says_so(tmp_path):
    result, seen = _measure(tmp_path / "registry")
    assert not result.compared and not seen
    assert "first version of mobilenet_v1" in result.describe()
    assert "judged on the absolute gates alone" in result.describe()


def test_the_latest_version_is_the_baseline_until_the_channel_is_set(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    _publish(registry, tmp_path / "a", b"first")
    _publish(registry, tmp_path / "b", b"second")
    result, seen = _measure(tmp_path / "registry")
    assert (result.version, result.accuracy) == (2, 0.75)
    assert result.source == "latest version, channel production is not set"
    assert seen == [b"\x1c\x00\x00\x00TFL3second"]
    registry.promote("mobilenet_v1", 1, "production")
    result, seen = _measure(tmp_path / "registry")
    assert (result.version, result.source) == (1, "channel production")
    assert seen == [b"\x1c\x00\x00\x00TFL3first"]
    assert result.describe() == "version 1 (channel production): accuracy 0.7500 on the same eval images"


@pytest.mark.parametrize("labels, input_shape, reason", [
    (["cat", "dog", "eel"], INPUT_SHAPE, "version 1 was trained on other labels"),
    (LABELS, [1, 96, 96, 3], "version 1 takes input [1, 96, 96, 3], this model [1, 32, 32, 3]"),
])
def test_an_incomparable_baseline_is_not_measured(tmp_path, labels, input_shape, reason):
    _publish(Registry(str(tmp_path / "registry")), tmp_path / "a", b"first", labels, input_shape)
    result, seen = _measure(tmp_path / "registry")
    assert not result.compared and not seen
    assert result.reason == reason and result.version == 1


def _measured(tflite_accuracy: float, baseline_accuracy: float | None) -> dict:
    return {"builtin_ops_only": True, "tflite_accuracy": tflite_accuracy, "accuracy_drop": 0.0, "size_bytes": 1,
            "latency_ms": 1.0, "baseline_accuracy": baseline_accuracy}


def test_the_regression_gate_compares_with_the_baseline_within_max_regression():
    names = [result.name for result in gates.evaluate_gates(_measured(0.7, None), LIMITS)]
    assert names == list(gates.GATE_NAMES)
    (equal,) = [r for r in gates.evaluate_gates(_measured(0.7, 0.7), LIMITS) if r.name == gates.REGRESSION_GATE]
    assert equal.passed and equal.measured == 0.0 and equal.limit == 0.0
    (worse,) = [r for r in gates.evaluate_gates(_measured(0.6, 0.7), LIMITS) if r.name == gates.REGRESSION_GATE]
    assert not worse.passed and worse.measured == pytest.approx(0.1)
    (allowed,) = [r for r in gates.evaluate_gates(_measured(0.6, 0.7), {**LIMITS, "max_regression": 0.1})
                  if r.name == gates.REGRESSION_GATE]
    assert allowed.passed


def test_the_summary_names_the_baseline():
    candidate = report.candidate_entry({"quantization": "int8", "size_bytes": 10, "tflite_accuracy": 0.6,
                                        "accuracy_drop": 0.0, "latency_ms": {"median": 1.0}},
                                       gates.evaluate_gates(_measured(0.6, 0.7), LIMITS))
    identity = {"model_name": "mobilenet_v1", "architecture": "mobilenet_v1", "input_shape": INPUT_SHAPE,
                "labels_count": 3, "eval_examples": 10,
                "baseline": baseline.Baseline(1, "channel production", 0.7).to_json()}
    built = report.build_report(identity, 0.6, [candidate], None)
    text = report.summary(built)
    assert "no-regression baseline: version 1 (channel production): accuracy 0.7000" in text
    assert "gate max_regression failed: measured 0.09999999999999998, limit 0.0" in text
    assert "no-regression baseline: version 1" in report.markdown(built)
