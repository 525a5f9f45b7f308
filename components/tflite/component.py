"""`TFLiteQuantizeValidate`: the TFX component. Its keys and spec are in `spec.py`; the executor wires artifacts
to the plain functions."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.tflite import executor
from components.tflite.spec import TFLiteQuantizeValidateSpec, TFLiteValidationReport


class TFLiteQuantizeValidate(base_component.BaseComponent):
    """Converts the Trainer's model to TFLite in the configured modes, adds Android metadata, measures accuracy,
    size and latency on the TFLite interpreter, and blesses the smallest mode that passes every gate."""

    SPEC_CLASS = TFLiteQuantizeValidateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        transform_graph: types.BaseChannel,
        model_name: str,
        architecture: str,
        quantization: Sequence[str],
        gates: Mapping[str, float],
        representative_examples: int = 200,
        integer_io: str = "",
        threads: int = 2,
        latency_warmup: int = 5,
        latency_runs: int = 50,
        max_eval_examples: int = 0,
        registry_root: Any = "",
        baseline_channel: str = "production",
        ingested_examples: types.BaseChannel | None = None,
        settings: str = "",
    ):
        """`quantization` lists the modes to try and `gates` holds the limits (see pipeline/config.py); both are
        encoded here. The no-regression baseline is the model `baseline_channel` serves in the registry at
        `registry_root` (a path/URL or a RuntimeParameter), else its latest version; none when `registry_root` is
        empty. What `ingested_examples` (ImageExampleGen's) hold and the `settings` fingerprint are recorded in the
        report."""
        super().__init__(
            spec=TFLiteQuantizeValidateSpec(
                model=model,
                examples=examples,
                transform_graph=transform_graph,
                ingested_examples=ingested_examples,
                settings=settings,
                model_name=model_name,
                architecture=architecture,
                quantization=json.dumps(list(quantization)),
                gates=json.dumps(dict(gates)),
                representative_examples=representative_examples,
                integer_io=integer_io,
                threads=threads,
                latency_warmup=latency_warmup,
                latency_runs=latency_runs,
                max_eval_examples=max_eval_examples,
                registry_root=registry_root,
                baseline_channel=baseline_channel,
                tflite_model=types.Channel(type=standard_artifacts.Model),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
                report=types.Channel(type=TFLiteValidationReport),
            )
        )
