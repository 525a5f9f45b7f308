"""`NewDataCheck`: the TFX component. Its keys and spec are in `spec.py`; the executor wires them to the plain
functions (`training_input`, `decision`)."""

from __future__ import annotations

import json
from typing import Any, Mapping

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.new_data import executor
from components.new_data.spec import NewDataCheckSpec, TrainingDecision


class NewDataCheck(base_component.BaseComponent):
    """Resolves the spans a run trains on, fingerprints their files, and decides per model whether there is
    anything new to train on since the registry last judged that model; hands each Trainer the registry weights
    its `model.weights` names. The pipeline runs everything after it only where it says to."""

    SPEC_CLASS = NewDataCheckSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        data_root: Any,
        registry_root: Any,
        models: Mapping[str, Mapping[str, str]],
        spans: str = "all",
        data_format: str = "images",
        baseline_channel: str = "production",
        skip_unchanged: bool = True,
    ) -> None:
        """`data_root` and `registry_root` are paths/URLs or RuntimeParameters; `models` maps each model name to
        its settings fingerprint (`settings`) and `model.weights` (`weights`), encoded here."""
        super().__init__(
            spec=NewDataCheckSpec(
                data_root=data_root,
                registry_root=registry_root,
                data_format=data_format,
                spans=spans,
                baseline_channel=baseline_channel,
                models=json.dumps({name: dict(model) for name, model in models.items()}, sort_keys=True),
                skip_unchanged=int(skip_unchanged),
                decision=types.Channel(type=TrainingDecision),
                base_models=types.Channel(type=standard_artifacts.Model),
            )
        )
