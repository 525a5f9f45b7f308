"""The app path: frames resized as MediaPipe Tasks does on the CPU (the Transform's resize, checked pixel for pixel
against MediaPipe itself on photos) and normalized from the file's metadata."""

import numpy as np
import pytest

from components.tflite import app_path, metadata
from tests.helpers import converted, sample_images


def _resized(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """`frame` through the Transform's resize."""
    import tensorflow as tf

    from components.transform import image_codec

    return image_codec.resize_like_the_app(tf.constant(frame), height, width).numpy()


def _probe(size: int) -> bytes:
    """A float model whose `size * size * 3` "scores" are its normalized input plus 2, with the project's
    metadata: what MediaPipe hands the model, read back through its classifier."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
    def probe(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": tf.reshape(image, [1, size * size * 3]) + 2.0}

    model = tf.lite.TFLiteConverter.from_concrete_functions([probe.get_concrete_function()], probe).convert()
    return metadata.add_metadata(
        model,
        [str(index) for index in range(size * size * 3)],
        name="probe",
        version="1",
        description="the normalized input",
    )


def _frames() -> list[np.ndarray]:
    """Real photos (scikit-learn's and matplotlib's, 427x640 to 600x512), crops of them as the photo demo set
    makes (157 to 312 px) and small frames that are scaled up (24 and 28 px)."""
    from components.ingestion import demo_data

    frames = [np.asarray(photo) for photo in demo_data.load_package_photos().values()]
    frames += [np.asarray(view.convert("RGB")) for views in demo_data.photo_views(3).values() for view in views]
    rng = np.random.default_rng(0)
    return frames + [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for side in (24, 28)]


@pytest.mark.parametrize("size", [32, 224])
def test_the_resize_gives_mediapipes_pixels_exactly(tmp_path, size):
    """MediaPipe Tasks' image classifier on the probe returns the pixels it fed the model: the same as
    the Transform's resize for every frame, downscaled or scaled up."""
    from tests.android_runtimes import classify

    model = tmp_path / "probe.tflite"
    model.write_bytes(_probe(size))
    frames = _frames()
    result = classify("mediapipe", model, frames, tmp_path)
    for frame, scores in zip(frames, result["scores"]):
        seen = ((np.array(scores) - 2.0) * 127.5 + 127.5).reshape(size, size, 3)
        ours = _resized(frame, size, size)
        np.testing.assert_allclose(seen, ours, atol=1e-3, err_msg=f"{frame.shape} -> {size}")


def test_normalization_is_read_from_the_metadata(tmp_path_factory):
    packaged = metadata.add_metadata(
        converted(tmp_path_factory, "float32"), ["a", "b", "c"], name="m", version="1", description="d"
    )
    assert app_path.normalization(packaged) == (metadata.NORM_MEAN, metadata.NORM_STD)


def test_app_inputs_follow_the_input_type(tmp_path_factory):
    """A float input gets (pixel - mean) / std from the metadata; a uint8 input the pixels; an int8 input
    pixel - 128 (MediaPipe's value range for each tensor type)."""
    from components.transform import image_codec

    frame = np.asarray(np.random.default_rng(2).integers(0, 256, (40, 50, 3)), np.uint8)
    packaged = metadata.add_metadata(
        converted(tmp_path_factory, "float32"), ["a", "b", "c"], name="m", version="1", description="d"
    )
    resized = _resized(frame, 32, 32)
    detail = {"shape": np.array([1, 32, 32, 3]), "dtype": np.float32}
    np.testing.assert_allclose(
        app_path.app_inputs(packaged, resized[None], detail)[0],
        image_codec.scale_to_model_range(resized).numpy(),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        app_path.app_inputs(packaged, resized[None], {**detail, "dtype": np.uint8})[0], resized
    )
    np.testing.assert_array_equal(
        app_path.app_inputs(packaged, resized[None], {**detail, "dtype": np.int8})[0], resized.astype(np.int16) - 128
    )


def test_a_class_the_model_does_not_know_is_never_right():
    frames = [(np.zeros((5, 4, 3), np.uint8), name) for name in ("b", "zebra", "a")]
    originals = app_path.Originals.of(frames, ["a", "b"], 2, 3)
    np.testing.assert_array_equal(originals.labels, [1, -1, 0])
    assert originals.pixels.shape == (3, 2, 3, 3) and originals.pixels.dtype == np.uint8


def test_app_path_accuracy_of_a_model_on_frames_it_need_not_resize_is_the_interpreters(tmp_path_factory):
    """On frames at the input size the app path and the interpreter see the same pixels: the same scores (float32;
    an int8 model's input quantization puts these pixels exactly half-way between two levels, where the two
    normalizations' last float bit decides)."""
    from components.tflite import measurement
    from components.transform import image_codec

    packaged = metadata.add_metadata(
        converted(tmp_path_factory, "float32"), ["a", "b", "c"], name="m", version="1", description="d"
    )
    frames = [np.rint((image + 1.0) * 127.5).astype(np.uint8) for image in sample_images(6, seed=9)]
    scaled = np.stack([image_codec.scale_to_model_range(frame).numpy() for frame in frames])
    np.testing.assert_allclose(
        measurement.app_path_predictions(packaged, np.stack(frames), threads=1),
        measurement.tflite_predictions(packaged, scaled, threads=1),
        atol=1e-5,
    )
