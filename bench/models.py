"""Each model a benchmark pipeline run trained, converted in every quantization mode and measured on its eval split:
size, float and TFLite accuracy, interpreter latency at each thread count, and peak memory."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from components.contracts import FLOAT_ACCURACY_FIELD, LATENCY_BY_THREADS_FIELD, LATENCY_FIELD, TFLITE_ACCURACY_FIELD

log = logging.getLogger("mobilenet.bench")


@dataclasses.dataclass(frozen=True)
class RunOutputs:
    """The artifacts of one run that the measurements need."""

    saved_models: dict[str, str]
    transformed_examples: str
    transform_graph: str
    reports: dict[str, str] = dataclasses.field(default_factory=dict)


def find_outputs(metadata_path: str, pipeline_root: str) -> RunOutputs:
    """Trainer SavedModels and TFLite report folders (by model name) and Transform outputs, from ML Metadata of a
    home with one run."""
    from tfx.utils import path_utils

    from components.tflite.spec import TFLiteValidationReport
    from pipeline.component_ids import TFLITE, TRAINER, model_of
    from pipeline.reporting.metadata import component_of, open_store

    store = open_store(metadata_path)

    def by_component(type_name: str) -> dict[str, str]:
        return {component_of(a.uri, pipeline_root): a.uri for a in store.get_artifacts_by_type(type_name)}

    trainers = {
        model_of(component, TRAINER): path_utils.serving_model_path(uri)
        for component, uri in by_component("Model").items()
        if model_of(component, TRAINER)
    }
    reports = {
        model_of(component, TFLITE): uri
        for component, uri in by_component(TFLiteValidationReport.TYPE_NAME).items()
        if model_of(component, TFLITE)
    }
    examples, graphs = by_component("Examples"), by_component("TransformGraph")
    if not trainers or "Transform" not in examples or "Transform" not in graphs:
        raise RuntimeError(f"{metadata_path}: no trained model or Transform output recorded")
    return RunOutputs(trainers, examples["Transform"], graphs["Transform"], reports)


def load_split(outputs: RunOutputs, split: str, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, H, W, 3] and labels [N] of one split of the transformed examples (`limit` 0 = all)."""
    import tensorflow_transform as tft

    from components.transform.transformed_examples import load_transformed

    return load_transformed(
        [os.path.join(outputs.transformed_examples, f"Split-{split}", "*")],
        tft.TFTransformOutput(outputs.transform_graph),
        limit,
    )


def measure_modes(
    saved_model_dir: str,
    modes: Sequence[str],
    representative: np.ndarray,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    threads: Sequence[int],
    warmup: int,
    runs: int,
    scratch: str | Path,
) -> list[dict[str, Any]]:
    """One row per mode: `.tflite` bytes, float and TFLite top-1 accuracy, latency per thread count, peak memory.

    Measured on the app's runtime (LiteRT); peak memory once per mode, at the largest thread count. The `.tflite`
    files stay in `scratch`.
    """
    from components.tflite import conversion, measurement

    rows = []
    loaded = conversion.load(saved_model_dir)
    float_accuracy = measurement.float_accuracy(loaded, eval_images, eval_labels)
    for mode in modes:
        model_bytes = conversion.convert(loaded, mode, representative)
        path = Path(scratch) / f"{mode}.tflite"
        path.write_bytes(model_bytes)
        measured = measurement.measure_flatbuffer(
            model_bytes, eval_images, eval_labels, max(threads), warmup, runs, thread_counts=threads
        )
        tflite_accuracy = measured[TFLITE_ACCURACY_FIELD]
        latency = {
            count: {key: value for key, value in entry.items() if key in ("median", "p90")}
            for count, entry in measured[LATENCY_BY_THREADS_FIELD].items()
        }
        peak_memory = measurement.measure_peak_memory(str(path), max(threads))
        rows.append(
            {
                "mode": mode,
                "size_bytes": measured["size_bytes"],
                FLOAT_ACCURACY_FIELD: float_accuracy,
                TFLITE_ACCURACY_FIELD: tflite_accuracy,
                "accuracy_drop_points": 100.0 * (float_accuracy - tflite_accuracy),
                LATENCY_FIELD: latency,
                "peak_memory_bytes": peak_memory,
                "eval_examples": int(len(eval_labels)),
                "tflite_path": str(path),
            }
        )
        log.info(
            "    %s: %d bytes, accuracy %.3f (float %.3f), median latency %s",
            mode,
            len(model_bytes),
            tflite_accuracy,
            float_accuracy,
            ", ".join(f"{v['median']:.3f} ms @{t}t" for t, v in latency.items()),
        )
    return rows
