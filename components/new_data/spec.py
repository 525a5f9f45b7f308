"""The new-data check's contract: its keys, its decision artifact type and its spec. The executor, the constructor
and the pipeline import the keys from here; nothing here imports either of them."""

from __future__ import annotations

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# Outputs
DECISION_KEY = "decision"
BASE_MODELS_KEY = "base_models"
# Parameters
DATA_ROOT_KEY = "data_root"
DATA_FORMAT_KEY = "data_format"
SPANS_KEY = "spans"
REGISTRY_ROOT_KEY = "registry_root"
BASELINE_CHANNEL_KEY = "baseline_channel"
MODELS_KEY = "models"
"""A JSON object: model name -> {"settings": its settings fingerprint, "weights": its `model.weights`} (the
constructor encodes it)."""
SKIP_UNCHANGED_KEY = "skip_unchanged"

TRAIN_PROPERTY = "train"
"""The decision's int custom property: 1 when any model trains (the upstream steps run only then)."""
DECISION_FILE = "decision.json"
CONTENT_PROPERTY = "content_sha256"
"""The base models' string custom property: SHA-256 of what the Trainers read from them (the registry weights
records, which name each version and its weights' hash). A step cache keys the Trainers on it
(`pipeline/step_cache.py`), since the artifact itself is new every run."""


def train_property(model_name: str) -> str:
    """The decision's int custom property that is 1 when `model_name` trains (its branch runs only then)."""
    return f"{TRAIN_PROPERTY}_{model_name}"


class TrainingDecision(types.Artifact):
    """A folder with `decision.json`: the training input a run found and, per model, whether it trains and why;
    the custom properties `train` and `train_<model>` (1 or 0) are what the pipeline's conditions read."""

    TYPE_NAME = "components.TrainingDecision"  # importable by this name: see components.CUSTOM_ARTIFACT_TYPES


class NewDataCheckSpec(types.ComponentSpec):
    """No inputs; parameters: where the data and the registry are and what each model is; outputs: the decision
    and, per model, the registry weights its Trainer warm-starts from."""

    PARAMETERS = {
        DATA_ROOT_KEY: ExecutionParameter(type=str),
        DATA_FORMAT_KEY: ExecutionParameter(type=str),
        SPANS_KEY: ExecutionParameter(type=str),
        REGISTRY_ROOT_KEY: ExecutionParameter(type=str),
        BASELINE_CHANNEL_KEY: ExecutionParameter(type=str),
        MODELS_KEY: ExecutionParameter(type=str),
        SKIP_UNCHANGED_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {}
    OUTPUTS = {
        DECISION_KEY: ChannelParameter(type=TrainingDecision),
        BASE_MODELS_KEY: ChannelParameter(type=standard_artifacts.Model),
    }
