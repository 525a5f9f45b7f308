"""The container entrypoint's repair of untyped input artifacts, and custom artifact types importable by title."""

import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.types import standard_artifacts
from tfx.utils import import_utils

import components
from kubeflow import entrypoint

MODEL_SCHEMA = "title: tfx.Model\ntype: object\n"
INPUTS_SPEC = {
    "artifacts": {"model": {"artifactType": {"instanceSchema": MODEL_SCHEMA}}},
    "parameters": {"model_name": {"parameterType": "STRING"}},
}


def _executor_input(artifact_type: dict) -> dict:
    """An ExecutorInput as open-source KFP's driver builds it for a task with one upstream Model."""
    return {
        "inputs": {
            "parameterValues": {"model_name": "mobilenet_v1"},
            "artifacts": {
                "model": {
                    "artifacts": [
                        {
                            "name": "42",
                            "type": artifact_type,
                            "uri": "/root/Trainer/1/model",
                            "metadata": {"display_name": "model"},
                        }
                    ]
                }
            },
        },
        "outputs": {"outputFile": "/root/Pusher/2/output_metadata.json"},
    }


def _parse_inputs(executor_input: dict) -> dict:
    """What TFX 1.16's container entrypoint does with the ExecutorInput's input artifacts."""
    message = json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput(), ignore_unknown_fields=True)
    return kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(message.inputs.artifacts)


def test_tfx_entrypoint_fails_on_an_untyped_input_and_works_once_repaired():
    untyped = _executor_input({"instanceSchema": ""})
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
        _parse_inputs(untyped)
    assert entrypoint.restore_input_types(untyped, INPUTS_SPEC) == ["model"]
    (model,) = _parse_inputs(untyped)["model"]
    assert isinstance(model, standard_artifacts.Model)
    assert model.uri == "/root/Trainer/1/model"


def test_typed_inputs_pass_through_unchanged():
    typed = _executor_input({"schemaTitle": "tfx.Model"})
    assert entrypoint.restore_input_types(typed, {"artifacts": {}}) == []
    assert typed == _executor_input({"schemaTitle": "tfx.Model"})


@pytest.mark.parametrize("style", ["separate", "joined"])
def test_repair_argv_rewrites_only_the_invocation_argument(style):
    invocation = json.dumps(_executor_input({"instanceSchema": ""}))
    spec = json.dumps(INPUTS_SPEC)
    if style == "separate":
        argv = [
            "--executor_class_path",
            "x.Executor",
            entrypoint.INVOCATION_FLAG,
            invocation,
            entrypoint.INPUTS_SPEC_FLAG,
            spec,
            "--runner=DirectRunner",
        ]
        index, prefix = 3, ""
    else:
        argv = [f"{entrypoint.INVOCATION_FLAG}={invocation}", f"{entrypoint.INPUTS_SPEC_FLAG}={spec}"]
        index, prefix = 0, f"{entrypoint.INVOCATION_FLAG}="
    result = entrypoint.repair_argv(argv)
    assert result[index].startswith(prefix)
    artifact = json.loads(result[index][len(prefix) :])["inputs"]["artifacts"]["model"]["artifacts"][0]
    assert artifact["type"] == {"instanceSchema": MODEL_SCHEMA}
    assert artifact["uri"] == "/root/Trainer/1/model"
    assert result[:index] + result[index + 1 :] == argv[:index] + argv[index + 1 :]


def test_an_untyped_input_the_spec_does_not_declare_is_an_error_naming_it():
    with pytest.raises(ValueError, match="input artifact 'model' has no type"):
        entrypoint.restore_input_types(_executor_input({}), {"artifacts": {}})


@pytest.mark.parametrize("name", sorted(components.CUSTOM_ARTIFACT_TYPES))
def test_custom_artifact_types_import_by_their_compiled_schema_title(name):
    artifact_class = getattr(components, name)
    schema = compiler_utils.get_artifact_schema(artifact_class)  # refuses titles KFP does not accept
    type_schema = pipeline_spec_pb2.ArtifactTypeSchema(instance_schema=schema)
    class_path = kubeflow_v2_entrypoint_utils._retrieve_class_path(type_schema)  # noqa: SLF001 - TFX's own lookup
    assert class_path == artifact_class.TYPE_NAME == f"components.{name}"
    assert import_utils.import_class_by_path(class_path) is artifact_class
