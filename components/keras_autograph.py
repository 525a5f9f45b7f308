"""Keep AutoGraph out of legacy Keras (`tf_keras`), as TensorFlow already keeps it out of `keras`.

TensorFlow 2.16's AutoGraph never converts modules under `keras` (its `CONVERSION_RULES`), but Keras 2 now ships as
`tf_keras`, which the list does not name. So the first `fit` of a process converted the source of every Keras layer,
loss, metric and training loop it met, AST by AST, which made the first epoch several times slower
(`python -m bench.trainer_cost` measures it). Keras 2's code is
written for graph mode (it was never converted while it lived under `keras`), so exempting it changes no result.
TensorFlow Model Optimization's quantization wrappers (`train.quantization_aware_epochs`) are Keras 2 layers written
the same way and are exempted with it.
"""

from __future__ import annotations

PACKAGES = ("tf_keras", "tensorflow_model_optimization")


def exempt_tf_keras() -> None:
    """Add a do-not-convert rule for each of `PACKAGES` to AutoGraph's rules, once per process."""
    from tensorflow.python.autograph.core import config

    for package in PACKAGES:
        if not any(isinstance(rule, config.DoNotConvert) and rule.matches(package) for rule in config.CONVERSION_RULES):
            config.CONVERSION_RULES = (config.DoNotConvert(package), *config.CONVERSION_RULES)
