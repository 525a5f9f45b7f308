"""Measurements on the TFLite interpreter: accuracy, predictions against the SavedModel, latency, peak memory."""

import numpy as np
import pytest

from components.tflite import measurement
from tests.helpers import NUM_CLASSES, converted, sample_images, saved_classifier


def test_accuracy_top1_without_top5_for_five_classes_or_fewer():
    scores = np.array(
        [[0.1, 0.6, 0.1, 0.1, 0.1], [0.5, 0.2, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.2, 0.5], [0.3, 0.1, 0.4, 0.1, 0.1]]
    )
    assert measurement.accuracy(scores, np.array([1, 0, 3, 2])) == {"top1": 0.75, "top5": None}
    assert measurement.accuracy(scores[:, :3], np.array([[1], [0], [2], [0]])) == {"top1": 0.5, "top5": None}


def test_accuracy_top5_with_more_than_five_classes():
    # Class 0 is ranked 1st, 5th and 6th (last) in the three rows.
    scores = np.array(
        [
            [0.50, 0.10, 0.10, 0.10, 0.10, 0.10],
            [0.06, 0.30, 0.25, 0.20, 0.19, 0.00],
            [0.00, 0.30, 0.25, 0.20, 0.15, 0.10],
        ]
    )
    result = measurement.accuracy(scores, np.array([0, 0, 0]))
    assert result["top1"] == pytest.approx(1 / 3)
    assert result["top5"] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return sample_images(12, seed=4)


def test_float32_tflite_predictions_match_the_saved_model(tmp_path_factory, images):
    expected = measurement.saved_model_predictions(saved_classifier(tmp_path_factory), images, batch_size=5)
    scores = measurement.tflite_predictions(converted(tmp_path_factory, "float32"), images, threads=1)
    assert scores.shape == expected.shape == (len(images), NUM_CLASSES)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("integer_io", ["uint8"])
def test_integer_io_predictions_are_quantized_and_dequantized(tmp_path_factory, images, integer_io):
    """Feeding float images to an integer-input model and reading its integer output gives the float-I/O int8
    model's scores, up to a few output quantization steps (the two quantize their input on different ranges:
    [-1, 1] for uint8, `conversion.FLOAT_INPUT_RANGE` for float)."""
    float_io = measurement.tflite_predictions(converted(tmp_path_factory, "int8"), images, threads=1)
    scores = measurement.tflite_predictions(converted(tmp_path_factory, "int8", integer_io), images, threads=1)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, float_io, atol=5 / 256)
    assert np.mean(np.argmax(scores, axis=1) == np.argmax(float_io, axis=1)) >= 0.9
    assert np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("mode, integer_io", [("float32", None), ("int8", "uint8")])
def test_latency_reports_median_p90_runs_and_threads(tmp_path_factory, mode, integer_io):
    latency = measurement.measure_latency(converted(tmp_path_factory, mode, integer_io), threads=1, warmup=2, runs=7)
    assert set(latency) == {"median", "p90", "threads", "runs"}
    assert latency["threads"] == 1 and latency["runs"] == 7
    assert 0 < latency["median"] <= latency["p90"]
    assert latency["p90"] < 1000  # milliseconds, for a 32x32 model


def test_peak_memory_is_a_positive_byte_count(tmp_path_factory, tmp_path):
    model_path = tmp_path / "model.tflite"
    model_bytes = converted(tmp_path_factory, "float32")
    model_path.write_bytes(model_bytes)
    peak = measurement.measure_peak_memory(str(model_path), threads=1, runs=2)
    assert isinstance(peak, int)
    assert 0 < peak < 500 * 2**20


def test_peak_memory_is_none_when_the_model_cannot_be_loaded(tmp_path):
    model_path = tmp_path / "broken.tflite"
    model_path.write_bytes(b"not a flatbuffer")
    assert measurement.measure_peak_memory(str(model_path), threads=1, runs=1) is None


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_litert_the_apps_runtime_gives_tensorflows_interpreters_scores(tmp_path_factory, images, mode):
    """Every figure is measured on LiteRT (`ai_edge_litert`); on the same file and pixels it agrees with
    TensorFlow's interpreter to one output step."""
    from components.tflite import runtimes

    model_bytes = converted(tmp_path_factory, mode)
    litert = measurement.tflite_predictions(model_bytes, images, 1, runtimes.RUNTIMES[runtimes.LITERT])
    tensorflow = measurement.tflite_predictions(model_bytes, images, 1, runtimes.RUNTIMES[runtimes.TENSORFLOW])
    np.testing.assert_allclose(litert, tensorflow, atol=1 / 256 + 1e-6)
    assert runtimes.default().name == runtimes.LITERT
    assert runtimes.default().describe()["where"] == "the build machine's CPU, not a phone"


def test_measure_flatbuffer_gives_latency_by_thread_count_and_the_app_paths_accuracy(tmp_path_factory, images):
    """Latency at 1, 2 and 4 threads besides the gated count; the app path scores the original frames (here the
    eval images' own pixels at twice the size, so the app's resize has work to do)."""
    from components.tflite import app_path, metadata

    model_bytes = metadata.add_metadata(
        converted(tmp_path_factory, "float32"), ["0", "1", "2"], name="m", version="1", description="d"
    )
    labels = np.argmax(measurement.tflite_predictions(model_bytes, images, 1), axis=1)
    pixels = np.rint((images + 1.0) * 127.5).astype(np.uint8).repeat(2, axis=1).repeat(2, axis=2)
    originals = app_path.Originals.of(zip(pixels, [str(label) for label in labels]), ["0", "1", "2"], 32, 32)
    measured = measurement.measure_flatbuffer(model_bytes, images, labels, 2, 1, 3, originals)
    assert set(measured["latency_by_threads"]) == {"1", "2", "4"}
    assert measured["latency_ms"] == measured["latency_by_threads"]["2"] and measured["latency_ms"]["threads"] == 2
    assert measured["tflite_accuracy"] == 1.0
    assert 0.5 <= measured["app_path_accuracy"] <= 1.0
    assert measurement.measure_flatbuffer(model_bytes, images, labels, 2, 1, 3)["app_path_accuracy"] is None
