"""The Transform preprocessing_fn, run for real with tf.Transform on Beam over a few encoded images."""

import functools
import io
import os

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata

from components.transform import image_codec, preprocessing
from pipeline.config import DEFAULT_SCHEMA


def _png(array: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_preprocessing_fn_decodes_resizes_scales_and_builds_vocabulary(tmp_path):
    schema = text_format.Parse(DEFAULT_SCHEMA.read_text(), schema_pb2.Schema())
    raw = [
        {"image_raw": [_png(np.zeros((28, 28), np.uint8), "L")], "label": [b"dress"], "filename": [b"dress/a.png"]},
        {
            "image_raw": [_png(np.full((10, 14, 3), 255, np.uint8), "RGB")],
            "label": [b"bag"],
            "filename": [b"bag/b.png"],
        },
        {"image_raw": [_jpeg(np.full((40, 40, 3), 128, np.uint8))], "label": [b"dress"], "filename": [b"dress/c.jpg"]},
    ]
    preprocessing_fn = functools.partial(preprocessing.preprocessing_fn, custom_config={"input_size": 32})
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), transform_fn = (
            raw,
            dataset_metadata.DatasetMetadata(schema),
        ) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(tmp_path / "transform_fn"))
    serialized = [row[preprocessing.IMAGE_XF] for row in transformed]
    assert all(len(value) < 32 * 32 * 3 * 1.1 for value in serialized)  # uint8 pixels, not float32
    images = image_codec.model_input(tf.constant(serialized), 32).numpy()
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], -1.0, atol=1e-5)
    np.testing.assert_allclose(images[1], 1.0, atol=1e-5)
    assert abs(images[2].mean() - (128 / 127.5 - 1)) < 0.02
    vocabulary = (tmp_path / "transform_fn" / "transform_fn" / "assets" / preprocessing.LABEL_VOCAB).read_text().split()
    assert vocabulary == ["bag", "dress"]  # sorted, not by frequency (dress has two images)
    labels = [int(row[preprocessing.LABEL_XF]) for row in transformed]
    assert [vocabulary[i] for i in labels] == ["dress", "bag", "dress"]


def test_preprocessing_fn_stores_a_jpeg_at_the_configured_quality(tmp_path):
    """`data.example_jpeg_quality` 1-100: the transformed example holds a JPEG of the resized pixels, which
    `model_input` reads without being told, close to the exact pixels."""
    schema = text_format.Parse(DEFAULT_SCHEMA.read_text(), schema_pb2.Schema())
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))
    raw = [{"image_raw": [_png(ramp, "RGB")], "label": [b"ramp"], "filename": [b"ramp/a.png"]}]
    config = {"input_size": 32, "jpeg_quality": 95}
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), _ = (raw, dataset_metadata.DatasetMetadata(schema)) | tft_beam.AnalyzeAndTransformDataset(
            functools.partial(preprocessing.preprocessing_fn, custom_config=config)
        )
    stored = transformed[0][preprocessing.IMAGE_XF]
    assert stored.startswith(image_codec.JPEG_MAGIC)
    exact = image_codec.decode_images(tf.constant([_png(ramp, "RGB")]), 32)
    decoded = image_codec.decode_pixels(tf.constant([stored])).numpy().astype(int)
    assert np.abs(decoded - exact.numpy().astype(int)).max() <= 4


def test_decode_pixels_reads_jpegs_and_exact_pixels_in_one_batch():
    images = tf.constant(np.full((2, 8, 8, 3), 90, np.uint8))
    mixed = tf.stack([image_codec.encode_pixels(images)[0], image_codec.encode_jpeg(images, 95)[1]])
    decoded = image_codec.decode_pixels(mixed).numpy().astype(int)
    assert decoded.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(decoded[0], 90)
    assert np.abs(decoded[1] - 90).max() <= 1


def test_stored_photos_are_small_next_to_their_pixels_and_their_source_files(tmp_path):
    """Issue #12's budget, on the two photos scikit-learn ships (640x427 JPEGs, larger than both inputs): the stored
    example is at most 1.1x the uint8 pixels and at most 1.5x the raw example, in the default JPEG encoding."""
    from sklearn.datasets import load_sample_images

    from bench import example_bytes
    from pipeline.config import Config

    files = [(path, os.path.basename(path)) for path in load_sample_images().filenames]
    for size in (96, 224):
        measured = example_bytes.measure(files, size, str(tmp_path), Config().data.example_jpeg_quality)
        assert measured["larger_examples"] == 2
        assert measured["jpeg_bytes_per_example"] <= 1.1 * measured["uint8_pixel_bytes"]
        assert measured["jpeg_over_raw_larger"] <= 1.5
        assert (
            measured["jpeg_bytes_per_example"]
            < measured["uint8_bytes_per_example"]
            < measured["float32_bytes_per_example"]
        )


def test_decode_images_handles_any_channel_count():
    batch = tf.constant([_png(np.zeros((5, 7), np.uint8), "L"), _png(np.zeros((5, 7, 4), np.uint8), "RGBA")])
    images = image_codec.decode_images(batch, 33).numpy()
    assert images.shape == (2, 33, 33, 3) and images.dtype == np.uint8


def test_resize_samples_corner_aligned_without_antialiasing():
    """Halving a horizontal ramp: output pixel x samples source pixel 2x, as MediaPipe's CPU path does (not 2x + 0.5
    as at pixel centres, and no antialiasing blur across neighbours). A 6x3 image is stretched, not cropped."""
    ramp = np.tile(np.arange(0, 64, dtype=np.uint8)[None, :, None] * 4, (8, 1, 3))
    resized = image_codec.resize_like_the_app(tf.constant(ramp), 8, 32).numpy()
    assert resized.dtype == np.uint8
    np.testing.assert_array_equal(resized[0, :, 0], np.arange(32) * 8)
    wide = np.zeros((3, 6, 3), np.uint8)
    wide[:, 3:] = 255
    stretched = image_codec.resize_like_the_app(tf.constant(wide), 6, 6).numpy()
    assert (stretched[:, :3] == 0).all() and (stretched[:, 3:] == 255).all()


def test_a_frame_at_the_input_size_and_a_flat_frame_are_not_changed():
    frame = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_codec.resize_like_the_app(tf.constant(frame), 32, 32).numpy(), frame)
    flat = tf.constant(np.full((45, 70, 3), 93, np.uint8))
    np.testing.assert_array_equal(image_codec.resize_like_the_app(flat, 32, 32).numpy(), np.full((32, 32, 3), 93))


def test_pixels_round_trip_through_the_serialized_tensor():
    images = tf.constant(np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3))
    serialized = image_codec.encode_pixels(images)
    np.testing.assert_array_equal(image_codec.decode_pixels(serialized).numpy(), images.numpy())
    scaled = image_codec.model_input(serialized, 4).numpy()
    np.testing.assert_allclose(scaled, images.numpy() / 127.5 - 1.0, atol=1e-6)
