"""Quantization-aware fine-tuning (TensorFlow Model Optimization) of the Trainer's float model.

With `train.quantization_aware_epochs` > 0 the Trainer, after choosing its float model, wraps it with fake
quantization (`tfmot.quantization.keras.quantize_model`: 8-bit weights per channel and activations, the scheme the
TFLite converter turns into a full-integer model) and trains it on for that many epochs at `train.fine_tune_rate`
times the learning rate. BatchNorm's moving statistics are held during those epochs (momentum 1) and recomputed
from un-augmented training batches after each one, as in float training. The float model stays the Trainer's
SavedModel, which the Evaluator judges and against which the TFLite step measures every int8 drop; the
quantization-aware model is saved beside it (`QUANTIZATION_AWARE_DIR`, `serving_preprocessed` signature only) and
the TFLite step converts it to a second int8 candidate.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf

from components import json_files
from components.contracts import QUANTIZATION_AWARE_DIR
from components.transform.image_codec import MODEL_INPUT_RANGE

TRAINING_RECORD = os.path.join("assets.extra", "quantization_aware_training.json")
"""What the quantization-aware epochs cost (epochs, seconds of fine-tuning and of saving), inside that folder
(`assets.extra` is where a SavedModel keeps files TensorFlow does not read)."""


@dataclasses.dataclass(frozen=True)
class FineTuned:
    """The quantization-aware model, its epochs and their seconds, and validation accuracies: `float_kept` (the
    float model), `float_weights_after` (its weights after the quantization-aware epochs, run in float) and
    `quantization_aware` (those weights fake-quantized). A plain object, so that Keras does not track the model
    as a layer of the float model it is attached to (which would save it inside the float SavedModel)."""

    model: tf.keras.Model
    epochs: int
    seconds: float
    validation: dict[str, float]


def model_dir(serving_model_dir: str) -> str:
    """Where the quantization-aware SavedModel of the float SavedModel at `serving_model_dir` is."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), QUANTIZATION_AWARE_DIR)


def quantize(model: tf.keras.Model) -> tf.keras.Model:
    """`model` (built-in Keras layers only) wrapped for quantization-aware training, its float weights kept, its
    BatchNorm layers' moving statistics held (momentum 1) so that only the recalibration sets them, and its input
    quantized over the model input's whole range, [-1, 1].

    The input's range is what the converted model's input quantization is made of. tfmot's input quantizer starts
    at [0, 0] and widens to the training images' extremes (they never leave [-1, 1]: augmentation clips), so
    low-contrast training data would leave it narrower than the raw 0..255 frames the app's runtimes feed a uint8
    input (see components/tflite/conversion.py). Started at [-1, 1], it stays there."""
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import QuantizeLayer

    quantized = tfmot.quantization.keras.quantize_model(model)
    for layer in quantized.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, tf.keras.layers.BatchNormalization):
            inner.momentum = 1.0
        if isinstance(layer, QuantizeLayer):  # not exported by tfmot 0.8; the layer quantize_model puts first
            layer.quantizer_vars["min_var"].assign(MODEL_INPUT_RANGE[0])
            layer.quantizer_vars["max_var"].assign(MODEL_INPUT_RANGE[1])
    return quantized


def fine_tune(
    model: tf.keras.Model,
    train_batches: tf.data.Dataset,
    callbacks: list[tf.keras.callbacks.Callback],
    epochs: int,
    rate: float,
    loss: tf.keras.losses.Loss,
) -> tf.keras.Model:
    """The quantization-aware copy of `model`, trained `epochs` epochs on `train_batches` at learning rate `rate`
    (the first callback scores each epoch); the last epoch is kept."""
    quantized = quantize(model)
    quantized.compile(optimizer=tf.keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])
    quantized.fit(train_batches, epochs=epochs, callbacks=callbacks, verbose=0)
    return quantized


def float_weights(model: tf.keras.Model, quantized: tf.keras.Model) -> tf.keras.Model:
    """A float copy of `model` with the weights `quantized` (its `quantize` wrapping) has trained, the fake
    quantization left out: what the quantization-aware epochs did to the float network, as opposed to what
    quantizing it costs."""
    trained = {variable.name: variable for variable in quantized.weights}
    copy = tf.keras.models.clone_model(model)
    missing = [variable.name for variable in copy.weights if variable.name not in trained]
    if missing:
        raise ValueError(f"the quantization-aware model has no weights named {', '.join(missing[:3])}")
    for variable in copy.weights:
        variable.assign(trained[variable.name])
    return copy


def write_training_record(directory: str, fine_tuned: FineTuned, save_seconds: float) -> None:
    """Record in the quantization-aware SavedModel at `directory` what its epochs and its saving took, and the
    validation accuracies that tell the extra training apart from the quantization (`FineTuned`)."""
    path = os.path.join(directory, TRAINING_RECORD)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(
            {
                "epochs": fine_tuned.epochs,
                "fine_tune_seconds": round(fine_tuned.seconds, 1),
                "save_seconds": round(save_seconds, 1),
                "validation_accuracy": {key: round(value, 4) for key, value in fine_tuned.validation.items()},
            },
            handle,
        )


def read_training_record(directory: str) -> dict[str, Any] | None:
    """The record `write_training_record` left in `directory`, or None when there is none."""
    return json_files.read_optional(os.path.join(directory, TRAINING_RECORD))
