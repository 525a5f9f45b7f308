"""TFLite conversion: every quantization mode on a real SavedModel, the op check, and the argument errors.

The helpers at the top build the small classifier SavedModel and its flatbuffers once per test session; the other
`test_tflite_*` modules import them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.contracts import PREPROCESSED_SIGNATURE, QUANTIZATION_MODES
from components.tflite import conversion, measurement
from components.trainer.blocks import conv_bn

IMAGE_SIZE = 32
NUM_CLASSES = 3
# (mode, integer_io) pairs the component can be configured with.
CONFIGURATIONS = [("float32", None), ("dynamic", None), ("float16", None), ("int8", None), ("int8", "uint8"),
                  ("int8", "int8")]


def sample_images(count: int, seed: int) -> np.ndarray:
    """Preprocessed images [count, 32, 32, 3] in [-1, 1]: one random colour per image plus pixel noise."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(-0.7, 0.7, (count, 1, 1, 3))
    noise = rng.normal(0.0, 0.2, (count, IMAGE_SIZE, IMAGE_SIZE, 3))
    return np.clip(colour + noise, -1.0, 1.0).astype(np.float32)


def _classifier() -> tf.keras.Model:
    """A MobileNet-style net (conv, depthwise-separable block, BN, ReLU6, pooling, softmax `probabilities`),
    big enough that weights dominate the flatbuffer. Untrained, so it is calibrated on sample images: each batch
    norm gets its input's statistics and the logits are centred and scaled, which makes its predictions depend on
    the image and spread over the classes like a trained model's instead of collapsing onto one class."""
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = conv_bn(inputs, tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False), "bn_1", "relu_1",
                0.9, 1e-3)
    x = conv_bn(x, tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False), "bn_2", "relu_2",
                0.9, 1e-3)
    x = conv_bn(x, tf.keras.layers.Conv2D(96, 1, use_bias=False), "bn_3", "relu_3", 0.9, 1e-3)
    x = conv_bn(x, tf.keras.layers.Conv2D(384, 1, use_bias=False), "bn_4", "relu_4", 0.9, 1e-3)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Softmax(name="probabilities")(x))

    x = tf.constant(sample_images(64, seed=1))
    for layer in model.layers[1:]:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        elif isinstance(layer, tf.keras.layers.Dense):
            logits = layer(x)
            scale = 3.0 / float(tf.math.reduce_std(logits))
            layer.kernel.assign(layer.kernel * scale)
            layer.bias.assign(-tf.reduce_mean(logits, axis=0) * scale)
        x = layer(x, training=False)
    return model


def _save_with_signature(directory: str, serve: tf.types.experimental.GenericFunction,
                         variables: list[tf.Variable]) -> None:
    """Save `serve` as the `serving_preprocessed` signature (what the Trainer exports and conversion reads)."""
    module = tf.Module()
    module.model_variables = variables
    tf.saved_model.save(module, directory, signatures={PREPROCESSED_SIGNATURE: serve.get_concrete_function()})


def saved_classifier(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The classifier SavedModel, written once per test session: `image` [None, 32, 32, 3] -> `probabilities`."""
    path = tmp_path_factory.getbasetemp() / "tflite_classifier"
    if not path.exists():
        model = _classifier()

        @tf.function(input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name="image")])
        def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"probabilities": model(image, training=False)}

        staging = path.with_name(path.name + ".partial")
        _save_with_signature(str(staging), serve, model.variables)
        staging.rename(path)
    return str(path)


def converted(tmp_path_factory: pytest.TempPathFactory, mode: str, integer_io: str | None = None) -> bytes:
    """The classifier converted in `mode`, converted once per test session."""
    path = tmp_path_factory.getbasetemp() / f"tflite_classifier_{mode}_{integer_io or 'float'}.tflite"
    if not path.exists():
        representative = sample_images(16, seed=2) if mode == "int8" else None
        path.write_bytes(conversion.convert(saved_classifier(tmp_path_factory), mode, representative, integer_io))
    return path.read_bytes()


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
    _save_with_signature(directory, serve, [weights])
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
