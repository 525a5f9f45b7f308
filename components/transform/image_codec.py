"""How an image becomes the model's input, in TensorFlow ops only (no tf.Transform, so the plain-script benchmark
and the Trainer's serving signatures use the same code as the Transform): decode, resize as the app's runtime
does, store compactly (exact uint8 pixels or a JPEG of them), read back, scale to [-1, 1].

The resize is what MediaPipe Tasks' image classifier does to a camera frame on the CPU, bit for bit: the whole
image stretched to the input (no crop, no padding) by OpenCV's `warpPerspective` with INTER_LINEAR, edges
replicated. Output pixel (x, y) samples the source at (x * W / width, y * H / height), corner-aligned rather than
at pixel centres, on a 1/32-pixel grid with 15-bit fixed-point weights, in uint8 (see docs/preprocessing.md).
Training on the pixels the app feeds the model is what makes the pipeline's accuracy the app's. `model_input`
scales the stored pixels to [-1, 1] in the graph at train and serve time, the range the TFLite metadata's
normalization (mean 127.5, std 127.5) gives.
"""

from __future__ import annotations

import tensorflow as tf

JPEG_MAGIC = b"\xff\xd8"
PIXEL_SCALE = 127.5
"""The model's input is (pixel - 127.5) / 127.5: pixels 0..255 become `MODEL_INPUT_RANGE`."""
MODEL_INPUT_RANGE = (-1.0, 1.0)


GRID = 32
"""OpenCV's INTER_TAB_SIZE: source coordinates are rounded to 1/32 pixel."""
WEIGHT_BITS = 15
"""OpenCV's INTER_REMAP_COEF_BITS: the bilinear weights of a tap sum to 2**15."""


def _taps(output: int, source: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per output position: the two source indices (replicated at the edge) and the 1/32 fraction between them."""
    scale = tf.cast(source, tf.float64) / output
    position = tf.cast(tf.round(tf.range(output, dtype=tf.float64) * scale * GRID), tf.int32)
    first, fraction = position // GRID, position % GRID
    return tf.minimum(first, source - 1), tf.minimum(first + 1, source - 1), fraction


def resize_like_the_app(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """One uint8 image [H, W, 3] stretched to uint8 [height, width, 3] as MediaPipe Tasks' CPU path does."""
    shape = tf.shape(image)
    top, bottom, down = _taps(height, shape[0])
    left, right, across = _taps(width, shape[1])
    pixels = tf.cast(image, tf.int32)
    across = across[None, :, None]

    def along_rows(rows: tf.Tensor) -> tf.Tensor:
        return (GRID - across) * tf.gather(rows, left, axis=1) + across * tf.gather(rows, right, axis=1)

    down = down[:, None, None]
    weighted = (GRID - down) * along_rows(tf.gather(pixels, top)) + down * along_rows(tf.gather(pixels, bottom))
    scale = (1 << WEIGHT_BITS) // (GRID * GRID)
    rounded = (weighted * scale + (1 << (WEIGHT_BITS - 1))) // (1 << WEIGHT_BITS)
    return tf.cast(tf.clip_by_value(rounded, 0, 255), tf.uint8)


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """One encoded JPEG/PNG string (any channel count) as uint8 [H, W, 3]. Ingestion checks every file with it, so
    a file it cannot decode is a bad file there instead of a failed Transform."""
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def decode_images(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """Decode a batch of encoded JPEG/PNG strings (any channel count) to uint8 [batch, size, size, 3]."""
    return tf.map_fn(
        lambda encoded: resize_like_the_app(decode_rgb(encoded), size, size),
        image_bytes,
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
    )


def encode_pixels(images: tf.Tensor) -> tf.Tensor:
    """uint8 images [batch, H, W, 3] as one serialized tensor string each (what the transformed example stores)."""
    return tf.map_fn(tf.io.serialize_tensor, images, fn_output_signature=tf.TensorSpec([], tf.string))


def encode_jpeg(images: tf.Tensor, quality: int) -> tf.Tensor:
    """uint8 images [batch, H, W, 3] as one JPEG string each at `quality` (1-100, 4:2:0 chroma as cameras save)."""
    return tf.map_fn(
        lambda image: tf.io.encode_jpeg(image, quality=quality),
        images,
        fn_output_signature=tf.TensorSpec([], tf.string),
    )


def store_pixels(images: tf.Tensor, jpeg_quality: int) -> tf.Tensor:
    """What the transformed example stores for uint8 images: exact pixels (`jpeg_quality` 0) or a JPEG of them."""
    return encode_jpeg(images, jpeg_quality) if jpeg_quality else encode_pixels(images)


def _decode_one(value: tf.Tensor) -> tf.Tensor:
    """One stored image, a JPEG (`encode_jpeg`) or a serialized uint8 tensor (`encode_pixels`), as uint8 [H, W, 3]."""
    return tf.cond(
        tf.equal(tf.strings.substr(value, 0, len(JPEG_MAGIC)), JPEG_MAGIC),
        lambda: tf.io.decode_jpeg(value, channels=3),
        lambda: tf.io.parse_tensor(value, tf.uint8),
    )


def decode_pixels(serialized: tf.Tensor) -> tf.Tensor:
    """The inverse of `encode_pixels` and `encode_jpeg`: uint8 [batch, H, W, 3]."""
    images = tf.map_fn(
        _decode_one, tf.reshape(serialized, [-1]), fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    )
    return tf.ensure_shape(images, [None, None, None, 3])


def scale_to_model_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels 0..255 as float32 in [-1, 1]: (pixel - 127.5) / 127.5, the TFLite metadata's normalization."""
    return tf.cast(images, tf.float32) / PIXEL_SCALE - 1.0


def model_input(serialized: tf.Tensor, size: int | None = None) -> tf.Tensor:
    """The model's float32 input [batch, size, size, 3] in [-1, 1] from the transformed example's `image_xf`."""
    images = scale_to_model_range(decode_pixels(serialized))
    return tf.ensure_shape(images, [None, size, size, 3]) if size else images
