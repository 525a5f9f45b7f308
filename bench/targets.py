"""The benchmark's targets, computed from measured numbers: each is
`{"measured", "limit", "met"}`.

A target over several models (or thread counts, or worker counts) is measured at its worst case; the value for
each model is kept in the details. A target that was not measured has `measured` and `met` set to None.
"""

from __future__ import annotations

from typing import Any, Iterable

from bench.quantization import shipped_int8_drop
from components.contracts import FLOAT_ACCURACY_FIELD, TFLITE_ACCURACY_FIELD
from components.tflite.runtimes import LITERT
from pipeline.component_ids import MODEL_BOUND_KINDS, model_of

# name: (limit, True when the measured value must be at least the limit, what it is)
TARGETS: dict[str, tuple[float, bool, str]] = {
    "int8_size_ratio": (0.30, False, "int8 .tflite bytes / float32 .tflite bytes (worst model)"),
    "int8_accuracy_drop_points": (1.0, False, "float model accuracy - int8 accuracy, in points (worst model)"),
    "int8_latency_ratio": (
        0.4,
        False,
        "int8 / float32 median latency at 224 px on LiteRT, V1 1.0 and V2 1.4 at 1 and 2 threads (worst)",
    ),
    "int8_drop_with_quantization_aware_points": (
        0.5,
        False,
        "int8 step, quantization-aware training on: accuracy "
        "points lost by the int8 file the run ships (worst "
        "model and dataset)",
    ),
    "int8_step_size_ratio": (
        0.30,
        False,
        "int8 step: int8 .tflite bytes / float32 .tflite bytes, post-training and quantization-aware (worst)",
    ),
    "trainer_epoch_ratio": (
        1.1,
        False,
        "Trainer epoch / plain model.fit epoch on the same images at 224 px, V1 1.0 and V2 1.4, augmentation off "
        "(worst)",
    ),
    "pipeline_wall_ratio": (1.3, False, "pipeline wall time / plain script wall time (worst variant)"),
    "fixed_cost_wall_ratio": (1.5, False, "on the tiny dataset: pipeline wall time / plain script wall time"),
    "fixed_cost_slowest_other_component_seconds": (
        30.0,
        False,
        "on the tiny dataset: seconds of the slowest component other than the Trainers and TFLite steps",
    ),
    "ingestion_speedup_2_workers": (
        1.5,
        True,
        "ExampleGen+Transform images/s, 2 DirectRunner workers / 1 (largest dataset)",
    ),
    "ingestion_peak_memory_growth": (
        1.10,
        False,
        "peak RSS on the largest dataset / on the smallest (worst worker count)",
    ),
}


def target(name: str, measured: float | None) -> dict[str, Any]:
    """One target entry: the measured value, its limit and whether it is met (None when not measured)."""
    limit, at_least, _ = TARGETS[name]
    met = None if measured is None else bool(measured >= limit if at_least else measured <= limit)
    return {"measured": None if measured is None else round(float(measured), 4), "limit": limit, "met": met}


def _modes_by_model(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(f"{row['variant']}/{row['model']}", {})[row["mode"]] = row
    return grouped


def int8_size_ratios(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per model: int8 size / float32 size."""
    return {
        key: modes["int8"]["size_bytes"] / modes["float32"]["size_bytes"]
        for key, modes in _modes_by_model(rows).items()
        if {"int8", "float32"} <= modes.keys()
    }


def int8_accuracy_drops(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per model: accuracy points lost by int8 against the float SavedModel on the eval split."""
    return {
        key: 100.0 * (modes["int8"][FLOAT_ACCURACY_FIELD] - modes["int8"][TFLITE_ACCURACY_FIELD])
        for key, modes in _modes_by_model(rows).items()
        if "int8" in modes
    }


def int8_latency_ratios(app_latency: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per model and thread count on LiteRT (`v1a1.0-224px@2t`): int8 median latency / float32 median latency
    (`bench.latency` rows; TensorFlow's interpreter's rows are the comparison, not the target)."""
    return {
        f"{row['architecture']}a{row['alpha']}-{row['input_size']}px@{row['threads']}t": row["ratio"]
        for row in app_latency
        if row["runtime"] == LITERT
    }


def trainer_epoch_ratios(trainer_epoch: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per network (`v1a1.0-224px`): the Trainer's epoch / a plain `model.fit` epoch (`bench.trainer_epoch` rows)."""
    return {
        f"{row['architecture']}a{row['alpha']}-{row['size']}px": row["trainer_epoch_ratio"] for row in trainer_epoch
    }


def int8_step_drops(int8: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per dataset and model (`<dataset>/<model>`): the drop in points of the int8 file the int8 step's run ships."""
    drops = {
        f"{run['dataset']}/{name}": shipped_int8_drop(entry["candidates"])
        for run in int8
        for name, entry in run["models"].items()
    }
    return {key: drop for key, drop in drops.items() if drop is not None}


def int8_step_size_ratios(int8: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per dataset, model and int8 candidate: its bytes / the float32 candidate's bytes."""
    ratios = {}
    for run in int8:
        for name, entry in run["models"].items():
            sizes = {row["candidate"]: row["size_bytes"] for row in entry["candidates"] if "error" not in row}
            for candidate, size in sizes.items():
                if candidate.startswith("int8") and "float32" in sizes:
                    ratios[f"{run['dataset']}/{name}/{candidate}"] = size / sizes["float32"]
    return ratios


def ingestion_speedups(ingestion: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per dataset size: images/s with 2 workers / with 1 worker."""
    by_size: dict[int, dict[int, float]] = {}
    for row in ingestion:
        by_size.setdefault(row["images"], {})[row["workers"]] = row["images_per_second"]
    return {
        f"{images} images": rates[2] / rates[1] for images, rates in sorted(by_size.items()) if {1, 2} <= rates.keys()
    }


def ingestion_memory_growth(ingestion: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per worker count: peak RSS on the largest dataset / peak RSS on the smallest."""
    by_workers: dict[int, dict[int, int]] = {}
    for row in ingestion:
        by_workers.setdefault(row["workers"], {})[row["images"]] = row["peak_rss_bytes"]
    return {
        f"{workers} workers": peaks[max(peaks)] / peaks[min(peaks)]
        for workers, peaks in sorted(by_workers.items())
        if len(peaks) > 1 and peaks[min(peaks)] > 0
    }


def other_component_seconds(fixed_cost: dict[str, Any] | None) -> dict[str, float]:
    """Seconds of each component of the tiny-dataset run but the Trainers and TFLite steps (their time grows with the
    model and its training, not with orchestration: left out of the fixed-cost component target)."""
    seconds = (fixed_cost or {}).get("component_seconds", {})
    return {
        name: value for name, value in seconds.items() if not any(model_of(name, kind) for kind in MODEL_BOUND_KINDS)
    }


def _worst(values: dict[str, float], at_least: bool) -> float | None:
    if not values:
        return None
    return min(values.values()) if at_least else max(values.values())


def compute_targets(
    model_rows: list[dict[str, Any]],
    wall_ratios: dict[str, float],
    ingestion: list[dict[str, Any]],
    fixed_cost: dict[str, Any] | None = None,
    int8: list[dict[str, Any]] | None = None,
    app_latency: list[dict[str, Any]] | None = None,
    trainer_epoch: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """All targets and, per target, the value of each model / variant / size it was taken over.

    `model_rows`: one row per model x mode (`variant`, `model`, `mode`, `size_bytes`, `float_accuracy`,
    `tflite_accuracy`, `latency_ms` {threads: {"median"}}); `wall_ratios`: per variant, pipeline / script;
    `ingestion`: one row per dataset size x workers (`images`, `workers`, `images_per_second`, `peak_rss_bytes`);
    `fixed_cost`: the tiny-dataset run (`component_seconds`, and `wall_ratio` against the plain script); `int8`: the
    int8 step's runs (`bench.quantization.run_dataset`); `app_latency`: `bench.latency` rows; `trainer_epoch`:
    `bench.trainer_epoch` rows.
    The speedup target is taken on the largest dataset, where the fixed start-up cost matters least.
    """
    speedups = ingestion_speedups(ingestion)
    largest = max((row["images"] for row in ingestion), default=None)
    details = {
        "int8_size_ratio": int8_size_ratios(model_rows),
        "int8_accuracy_drop_points": int8_accuracy_drops(model_rows),
        "int8_latency_ratio": int8_latency_ratios(app_latency or []),
        "trainer_epoch_ratio": trainer_epoch_ratios(trainer_epoch or []),
        "pipeline_wall_ratio": dict(wall_ratios),
        "ingestion_speedup_2_workers": speedups,
        "ingestion_peak_memory_growth": ingestion_memory_growth(ingestion),
        "fixed_cost_wall_ratio": (
            {"tiny": fixed_cost["wall_ratio"]} if fixed_cost and fixed_cost.get("wall_ratio") is not None else {}
        ),
        "fixed_cost_slowest_other_component_seconds": other_component_seconds(fixed_cost),
        "int8_drop_with_quantization_aware_points": int8_step_drops(int8 or []),
        "int8_step_size_ratio": int8_step_size_ratios(int8 or []),
    }
    measured = {name: _worst(values, TARGETS[name][1]) for name, values in details.items()}
    measured["ingestion_speedup_2_workers"] = speedups.get(f"{largest} images")
    targets = {name: target(name, value) for name, value in measured.items()}
    return targets, {name: {key: round(value, 4) for key, value in values.items()} for name, values in details.items()}
