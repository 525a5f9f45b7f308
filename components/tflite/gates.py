"""Gate decisions over a candidate's measurements, and the choice among several quantization modes. Pure."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from components.contracts import LATENCY_FIELD, TFLITE_ACCURACY_FIELD

GATE_NAMES = ("android_ready", "min_accuracy", "max_accuracy_drop", "max_model_bytes", "max_latency_ms")
REGRESSION_GATE = "max_regression"
"""Checked only when there is a comparable baseline (see components/tflite/baseline.py)."""
BASELINE_GATE = "baseline_readable"
"""Fails when a baseline exists but cannot be read: the model is then held back, not judged without it."""
# The accuracy drop is a difference of two fractions (0.92 - 0.91 = 0.010000000000000009): a drop equal to the
# limit must pass despite that rounding.
_DROP_ROUNDING = 1e-9


@dataclasses.dataclass(frozen=True)
class GateResult:
    """One gate: what was measured, the limit, and whether it passed."""

    name: str
    measured: Any
    limit: Any
    passed: bool


def evaluate_gates(measured: Mapping[str, Any], limits: Mapping[str, Any]) -> list[GateResult]:
    """Check a candidate against every gate.

    `measured` needs `builtin_ops_only`, `tflite_accuracy`, `accuracy_drop`, `size_bytes` and `latency_ms` (its
    median is gated); `limits` needs `min_accuracy`, `max_accuracy_drop`, `max_model_bytes` and `max_latency_ms`. With a
    `baseline_accuracy` (the registry's current model on the compared eval images) in `measured`, the
    `max_regression` gate (limit `limits["max_regression"]`, default 0) checks how far below it the candidate's
    `compared_accuracy` (on the same images; default `tflite_accuracy`) is. A `baseline_unreadable` reason adds
    the failing `baseline_readable` gate.
    """
    results = [
        GateResult("android_ready", measured["builtin_ops_only"], True, bool(measured["builtin_ops_only"])),
        GateResult(
            "min_accuracy",
            measured[TFLITE_ACCURACY_FIELD],
            limits["min_accuracy"],
            measured[TFLITE_ACCURACY_FIELD] >= limits["min_accuracy"],
        ),
        GateResult(
            "max_accuracy_drop",
            measured["accuracy_drop"],
            limits["max_accuracy_drop"],
            measured["accuracy_drop"] <= limits["max_accuracy_drop"] + _DROP_ROUNDING,
        ),
        GateResult(
            "max_model_bytes",
            measured["size_bytes"],
            limits["max_model_bytes"],
            measured["size_bytes"] <= limits["max_model_bytes"],
        ),
        GateResult(
            "max_latency_ms",
            measured[LATENCY_FIELD]["median"],
            limits["max_latency_ms"],
            measured[LATENCY_FIELD]["median"] <= limits["max_latency_ms"],
        ),
    ]
    if measured.get("baseline_accuracy") is not None:
        regression = measured["baseline_accuracy"] - measured.get("compared_accuracy", measured[TFLITE_ACCURACY_FIELD])
        limit = limits.get("max_regression", 0.0)
        results.append(GateResult(REGRESSION_GATE, regression, limit, regression <= limit + _DROP_ROUNDING))
    if measured.get("baseline_unreadable"):
        results.append(GateResult(BASELINE_GATE, measured["baseline_unreadable"], "readable", False))
    return results


def choose_candidate(candidates: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The smallest candidate whose gates all pass (ties: the more accurate), or None when none passes. Of two
    passing candidates in the same mode (post-training and quantization-aware int8), only the more accurate is
    considered (ties: the quantization-aware one), so a few bytes do not decide between them.

    "More accurate" is `selection_accuracy`, measured on the validation split: the eval split judges the gates and
    reports the chosen candidate's accuracy, and a choice made on it would make that report the best of several
    draws. Each candidate needs `passed` (bool), `quantization`, `size_bytes` and `selection_accuracy`.
    """
    best_per_mode: dict[str, Mapping[str, Any]] = {}
    for candidate in (c for c in candidates if c["passed"]):
        held = best_per_mode.get(candidate["quantization"])
        rank = (candidate["selection_accuracy"], bool(candidate.get("quantization_aware")))
        if held is None or rank > (held["selection_accuracy"], bool(held.get("quantization_aware"))):
            best_per_mode[candidate["quantization"]] = candidate
    if not best_per_mode:
        return None
    return min(best_per_mode.values(), key=lambda c: (c["size_bytes"], -c["selection_accuracy"]))
