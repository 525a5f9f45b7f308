"""Building pieces shared by the MobileNet V1 and V2 networks."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def check_alpha(alpha: float, allowed: Sequence[float], architecture: str) -> None:
    """Raise ValueError unless `alpha` is one of the width multipliers `allowed` for `architecture`."""
    if alpha not in allowed:
        raise ValueError(
            f"{architecture}: alpha {alpha!r} is not supported; allowed values are "
            f"{', '.join(str(value) for value in allowed)}"
        )


def conv_bn(
    x: tf.Tensor,
    conv: tf.keras.layers.Layer,
    bn_name: str,
    relu_name: str | None,
    bn_momentum: float,
    bn_epsilon: float,
) -> tf.Tensor:
    """Apply `conv`, batch normalization and ReLU6; `relu_name=None` leaves the output linear."""
    x = conv(x)
    x = tf.keras.layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, name=bn_name)(x)
    return tf.keras.layers.ReLU(6.0, name=relu_name)(x) if relu_name else x
