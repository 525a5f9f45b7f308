"""Transform `preprocessing_fn`: decode any image to RGB, resize it as the app's runtime does, store it compactly
as uint8 pixels, and build the label vocabulary.

The resize is what MediaPipe Tasks' and the TFLite Task Library's ImageClassifier do to a camera frame: the whole
image stretched to the square input (no crop, no padding) by 2-tap bilinear interpolation without antialiasing,
rounded to uint8 (see docs/preprocessing.md). The transformed example holds those pixels as a serialized uint8
tensor (size x size x 3 bytes plus a few bytes of header), not float32; `model_input` scales them to [-1, 1] in
the graph at train and serve time, the range the TFLite metadata's normalization (mean 127.5, std 127.5) gives.

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


def resize_like_the_app(image: tf.Tensor, size: int) -> tf.Tensor:
    """One uint8 image [H, W, 3] stretched to uint8 [size, size, 3] by bilinear interpolation, no antialiasing."""
    resized = tf.image.resize(tf.cast(image, tf.float32), [size, size], method="bilinear", antialias=False)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def decode_images(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """Decode a batch of encoded JPEG/PNG strings (any channel count) to uint8 [batch, size, size, 3]."""

    def decode_one(encoded: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
        image.set_shape([None, None, 3])
        return resize_like_the_app(image, size)

    return tf.map_fn(decode_one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))


def encode_pixels(images: tf.Tensor) -> tf.Tensor:
    """uint8 images [batch, H, W, 3] as one serialized tensor string each (what the transformed example stores)."""
    return tf.map_fn(tf.io.serialize_tensor, images, fn_output_signature=tf.TensorSpec([], tf.string))


def decode_pixels(serialized: tf.Tensor) -> tf.Tensor:
    """The inverse of `encode_pixels`: uint8 [batch, H, W, 3]."""
    images = tf.map_fn(lambda value: tf.io.parse_tensor(value, tf.uint8), tf.reshape(serialized, [-1]),
                       fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
    return tf.ensure_shape(images, [None, None, None, 3])


def scale_to_model_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels 0..255 as float32 in [-1, 1]: (pixel - 127.5) / 127.5, the TFLite metadata's normalization."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def model_input(serialized: tf.Tensor, size: int | None = None) -> tf.Tensor:
    """The model's float32 input [batch, size, size, 3] in [-1, 1] from the transformed example's `image_xf`."""
    images = scale_to_model_range(decode_pixels(serialized))
    return tf.ensure_shape(images, [None, size, size, 3]) if size else images


def _dense_column(tensor: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A [batch, 1] fixed-length or sparse feature as a [batch] dense tensor."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value="")
    return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any] | None = None) -> dict[str, tf.Tensor]:
    """tf.Transform entry point; `custom_config["input_size"]` (`model.input_size`) sets the square image size."""
    if not custom_config or "input_size" not in custom_config:
        raise ValueError("preprocessing_fn needs custom_config['input_size'] (model.input_size)")
    size = int(custom_config["input_size"])
    outputs = {IMAGE_XF: encode_pixels(decode_images(_dense_column(inputs[IMAGE_KEY]), size))}
    if LABEL_KEY in inputs:
        label = _dense_column(inputs[LABEL_KEY])
        outputs[LABEL_XF] = tft.compute_and_apply_vocabulary(label, vocab_filename=LABEL_VOCAB)
    return outputs
