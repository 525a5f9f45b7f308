"""What a finished run produced, read back from ML Metadata, and the tables the CLI prints."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from components import json_files
from components.contracts import (
    FLOAT_ACCURACY_FIELD,
    LATENCY_FIELD,
    REPORT_FILE,
    TFLITE_ACCURACY_FIELD,
    TRAINING_SPEED_FILE,
)
from components.new_data.spec import DECISION_FILE
from components.registry.spec import BLOCKING_ANOMALIES_PROPERTY
from components.tflite import report as report_lib
from components.tflite.baseline import Baseline
from pipeline.component_ids import EVALUATOR, NEW_DATA_CHECK, PUSHER, TFLITE, TRAINER, component_id
from pipeline.reporting.metadata import component_of, open_store
from pipeline.reporting.progress import ComponentTiming
from pipeline.reporting.tables import text_table


@dataclasses.dataclass
class ModelResult:
    """One architecture's outcome in a run."""

    model_name: str
    quantization: str = "-"
    float_accuracy: float | None = None
    tflite_accuracy: float | None = None
    size_bytes: int | None = None
    latency_ms: float | None = None
    evaluator_blessed: bool | None = None
    tflite_blessed: bool | None = None
    pushed_path: str | None = None
    failed_gates: list[str] = dataclasses.field(default_factory=list)
    evaluator_failures: list[str] = dataclasses.field(default_factory=list)
    blocking_anomalies: list[str] = dataclasses.field(default_factory=list)
    trained: bool = True
    decision: str = ""
    class_changes: str = ""
    train_images_per_second: float | None = None


def _latest_run_artifacts(store: Any, pipeline_name: str) -> list[Any]:
    runs = [ctx for ctx in store.get_contexts_by_type("pipeline_run")]
    pipeline_ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_ctx is None or not runs:
        return []
    latest = max(runs, key=lambda ctx: ctx.create_time_since_epoch)
    return list(store.get_artifacts_by_context(latest.id))


def _int_property(artifact: Any, name: str) -> int | None:
    value = artifact.custom_properties.get(name)
    return None if value is None else int(value.int_value)


def collect_results(
    metadata_path: str, pipeline_name: str, pipeline_root: str, model_names: list[str]
) -> list[ModelResult]:
    """Per model: accuracy, size, blessings and where it was pushed, from the latest run in `metadata_path`."""
    by_component: dict[str, list[Any]] = {}
    for artifact in _latest_run_artifacts(open_store(metadata_path), pipeline_name):
        by_component.setdefault(component_of(artifact.uri, pipeline_root), []).append(artifact)
    decisions = _decisions(by_component.get(NEW_DATA_CHECK, []))
    results = []
    for name in model_names:
        result = ModelResult(name)
        if name in decisions:
            result.trained, result.decision = decisions[name]["train"], decisions[name]["reason"]
        for artifact in by_component.get(component_id(TRAINER, name), []):
            speed = json_files.read_optional(os.path.join(artifact.uri, TRAINING_SPEED_FILE))
            if speed is not None:
                result.train_images_per_second = speed.get("images_per_second")
        for artifact in by_component.get(component_id(EVALUATOR, name), []):
            if _int_property(artifact, "blessed") is not None:
                result.evaluator_blessed = bool(_int_property(artifact, "blessed"))
            elif os.path.exists(os.path.join(artifact.uri, "validations.tfrecord")):
                result.evaluator_failures = evaluator_failures(artifact.uri)
        for artifact in by_component.get(component_id(TFLITE, name), []):
            if _int_property(artifact, "blessed") is not None:
                result.tflite_blessed = bool(_int_property(artifact, "blessed"))
            report_path = os.path.join(artifact.uri, REPORT_FILE)
            if os.path.exists(report_path):
                with open(report_path, encoding="utf-8") as handle:
                    _fill_from_report(result, json.load(handle))
        for artifact in by_component.get(component_id(PUSHER, name), []):
            if _int_property(artifact, "pushed") == 1:
                destination = artifact.custom_properties.get("pushed_destination")
                result.pushed_path = destination.string_value if destination else None
            anomalies = artifact.custom_properties.get(BLOCKING_ANOMALIES_PROPERTY)
            if anomalies:
                result.blocking_anomalies = anomalies.string_value.splitlines()
        results.append(result)
    return results


def _decisions(artifacts: list[Any]) -> dict[str, dict[str, Any]]:
    """The new-data check's decision per model (`train`, `reason`), from its decision artifact."""
    for artifact in artifacts:
        path = os.path.join(artifact.uri, DECISION_FILE)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                return {entry["model_name"]: entry for entry in json.load(handle)["models"]}
    return {}


def evaluator_failures(evaluation_uri: str) -> list[str]:
    """The Evaluator's failed thresholds, e.g. `sparse_categorical_accuracy 0.412 (limit 0.5)`."""
    import tensorflow_model_analysis as tfma

    failures = []
    for per_slice in tfma.load_validation_result(evaluation_uri).metric_validations_per_slice:
        for failure in per_slice.failures:
            limit = failure.metric_threshold.value_threshold.lower_bound.value
            failures.append(
                f"{failure.metric_key.name} {failure.metric_value.double_value.value:.3f} (limit {limit:g})"
            )
    return failures


def _fill_from_report(result: ModelResult, report: dict[str, Any]) -> None:
    result.quantization = report_lib.candidate_label(report) if report.get("quantization") else "-"
    result.float_accuracy = report.get(FLOAT_ACCURACY_FIELD)
    result.tflite_accuracy = report.get(TFLITE_ACCURACY_FIELD)
    result.size_bytes = report.get("size_bytes")
    result.latency_ms = (report.get(LATENCY_FIELD) or {}).get("median")
    result.failed_gates = [gate["name"] for gate in report.get("gates", []) if not gate.get("passed")]
    baseline = Baseline.from_json(report["baseline"]) if report.get("baseline") else None
    if baseline is not None and baseline.compared:
        result.class_changes = baseline.class_changes()


def _fmt(value: Any, pattern: str = "{}") -> str:
    return "-" if value is None else pattern.format(value)


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def reasons_not_pushed(result: ModelResult) -> list[str]:
    """Why a model was not pushed: the failed TFLite gates, Evaluator thresholds and the data anomalies that held
    it back."""
    reasons = list(result.failed_gates)
    if result.evaluator_blessed is False:
        reasons.extend(result.evaluator_failures or ["evaluator thresholds"])
    reasons.extend(f"data anomaly: {anomaly}" for anomaly in result.blocking_anomalies)
    return reasons


def _destination(result: ModelResult) -> str:
    if not result.trained:
        return "not trained: " + result.decision
    if result.pushed_path:
        return result.pushed_path
    return "held back: " + (", ".join(reasons_not_pushed(result)) or "not run")


def results_table(results: list[ModelResult]) -> str:
    """The end-of-run table: one row per model."""
    headers = [
        "model",
        "quant",
        "train img/s",
        "float acc",
        "tflite acc",
        "tflite size",
        "latency",
        "eval ok",
        "tflite ok",
        "pushed to",
    ]
    rows = [
        [
            r.model_name,
            r.quantization,
            _fmt(r.train_images_per_second, "{:.1f}"),
            _fmt(r.float_accuracy, "{:.3f}"),
            _fmt(r.tflite_accuracy, "{:.3f}"),
            _fmt(r.size_bytes and r.size_bytes / 1e6, "{:.2f} MB"),
            _fmt(r.latency_ms, "{:.2f} ms"),
            _yes_no(r.evaluator_blessed),
            _yes_no(r.tflite_blessed),
            _destination(r),
        ]
        for r in results
    ]
    return text_table(headers, rows)


def timings_table(timings: list[ComponentTiming]) -> str:
    """Seconds per component, in run order, with the total."""
    rows = [[t.component, f"{t.seconds:.1f}", t.status] for t in timings]
    rows.append(["total", f"{sum(t.seconds for t in timings):.1f}", ""])
    return text_table(["component", "seconds", "status"], rows)
