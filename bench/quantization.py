"""The int8 step of `python -m bench`: post-training against quantization-aware int8, and how
many calibration examples post-training int8 needs.

Per dataset (Fashion-MNIST as the bench's other steps train it, and the photo set with the photo recipe), one
`mobilenet-pipeline run` that tries float32 and int8 with `train.quantization_aware_epochs` on. Its TFLite reports
give each model's float32, post-training int8 and quantization-aware int8 side by side, all measured by the TFLite
step against the same float SavedModel on the same eval images, with the Trainer's record of the quantization-aware
epochs (their seconds, the seconds to save their SavedModel, and validation accuracies that tell the extra
training apart from the quantization). Then each float model is converted to post-training int8
again with `COUNTS` class-balanced training examples (drawn as the TFLite step draws them) and scored on the eval
split, the study behind `tflite.representative_examples`' default.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Iterable

from components.contracts import FLOAT_ACCURACY_FIELD, LATENCY_FIELD, REPORT_FILE, TFLITE_ACCURACY_FIELD
from pipeline.component_ids import TFLITE, TRAINER, component_id

log = logging.getLogger("mobilenet.bench")
COUNTS = (50, 200, 1000)
QUANTIZATION_AWARE_EPOCHS = 2
QUICK_COUNTS = (8, 16)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset of the step: the demo dataset it is written from, its size and the recipe it is trained with."""

    name: str
    per_class: int
    config: str | None
    overrides: tuple[str, ...]


def candidate_rows(report: dict[str, Any], training: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per candidate of a TFLite report (`float32`, `int8`, `int8 (quantization-aware)`): accuracy, drop
    against the report's float model in points, bytes, median latency; the quantization-aware row carries the
    Trainer's `training` record."""
    rows = []
    for candidate in report["candidates"]:
        if candidate.get("error"):
            rows.append({"candidate": _label(candidate), "error": candidate["error"]})
            continue
        row = {
            "candidate": _label(candidate),
            TFLITE_ACCURACY_FIELD: candidate[TFLITE_ACCURACY_FIELD],
            "selection_accuracy": candidate.get("selection_accuracy", candidate[TFLITE_ACCURACY_FIELD]),
            "drop_points": round(100.0 * candidate["accuracy_drop"], 2),
            "size_bytes": candidate["size_bytes"],
            LATENCY_FIELD: candidate[LATENCY_FIELD]["median"],
            "passed": candidate["passed"],
        }
        if candidate.get("quantization_aware"):
            row["training"] = training
        rows.append(row)
    return rows


def _label(candidate: dict[str, Any]) -> str:
    from components.tflite import report

    return report.candidate_label(candidate)


def shipped_int8_drop(rows: Iterable[dict[str, Any]]) -> float | None:
    """The drop (points) of the int8 file the run ships: the passing int8 candidate the TFLite step keeps, the
    more accurate on the selection split (`components/tflite/gates.py`; ties: the quantization-aware one); None
    when no int8 candidate passed (nothing int8 is shipped)."""
    passed = [row for row in rows if row["candidate"].startswith("int8") and "error" not in row and row["passed"]]
    kept = max(passed, key=lambda row: (row["selection_accuracy"], "training" in row), default=None)
    return None if kept is None else kept["drop_points"]


def calibration_study(
    model: Any,
    train_batches: Iterable[tuple[Any, Any]],
    num_classes: int,
    eval_images: Any,
    eval_labels: Any,
    float_accuracy: float,
    counts: Iterable[int],
    threads: int,
) -> list[dict[str, Any]]:
    """Post-training int8 of `model` (a SavedModel folder, or `conversion.load`ed) calibrated on each count of
    class-balanced training examples: the count drawn (less when the split is smaller), the accuracy and the drop
    against `float_accuracy`."""
    from components.tflite import conversion, measurement
    from components.tflite.executor import class_balanced

    counts = sorted(counts)
    images, labels = class_balanced(train_batches, counts[-1], num_classes)
    rows = []
    loaded = conversion.load(model) if isinstance(model, str) else model
    for count in counts:
        representative, _ = class_balanced([(images, labels)], count, num_classes)
        model_bytes = conversion.convert(loaded, "int8", representative)
        accuracy = measurement.accuracy(measurement.tflite_predictions(model_bytes, eval_images, threads), eval_labels)[
            "top1"
        ]
        rows.append(
            {
                "requested": count,
                "drawn": int(len(representative)),
                TFLITE_ACCURACY_FIELD: accuracy,
                "drop_points": round(100.0 * (float_accuracy - accuracy), 2),
            }
        )
        log.info("    calibrated on %d: accuracy %.4f (float %.4f)", len(representative), accuracy, float_accuracy)
    return rows


def _study_run(home: Path, counts: Iterable[int], threads: int) -> dict[str, list[dict[str, Any]]]:
    """The calibration study for every float model of the run in `home`."""
    import tensorflow_transform as tft

    from bench import models
    from components.tflite import conversion, measurement
    from components.transform.preprocessing import LABEL_VOCAB
    from components.transform.transformed_examples import read_transformed

    outputs = models.find_outputs(str(home / "metadata.sqlite"), str(home / "pipeline_root"))
    transform_output = tft.TFTransformOutput(outputs.transform_graph)
    num_classes = transform_output.vocabulary_size_by_name(LABEL_VOCAB)
    eval_images, eval_labels = models.load_split(outputs, "eval")
    study = {}
    for model_name, saved_model_dir in sorted(outputs.saved_models.items()):
        log.info("  %s: post-training int8 by calibration examples", model_name)
        loaded = conversion.load(saved_model_dir)
        float_accuracy = measurement.float_accuracy(loaded, eval_images, eval_labels)
        train = read_transformed(
            [str(Path(outputs.transformed_examples) / "Split-train" / "*")], transform_output, batch_size=256
        )
        study[model_name] = calibration_study(
            loaded,
            ((x.numpy(), y.numpy()) for x, y in train),
            num_classes,
            eval_images,
            eval_labels,
            float_accuracy,
            counts,
            threads,
        )
    return study


def run_dataset(
    dataset: Dataset, data: str, workdir: Path, overrides: list[str], counts: Iterable[int], threads: int
) -> dict[str, Any]:
    """The pipeline run with both int8 paths on `data`, its per-model candidate rows and the calibration study."""
    from bench import models, runs

    log.info("int8: %s, pipeline run with %s", dataset.name, " ".join(overrides))
    run = runs.run_pipeline(data, workdir, overrides, dataset.config)
    log.info("  pipeline: %.0f s", run["wall_seconds"])
    home = Path(run["home"])
    outputs = models.find_outputs(str(home / "metadata.sqlite"), str(home / "pipeline_root"))
    per_model = {}
    for model_name in sorted(outputs.saved_models):
        report = json.loads((Path(outputs.reports[model_name]) / REPORT_FILE).read_text(encoding="utf-8"))
        per_model[model_name] = {
            FLOAT_ACCURACY_FIELD: report[FLOAT_ACCURACY_FIELD],
            "eval_examples": report["eval_examples"],
            "trainer_seconds": run["component_seconds"].get(component_id(TRAINER, model_name)),
            "tflite_seconds": run["component_seconds"].get(component_id(TFLITE, model_name)),
            "candidates": candidate_rows(report, report.get("quantization_aware_training")),
        }
    return {
        "dataset": dataset.name,
        "config": dataset.config,
        "overrides": overrides,
        "wall_seconds": run["wall_seconds"],
        "models": per_model,
        "calibration": _study_run(home, counts, threads),
    }
