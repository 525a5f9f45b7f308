"""`TFLiteQuantizeValidate`: the TFX component spec. The executor wires artifacts to the plain functions."""
from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.tflite import executor


class TFLiteValidationReport(types.Artifact):
    """A folder with `report.json` (measurements, gates, verdict) of one TFLite validation."""

    TYPE_NAME = "components.TFLiteValidationReport"  # importable by this name: see components.CUSTOM_ARTIFACT_TYPES


class TFLiteQuantizeValidateSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of the TFLite quantize-and-validate component."""

    PARAMETERS = {
        "model_name": ExecutionParameter(type=str),
        "architecture": ExecutionParameter(type=str),
        "quantization": ExecutionParameter(type=str),
        "representative_examples": ExecutionParameter(type=int),
        "integer_io": ExecutionParameter(type=str, optional=True),
        "threads": ExecutionParameter(type=int),
        "latency_warmup": ExecutionParameter(type=int),
        "latency_runs": ExecutionParameter(type=int),
        "max_eval_examples": ExecutionParameter(type=int, optional=True),
        "gates": ExecutionParameter(type=str),
        "registry_root": ExecutionParameter(type=str, optional=True),
        "baseline_channel": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {
        "tflite_model": ChannelParameter(type=standard_artifacts.Model),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
        "report": ChannelParameter(type=TFLiteValidationReport),
    }


class TFLiteQuantizeValidate(base_component.BaseComponent):
    """Converts the Trainer's model to TFLite in the configured modes, adds Android metadata, measures accuracy,
    size and latency on the TFLite interpreter, and blesses the smallest mode that passes every gate."""

    SPEC_CLASS = TFLiteQuantizeValidateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 model_name: str, architecture: str, quantization: str, gates: str,
                 representative_examples: int = 200, integer_io: str = "", threads: int = 2,
                 latency_warmup: int = 5, latency_runs: int = 50, max_eval_examples: int = 0,
                 registry_root: Any = "",
                 baseline_channel: str = "production"):
        """`quantization` is a JSON list of modes and `gates` a JSON object of limits (see pipeline/config.py).
        The no-regression baseline is the model `baseline_channel` serves in the registry at `registry_root` (a
        path/URL or a RuntimeParameter), else its latest version; none when `registry_root` is empty."""
        super().__init__(spec=TFLiteQuantizeValidateSpec(
            model=model, examples=examples, transform_graph=transform_graph,
            model_name=model_name, architecture=architecture, quantization=quantization, gates=gates,
            representative_examples=representative_examples, integer_io=integer_io, threads=threads,
            latency_warmup=latency_warmup, latency_runs=latency_runs, max_eval_examples=max_eval_examples,
            registry_root=registry_root, baseline_channel=baseline_channel,
            tflite_model=types.Channel(type=standard_artifacts.Model),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            report=types.Channel(type=TFLiteValidationReport)))
