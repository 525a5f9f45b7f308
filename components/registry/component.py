"""RegistryPusher: a Pusher that publishes the validated TFLite model as the next version of the model registry
(its keys and spec are in `spec.py`)."""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.registry import executor
from components.registry.names import validate_name
from components.registry.spec import RegistryPusherSpec


class RegistryPusher(base_component.BaseComponent):
    """Pushes `model` (model.tflite, labels.txt, report.json) to `registry_root` as `model_name` when the TFLite
    step and the Evaluator both blessed it and, with `block_on_anomalies`, ExampleValidator found no anomalies;
    `pushed_model` gets `pushed` (1/0), `pushed_destination` and `pushed_version`."""

    SPEC_CLASS = RegistryPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel,
        tflite_blessing: types.BaseChannel,
        anomalies: types.BaseChannel,
        registry_root: Any,
        model_name: str,
        block_on_anomalies: bool,
    ) -> None:
        """`registry_root` is a path/URL or a RuntimeParameter; `model_name` must be a valid registry name."""
        validate_name(model_name, "model name")
        super().__init__(
            spec=RegistryPusherSpec(
                model=model,
                model_blessing=model_blessing,
                tflite_blessing=tflite_blessing,
                anomalies=anomalies,
                registry_root=registry_root,
                model_name=model_name,
                block_on_anomalies=int(block_on_anomalies),
                pushed_model=types.Channel(type=standard_artifacts.PushedModel),
            )
        )
