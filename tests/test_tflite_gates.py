"""Gate decisions: each gate alone, limits as boundaries, and the choice among quantization modes."""

import pytest

from components.tflite import gates

LIMITS = {"min_accuracy": 0.80, "max_accuracy_drop": 0.01, "max_model_bytes": 1_000_000, "max_latency_ms": 20.0}
PASSING = {
    "builtin_ops_only": True,
    "tflite_accuracy": 0.90,
    "accuracy_drop": 0.005,
    "size_bytes": 400_000,
    "latency_ms": {"median": 8.5},
}


def test_a_candidate_within_every_limit_passes_every_gate():
    results = gates.evaluate_gates(PASSING, LIMITS)
    assert [result.name for result in results] == list(gates.GATE_NAMES)
    assert all(result.passed for result in results)


@pytest.mark.parametrize(
    "gate, change, measured, limit",
    [
        ("android_ready", {"builtin_ops_only": False}, False, True),
        ("min_accuracy", {"tflite_accuracy": 0.79}, 0.79, 0.80),
        ("max_accuracy_drop", {"accuracy_drop": 0.02}, 0.02, 0.01),
        ("max_model_bytes", {"size_bytes": 1_000_001}, 1_000_001, 1_000_000),
        ("max_latency_ms", {"latency_ms": {"median": 20.5}}, 20.5, 20.0),
    ],
)
def test_each_gate_fails_alone_with_its_measured_value_and_limit(gate, change, measured, limit):
    results = gates.evaluate_gates({**PASSING, **change}, LIMITS)
    failing = [result for result in results if not result.passed]
    assert failing == [gates.GateResult(gate, measured, limit, False)]


@pytest.mark.parametrize(
    "change",
    [
        {"tflite_accuracy": 0.80},
        {"accuracy_drop": 0.01},
        {"accuracy_drop": 0.92 - 0.91},  # 0.010000000000000009: one point of accuracy, as the executor computes it
        {"size_bytes": 1_000_000},
        {"latency_ms": {"median": 20.0}},
    ],
)
def test_a_value_equal_to_its_limit_passes(change):
    assert all(result.passed for result in gates.evaluate_gates({**PASSING, **change}, LIMITS))


def test_an_accuracy_drop_just_over_the_limit_fails():
    results = {result.name: result for result in gates.evaluate_gates({**PASSING, "accuracy_drop": 0.0101}, LIMITS)}
    assert not results["max_accuracy_drop"].passed


def test_an_accuracy_gain_passes_the_drop_gate():
    assert all(result.passed for result in gates.evaluate_gates({**PASSING, "accuracy_drop": -0.02}, LIMITS))


def _candidate(mode: str, size_bytes: int, accuracy: float, passed: bool) -> dict:
    """A candidate whose accuracy on the selection (validation) split is `accuracy`."""
    return {"quantization": mode, "size_bytes": size_bytes, "selection_accuracy": accuracy, "passed": passed}


def test_choose_candidate_picks_the_smallest_passing_mode():
    candidates = [
        _candidate("float32", 900_000, 0.91, True),
        _candidate("int8", 250_000, 0.89, True),
        _candidate("float16", 450_000, 0.91, True),
    ]
    assert gates.choose_candidate(candidates)["quantization"] == "int8"


def test_choose_candidate_ignores_a_smaller_failing_mode():
    candidates = [
        _candidate("int8", 250_000, 0.70, False),
        _candidate("float16", 450_000, 0.91, True),
        _candidate("float32", 900_000, 0.91, True),
    ]
    assert gates.choose_candidate(candidates)["quantization"] == "float16"


def test_choose_candidate_breaks_a_size_tie_by_accuracy():
    candidates = [_candidate("dynamic", 260_000, 0.88, True), _candidate("int8", 260_000, 0.90, True)]
    assert gates.choose_candidate(candidates)["quantization"] == "int8"
    assert gates.choose_candidate(candidates[::-1])["quantization"] == "int8"


def test_choose_candidate_is_none_when_no_mode_passes():
    candidates = [_candidate("int8", 250_000, 0.70, False), _candidate("float32", 900_000, 0.91, False)]
    assert gates.choose_candidate(candidates) is None
    assert gates.choose_candidate([]) is None


def test_choose_candidate_takes_the_more_accurate_int8_whatever_a_few_bytes_say():
    post_training = _candidate("int8", 250_000, 0.88, True)
    quantization_aware = {**_candidate("int8", 251_000, 0.90, True), "quantization_aware": True}
    assert gates.choose_candidate([post_training, quantization_aware]) is quantization_aware
    tied = {**quantization_aware, "selection_accuracy": 0.88}
    assert gates.choose_candidate([post_training, tied]) is tied
    better_post_training = _candidate("int8", 250_000, 0.91, True)
    assert gates.choose_candidate([better_post_training, quantization_aware]) is better_post_training
    assert gates.choose_candidate([_candidate("int8", 250_000, 0.95, False), quantization_aware]) is quantization_aware


def test_the_choice_is_made_on_the_selection_split_not_on_eval():
    """Eval accuracy (`tflite_accuracy`) only judges and reports: a candidate better on eval but worse on
    validation is not chosen."""
    post_training = {**_candidate("int8", 250_000, 0.86, True), "tflite_accuracy": 0.93}
    quantization_aware = {
        **_candidate("int8", 251_000, 0.90, True),
        "tflite_accuracy": 0.91,
        "quantization_aware": True,
    }
    assert gates.choose_candidate([post_training, quantization_aware]) is quantization_aware
