"""Executor of TFLite quantize-and-validate: reads artifacts, calls the plain functions, writes the outputs."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Iterable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import PROGRESS_LOGGER, json_files
from components.artifact_locations import portable_uri
from components.contracts import (
    LABELS_FILE,
    MODEL_FILE,
    REPORT_FILE,
    REPORT_MARKDOWN_FILE,
    REPORT_PICTURE_FILE,
    SETTINGS_FIELD,
    TRAINING_INPUT_FIELD,
    WEIGHTS_FILE,
)
from components.ingestion import image_files, original_images, training_input
from components.tflite import app_path, conversion, measurement, metadata, report_plot, runtimes, spec, validation
from components.tflite import baseline as baseline_lib
from components.tflite import gates as gates_lib
from components.tflite import report as report_lib
from components.trainer import quantization_aware, warm_start
from components.transform.preprocessing import LABEL_VOCAB
from components.transform.transformed_examples import load_transformed, read_transformed

progress = logging.getLogger(PROGRESS_LOGGER)


def class_balanced(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], count: int, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Up to `count` (image, label) pairs from `batches`, as even across the `num_classes` classes as the data
    allows: each class gets count // num_classes (the first classes one more for the remainder), and when a class
    runs short its places go to the others. Reading stops once every class has its share."""
    shares = [count // num_classes + (1 if label < count % num_classes else 0) for label in range(num_classes)]
    taken: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
    spare: list[tuple[np.ndarray, int]] = []
    for images, labels in batches:
        for image, label in zip(images, labels):
            label = int(label)
            if len(taken[label]) < shares[label]:
                taken[label].append(image)
            elif len(spare) < count:
                spare.append((image, label))
        if all(len(taken[label]) >= shares[label] for label in range(num_classes)):
            break
    chosen = [(image, label) for label in range(num_classes) for image in taken[label]]
    chosen += spare[: count - len(chosen)]
    if not chosen:
        return np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    return np.stack([image for image, _ in chosen]), np.array([label for _, label in chosen], np.int64)


class Executor(base_executor.BaseExecutor):
    """Converts, packages and validates; blesses the smallest quantization mode that passes every gate."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Write `model.tflite` + `labels.txt` + `report.json`, the report artifact and the blessing."""
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
        saved_model_dir = path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))
        tf_transform_output = tft.TFTransformOutput(
            artifact_utils.get_single_instance(input_dict[spec.TRANSFORM_GRAPH_KEY]).uri
        )
        labels = read_labels(tf_transform_output)
        name, architecture = exec_properties[spec.MODEL_NAME_KEY], exec_properties[spec.ARCHITECTURE_KEY]
        measuring = validation.Measuring(
            threads=int(exec_properties[spec.THREADS_KEY]),
            latency_warmup=int(exec_properties[spec.LATENCY_WARMUP_KEY]),
            latency_runs=int(exec_properties[spec.LATENCY_RUNS_KEY]),
            integer_io=exec_properties.get(spec.INTEGER_IO_KEY) or "",
            limits=json.loads(exec_properties[spec.GATES_KEY]),
        )
        examples = input_dict[spec.EXAMPLES_KEY]
        float_model = conversion.load(saved_model_dir)
        data, selection_split = read_validation_data(
            examples,
            tf_transform_output,
            float_model,
            labels,
            name,
            measuring.threads,
            int(exec_properties[spec.REPRESENTATIVE_EXAMPLES_KEY]),
            int(exec_properties.get(spec.MAX_EVAL_EXAMPLES_KEY) or 0),
            exec_properties.get(spec.REGISTRY_ROOT_KEY) or "",
            exec_properties.get(spec.BASELINE_CHANNEL_KEY) or "production",
            input_dict.get(spec.INGESTED_EXAMPLES_KEY),
        )

        def package(model_bytes: bytes, label: str) -> bytes:
            return metadata.add_metadata(
                model_bytes,
                labels,
                name=name,
                version=str(model.id),
                description=f"{architecture} image classifier, {label} TFLite, {len(labels)} labels",
            )

        sources = validation.candidate_sources(saved_model_dir, json.loads(exec_properties[spec.QUANTIZATION_KEY]))
        candidates = validation.validate_candidates(
            sources,
            data,
            measuring,
            package,
            {saved_model_dir: float_model},
            progress=lambda line: progress.info("%s: %s", name, line),
        )
        entries = [candidate.entry for candidate in candidates]
        chosen = gates_lib.choose_candidate(entries)
        shown = chosen or next((entry for entry in entries if entry["error"] is None), None)

        identity = {
            "model_name": name,
            "architecture": architecture,
            "input_shape": [1, *data.eval_images.shape[1:]],
            "labels_count": len(labels),
            "baseline": data.baseline.to_json(),
            "eval_examples": int(len(data.eval_labels)),
            "selection_split": selection_split,
            "selection_examples": int(len(data.selection[1] if data.selection else data.eval_labels)),
            "source_examples": {"uri": portable_uri(examples[0].uri), "span": examples[0].span},
            SETTINGS_FIELD: exec_properties.get(spec.SETTINGS_KEY) or None,
            TRAINING_INPUT_FIELD: read_training_input(input_dict.get(spec.INGESTED_EXAMPLES_KEY)),
            "warm_start": warm_start.read_warm_start_record(model.uri),
            "runtime": runtimes.default().describe(),
            "app_path": None
            if data.originals is None
            else {"preprocessing": app_path.PREPROCESSING, "examples": int(len(data.originals.labels))},
        }
        qat_sources = [source for source in sources if source.quantization_aware]
        if qat_sources:
            identity["quantization_aware_training"] = quantization_aware.read_training_record(
                qat_sources[0].saved_model_dir
            )
        output = artifact_utils.get_single_instance(output_dict[spec.TFLITE_MODEL_KEY])
        shipped = next((c.flatbuffer for c in candidates if shown is not None and c.entry is shown), None)
        write_model_files(output.uri, shipped, labels, model.uri)
        if shipped is not None:
            shown["peak_memory_bytes"] = measurement.measure_peak_memory(
                os.path.join(output.uri, MODEL_FILE), measuring.threads
            )
        report = report_lib.build_report(identity, data.float_accuracy, entries, chosen)
        report = json.loads(json.dumps(report, default=_json_default))
        write_report_files(report, [output.uri, artifact_utils.get_single_instance(output_dict[spec.REPORT_KEY]).uri])
        _write_blessing(artifact_utils.get_single_instance(output_dict[spec.BLESSING_KEY]), model, chosen is not None)
        progress.log(logging.INFO if chosen else logging.WARNING, "%s", report_lib.summary(report))


def read_labels(tf_transform_output: tft.TFTransformOutput) -> list[str]:
    """The class names in the label vocabulary's order (the model's output order)."""
    with tf.io.gfile.GFile(tf_transform_output.vocabulary_file_by_name(LABEL_VOCAB)) as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def read_validation_data(
    examples: Sequence[types.Artifact],
    tf_transform_output: tft.TFTransformOutput,
    float_model: Any,
    labels: list[str],
    name: str,
    threads: int,
    representative_count: int,
    limit: int,
    registry_root: str,
    baseline_channel: str,
    ingested: Sequence[types.Artifact] | None = None,
) -> tuple[validation.ValidationData, str]:
    """The calibration images (class-balanced, from train), the eval split (its first `limit`; 0: all), the split
    that chooses, the float model's (`float_model`, loaded) eval accuracy, the registry baseline measured on the
    same images and, from ImageExampleGen's examples (`ingested`), the same eval images' original files; with the
    choosing split's name."""
    train_pattern = os.path.join(artifact_utils.get_split_uri(examples, image_files.TRAIN_SPLIT), "*")
    representative, _ = class_balanced(
        (
            (batch_images.numpy(), batch_labels.numpy())
            for batch_images, batch_labels in read_transformed([train_pattern], tf_transform_output, batch_size=256)
        ),
        representative_count,
        len(labels),
    )
    eval_images, eval_labels = load_transformed(
        [os.path.join(artifact_utils.get_split_uri(examples, image_files.EVAL_SPLIT), "*")], tf_transform_output, limit
    )
    selection_split, selection = read_selection_split(examples, tf_transform_output, limit, name)
    float_accuracy = measurement.float_accuracy(float_model, eval_images, eval_labels)
    baseline, compared = baseline_lib.measure_baseline(
        registry_root,
        name,
        baseline_channel,
        labels,
        [1, *eval_images.shape[1:]],
        eval_images,
        eval_labels,
        lambda model_bytes, images: measurement.tflite_predictions(model_bytes, images, threads),
    )
    progress.info("%s: no-regression baseline: %s", name, baseline.describe())
    originals = None
    if ingested:
        split_uri = artifact_utils.get_split_uri(ingested, image_files.EVAL_SPLIT)
        height, width = eval_images.shape[1:3]
        originals = app_path.Originals.of(original_images.read_split(split_uri, limit), labels, height, width)
    return validation.ValidationData(
        representative, eval_images, eval_labels, selection, float_accuracy, baseline, compared, originals
    ), selection_split


def write_model_files(uri: str, flatbuffer: bytes | None, labels: list[str], trainer_model_uri: str) -> None:
    """`model.tflite` (when a candidate converted), `labels.txt` and the Trainer's float weights (when it saved
    them), the files a push copies into the registry."""
    tf.io.gfile.makedirs(uri)
    if flatbuffer is not None:
        with tf.io.gfile.GFile(os.path.join(uri, MODEL_FILE), "wb") as handle:
            handle.write(flatbuffer)
    with tf.io.gfile.GFile(os.path.join(uri, LABELS_FILE), "w") as handle:
        handle.write("\n".join(labels) + "\n")
    weights = os.path.join(trainer_model_uri, WEIGHTS_FILE)
    if tf.io.gfile.exists(weights):
        tf.io.gfile.copy(weights, os.path.join(uri, WEIGHTS_FILE), overwrite=True)


def read_selection_split(
    examples: Sequence[types.Artifact], tf_transform_output: tft.TFTransformOutput, limit: int, name: str
) -> tuple[str, tuple[np.ndarray, np.ndarray] | None]:
    """The split the candidates are chosen on, and its images and labels (the first `limit`; 0: all): validation,
    so that eval only judges and reports the choice. Without a validation split (`data.validation_fraction` 0),
    eval, said in the run's log, and None (the candidates' eval accuracy is their selection accuracy)."""
    if image_files.VALIDATION_SPLIT not in artifact_utils.decode_split_names(examples[0].split_names):
        progress.warning(
            "%s: no %s split (data.validation_fraction is 0): the candidates are chosen on the %s "
            "split, which also judges them",
            name,
            image_files.VALIDATION_SPLIT,
            image_files.EVAL_SPLIT,
        )
        return image_files.EVAL_SPLIT, None
    pattern = os.path.join(artifact_utils.get_split_uri(examples, image_files.VALIDATION_SPLIT), "*")
    return image_files.VALIDATION_SPLIT, load_transformed([pattern], tf_transform_output, limit)


def read_training_input(examples: Sequence[types.Artifact] | None) -> dict[str, Any] | None:
    """ImageExampleGen's record of what it ingested (spans, fingerprint, files), None without it."""
    if not examples:
        return None
    return json_files.read_optional(os.path.join(examples[0].uri, training_input.TRAINING_INPUT_FILE))


def write_report_files(report: dict[str, Any], uris: Sequence[str]) -> None:
    """`report.json`, `report.md` and `report.png` of one validation, rendered once, in each folder of `uris`."""
    files = {
        REPORT_FILE: json.dumps(report, indent=2).encode(),
        REPORT_MARKDOWN_FILE: report_lib.markdown(report).encode(),
        REPORT_PICTURE_FILE: report_plot.report_png(report),
    }
    for uri in uris:
        tf.io.gfile.makedirs(uri)
        for name, content in files.items():
            with tf.io.gfile.GFile(os.path.join(uri, name), "wb") as handle:
                handle.write(content)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _write_blessing(blessing: types.Artifact, model: types.Artifact, blessed: bool) -> None:
    """BLESSED / NOT_BLESSED file plus the properties Pusher and LatestBlessedModelStrategy read."""
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(os.path.join(blessing.uri, "BLESSED" if blessed else "NOT_BLESSED"), "w"):
        pass
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
