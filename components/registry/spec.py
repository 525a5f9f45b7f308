"""The RegistryPusher's contract: its keys and its spec. The executor and the constructor import the keys from
here; nothing here imports either of them."""
from __future__ import annotations

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
TFLITE_BLESSING_KEY = "tflite_blessing"
PUSHED_MODEL_KEY = "pushed_model"
REGISTRY_ROOT_KEY = "registry_root"
MODEL_NAME_KEY = "model_name"


class RegistryPusherSpec(types.ComponentSpec):
    """Inputs: the TFLite component's Model and blessing, optionally the Evaluator's; output: PushedModel."""

    PARAMETERS = {
        REGISTRY_ROOT_KEY: ExecutionParameter(type=str),
        MODEL_NAME_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing, optional=True),
        TFLITE_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    OUTPUTS = {
        PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
    }
