"""Transform `preprocessing_fn`: decode any image to RGB, resize, scale to [-1, 1], and build the label vocabulary.

The vocabulary file (`label_vocab`, one class name per line, line i = class i) is what the app ships as labels.txt.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

IMAGE_KEY = "image_raw"
LABEL_KEY = "label"
IMAGE_XF = "image_xf"
LABEL_XF = "label_xf"
LABEL_VOCAB = "label_vocab"
DEFAULT_INPUT_SIZE = 32


def decode_images(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """Decode a batch of encoded JPEG/PNG strings (any channel count) to float32 [batch, size, size, 3] in [-1, 1]."""

    def decode_one(encoded: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
        image.set_shape([None, None, 3])
        return tf.image.resize(tf.cast(image, tf.float32), [size, size], antialias=True)

    images = tf.map_fn(decode_one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))
    return tf.clip_by_value(images / 127.5 - 1.0, -1.0, 1.0)


def _dense_column(tensor: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A [batch, 1] fixed-length or sparse feature as a [batch] dense tensor."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value="")
    return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any] | None = None) -> dict[str, tf.Tensor]:
    """tf.Transform entry point; `custom_config["input_size"]` sets the square image size."""
    size = int((custom_config or {}).get("input_size", DEFAULT_INPUT_SIZE))
    outputs = {IMAGE_XF: decode_images(_dense_column(inputs[IMAGE_KEY]), size)}
    if LABEL_KEY in inputs:
        label = _dense_column(inputs[LABEL_KEY])
        outputs[LABEL_XF] = tft.compute_and_apply_vocabulary(label, vocab_filename=LABEL_VOCAB)
    return outputs
