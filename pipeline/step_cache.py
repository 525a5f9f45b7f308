"""Key TFX's step cache on what the always-run new-data check says, not on which run said it.

Every run executes the new-data check (`component_ids.ALWAYS_RUN`), so its output artifacts are new each run, and
TFX's cache key (`cache_utils.get_cache_context`) hashes each input artifact's id, URI and times: no step after it
would ever be taken from the cache, so a rerun after a failure, or with a changed gate, would train again. Within
`content_keyed_step_cache()`, an input from an always-run node counts by its content property
(`new_data.spec.CONTENT_PROPERTY`) alone, and the decision a step reads only for its condition (TFX's implicit
`_<producer>.<output>` input) does not count: it decides whether the step runs, not what it makes.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Mapping, Sequence

from pipeline.component_ids import ALWAYS_RUN


def always_run_inputs(pipeline_node: Any) -> dict[str, bool]:
    """The input keys of `pipeline_node` fed by an always-run node, each with whether it only serves a condition."""
    keys = {}
    for key, spec in pipeline_node.inputs.inputs.items():
        producers = {channel.producer_node_query.id for channel in spec.channels}
        for producer in producers & set(ALWAYS_RUN):
            keys[key] = key.startswith(f"_{producer}.")
    return keys


def content_only(artifact: Any) -> Any:
    """A copy of `artifact` without what differs between runs that produced the same content: id, name, URI,
    times and state."""
    from tfx import types

    copy = types.Artifact(artifact.artifact_type)
    copy.mlmd_artifact.CopyFrom(artifact.mlmd_artifact)
    for field in (
        "id",
        "name",
        "uri",
        "create_time_since_epoch",
        "last_update_time_since_epoch",
        "state",
        "external_id",
    ):
        copy.mlmd_artifact.ClearField(field)
    return copy


def cache_inputs(pipeline_node: Any, input_artifacts: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
    """`input_artifacts` as the cache key should see them (see the module docstring)."""
    from components.new_data.spec import CONTENT_PROPERTY

    fed = always_run_inputs(pipeline_node)
    keyed = {}
    for key, artifacts in (input_artifacts or {}).items():
        if key not in fed:
            keyed[key] = list(artifacts)
        elif not fed[key]:
            missing = [a.uri for a in artifacts if not a.has_custom_property(CONTENT_PROPERTY)]
            if missing:
                raise ValueError(
                    f"{pipeline_node.node_info.id}: input {key!r} from an always-run step has no "
                    f"{CONTENT_PROPERTY} property to key the step cache on ({', '.join(missing)})"
                )
            keyed[key] = [content_only(a) for a in artifacts]
    return keyed


@contextlib.contextmanager
def content_keyed_step_cache() -> Iterator[None]:
    """Within the block, TFX's launcher computes cache keys from `cache_inputs`; TFX's function is back after it."""
    from tfx.orchestration.portable import cache_utils

    original = cache_utils.get_cache_context

    def get_cache_context(
        metadata_handle: Any,
        pipeline_node: Any,
        pipeline_info: Any,
        executor_spec: Any = None,
        input_artifacts: Any = None,
        output_artifacts: Any = None,
        parameters: Any = None,
    ) -> Any:
        return original(
            metadata_handle,
            pipeline_node,
            pipeline_info,
            executor_spec=executor_spec,
            input_artifacts=cache_inputs(pipeline_node, input_artifacts),
            output_artifacts=output_artifacts,
            parameters=parameters,
        )

    cache_utils.get_cache_context = get_cache_context
    try:
        yield
    finally:
        cache_utils.get_cache_context = original
