"""Quantization-aware fine-tuning: the Trainer's second model converts to a full-integer, builtin-ops-only TFLite
model, its BatchNorm statistics are recomputed rather than drifting, and the setting needs int8 to be tried."""

import numpy as np
import pytest
import tensorflow as tf

from components.contracts import QUANTIZATION_AWARE_DIR
from components.trainer import fitting, mobilenet_v1, mobilenet_v2, quantization_aware
from pipeline.config import ConfigError, load_config
from tests.helpers import hyperparameters


def test_quantize_keeps_the_float_weights_and_holds_batchnorm_statistics():
    """The wrapped copy starts from the float model's weights; its BatchNorm layers have momentum 1, so training
    leaves their moving statistics to the recalibration (`fitting.RecalibrateBatchNorm`), which also finds them
    inside the wrappers."""
    inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    x = tf.keras.layers.BatchNormalization(momentum=0.9, name="bn")(x)
    x = tf.keras.layers.ReLU(6.0)(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2, activation="softmax")(x))
    quantized = quantization_aware.quantize(model)
    batch_norms = [
        layer.layer
        for layer in quantized.layers
        if isinstance(getattr(layer, "layer", None), tf.keras.layers.BatchNormalization)
    ]
    assert len(batch_norms) == 1 and batch_norms[0].momentum == 1.0
    (kernel,) = [w for w in quantized.get_layer("quant_conv").trainable_weights if "kernel" in w.name]
    np.testing.assert_array_equal(kernel.numpy(), model.get_layer("conv").kernel.numpy())
    images = np.random.default_rng(0).normal(3.0, 1.0, (16, 8, 8, 3)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, np.zeros(16, np.int64))).batch(8)
    quantized.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    scoring = fitting.RecalibrateBatchNorm(data, data, batches=2)
    scoring.set_model(quantized)
    scoring.on_epoch_end(0, {})
    assert batch_norms[0].momentum == 1.0
    assert not np.allclose(batch_norms[0].moving_mean.numpy(), 0.0)


def test_the_input_is_quantized_over_the_whole_model_range_even_after_low_contrast_training(tmp_path):
    """tfmot's input quantizer widens to what training shows it; started at [-1, 1] it stays there, so the
    converted uint8 input reads raw 0..255 pixels as the app's runtimes feed them (`conversion.check_app_input`,
    which `convert` applies)."""
    from components.tflite import conversion
    from tests.helpers import save_with_signature

    inputs = tf.keras.Input((8, 8, 3), name="image")
    x = tf.keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    quantized = quantization_aware.quantize(tf.keras.Model(inputs, tf.keras.layers.Dense(2, activation="softmax")(x)))
    low_contrast = np.random.default_rng(0).uniform(-0.3, 0.4, (16, 8, 8, 3)).astype(np.float32)
    quantized.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    quantized.fit(low_contrast, np.zeros(16, np.int64), epochs=1, verbose=0)
    (input_range,) = [
        [v.numpy() for v in layer.quantizer_vars.values() if v.dtype == tf.float32]
        for layer in quantized.layers
        if hasattr(layer, "quantizer_vars")
    ]
    assert sorted(input_range) == [-1.0, 1.0]

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="image")])
    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": quantized(image, training=False)}

    save_with_signature(str(tmp_path / "qat"), serve, quantized.variables)
    model_bytes = conversion.convert(str(tmp_path / "qat"), "int8", low_contrast, "uint8")
    dtype, scale, zero_point = conversion.input_quantization(model_bytes)
    assert dtype == np.uint8 and scale == pytest.approx(1 / 127.5, rel=1e-6) and zero_point in (127, 128)


def test_the_quantization_aware_model_sits_beside_the_float_one():
    assert quantization_aware.model_dir("/p/Trainer/model/7/Format-Serving") == (
        "/p/Trainer/model/7/" + QUANTIZATION_AWARE_DIR
    )


@pytest.mark.parametrize("builder, alpha", [(mobilenet_v1.build_network, 0.25), (mobilenet_v2.build_network, 0.35)])
def test_the_float_copy_carries_every_weight_the_quantization_aware_epochs_trained(builder, alpha):
    """V1 and V2 (whose wrappers move the convolution kernels out of the wrapped layers): every float weight is
    found in the quantization-aware model by name, and the copy computes what the float network does with them."""
    model = builder(input_shape=(32, 32, 3), num_classes=3, alpha=alpha, dropout=0.0, bn_momentum=0.9)
    quantized = quantization_aware.quantize(model)
    for variable in quantized.trainable_weights:
        variable.assign_add(tf.fill(variable.shape, 0.01))
    copy = quantization_aware.float_weights(model, quantized)
    trained = {variable.name: variable.numpy() for variable in quantized.weights}
    for variable in copy.weights:
        np.testing.assert_array_equal(variable.numpy(), trained[variable.name])
    assert not np.array_equal(copy.weights[0].numpy(), model.weights[0].numpy())


def test_train_model_fine_tunes_a_quantization_aware_copy_that_is_not_part_of_the_float_model():
    """The quantization-aware model comes back beside the float model, not inside it: attached as a Keras attribute
    it would be tracked as one of its layers and saved inside the float SavedModel (477 weights instead of 137 for
    V1 0.25)."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (32, 32, 32, 3)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(32) % 2)).batch(16)
    hparams = hyperparameters(
        input_size=32, alpha=0.25, epochs=1, quantization_aware_epochs=1, recalibrate_bn_batches=1
    )
    result = fitting.train_model(mobilenet_v1.build_network, data, data, num_classes=2, hparams=hparams)
    model = result.model
    fresh = mobilenet_v1.build_network(input_shape=(32, 32, 3), num_classes=2, alpha=0.25)
    assert len(model.weights) == len(fresh.weights) and len(model.layers) == len(fresh.layers)
    fine_tuned = result.quantization_aware
    assert isinstance(fine_tuned, quantization_aware.FineTuned) and fine_tuned.epochs == 1 and fine_tuned.seconds > 0
    assert set(fine_tuned.validation) == {"float_kept", "float_weights_after", "quantization_aware"}
    assert all(0.0 <= value <= 1.0 for value in fine_tuned.validation.values())


def test_the_training_record_is_read_back_and_absent_without_quantization_aware_training(tmp_path):
    assert quantization_aware.read_training_record(str(tmp_path)) is None
    fine_tuned = quantization_aware.FineTuned(
        None, 2, 30.04, {"float_kept": 0.81234, "float_weights_after": 0.83, "quantization_aware": 0.8249}
    )
    quantization_aware.write_training_record(str(tmp_path), fine_tuned, 12.96)
    assert quantization_aware.read_training_record(str(tmp_path)) == {
        "epochs": 2,
        "fine_tune_seconds": 30.0,
        "save_seconds": 13.0,
        "validation_accuracy": {"float_kept": 0.8123, "float_weights_after": 0.83, "quantization_aware": 0.8249},
    }


def test_the_setting_needs_int8_among_the_modes_tried():
    assert load_config(None, ["train.quantization_aware_epochs=2"]).train.quantization_aware_epochs == 2
    with pytest.raises(ConfigError, match="^train.quantization_aware_epochs:.*int8 in tflite.quantization"):
        load_config(None, ["train.quantization_aware_epochs=2", "tflite.quantization=float16"])
