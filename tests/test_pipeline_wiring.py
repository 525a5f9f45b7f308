"""`create_pipeline`'s wiring without running it: the nodes and their ids, what each per-model step reads, the
parameters the TFLite step gets from the config, and the component ids' round trip."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import component_ids
from pipeline.config import load_config
from pipeline.pipeline import DIRECT_PICKLER, LOCAL_WORKERS, create_pipeline

UPSTREAM = ["NewDataCheck", "ImageExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "Transform"]


def _pipeline(*overrides: str):
    config = load_config(None, ["data.root=/data/images", "registry.root=/models", *overrides])
    return config, create_pipeline(config, "/pipeline-root")


def _inputs(node) -> dict[str, str]:
    """Input key -> id of the node whose output it reads."""
    return {key: channel.producer_component_id for key, channel in node.inputs.items()}


def test_one_chain_per_architecture_after_the_shared_upstream():
    config, pipeline = _pipeline("model.architectures=v1,v2")
    ids = [node.id for node in pipeline.components]
    per_model = [
        component_ids.component_id(kind, config.model_name(architecture))
        for architecture in ("v1", "v2")
        for kind in component_ids.PER_MODEL_KINDS
    ]
    assert sorted(ids) == sorted(UPSTREAM + per_model) and len(ids) == len(set(ids))
    assert per_model[:4] == [
        "Trainer_mobilenet_v1",
        "Evaluator_mobilenet_v1",
        "TFLite_mobilenet_v1",
        "Pusher_mobilenet_v1",
    ]


def test_each_step_reads_its_own_chain_and_the_pusher_waits_for_both_blessings_and_the_anomalies():
    _, pipeline = _pipeline("model.architectures=v1,v2")
    nodes = {node.id: node for node in pipeline.components}
    assert _inputs(nodes["Trainer_mobilenet_v2"]) == {
        "examples": "Transform",
        "transform_graph": "Transform",
        "schema": "ImportSchemaGen",
        "base_model": "NewDataCheck",
    }
    assert _inputs(nodes["Evaluator_mobilenet_v2"]) == {"examples": "Transform", "model": "Trainer_mobilenet_v2"}
    assert _inputs(nodes["TFLite_mobilenet_v2"]) == {
        "model": "Trainer_mobilenet_v2",
        "examples": "Transform",
        "transform_graph": "Transform",
        "ingested_examples": "ImageExampleGen",
    }
    assert _inputs(nodes["Pusher_mobilenet_v2"]) == {
        "model": "TFLite_mobilenet_v2",
        "model_blessing": "Evaluator_mobilenet_v2",
        "tflite_blessing": "TFLite_mobilenet_v2",
        "anomalies": "ExampleValidator",
    }


@pytest.mark.parametrize("setting, blocks", [(None, 1), ("gates.block_on_anomalies=false", 0)])
def test_anomalies_block_the_push_unless_the_config_says_not(setting, blocks):
    _, pipeline = _pipeline("model.architectures=v1", *([setting] if setting else []))
    (pusher,) = [node for node in pipeline.components if node.id == "Pusher_mobilenet_v1"]
    assert pusher.exec_properties["block_on_anomalies"] == blocks


def test_every_step_after_the_check_runs_only_where_it_decided_to_train():
    """ImageExampleGen and the other shared steps run when any model trains; a model's branch when that model
    does (nested conditions: both hold there)."""
    from tfx.dsl.compiler import compiler_utils as tfx_compiler_utils
    from tfx.dsl.experimental.conditionals import conditional
    from tfx.orchestration.kubeflow.v2 import compiler_utils
    from tfx.types import channel_utils

    _, pipeline = _pipeline("model.architectures=v1,v2")
    nodes = {node.id: node for node in pipeline.components}

    def properties(node_id: str) -> list[str]:
        """The decision's property each condition of the node tests for 1, read from its CEL form."""
        found = []
        for predicate in conditional.get_predicates(nodes[node_id], pipeline.dsl_context_registry):
            cel = compiler_utils.placeholder_to_cel(
                channel_utils.encode_placeholder_with_channels(predicate, tfx_compiler_utils.implicit_channel_key)
            )
            assert cel.startswith("(inputs.artifacts['_NewDataCheck.decision'].artifacts[0].metadata['") and (
                cel.endswith("'] == 1.0)")
            ), cel
            found.append(cel.split("metadata['")[1].split("'")[0])
        return found

    assert properties("NewDataCheck") == []
    assert properties("ImageExampleGen") == properties("Transform") == ["train"]
    assert properties("Trainer_mobilenet_v1") == properties("Pusher_mobilenet_v1") == ["train", "train_mobilenet_v1"]
    assert properties("TFLite_mobilenet_v2") == ["train", "train_mobilenet_v2"]


def test_the_settings_fingerprint_changes_with_what_shapes_a_model_and_only_its_own(tmp_path):
    from pipeline.pipeline import settings_fingerprint

    base = load_config(None, [])
    same = load_config(None, ["data.root=/elsewhere", "registry.root=/other", "pipeline.home=/runs"])
    schema = tmp_path / "schema.pbtxt"
    schema.write_bytes(Path(base.data.schema_path).read_bytes())
    same_schema_elsewhere = load_config(None, [f"data.schema_path={schema}"])
    assert settings_fingerprint(same_schema_elsewhere, "v1") != settings_fingerprint(base, "v1")  # the path counts
    before = settings_fingerprint(same_schema_elsewhere, "v1")
    schema.write_text(schema.read_text() + "# a curator's edit: what the schema accepts may have changed\n")
    assert settings_fingerprint(same_schema_elsewhere, "v1") != before
    epochs = load_config(None, ["train.epochs=9"])
    v2_width = load_config(None, ["model.v2_alpha=1.0"])
    assert settings_fingerprint(base, "v1") == settings_fingerprint(same, "v1")
    assert settings_fingerprint(base, "v1") != settings_fingerprint(epochs, "v1")
    assert settings_fingerprint(base, "v1") == settings_fingerprint(v2_width, "v1")
    assert settings_fingerprint(base, "v2") != settings_fingerprint(v2_width, "v2")


def test_the_tflite_step_gets_the_configs_modes_gates_and_registry():
    config, pipeline = _pipeline(
        "model.architectures=v1",
        "tflite.quantization=float32,int8",
        "gates.max_model_bytes=123456",
        "gates.baseline_channel=staging",
    )
    (tflite,) = [node for node in pipeline.components if node.id == "TFLite_mobilenet_v1"]
    parameters = tflite.exec_properties
    assert json.loads(parameters["quantization"]) == ["float32", "int8"]
    assert json.loads(parameters["gates"])["max_model_bytes"] == 123456
    assert parameters["registry_root"] == "/models" and parameters["baseline_channel"] == "staging"
    assert parameters["model_name"] == "mobilenet_v1" and parameters["architecture"] == "mobilenet_v1"


def test_the_beam_args_follow_the_runner():
    _, pipeline = _pipeline("beam.direct_running_mode=multi_processing", "beam.direct_num_workers=2")
    assert pipeline.beam_pipeline_args == [
        "--runner=DirectRunner",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=2",
        LOCAL_WORKERS,
    ]


@pytest.mark.parametrize(
    "mode, workers, cloudpickle",
    [
        ("in_memory", 1, True),
        ("in_memory", 2, False),
        ("multi_threading", 1, False),
        ("multi_threading", 2, False),
        ("multi_processing", 1, False),
    ],
)
def test_cloudpickle_only_where_bundles_run_on_one_thread(mode, workers, cloudpickle):
    _, pipeline = _pipeline(f"beam.direct_running_mode={mode}", f"beam.direct_num_workers={workers}")
    assert (DIRECT_PICKLER in pipeline.beam_pipeline_args) == cloudpickle


def test_direct_runner_flags_in_the_extra_args_keep_dill():
    """Beam takes the last of a repeated flag, so a mode or worker count in `beam.extra_args` decides the threads."""
    _, pipeline = _pipeline(
        "beam.direct_running_mode=in_memory", "beam.direct_num_workers=1", "beam.extra_args=--direct_num_workers=4"
    )
    assert DIRECT_PICKLER not in pipeline.beam_pipeline_args


def test_a_pickler_named_in_the_extra_args_replaces_the_direct_runners_default():
    _, pipeline = _pipeline(
        "beam.direct_running_mode=in_memory", "beam.direct_num_workers=1", "beam.extra_args=--pickle_library=dill"
    )
    args = pipeline.beam_pipeline_args
    assert DIRECT_PICKLER not in args and args.count("--pickle_library=dill") == 1


@pytest.mark.parametrize("kind", component_ids.PER_MODEL_KINDS)
def test_a_component_id_reads_back_as_its_model(kind):
    node_id = component_ids.component_id(kind, "mobilenet_v1")
    assert component_ids.model_of(node_id, kind) == "mobilenet_v1"
    other = next(k for k in component_ids.PER_MODEL_KINDS if k != kind)
    assert component_ids.model_of(node_id, other) is None
    assert component_ids.model_of("Transform", kind) is None


def test_an_unknown_step_kind_is_refused():
    with pytest.raises(ValueError, match="unknown per-model step 'Trainr'"):
        component_ids.component_id("Trainr", "mobilenet_v1")


@pytest.mark.parametrize(
    "spec_module, spec_class",
    [
        ("components.tflite.spec", "TFLiteQuantizeValidateSpec"),
        ("components.registry.spec", "RegistryPusherSpec"),
        ("components.new_data.spec", "NewDataCheckSpec"),
    ],
)
def test_each_component_spec_owns_exactly_the_keys_it_declares(spec_module, spec_class):
    import importlib

    module = importlib.import_module(spec_module)
    spec = getattr(module, spec_class)
    keys = {value for name, value in vars(module).items() if name.endswith("_KEY")}
    assert keys == set(spec.PARAMETERS) | set(spec.INPUTS) | set(spec.OUTPUTS)


def test_assembling_and_the_local_runners_imports_leave_the_vertex_ai_client_unimported():
    """`tfx.v1` would import `tfx.v1.extensions` and the Vertex AI client with it, 2 s of every run's start."""
    code = (
        "import sys\n"
        "from pipeline.config import load_config\n"
        "from pipeline.local_runner import run_pipeline\n"
        "from pipeline.pipeline import create_pipeline\n"
        "from tfx.orchestration.local.local_dag_runner import LocalDagRunner\n"
        "from tfx.orchestration.metadata import sqlite_metadata_connection_config\n"
        "create_pipeline(load_config(None, ['data.root=/data/images']), '/pipeline-root')\n"
        "print(sorted(m for m in ('tfx.v1', 'google.cloud.aiplatform') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "[]"
