"""The TFLite quantize-and-validate component's contract: its keys, its report artifact type and its spec.

The executor and the component constructor import the keys from here; nothing here imports either of them.
"""

from __future__ import annotations

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# Inputs
MODEL_KEY = "model"
EXAMPLES_KEY = "examples"
TRANSFORM_GRAPH_KEY = "transform_graph"
INGESTED_EXAMPLES_KEY = "ingested_examples"
"""ImageExampleGen's examples, whose `training_input.json` (spans and fingerprint) the report records."""
# Outputs
TFLITE_MODEL_KEY = "tflite_model"
BLESSING_KEY = "blessing"
REPORT_KEY = "report"
# Parameters
MODEL_NAME_KEY = "model_name"
ARCHITECTURE_KEY = "architecture"
QUANTIZATION_KEY = "quantization"
"""A JSON list of quantization modes (the constructor encodes it)."""
REPRESENTATIVE_EXAMPLES_KEY = "representative_examples"
INTEGER_IO_KEY = "integer_io"
THREADS_KEY = "threads"
LATENCY_WARMUP_KEY = "latency_warmup"
LATENCY_RUNS_KEY = "latency_runs"
MAX_EVAL_EXAMPLES_KEY = "max_eval_examples"
GATES_KEY = "gates"
"""A JSON object of gate limits (the constructor encodes it)."""
REGISTRY_ROOT_KEY = "registry_root"
BASELINE_CHANNEL_KEY = "baseline_channel"
SETTINGS_KEY = "settings"
"""The fingerprint of the settings that shaped the model, recorded in the report (and so in the manifest)."""


class TFLiteValidationReport(types.Artifact):
    """A folder with `report.json` (measurements, gates, verdict) of one TFLite validation."""

    TYPE_NAME = "components.TFLiteValidationReport"  # importable by this name: see components.CUSTOM_ARTIFACT_TYPES


class TFLiteQuantizeValidateSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of the TFLite quantize-and-validate component."""

    PARAMETERS = {
        MODEL_NAME_KEY: ExecutionParameter(type=str),
        ARCHITECTURE_KEY: ExecutionParameter(type=str),
        QUANTIZATION_KEY: ExecutionParameter(type=str),
        REPRESENTATIVE_EXAMPLES_KEY: ExecutionParameter(type=int),
        INTEGER_IO_KEY: ExecutionParameter(type=str, optional=True),
        THREADS_KEY: ExecutionParameter(type=int),
        LATENCY_WARMUP_KEY: ExecutionParameter(type=int),
        LATENCY_RUNS_KEY: ExecutionParameter(type=int),
        MAX_EVAL_EXAMPLES_KEY: ExecutionParameter(type=int, optional=True),
        GATES_KEY: ExecutionParameter(type=str),
        REGISTRY_ROOT_KEY: ExecutionParameter(type=str, optional=True),
        BASELINE_CHANNEL_KEY: ExecutionParameter(type=str, optional=True),
        SETTINGS_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        TRANSFORM_GRAPH_KEY: ChannelParameter(type=standard_artifacts.TransformGraph),
        INGESTED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        TFLITE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        REPORT_KEY: ChannelParameter(type=TFLiteValidationReport),
    }
