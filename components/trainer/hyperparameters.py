"""The Trainer's hyperparameters: what `Config.trainer_hparams` sends as the Trainer's custom_config and what
`fitting.train_model` trains with.

Every field is required. The defaults are the config's (`pipeline/config.py`), so there is no second set of them
here to drift apart; a custom_config that lacks a field, or has one this does not know, is refused by name.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """One architecture's training settings (the `model.*` and `train.*` keys of docs/configuration.md)."""

    name: str  # the registry model name, used in progress lines
    architecture: str  # v1 or v2
    alpha: float  # the width multiplier
    input_size: int
    dropout: float
    bn_momentum: float
    weights: str  # none, imagenet or a weight file
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    max_train_steps: int  # 0: no cap
    warmup_epochs: int
    label_smoothing: float
    augment: bool
    flip: bool
    frozen_epochs: int
    fine_tune_rate: float
    recalibrate_bn_batches: int
    quantization_aware_epochs: int
    mixed_precision: bool  # float16 compute while fitting; float32 weights, inputs, outputs and export

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any] | None) -> Hyperparameters:
        """The hyperparameters in a Trainer's custom_config; ValueError naming the missing, unknown or mistyped
        fields."""
        given = dict(custom_config or {})
        types = typing.get_type_hints(cls)
        missing = [name for name in types if name not in given]
        unknown = sorted(set(given) - set(types))
        if missing or unknown:
            raise ValueError(
                f"Trainer custom_config: missing {', '.join(missing) or 'nothing'}; unknown "
                f"{', '.join(unknown) or 'nothing'} (Config.trainer_hparams builds it)"
            )
        values = {}
        for name, kind in types.items():
            value = given[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"Trainer custom_config: {name}: expected {kind.__name__}, got {value!r}")
            values[name] = value
        return cls(**values)

    def to_custom_config(self) -> dict[str, Any]:
        """The plain dict TFX stores as the Trainer's custom_config (JSON)."""
        return dataclasses.asdict(self)
