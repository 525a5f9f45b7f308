"""The input and training path shared by the MobileNet V1 and V2 module files.

A module file supplies only `build_network(input_shape, num_classes, alpha, dropout, bn_momentum)`; everything
else lives here (the TFX side: the serving signatures, the export) and in `fitting` (seeding, training with
per-epoch progress, TensorBoard logs); the transformed examples are read by `components.transform`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components import PROGRESS_LOGGER, json_files
from components.contracts import (
    IMAGE_KEY,
    PREPROCESSED_SIGNATURE,
    SERVING_SIGNATURE,
    TRAINING_SPEED_FILE,
    TRANSFORMED_EXAMPLES_SIGNATURE,
    WEIGHTS_FILE,
)
from components.trainer import export, quantization_aware, warm_start, weight_sources
from components.trainer.fitting import NetworkBuilder, train_model
from components.trainer.hyperparameters import Hyperparameters
from components.transform import image_codec, preprocessing
from components.transform.transformed_examples import read_transformed

progress = logging.getLogger(PROGRESS_LOGGER)


def _signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput, size: int) -> dict[str, Any]:
    """The serving signatures: raw encoded bytes, the preprocessed tensor, and transformed tf.Examples.

    All three call one traced function of the network, so the SavedModel holds its graph once, not once per
    signature: tracing, saving and every load (the Evaluator's, the TFLite step's) handle one copy. They are traced
    without AutoGraph, since nothing in them branches on a tensor: with it, the first export of a run converted the
    source of tf.Transform's layer function by function."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    transformed_spec = {preprocessing.IMAGE_XF: tf_transform_output.transformed_feature_spec()[preprocessing.IMAGE_XF]}

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="image")], autograph=False)
    def serve_preprocessed(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": model(image, training=False)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")], autograph=False)
    def serve_image_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer({IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})
        return serve_preprocessed(image_codec.model_input(transformed[preprocessing.IMAGE_XF], size))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
    def serve_transformed_examples(examples: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(examples, transformed_spec)
        return serve_preprocessed(image_codec.model_input(features[preprocessing.IMAGE_XF], size))

    return {
        SERVING_SIGNATURE: serve_image_bytes.get_concrete_function(),
        PREPROCESSED_SIGNATURE: serve_preprocessed.get_concrete_function(),
        TRANSFORMED_EXAMPLES_SIGNATURE: serve_transformed_examples.get_concrete_function(),
    }


def _registry_weights(fn_args: FnArgs, hparams: Hyperparameters) -> warm_start.RegistryWeights | None:
    """The registry version's weights the new-data check handed over as the base model, for a `model.weights`
    that names one; None (logged) when the registry had nothing to start from."""
    if weight_sources.registry_source(hparams.weights) is None:
        return None
    if not fn_args.base_model:
        raise warm_start.WarmStartError(
            f"model.weights={hparams.weights}: the Trainer has no base model (the "
            "new-data check's), so it cannot warm-start from the registry"
        )
    weights, reason = warm_start.read_registry_weights(os.path.join(fn_args.base_model, hparams.name))
    if weights is None:
        progress.info(
            "%s: model.weights=%s: %s; training from scratch (model.weights=none)",
            hparams.name,
            hparams.weights,
            reason,
        )
    return weights


def training_device() -> str:
    """Where Keras trains: `GPU:0 (NVIDIA L4)` when the pod has a GPU TensorFlow can use, else `CPU (N cores)`."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{gpus[0].name.split(':', 1)[1]} ({details.get('device_name', 'GPU')})"
    return f"CPU ({os.cpu_count()} cores)"


def run(fn_args: FnArgs, build_network: NetworkBuilder) -> None:
    """Train `build_network` on the transformed examples and export the SavedModel with its signatures, beside it
    its float weights (`weights.h5`, what a later run warm-starts from) and what it started from.

    The SavedModel is read through its signatures only (TFMA as `tf_generic`, the TFLite step), so the per-layer
    call traces Keras would add are not saved, which makes saving and every load faster (`python -m
    bench.trainer_cost`). Keras can still load it: built-in layers rebuild from their configs."""
    hparams = Hyperparameters.from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    with tf.io.gfile.GFile(tf_transform_output.vocabulary_file_by_name(preprocessing.LABEL_VOCAB)) as handle:
        labels = [line.rstrip("\n") for line in handle if line.strip()]
    train_data = read_transformed(fn_args.train_files, tf_transform_output, hparams.batch_size, hparams.seed)
    validation_data = read_transformed(fn_args.eval_files, tf_transform_output, hparams.batch_size)
    size = hparams.input_size
    progress.info(
        "%s: training on %d classes, %d epochs, batch %d, input %dx%d, on %s%s",
        hparams.name,
        len(labels),
        hparams.epochs,
        hparams.batch_size,
        size,
        size,
        training_device(),
        ", mixed precision (float16 compute)" if hparams.mixed_precision else "",
    )
    result = train_model(
        build_network,
        train_data,
        validation_data,
        len(labels),
        hparams,
        log_dir=fn_args.model_run_dir,
        registry_weights=_registry_weights(fn_args, hparams),
        labels=labels,
    )
    signatures = _signatures(result.model, tf_transform_output, size)
    result.model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures, save_traces=False)
    model_dir = os.path.dirname(fn_args.serving_model_dir.rstrip("/"))
    _save_weights(result.model, os.path.join(model_dir, WEIGHTS_FILE))
    json_files.write(os.path.join(model_dir, TRAINING_SPEED_FILE), result.speed(hparams.epochs))
    if result.warm_start is not None:
        json_files.write(os.path.join(model_dir, warm_start.WARM_START_RECORD), result.warm_start.to_json())
    if result.quantization_aware is not None:
        started = time.monotonic()
        quantization_aware_dir = quantization_aware.model_dir(fn_args.serving_model_dir)
        export.save_for_conversion(result.quantization_aware.model, quantization_aware_dir, size)
        quantization_aware.write_training_record(
            quantization_aware_dir, result.quantization_aware, time.monotonic() - started
        )


def _save_weights(model: tf.keras.Model, path: str) -> None:
    """The model's float weights as a Keras `.h5` file at `path` (any tf.io.gfile URL)."""
    with tempfile.TemporaryDirectory() as scratch:
        local = os.path.join(scratch, os.path.basename(path))
        model.save_weights(local)
        tf.io.gfile.copy(local, path, overwrite=True)
