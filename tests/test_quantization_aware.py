"""Quantization-aware fine-tuning: the Trainer's second model converts to a full-integer, builtin-ops-only TFLite
model, its BatchNorm statistics are recomputed rather than drifting, and the setting needs int8 to be tried."""
import numpy as np
import pytest
import tensorflow as tf

from components.trainer import quantization_aware, training
from pipeline.config import ConfigError, load_config


def test_quantize_keeps_the_float_weights_and_holds_batchnorm_statistics():
    """The wrapped copy starts from the float model's weights; its BatchNorm layers have momentum 1, so training
    leaves their moving statistics to the recalibration (`training.RecalibrateBatchNorm`), which also finds them
    inside the wrappers."""
    inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    x = tf.keras.layers.BatchNormalization(momentum=0.9, name="bn")(x)
    x = tf.keras.layers.ReLU(6.0)(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2, activation="softmax")(x))
    quantized = quantization_aware.quantize(model)
    batch_norms = [layer.layer for layer in quantized.layers
                   if isinstance(getattr(layer, "layer", None), tf.keras.layers.BatchNormalization)]
    assert len(batch_norms) == 1 and batch_norms[0].momentum == 1.0
    (kernel,) = [w for w in quantized.get_layer("quant_conv").trainable_weights if "kernel" in w.name]
    np.testing.assert_array_equal(kernel.numpy(), model.get_layer("conv").kernel.numpy())
    images = np.random.default_rng(0).normal(3.0, 1.0, (16, 8, 8, 3)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, np.zeros(16, np.int64))).batch(8)
    quantized.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    scoring = training.RecalibrateBatchNorm(data, data, batches=2)
    scoring.set_model(quantized)
    scoring.on_epoch_end(0, {})
    assert batch_norms[0].momentum == 1.0
    assert not np.allclose(batch_norms[0].moving_mean.numpy(), 0.0)


def test_the_quantization_aware_model_sits_beside_the_float_one():
    assert quantization_aware.model_dir("/p/Trainer/model/7/Format-Serving") == (
        "/p/Trainer/model/7/" + quantization_aware.QUANTIZATION_AWARE_DIR)


def test_the_setting_needs_int8_among_the_modes_tried():
    assert load_config(None, ["train.quantization_aware_epochs=2"]).train.quantization_aware_epochs == 2
    with pytest.raises(ConfigError, match="^train.quantization_aware_epochs:.*int8 in tflite.quantization"):
        load_config(None, ["train.quantization_aware_epochs=2", "tflite.quantization=float16"])
