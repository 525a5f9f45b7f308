"""The step cache's view of the new-data check's outputs: by content, and not at all for a condition."""

from __future__ import annotations

import pytest
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import standard_artifacts

from components.new_data import spec
from pipeline.component_ids import EXAMPLE_GEN, NEW_DATA_CHECK
from pipeline.step_cache import cache_inputs


def _node(**producers: str) -> pipeline_pb2.PipelineNode:
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = "Trainer_mobilenet_v1"
    for key, producer in producers.items():
        node.inputs.inputs[key].channels.add().producer_node_query.id = producer
    return node


def _model(artifact_id: int, content: str | None) -> standard_artifacts.Model:
    artifact = standard_artifacts.Model()
    artifact.id, artifact.uri = artifact_id, f"/runs/{artifact_id}/base_models"
    artifact.mlmd_artifact.create_time_since_epoch = artifact_id * 1000
    if content is not None:
        artifact.set_string_custom_property(spec.CONTENT_PROPERTY, content)
    return artifact


def _key(inputs: dict) -> dict:
    return {
        key: [a.mlmd_artifact.SerializeToString(deterministic=True) for a in artifacts]
        for key, artifacts in inputs.items()
    }


NODE = _node(base_model=NEW_DATA_CHECK, examples=EXAMPLE_GEN, **{f"_{NEW_DATA_CHECK}.decision": NEW_DATA_CHECK})


def test_the_new_data_checks_outputs_count_by_content_and_its_condition_not_at_all():
    examples = standard_artifacts.Examples()
    examples.id = 7
    first = cache_inputs(
        NODE,
        {"base_model": [_model(1, "abc")], "examples": [examples], f"_{NEW_DATA_CHECK}.decision": [_model(2, None)]},
    )
    again = cache_inputs(
        NODE,
        {"base_model": [_model(3, "abc")], "examples": [examples], f"_{NEW_DATA_CHECK}.decision": [_model(4, None)]},
    )
    changed = cache_inputs(NODE, {"base_model": [_model(5, "def")], "examples": [examples]})
    assert set(first) == {"base_model", "examples"}
    assert _key(first) == _key(again)
    assert _key(first)["base_model"] != _key(changed)["base_model"]
    assert first["examples"] == [examples]


def test_an_always_run_input_without_a_content_property_is_refused():
    with pytest.raises(ValueError, match=f"Trainer_mobilenet_v1: input 'base_model' .* no {spec.CONTENT_PROPERTY}"):
        cache_inputs(NODE, {"base_model": [_model(1, None)]})
