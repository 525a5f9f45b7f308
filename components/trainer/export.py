"""A Keras model saved as a SavedModel with only the preprocessed-image signature the TFLite converter reads: the
quantization-aware model beside the Trainer's, and the models the benchmark trains outside the pipeline."""

from __future__ import annotations

import tensorflow as tf

from components.contracts import PREPROCESSED_SIGNATURE


def save_for_conversion(model: tf.keras.Model, directory: str, size: int, save_traces: bool = False) -> None:
    """Save `model` as a SavedModel with only the `serving_preprocessed` signature that `convert` reads (for
    models trained outside the pipeline: the benchmark's script and size sweep). As in the Trainer, Keras' per-layer
    call traces are left out unless `save_traces`: the converter reads the signature only."""

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="image")])
    def serve_preprocessed(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": model(image, training=False)}

    model.save(
        directory,
        save_format="tf",
        signatures={PREPROCESSED_SIGNATURE: serve_preprocessed.get_concrete_function()},
        save_traces=save_traces,
    )
