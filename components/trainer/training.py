"""The input and training path shared by the MobileNet V1 and V2 module files.

A module file supplies only `build_network(input_shape, num_classes, alpha, dropout, bn_momentum)`; everything
else (reading the transformed examples, seeding, training with per-epoch progress, TensorBoard logs and the
serving signatures) lives here.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components import PROGRESS_LOGGER
from components.transform import preprocessing

NetworkBuilder = Callable[..., tf.keras.Model]
progress = logging.getLogger(PROGRESS_LOGGER)


def read_transformed(file_patterns: list[str] | str, tf_transform_output: tft.TFTransformOutput,
                     batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """Batches of (image [B,H,W,3], label [B]) from GZIP TFRecords of transformed examples."""
    spec = tf_transform_output.transformed_feature_spec()
    files = tf.io.gfile.glob(file_patterns) if isinstance(file_patterns, str) else [
        path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    dataset = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
    if shuffle_seed is not None:
        dataset = dataset.shuffle(4096, seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(lambda records: tf.io.parse_example(records, spec),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.map(lambda f: (f[preprocessing.IMAGE_XF], f[preprocessing.LABEL_XF])).prefetch(tf.data.AUTOTUNE)


class EpochProgress(tf.keras.callbacks.Callback):
    """Logs one line per epoch (loss, train and eval accuracy, time) to the progress logger."""

    def __init__(self, name: str, epochs: int):
        super().__init__()
        self._name, self._epochs, self._start = name, epochs, 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        progress.info("%s epoch %d/%d: loss %.3f, train accuracy %.3f, eval accuracy %.3f (%.1f s)",
                      self._name, epoch + 1, self._epochs, logs.get("loss", float("nan")),
                      logs.get("accuracy", float("nan")), logs.get("val_accuracy", float("nan")),
                      time.monotonic() - self._start)


def _signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput, size: int) -> dict[str, Any]:
    """The serving signatures: raw encoded bytes, the preprocessed tensor, and transformed tf.Examples."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    transformed_spec = {preprocessing.IMAGE_XF: tf_transform_output.transformed_feature_spec()[preprocessing.IMAGE_XF]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_image_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer({preprocessing.IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})
        return {"probabilities": model(transformed[preprocessing.IMAGE_XF], training=False)}

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="image")])
    def serve_preprocessed(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": model(image, training=False)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_transformed_examples(examples: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(examples, transformed_spec)
        return {"probabilities": model(features[preprocessing.IMAGE_XF], training=False)}

    return {
        "serving_default": serve_image_bytes.get_concrete_function(),
        "serving_preprocessed": serve_preprocessed.get_concrete_function(),
        "serving_transformed_examples": serve_transformed_examples.get_concrete_function(),
    }


def train_model(build_network: NetworkBuilder, train_data: tf.data.Dataset, eval_data: tf.data.Dataset,
                num_classes: int, hparams: dict[str, Any], log_dir: str | None = None) -> tf.keras.Model:
    """Build the network with `hparams` and fit it, logging each epoch; returns the trained Keras model."""
    tf.keras.utils.set_random_seed(int(hparams.get("seed", 42)))
    size = int(hparams["input_size"])
    model = build_network(input_shape=(size, size, 3), num_classes=num_classes, alpha=float(hparams["alpha"]),
                          dropout=float(hparams.get("dropout", 0.1)),
                          bn_momentum=float(hparams.get("bn_momentum", 0.9)))
    weights = hparams.get("pretrained_weights") or ""
    if weights:
        if not tf.io.gfile.exists(weights):
            raise FileNotFoundError(f"model.pretrained_weights: {weights} does not exist")
        model.load_weights(weights, by_name=True, skip_mismatch=True)
    model.compile(optimizer=tf.keras.optimizers.Adam(float(hparams.get("learning_rate", 0.002))),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    epochs = int(hparams.get("epochs", 1))
    max_steps = int(hparams.get("max_train_steps", 0))
    callbacks: list[tf.keras.callbacks.Callback] = [EpochProgress(hparams.get("name", model.name), epochs)]
    if log_dir:
        callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    model.fit(train_data.take(max_steps) if max_steps else train_data, validation_data=eval_data,
              epochs=epochs, callbacks=callbacks, verbose=0)
    return model


def run(fn_args: FnArgs, build_network: NetworkBuilder) -> None:
    """Train `build_network` on the transformed examples and export the SavedModel with its signatures."""
    hparams = dict(fn_args.custom_config or {})
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    num_classes = tf_transform_output.vocabulary_size_by_name(preprocessing.LABEL_VOCAB)
    batch_size = int(hparams.get("batch_size", 64))
    train_data = read_transformed(fn_args.train_files, tf_transform_output, batch_size, int(hparams.get("seed", 42)))
    eval_data = read_transformed(fn_args.eval_files, tf_transform_output, batch_size)
    progress.info("%s: training on %d classes, %d epochs, batch %d, input %dx%d",
                  hparams.get("name", "model"), num_classes, int(hparams.get("epochs", 1)), batch_size,
                  int(hparams["input_size"]), int(hparams["input_size"]))
    model = train_model(build_network, train_data, eval_data, num_classes, hparams, log_dir=fn_args.model_run_dir)
    signatures = _signatures(model, tf_transform_output, int(hparams["input_size"]))
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
