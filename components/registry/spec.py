"""The RegistryPusher's contract: its keys and its spec. The executor and the constructor import the keys from
here; nothing here imports either of them."""

from __future__ import annotations

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
TFLITE_BLESSING_KEY = "tflite_blessing"
ANOMALIES_KEY = "anomalies"
"""ExampleValidator's anomalies of the data the model was trained on."""
BLOCK_ON_ANOMALIES_KEY = "block_on_anomalies"
"""1: anomalies hold the model back (`gates.block_on_anomalies`); 0: they are logged only."""
PUSHED_MODEL_KEY = "pushed_model"
BLOCKING_ANOMALIES_PROPERTY = "blocking_anomalies"
"""Set on a held-back `pushed_model`: the anomalies that held it back, one per line (what the run's summary says)."""
REGISTRY_ROOT_KEY = "registry_root"
MODEL_NAME_KEY = "model_name"


class RegistryPusherSpec(types.ComponentSpec):
    """Inputs: the TFLite component's Model and blessing, the Evaluator's blessing and ExampleValidator's
    anomalies, all required; output: PushedModel."""

    PARAMETERS = {
        REGISTRY_ROOT_KEY: ExecutionParameter(type=str),
        MODEL_NAME_KEY: ExecutionParameter(type=str),
        BLOCK_ON_ANOMALIES_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        TFLITE_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
    OUTPUTS = {
        PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
    }
