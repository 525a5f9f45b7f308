"""MobileNet V1 (Howard et al., 2017) as a TFX Trainer module file.

The layers, their names and their parameters are those of the Keras reference `tf.keras.applications.MobileNet`
(so its ImageNet weights load by name); stride-2 convolutions use "same" padding as in the paper's TF-Slim code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from components.contracts import V1_ALPHAS
from components.trainer.blocks import check_alpha, conv_bn

if TYPE_CHECKING:
    from tfx.components.trainer.fn_args_utils import FnArgs

ARCHITECTURE = "mobilenet_v1"
ALLOWED_ALPHAS = V1_ALPHAS

# (pointwise filters, depthwise stride) of the 13 depthwise-separable blocks (paper, Table 1).
SEPARABLE_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def build_network(
    input_shape: tuple[int, int, int],
    num_classes: int,
    alpha: float = 1.0,
    dropout: float = 1e-3,
    bn_momentum: float = 0.9,
    bn_epsilon: float = 1e-3,
) -> tf.keras.Model:
    """MobileNet V1 with width multiplier `alpha`, ending in a softmax layer named `probabilities`."""
    check_alpha(alpha, ALLOWED_ALPHAS, ARCHITECTURE)
    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = conv_bn(
        inputs,
        tf.keras.layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv1"),
        "conv1_bn",
        "conv1_relu",
        bn_momentum,
        bn_epsilon,
    )
    for block_id, (filters, stride) in enumerate(SEPARABLE_BLOCKS, start=1):
        x = conv_bn(
            x,
            tf.keras.layers.DepthwiseConv2D(
                3, strides=stride, padding="same", use_bias=False, name=f"conv_dw_{block_id}"
            ),
            f"conv_dw_{block_id}_bn",
            f"conv_dw_{block_id}_relu",
            bn_momentum,
            bn_epsilon,
        )
        x = conv_bn(
            x,
            tf.keras.layers.Conv2D(int(filters * alpha), 1, padding="same", use_bias=False, name=f"conv_pw_{block_id}"),
            f"conv_pw_{block_id}_bn",
            f"conv_pw_{block_id}_relu",
            bn_momentum,
            bn_epsilon,
        )
    x = tf.keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = tf.keras.layers.Dropout(dropout, name="dropout")(x)
    x = tf.keras.layers.Conv2D(num_classes, 1, padding="same", name="conv_preds")(x)
    x = tf.keras.layers.Reshape((num_classes,), name="logits")(x)
    outputs = tf.keras.layers.Activation("softmax", name="probabilities", dtype="float32")(x)
    return tf.keras.Model(inputs, outputs, name=f"{ARCHITECTURE}_{alpha:.2f}_{input_shape[0]}")


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point: trains MobileNet V1 on the transformed examples."""
    from components.trainer import training  # here, so that the builder imports without TFX (the plain script)

    training.run(fn_args, build_network)
