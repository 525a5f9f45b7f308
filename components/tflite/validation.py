"""Convert a trained model to every candidate `.tflite`, package each with metadata and measure and gate it:
the TFLite step's work, as plain functions the executor calls and the tests can call without TFX."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf

from components.contracts import APP_PATH_ACCURACY_FIELD, TFLITE_ACCURACY_FIELD
from components.tflite import app_path, conversion, measurement
from components.tflite import baseline as baseline_lib
from components.tflite import gates as gates_lib
from components.tflite import report as report_lib
from components.trainer import quantization_aware


@dataclasses.dataclass(frozen=True)
class Source:
    """One candidate to try: a quantization mode of the float SavedModel or of the quantization-aware one."""

    mode: str
    saved_model_dir: str
    quantization_aware: bool = False

    @property
    def label(self) -> str:
        """Its name in reports: the mode, `int8 (quantization-aware)` for the quantization-aware model."""
        return report_lib.candidate_label({"quantization": self.mode, "quantization_aware": self.quantization_aware})


@dataclasses.dataclass(frozen=True)
class Measuring:
    """How a candidate is measured and judged: interpreter threads, latency invokes, integer I/O and the gates."""

    threads: int
    latency_warmup: int
    latency_runs: int
    integer_io: str
    limits: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ValidationData:
    """What every candidate is measured on: calibration images, the eval split (which judges), the split that
    chooses (validation; None: eval), the float model's eval accuracy, the registry baseline (with the eval
    images `compared` selects, all unless the classes changed) and the eval split's original files as the app
    gets them (`originals`; None: the app path is not measured)."""

    representative: np.ndarray
    eval_images: np.ndarray
    eval_labels: np.ndarray
    selection: tuple[np.ndarray, np.ndarray] | None
    float_accuracy: float
    baseline: baseline_lib.Baseline | None = None
    compared: np.ndarray | None = None
    originals: app_path.Originals | None = None


@dataclasses.dataclass
class Candidate:
    """A tried candidate: its source, its packaged flatbuffer (None when conversion failed) and its report entry
    (measurements, gate results, `passed`, `error`)."""

    source: Source
    flatbuffer: bytes | None
    entry: dict[str, Any]


def candidate_sources(saved_model_dir: str, modes: Sequence[str]) -> list[Source]:
    """Every mode of the float SavedModel, and int8 of the quantization-aware SavedModel when the Trainer made one."""
    sources = [Source(mode, saved_model_dir) for mode in modes]
    quantization_aware_dir = quantization_aware.model_dir(saved_model_dir)
    if "int8" in modes and tf.io.gfile.isdir(quantization_aware_dir):
        sources.append(Source("int8", quantization_aware_dir, quantization_aware=True))
    return sources


def validate_candidates(
    sources: Iterable[Source],
    data: ValidationData,
    measuring: Measuring,
    package: Callable[[bytes, str], bytes],
    loaded: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Candidate]:
    """Convert, package (`package(flatbuffer, label)` adds the metadata) and measure every source, each SavedModel
    loaded once (`loaded`: those already loaded, by folder)."""
    loaded = dict(loaded or {})
    candidates = []
    for source in sources:
        progress(f"converting to TFLite ({source.label}) and measuring it")
        if source.saved_model_dir not in loaded:
            loaded[source.saved_model_dir] = conversion.load(source.saved_model_dir)
        candidates.append(validate_candidate(loaded[source.saved_model_dir], source, data, measuring, package))
    return candidates


def validate_candidate(
    model: Any, source: Source, data: ValidationData, measuring: Measuring, package: Callable[[bytes, str], bytes]
) -> Candidate:
    """Convert `model` (a SavedModel folder, or loaded) as `source` says, package it and measure what ships. The
    drop is measured against the float model's accuracy, also for the quantization-aware model. A compared baseline
    adds the no-regression gate, and one that cannot be read the failing `baseline_readable` gate. With the eval
    split's original files, `min_accuracy` judges the lower of the interpreter's accuracy and the app path's
    (`gated_accuracy`); the drop and the regression are the interpreter's, on the pixels the float model and the
    baseline were measured on. The candidates are chosen between on their `selection_accuracy`: on `data.selection`, or
    (None) their eval accuracy."""
    io_type = measuring.integer_io if source.mode == "int8" and measuring.integer_io else None
    identity = {"quantization": source.mode, "quantization_aware": source.quantization_aware, "integer_io": io_type}
    try:
        flatbuffer = package(conversion.convert(model, source.mode, data.representative, io_type), source.label)
    except conversion.ConversionError as error:
        return Candidate(source, None, report_lib.candidate_entry(identity, [], str(error)))
    ops = conversion.model_ops(flatbuffer)
    measured = measurement.measure_flatbuffer(
        flatbuffer,
        data.eval_images,
        data.eval_labels,
        measuring.threads,
        measuring.latency_warmup,
        measuring.latency_runs,
        data.originals,
    )
    selection_accuracy = (
        measured[TFLITE_ACCURACY_FIELD]
        if data.selection is None
        else _accuracy(flatbuffer, *data.selection, measuring.threads)
    )
    measured = {
        "selection_accuracy": selection_accuracy,
        **identity,
        **measured,
        "accuracy_drop": data.float_accuracy - measured[TFLITE_ACCURACY_FIELD],
        "ops": ops,
        "builtin_ops_only": not conversion.non_builtin_ops(ops),
        "input_dtype": measurement.input_dtype(flatbuffer),
    }
    measured["gated_accuracy"] = gated = gated_accuracy(measured)
    judged = {**measured, TFLITE_ACCURACY_FIELD: gated, "compared_accuracy": measured[TFLITE_ACCURACY_FIELD]}
    baseline = data.baseline
    if baseline is not None and baseline.compared:
        judged["baseline_accuracy"] = baseline.accuracy
        if data.compared is not None and not data.compared.all():
            judged["compared_accuracy"] = _accuracy(
                flatbuffer, data.eval_images[data.compared], data.eval_labels[data.compared], measuring.threads
            )
    if baseline is not None and not baseline.readable:
        judged["baseline_unreadable"] = baseline.reason
    return Candidate(
        source, flatbuffer, report_lib.candidate_entry(measured, gates_lib.evaluate_gates(judged, measuring.limits))
    )


def gated_accuracy(measured: dict[str, Any]) -> float:
    """The accuracy the gates judge: the lower of the interpreter's (on the Transform's pixels) and the app path's
    (on the original files as the app resizes them) when that was measured."""
    app = measured.get(APP_PATH_ACCURACY_FIELD)
    return measured[TFLITE_ACCURACY_FIELD] if app is None else min(measured[TFLITE_ACCURACY_FIELD], app)


def _accuracy(flatbuffer: bytes, images: np.ndarray, labels: np.ndarray, threads: int) -> float:
    return measurement.accuracy(measurement.tflite_predictions(flatbuffer, images, threads), labels)["top1"]
