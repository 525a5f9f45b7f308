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

import os

import tensorflow as tf

QUANTIZATION_AWARE_DIR = "Format-Serving-QuantizationAware"
"""The quantization-aware SavedModel's folder, beside the float SavedModel in the Trainer's model artifact."""


def model_dir(serving_model_dir: str) -> str:
    """Where the quantization-aware SavedModel of the float SavedModel at `serving_model_dir` is."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), QUANTIZATION_AWARE_DIR)


def quantize(model: tf.keras.Model) -> tf.keras.Model:
    """`model` (built-in Keras layers only) wrapped for quantization-aware training, its float weights kept, its
    BatchNorm layers' moving statistics held (momentum 1) so that only the recalibration sets them."""
    import tensorflow_model_optimization as tfmot

    quantized = tfmot.quantization.keras.quantize_model(model)
    for layer in quantized.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, tf.keras.layers.BatchNormalization):
            inner.momentum = 1.0
    return quantized


def fine_tune(model: tf.keras.Model, train_batches: tf.data.Dataset, callbacks: list[tf.keras.callbacks.Callback],
              epochs: int, rate: float, loss: tf.keras.losses.Loss) -> tf.keras.Model:
    """The quantization-aware copy of `model`, trained `epochs` epochs on `train_batches` at learning rate `rate`
    (the first callback scores each epoch); the last epoch is kept."""
    quantized = quantize(model)
    quantized.compile(optimizer=tf.keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])
    quantized.fit(train_batches, epochs=epochs, callbacks=callbacks, verbose=0)
    return quantized
