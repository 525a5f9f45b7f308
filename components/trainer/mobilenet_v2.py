"""MobileNet V2 (Sandler et al., 2018) as a TFX Trainer module file.

The layers, their names and their parameters are those of the Keras reference `tf.keras.applications.MobileNetV2`
(so its ImageNet weights load by name), plus dropout before the classifier; stride-2 depthwise convolutions use
"same" padding, which pads exactly like the reference's explicit `correct_pad`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from components.contracts import V2_ALPHAS
from components.trainer.blocks import check_alpha, conv_bn

if TYPE_CHECKING:
    from tfx.components.trainer.fn_args_utils import FnArgs

ARCHITECTURE = "mobilenet_v2"
ALLOWED_ALPHAS = V2_ALPHAS

# Bottleneck table of the paper (Table 2): expansion t, output channels c, repeats n, first stride s.
BOTTLENECKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
LAST_CONV_FILTERS = 1280


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round `value` to the nearest multiple of `divisor`, never going below 90% of it (reference rounding)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _inverted_residual(
    x: tf.Tensor, expansion: int, filters: int, stride: int, block_id: int, bn_momentum: float, bn_epsilon: float
) -> tf.Tensor:
    """1x1 expansion + ReLU6, 3x3 depthwise + ReLU6, linear 1x1 projection; residual add when shapes match."""
    in_channels = x.shape[-1]
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    y = x
    if expansion != 1:
        y = conv_bn(
            y,
            tf.keras.layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=prefix + "expand"),
            prefix + "expand_BN",
            prefix + "expand_relu",
            bn_momentum,
            bn_epsilon,
        )
    y = conv_bn(
        y,
        tf.keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=prefix + "depthwise"),
        prefix + "depthwise_BN",
        prefix + "depthwise_relu",
        bn_momentum,
        bn_epsilon,
    )
    y = conv_bn(
        y,
        tf.keras.layers.Conv2D(filters, 1, padding="same", use_bias=False, name=prefix + "project"),
        prefix + "project_BN",
        None,
        bn_momentum,
        bn_epsilon,
    )
    if stride == 1 and in_channels == filters:
        return tf.keras.layers.Add(name=prefix + "add")([x, y])
    return y


def build_network(
    input_shape: tuple[int, int, int],
    num_classes: int,
    alpha: float = 1.0,
    dropout: float = 1e-3,
    bn_momentum: float = 0.9,
    bn_epsilon: float = 1e-3,
) -> tf.keras.Model:
    """MobileNet V2 with width multiplier `alpha`, ending in a softmax layer named `probabilities`."""
    check_alpha(alpha, ALLOWED_ALPHAS, ARCHITECTURE)
    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = conv_bn(
        inputs,
        tf.keras.layers.Conv2D(_make_divisible(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="Conv1"),
        "bn_Conv1",
        "Conv1_relu",
        bn_momentum,
        bn_epsilon,
    )
    block_id = 0
    for expansion, channels, repeats, first_stride in BOTTLENECKS:
        for repeat in range(repeats):
            x = _inverted_residual(
                x,
                expansion,
                _make_divisible(int(channels * alpha)),
                first_stride if repeat == 0 else 1,
                block_id,
                bn_momentum,
                bn_epsilon,
            )
            block_id += 1
    last_filters = _make_divisible(LAST_CONV_FILTERS * alpha) if alpha > 1.0 else LAST_CONV_FILTERS
    x = conv_bn(
        x,
        tf.keras.layers.Conv2D(last_filters, 1, use_bias=False, name="Conv_1"),
        "Conv_1_bn",
        "out_relu",
        bn_momentum,
        bn_epsilon,
    )
    x = tf.keras.layers.GlobalAveragePooling2D(name="global_average_pooling")(x)
    x = tf.keras.layers.Dropout(dropout, name="dropout")(x)
    x = tf.keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = tf.keras.layers.Activation("softmax", name="probabilities", dtype="float32")(x)
    return tf.keras.Model(inputs, outputs, name=f"{ARCHITECTURE}_{alpha:.2f}_{input_shape[0]}")


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point: trains MobileNet V2 on the transformed examples."""
    from components.trainer import training  # here, so that the builder imports without TFX (the plain script)

    training.run(fn_args, build_network)
