"""TFLite conversion: every quantization mode on a real SavedModel, the app's input contract (a uint8 input reads
raw 0..255 pixels as [-1, 1] whatever the calibration images), the op check, and the argument errors.

The small classifier SavedModel and its flatbuffers, built once per test session, come from `tests/helpers.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from components.contracts import PREPROCESSED_SIGNATURE, QUANTIZATION_MODES
from components.tflite import conversion, measurement
from components.transform import image_codec
from tests.helpers import (
    IMAGE_SIZE,
    NUM_CLASSES,
    converted,
    raw_pixel_scores,
    sample_images,
    save_with_signature,
    saved_classifier,
)

# (mode, integer_io) pairs the component can be configured with.
CONFIGURATIONS = [("float32", None), ("dynamic", None), ("float16", None), ("int8", None), ("int8", "uint8")]


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
    ratios = {
        mode: len(converted(tmp_path_factory, mode, integer_io)) / float_size for mode, integer_io in CONFIGURATIONS[1:]
    }
    assert ratios["int8"] < 0.4 and ratios["dynamic"] < 0.4
    assert ratios["float16"] < 0.6
    assert ratios["int8"] < ratios["float16"]


@pytest.mark.parametrize("mode, integer_io", CONFIGURATIONS)
def test_predictions_agree_with_the_float_model(tmp_path_factory, float_scores, mode, integer_io):
    scores = measurement.tflite_predictions(
        converted(tmp_path_factory, mode, integer_io), sample_images(40, seed=3), threads=1
    )
    assert len(set(np.argmax(float_scores, axis=1))) == NUM_CLASSES  # the agreement below is not trivial
    agreement = np.mean(np.argmax(scores, axis=1) == np.argmax(float_scores, axis=1))
    assert agreement >= (1.0 if mode == "float32" else 0.85)
    assert np.mean(np.abs(scores - float_scores)) < (1e-5 if mode == "float32" else 0.05)


LOW_CONTRAST = 0.35 * sample_images(16, seed=2) + 0.05
"""Calibration images of pixels 89..179 only (dull photos): the converter alone quantizes the input to that."""
STEP = 1 / image_codec.PIXEL_SCALE


def _file_input_quantization(model_bytes: bytes) -> tuple[float, int]:
    """The input tensor's scale and zero point, read from the flatbuffer itself."""
    subgraph = schema.Model.GetRootAs(model_bytes, 0).Subgraphs(0)
    quantization = subgraph.Tensors(subgraph.Inputs(0)).Quantization()
    return quantization.Scale(0), quantization.ZeroPoint(0)


def _converters_own(model_dir: str, representative: np.ndarray, integer_io: str | None) -> bytes:
    """The converter's own int8 model, with `conversion.convert`'s settings but quantized as the converter
    quantizes by itself (the input's range from the calibration images)."""
    loaded = conversion.load(model_dir)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([loaded.function], loaded.trackable)
    converter.experimental_lower_to_saved_model = False
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = lambda: ([image[None]] for image in representative)
    if integer_io:
        converter.inference_input_type = converter.inference_output_type = tf.uint8
    return converter.convert()


def test_a_uint8_input_reads_raw_pixels_as_the_model_range_whatever_the_calibration(tmp_path_factory):
    """Calibrated on low-contrast images, the file's input is still scale 1/127.5, zero point 127 or 128, so a
    0..255 frame (what MediaPipe Tasks and the Task Library feed a uint8 input) reaches the network as -1..1, and
    fed raw pixels the model scores new low-contrast frames as the float model does (the converter's own model,
    fed the same, does not)."""
    model_dir = saved_classifier(tmp_path_factory)
    model_bytes = conversion.convert(model_dir, "int8", LOW_CONTRAST, "uint8")
    own_scale, own_zero_point = _file_input_quantization(_converters_own(model_dir, LOW_CONTRAST, "uint8"))
    assert (0 - own_zero_point) * own_scale > -0.75  # what the converter alone gives: the frame squeezed
    scale, zero_point = _file_input_quantization(model_bytes)
    assert scale == pytest.approx(STEP, rel=1e-6) and zero_point in (127, 128)

    interpreter = tf.lite.Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    frame = np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    frame[:, IMAGE_SIZE // 2 :] = 255
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], frame)
    interpreter.invoke()
    first = interpreter._get_ops_details()[0]  # the QUANTIZE op: uint8 pixels to the network's int8 input
    assert first["op_name"] == "QUANTIZE"
    (network_input,) = [detail for detail in interpreter.get_tensor_details() if detail["index"] == first["outputs"][0]]
    network_scale, network_zero_point = network_input["quantization"]
    seen = (interpreter.get_tensor(network_input["index"]).astype(np.float32) - network_zero_point) * network_scale
    assert seen.min() == pytest.approx(-1.0, abs=STEP) and seen.max() == pytest.approx(1.0, abs=STEP)

    frames = np.round((0.35 * sample_images(40, seed=3) + 1.05) * image_codec.PIXEL_SCALE).astype(np.uint8)
    float_scores = measurement.saved_model_predictions(model_dir, image_codec.scale_to_model_range(frames).numpy())
    assert len(set(np.argmax(float_scores, axis=1))) > 1
    scores = raw_pixel_scores(model_bytes, frames)
    assert np.mean(np.argmax(scores, axis=1) == np.argmax(float_scores, axis=1)) >= 0.85
    assert np.mean(np.abs(scores - float_scores)) < 0.05
    squeezed = raw_pixel_scores(_converters_own(model_dir, LOW_CONTRAST, "uint8"), frames)
    assert np.mean(np.abs(squeezed - float_scores)) > 2 * np.mean(np.abs(scores - float_scores))


def _tensors(model_bytes: bytes) -> list[tuple]:
    """Every tensor of a `.tflite` as its flatbuffer holds it: name, type, shape, quantization, constant bytes."""
    model = schema.Model.GetRootAs(model_bytes, 0)
    subgraph = model.Subgraphs(0)
    found = []
    for index in range(subgraph.TensorsLength()):
        tensor = subgraph.Tensors(index)
        quantization = tensor.Quantization()
        found.append(
            (
                tensor.Name(),
                tensor.Type(),
                tensor.ShapeAsNumpy().tolist(),
                (quantization.ScaleAsNumpy().tolist(), quantization.ZeroPointAsNumpy().tolist())
                if quantization and quantization.ScaleLength()
                else None,
                model.Buffers(tensor.Buffer()).DataAsNumpy().tobytes()
                if model.Buffers(tensor.Buffer()).DataLength()
                else b"",
            )
        )
    return found


def test_where_calibration_spans_the_input_range_the_model_is_the_converters_own(tmp_path_factory):
    """`convert` sets the calibrated input range and runs the converter's own quantizer: for a uint8 input, where
    the calibration already spans [-1, 1], every tensor (name, type, shape, quantization, constant values) is the
    converter's."""
    representative = sample_images(16, seed=2)
    assert (representative.min(), representative.max()) == (-1.0, 1.0)
    own = _converters_own(saved_classifier(tmp_path_factory), representative, "uint8")
    ours = converted(tmp_path_factory, "int8", "uint8")
    assert _tensors(ours) == _tensors(own) and conversion.model_ops(ours) == conversion.model_ops(own)


def test_a_float_input_is_quantized_on_a_range_where_no_pixel_is_a_rounding_tie(tmp_path_factory):
    """The converter's own model, calibrated on images spanning [-1, 1], quantizes its float input in steps of
    2/255, which puts every normalized pixel half way between two steps (where runtimes round apart). `convert`
    widens the input's range to `FLOAT_INPUT_RANGE`: no pixel is a tie, and only the quantized input and the first
    layer's bias (whose scale is the input's times the weights') differ from the converter's own model."""
    representative = sample_images(16, seed=2)
    own = _converters_own(saved_classifier(tmp_path_factory), representative, None)
    ours = converted(tmp_path_factory, "int8")
    differing = [(a, b) for a, b in zip(_tensors(own), _tensors(ours)) if a != b]
    assert len(_tensors(own)) == len(_tensors(ours)) and len(differing) == 2
    (own_input, our_input) = [(a, b) for a, b in differing if a[1] == schema.TensorType.INT8 and not a[4]][0]
    assert own_input[3][0] == pytest.approx([2 / 255], rel=1e-6)
    assert our_input[3][0] == pytest.approx([2 * 256 / 255 / 255], rel=1e-6)
    steps = (np.arange(256) - 127.5) / 127.5 / our_input[3][0][0]
    assert np.abs(steps - np.floor(steps) - 0.5).min() > 1e-3
    own_steps = (np.arange(256) - 127.5) / 127.5 / own_input[3][0][0]
    assert np.abs(own_steps - np.floor(own_steps) - 0.5).max() < 1e-5


def test_a_uint8_input_off_the_contract_is_refused_naming_what_the_app_would_see(tmp_path_factory):
    """What `convert` checks every uint8-input model against (a quantization-aware model's input range is its
    own): the converter's own model calibrated on low-contrast images fails it."""
    own = _converters_own(saved_classifier(tmp_path_factory), LOW_CONTRAST, "uint8")
    with pytest.raises(
        conversion.ConversionError,
        match=r"uint8 input with scale 0\.00\d+ and zero point \d+: the "
        r"app's runtimes feed raw 0\.\.255 pixels, so pixels 0 and 255 would reach the network as "
        r"-0\.\d+ and 0\.\d+ instead of -1 and 1",
    ):
        conversion.check_app_input(own)
    conversion.check_app_input(converted(tmp_path_factory, "int8", "uint8"))
    conversion.check_app_input(converted(tmp_path_factory, "int8"))  # float input


def test_int8_input_is_refused_for_the_apps_runtimes(tmp_path_factory):
    with pytest.raises(ValueError, match="integer input/output 'int8' is not one the app's runtimes take"):
        conversion.convert(saved_classifier(tmp_path_factory), "int8", sample_images(2, seed=2), "int8")


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
            tmp_path_factory, mode, integer_io
        ), (mode, integer_io)


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
def test_the_frozen_graph_route_gives_the_saved_model_routes_ops_and_scores(
    tmp_path_factory, monkeypatch, mode, integer_io
):
    """The converter's default route saves the loaded model to a temporary SavedModel and reloads it for each
    conversion; the frozen-graph route `convert` takes instead must give the same model."""
    original = tf.lite.TFLiteConverter.from_concrete_functions
    monkeypatch.setattr(
        tf.lite.TFLiteConverter,
        "from_concrete_functions",
        lambda functions, trackable: _SavedModelPath(original(functions, trackable)),
    )
    representative = sample_images(16, seed=2) if mode == "int8" else None
    default_route = conversion.convert(saved_classifier(tmp_path_factory), mode, representative, integer_io)
    frozen_route = converted(tmp_path_factory, mode, integer_io)
    assert conversion.model_ops(frozen_route) == conversion.model_ops(default_route)
    images = sample_images(40, seed=3)
    np.testing.assert_array_equal(
        measurement.tflite_predictions(frozen_route, images, threads=1),
        measurement.tflite_predictions(default_route, images, threads=1),
    )
