"""Transform `preprocessing_fn`: decode any image to RGB, resize it as the app's runtime does, store it compactly
(exact uint8 pixels, or a JPEG of them), and build the label vocabulary. The image ops are `image_codec`'s.

The transformed example holds the resized pixels as a serialized uint8 tensor (size x size x 3 bytes plus a few
bytes of header), not float32; `image_codec.model_input` scales them to [-1, 1]. With
`custom_config["jpeg_quality"]` (`data.example_jpeg_quality`) 1-100, the resized pixels are stored as a JPEG at
that quality instead: a few times smaller for photos, slightly lossy. `image_codec.decode_pixels` reads either
form, so the Trainer and the serving signatures need not be told which one the Transform wrote.

The vocabulary file (`label_vocab`, one class name per line, line i = class i) is what the app ships as labels.txt.
Its order is the class names sorted (`label_vocabulary`), never their counts, so more photos of one class do not
reorder the labels between runs.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from components.contracts import IMAGE_KEY, LABEL_KEY
from components.transform.image_codec import decode_images, store_pixels
from components.transform.label_vocabulary import apply_sorted_vocabulary

IMAGE_XF = "image_xf"
LABEL_XF = "label_xf"
LABEL_VOCAB = "label_vocab"


def _dense_column(tensor: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A [batch, 1] fixed-length or sparse feature as a [batch] dense tensor."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value="")
    return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any] | None = None) -> dict[str, tf.Tensor]:
    """tf.Transform entry point; `custom_config["input_size"]` (`model.input_size`) sets the square image size and
    `custom_config["jpeg_quality"]` (`data.example_jpeg_quality`, 0 when absent: exact pixels) how it is stored."""
    if not custom_config or "input_size" not in custom_config:
        raise ValueError("preprocessing_fn needs custom_config['input_size'] (model.input_size)")
    size = int(custom_config["input_size"])
    quality = int(custom_config.get("jpeg_quality", 0))
    outputs = {IMAGE_XF: store_pixels(decode_images(_dense_column(inputs[IMAGE_KEY]), size), quality)}
    if LABEL_KEY in inputs:
        label = _dense_column(inputs[LABEL_KEY])
        outputs[LABEL_XF] = apply_sorted_vocabulary(label, LABEL_VOCAB)
    return outputs
