"""TFLite conversion: every quantization mode on a real SavedModel, the op check, and the argument errors.

The small classifier SavedModel and its flatbuffers, built once per test session, come from `tests/helpers.py`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.contracts import PREPROCESSED_SIGNATURE, QUANTIZATION_MODES
from components.tflite import conversion, measurement
from tests.helpers import (IMAGE_SIZE, NUM_CLASSES, converted, sample_images, save_with_signature,
                           saved_classifier)

# (mode, integer_io) pairs the component can be configured with.
CONFIGURATIONS = [("float32", None), ("dynamic", None), ("float16", None), ("int8", None), ("int8", "uint8"),
                  ("int8", "int8")]


def _interpreter(model_bytes: bytes) -> tf.lite.Interpreter:
    interpreter = tf.lite.Interpreter(model_content=model_bytes, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


@pytest.fixture(scope="module")
def float_scores(tmp_path_factory) -> np.ndarray:
    """The SavedModel's scores on held-out images (not the representative ones)."""
    return measurement.saved_model_predictions(saved_classifier(tmp_path_factory), sample_images(40, seed=3))


@pytest.mark.parametrize("mode, integer_io", CONFIGURATIONS)
def test_each_mode_loads_with_a_fixed_batch_one_input(tmp_path_factory, mode, integer_io):
    interpreter = _interpreter(converted(tmp_path_factory, mode, integer_io))
    (image,) = interpreter.get_input_details()
    (probabilities,) = interpreter.get_output_details()
    expected = np.dtype(integer_io) if integer_io else np.float32
    assert image["shape"].tolist() == [1, IMAGE_SIZE, IMAGE_SIZE, 3]
    assert image["shape_signature"].tolist() == [1, IMAGE_SIZE, IMAGE_SIZE, 3]  # not a dynamic batch
    assert image["dtype"] == expected
    assert probabilities["shape"].tolist() == [1, NUM_CLASSES]
    assert probabilities["dtype"] == expected


@pytest.mark.parametrize("mode, integer_io", CONFIGURATIONS)
def test_each_mode_uses_builtin_ops_only(tmp_path_factory, mode, integer_io):
    ops = conversion.model_ops(converted(tmp_path_factory, mode, integer_io))
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"} <= set(ops)
    assert conversion.non_builtin_ops(ops) == []


def test_quantized_weights_make_the_file_smaller(tmp_path_factory):
    float_size = len(converted(tmp_path_factory, "float32"))
    ratios = {mode: len(converted(tmp_path_factory, mode, integer_io)) / float_size
              for mode, integer_io in CONFIGURATIONS[1:]}
    assert ratios["int8"] < 0.4 and ratios["dynamic"] < 0.4
    assert ratios["float16"] < 0.6
    assert ratios["int8"] < ratios["float16"]


@pytest.mark.parametrize("mode, integer_io", CONFIGURATIONS)
def test_predictions_agree_with_the_float_model(tmp_path_factory, float_scores, mode, integer_io):
    scores = measurement.tflite_predictions(converted(tmp_path_factory, mode, integer_io), sample_images(40, seed=3),
                                            threads=1)
    assert len(set(np.argmax(float_scores, axis=1))) == NUM_CLASSES  # the agreement below is not trivial
    agreement = np.mean(np.argmax(scores, axis=1) == np.argmax(float_scores, axis=1))
    assert agreement >= (1.0 if mode == "float32" else 0.85)
    assert np.mean(np.abs(scores - float_scores)) < (1e-5 if mode == "float32" else 0.05)


@pytest.mark.parametrize("integer_io", ["uint8", "int8"])
def test_integer_input_covers_the_preprocessed_range(tmp_path_factory, integer_io):
    """The integer input's quantization maps its whole range onto [-1, 1], the range the model was trained on."""
    (image,) = _interpreter(converted(tmp_path_factory, "int8", integer_io)).get_input_details()
    scale, zero_point = image["quantization"]
    info = np.iinfo(integer_io)
    assert (info.min - zero_point) * scale == pytest.approx(-1.0, abs=0.02)
    assert (info.max - zero_point) * scale == pytest.approx(1.0, abs=0.02)


def test_unknown_mode_is_a_clear_error(tmp_path_factory):
    with pytest.raises(ValueError) as error:
        conversion.convert(saved_classifier(tmp_path_factory), "int4")
    assert "int4" in str(error.value)
    for mode in QUANTIZATION_MODES:
        assert mode in str(error.value)


@pytest.mark.parametrize("mode", ["float32", "dynamic", "float16"])
def test_integer_io_needs_the_int8_mode(tmp_path_factory, mode):
    with pytest.raises(ValueError, match=f"uint8.*int8.*{mode}"):
        conversion.convert(saved_classifier(tmp_path_factory), mode, sample_images(2, seed=2), "uint8")


@pytest.mark.parametrize("representative", [None, np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)])
def test_int8_without_representative_images_is_a_clear_error(tmp_path_factory, representative):
    with pytest.raises(ValueError, match="int8 quantization needs representative images"):
        conversion.convert(saved_classifier(tmp_path_factory), "int8", representative)


def test_non_builtin_ops_flags_custom_and_flex_ops():
    ops = ["CONV_2D", "CUSTOM:FlexConv2D", "CUSTOM:MyDetectionPostprocess", "SOFTMAX"]
    assert conversion.non_builtin_ops(ops) == ["CUSTOM:FlexConv2D", "CUSTOM:MyDetectionPostprocess"]
    assert conversion.non_builtin_ops(["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"]) == []


def _needs_select_tf_ops(tmp_path: Path) -> str:
    """A SavedModel whose `serving_preprocessed` uses an op TFLite has no builtin for (a matrix determinant)."""
    weights = tf.Variable(tf.ones([3, 3]))

    @tf.function(input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name="image")])
    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        pixels = tf.reshape(image, [-1, IMAGE_SIZE * IMAGE_SIZE, 3])
        gram = tf.matmul(pixels, pixels, transpose_a=True) + weights
        return {"probabilities": tf.nn.softmax(tf.stack([tf.linalg.det(gram)] * NUM_CLASSES, axis=1))}

    directory = str(tmp_path / "select_ops_model")
    save_with_signature(directory, serve, [weights])
    return directory


def test_model_needing_select_tf_ops_is_not_converted(tmp_path):
    with pytest.raises(conversion.ConversionError, match="float32 conversion failed.*MatrixDeterminant"):
        conversion.convert(_needs_select_tf_ops(tmp_path), "float32")


def test_model_ops_names_flex_ops_as_custom(tmp_path):
    """The same model converted with Select TF ops allowed: `model_ops` shows the Flex op, which is flagged."""
    converter = tf.lite.TFLiteConverter.from_saved_model(_needs_select_tf_ops(tmp_path), [PREPROCESSED_SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    ops = conversion.model_ops(converter.convert())
    assert "CUSTOM:FlexMatrixDeterminant" in ops
    assert conversion.non_builtin_ops(ops) == ["CUSTOM:FlexMatrixDeterminant"]


def test_one_loaded_model_converts_every_mode_as_its_folder_does(tmp_path_factory):
    """The TFLite step loads the SavedModel once for all its modes; each flatbuffer is the same, byte for byte."""
    loaded = conversion.load(saved_classifier(tmp_path_factory))
    for mode, integer_io in CONFIGURATIONS:
        representative = sample_images(16, seed=2) if mode == "int8" else None
        assert conversion.convert(loaded, mode, representative, integer_io) == converted(
            tmp_path_factory, mode, integer_io), (mode, integer_io)


class _SavedModelPath:
    """A converter that keeps the SavedModel route `conversion.convert` switches off (its other settings pass)."""

    def __init__(self, converter):
        object.__setattr__(self, "_converter", converter)

    def __getattr__(self, name):
        return getattr(self._converter, name)

    def __setattr__(self, name, value):
        if name != "experimental_lower_to_saved_model":
            setattr(self._converter, name, value)


@pytest.mark.parametrize("mode, integer_io", CONFIGURATIONS)
def test_the_frozen_graph_route_gives_the_saved_model_routes_ops_and_scores(tmp_path_factory, monkeypatch, mode,
                                                                          integer_io):
    """The converter's default route saves the loaded model to a temporary SavedModel and reloads it for each
    conversion; the frozen-graph route `convert` takes instead must give the same model."""
    original = tf.lite.TFLiteConverter.from_concrete_functions
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_concrete_functions",
                        lambda functions, trackable: _SavedModelPath(original(functions, trackable)))
    representative = sample_images(16, seed=2) if mode == "int8" else None
    default_route = conversion.convert(saved_classifier(tmp_path_factory), mode, representative, integer_io)
    frozen_route = converted(tmp_path_factory, mode, integer_io)
    assert conversion.model_ops(frozen_route) == conversion.model_ops(default_route)
    images = sample_images(40, seed=3)
    np.testing.assert_array_equal(measurement.tflite_predictions(frozen_route, images, threads=1),
                                  measurement.tflite_predictions(default_route, images, threads=1))
