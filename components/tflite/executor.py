"""Executor of TFLite quantize-and-validate: reads artifacts, calls the plain functions, writes the outputs."""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import PROGRESS_LOGGER, json_files
from components.artifact_locations import portable_uri
from components.contracts import (LABELS_FILE, MODEL_FILE, REPORT_FILE, REPORT_MARKDOWN_FILE,
                                  REPORT_PICTURE_FILE, SETTINGS_FIELD, TRAINING_INPUT_FIELD, WEIGHTS_FILE)
from components.tflite import baseline as baseline_lib, conversion, gates as gates_lib, measurement, metadata
from components.ingestion import image_files, training_input
from components.tflite import report as report_lib, report_plot, spec
from components.trainer import quantization_aware, warm_start
from components.transform.transformed_examples import load_transformed, read_transformed
from components.transform.preprocessing import LABEL_VOCAB

progress = logging.getLogger(PROGRESS_LOGGER)


def class_balanced(batches: Iterable[tuple[np.ndarray, np.ndarray]], count: int,
                   num_classes: int) -> tuple[np.ndarray, np.ndarray]:
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
    chosen += spare[:count - len(chosen)]
    if not chosen:
        return np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    return np.stack([image for image, _ in chosen]), np.array([label for _, label in chosen], np.int64)


def validate_mode(model: str | conversion.LoadedModel, mode: str, integer_io: str, representative: np.ndarray,
                  eval_images: np.ndarray, eval_labels: np.ndarray, float_accuracy: float,
                  params: dict[str, Any], limits: dict[str, Any], package: Callable[[bytes, str], bytes],
                  baseline: baseline_lib.Baseline | None = None, compared: np.ndarray | None = None,
                  is_quantization_aware: bool = False,
                  selection: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[bytes | None, dict[str, Any]]:
    """Convert in one mode, package it with metadata and measure what ships; returns the packaged flatbuffer
    (None when conversion failed) and its candidate entry. A compared `baseline` (the registry's current model on
    the eval images `compared` selects: all, unless the classes changed) adds the no-regression gate, and one that
    cannot be read the failing `baseline_readable` gate. `is_quantization_aware`: `model` (a SavedModel folder, or
    loaded once for every mode) is the quantization-aware model; the drop is still measured against
    `float_accuracy`, the float model's. The candidates are chosen between on their `selection_accuracy`: on the
    validation images and labels `selection`, or (None) their eval accuracy."""
    io_type = integer_io if mode == "int8" and integer_io else None
    identity = {"quantization": mode, "quantization_aware": is_quantization_aware, "integer_io": io_type}
    try:
        model_bytes = package(conversion.convert(model, mode, representative, io_type),
                              report_lib.candidate_label(identity))
    except conversion.ConversionError as error:
        return None, report_lib.candidate_entry(identity, [], str(error))
    ops = conversion.model_ops(model_bytes)
    measured = measurement.measure_flatbuffer(model_bytes, eval_images, eval_labels, params[spec.THREADS_KEY],
                                              params[spec.LATENCY_WARMUP_KEY], params[spec.LATENCY_RUNS_KEY])
    input_dtype = tf.lite.Interpreter(model_content=model_bytes).get_input_details()[0]["dtype"]
    selection_accuracy = measured["tflite_accuracy"] if selection is None else measurement.accuracy(
        measurement.tflite_predictions(model_bytes, selection[0], params[spec.THREADS_KEY]), selection[1])["top1"]
    measured = {"selection_accuracy": selection_accuracy,
        **identity, **measured, "accuracy_drop": float_accuracy - measured["tflite_accuracy"],
        "ops": ops, "builtin_ops_only": not conversion.non_builtin_ops(ops), "input_dtype": np.dtype(input_dtype).name,
    }
    judged = {**measured, "latency_ms": measured["latency_ms"]["median"]}
    if baseline is not None and baseline.compared:
        judged["baseline_accuracy"] = baseline.accuracy
        if compared is not None and not compared.all():
            judged["compared_accuracy"] = measurement.accuracy(
                measurement.tflite_predictions(model_bytes, eval_images[compared], params[spec.THREADS_KEY]),
                eval_labels[compared])["top1"]
    if baseline is not None and not baseline.readable:
        judged["baseline_unreadable"] = baseline.reason
    results = gates_lib.evaluate_gates(judged, limits)
    return model_bytes, report_lib.candidate_entry(measured, results)


class Executor(base_executor.BaseExecutor):
    """Converts, packages and validates; blesses the smallest quantization mode that passes every gate."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        """Write `model.tflite` + `labels.txt` + `report.json`, the report artifact and the blessing."""
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
        saved_model_dir = path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))
        tf_transform_output = tft.TFTransformOutput(
            artifact_utils.get_single_instance(input_dict[spec.TRANSFORM_GRAPH_KEY]).uri)
        with tf.io.gfile.GFile(tf_transform_output.vocabulary_file_by_name(LABEL_VOCAB)) as handle:
            labels = [line.rstrip("\n") for line in handle if line.strip()]
        params = {key: int(exec_properties[key])
                  for key in (spec.THREADS_KEY, spec.LATENCY_WARMUP_KEY, spec.LATENCY_RUNS_KEY)}
        limits = json.loads(exec_properties[spec.GATES_KEY])
        modes = json.loads(exec_properties[spec.QUANTIZATION_KEY])
        integer_io = exec_properties.get(spec.INTEGER_IO_KEY) or ""
        name = exec_properties[spec.MODEL_NAME_KEY]

        examples = input_dict[spec.EXAMPLES_KEY]
        train_pattern = os.path.join(artifact_utils.get_split_uri(examples, image_files.TRAIN_SPLIT), "*")
        representative, _ = class_balanced(
            ((batch_images.numpy(), batch_labels.numpy()) for batch_images, batch_labels in
             read_transformed([train_pattern], tf_transform_output, batch_size=256)),
            int(exec_properties[spec.REPRESENTATIVE_EXAMPLES_KEY]), len(labels))
        limit = int(exec_properties.get(spec.MAX_EVAL_EXAMPLES_KEY) or 0)
        eval_images, eval_labels = load_transformed(
            [os.path.join(artifact_utils.get_split_uri(examples, image_files.EVAL_SPLIT), "*")], tf_transform_output,
            limit)
        selection_split, selection = read_selection_split(examples, tf_transform_output, limit, name)
        loaded = {saved_model_dir: conversion.load(saved_model_dir)}
        float_accuracy = measurement.float_accuracy(loaded[saved_model_dir], eval_images, eval_labels)
        input_shape = [1, *eval_images.shape[1:]]
        baseline, compared = baseline_lib.measure_baseline(
            exec_properties.get(spec.REGISTRY_ROOT_KEY) or "", name,
            exec_properties.get(spec.BASELINE_CHANNEL_KEY) or "production", labels, input_shape, eval_images,
            eval_labels, lambda model_bytes, images: measurement.tflite_predictions(model_bytes, images,
                                                                                    params[spec.THREADS_KEY]))
        progress.info("%s: no-regression baseline: %s", name, baseline.describe())

        def package(model_bytes: bytes, mode: str) -> bytes:
            return metadata.add_metadata(model_bytes, labels, name=name, version=str(model.id),
                                         description=f"{exec_properties[spec.ARCHITECTURE_KEY]} image classifier, "
                                                     f"{mode} TFLite, {len(labels)} labels")

        flatbuffers: dict[str, bytes] = {}
        candidates = []
        sources = [(mode, saved_model_dir, False) for mode in modes]
        quantization_aware_dir = quantization_aware.model_dir(saved_model_dir)
        if "int8" in modes and tf.io.gfile.isdir(quantization_aware_dir):
            sources.append(("int8", quantization_aware_dir, True))
        for mode, source, is_quantization_aware in sources:
            label = report_lib.candidate_label({"quantization": mode, "quantization_aware": is_quantization_aware})
            progress.info("%s: converting to TFLite (%s) and measuring it", name, label)
            if source not in loaded:
                loaded[source] = conversion.load(source)
            model_bytes, entry = validate_mode(loaded[source], mode, integer_io, representative, eval_images,
                                               eval_labels, float_accuracy, params, limits, package, baseline,
                                               compared, is_quantization_aware, selection)
            candidates.append(entry)
            if model_bytes is not None:
                flatbuffers[label] = model_bytes
        chosen = gates_lib.choose_candidate(candidates)
        shown = chosen or next((c for c in candidates if c["error"] is None), None)

        output = artifact_utils.get_single_instance(output_dict[spec.TFLITE_MODEL_KEY])
        identity = {
            "model_name": name, "architecture": exec_properties[spec.ARCHITECTURE_KEY],
            "input_shape": input_shape, "labels_count": len(labels), "baseline": baseline.to_json(),
            "eval_examples": int(len(eval_labels)), "selection_split": selection_split,
            "selection_examples": int(len(selection[1])) if selection else int(len(eval_labels)),
            "source_examples": {"uri": portable_uri(examples[0].uri), "span": examples[0].span},
            SETTINGS_FIELD: exec_properties.get(spec.SETTINGS_KEY) or None,
            TRAINING_INPUT_FIELD: read_training_input(input_dict.get(spec.INGESTED_EXAMPLES_KEY)),
            "warm_start": warm_start.read_warm_start_record(model.uri),
        }
        if any(is_quantization_aware for _, _, is_quantization_aware in sources):
            identity["quantization_aware_training"] = quantization_aware.read_training_record(quantization_aware_dir)
        tf.io.gfile.makedirs(output.uri)
        if shown is not None:
            model_path = os.path.join(output.uri, MODEL_FILE)
            with tf.io.gfile.GFile(model_path, "wb") as handle:
                handle.write(flatbuffers[report_lib.candidate_label(shown)])
            shown["peak_memory_bytes"] = measurement.measure_peak_memory(model_path, params[spec.THREADS_KEY])
        with tf.io.gfile.GFile(os.path.join(output.uri, LABELS_FILE), "w") as handle:
            handle.write("\n".join(labels) + "\n")
        weights = os.path.join(model.uri, WEIGHTS_FILE)
        if tf.io.gfile.exists(weights):
            tf.io.gfile.copy(weights, os.path.join(output.uri, WEIGHTS_FILE), overwrite=True)
        report = report_lib.build_report(identity, float_accuracy, candidates, chosen)
        report = json.loads(json.dumps(report, default=_json_default))
        write_report_files(report, [output.uri, artifact_utils.get_single_instance(output_dict[spec.REPORT_KEY]).uri])
        _write_blessing(artifact_utils.get_single_instance(output_dict[spec.BLESSING_KEY]), model, chosen is not None)
        progress.log(logging.INFO if chosen else logging.WARNING, "%s", report_lib.summary(report))


def read_selection_split(examples: Sequence[types.Artifact], tf_transform_output: tft.TFTransformOutput, limit: int,
                         name: str) -> tuple[str, tuple[np.ndarray, np.ndarray] | None]:
    """The split the candidates are chosen on, and its images and labels (the first `limit`; 0: all): validation,
    so that eval only judges and reports the choice. Without a validation split (`data.validation_fraction` 0),
    eval, said in the run's log, and None (the candidates' eval accuracy is their selection accuracy)."""
    if image_files.VALIDATION_SPLIT not in artifact_utils.decode_split_names(examples[0].split_names):
        progress.warning("%s: no %s split (data.validation_fraction is 0): the candidates are chosen on the %s "
                         "split, which also judges them", name, image_files.VALIDATION_SPLIT, image_files.EVAL_SPLIT)
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
    files = {REPORT_FILE: json.dumps(report, indent=2).encode(),
             REPORT_MARKDOWN_FILE: report_lib.markdown(report).encode(),
             REPORT_PICTURE_FILE: report_plot.report_png(report)}
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
