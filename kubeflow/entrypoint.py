"""The pipeline image's container entrypoint: give input artifacts back their types, then run TFX's entrypoint.

Open-source Kubeflow Pipelines hands a task its upstream artifacts untyped: its metadata client builds them with
an empty schema (kubeflow/pipelines `backend/src/v2/metadata/client.go`, `GetOutputArtifactsByExecutionId`:
`Schema: ""  // TODO(Bobgy): figure out how to get schema`), so each arrives as `"type": {"instanceSchema": ""}`
in the ExecutorInput, and TFX 1.16's `kubeflow_v2_run_executor` fails on it (`yaml.safe_load("")` is None:
`AttributeError: 'NoneType' object has no attribute 'get'`). The compiled args carry every input's type in
`--json_serialized_inputs_spec_args`; this entrypoint copies it into each untyped input artifact and hands the
arguments, otherwise unchanged, to TFX's entrypoint. Typed inputs (Vertex AI) pass through as they are.

Compiled in by `kubeflow/compile.py` (`KubeflowV2DagRunnerConfig(default_commands=ENTRYPOINT_COMMAND)`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

INVOCATION_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
ENTRYPOINT_COMMAND = ["python", "-m", "kubeflow.entrypoint"]


def _flag_value(argv: list[str], flag: str) -> tuple[int, str, str] | None:
    """(index, prefix, value) of `flag VALUE` (prefix "") or `flag=VALUE` (prefix "flag=") in argv."""
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            return index + 1, "", argv[index + 1]
        if arg.startswith(flag + "="):
            return index, flag + "=", arg[len(flag) + 1 :]
    return None


def _is_untyped(artifact_type: dict[str, Any] | None) -> bool:
    """No schema title and no (or an empty) instance schema."""
    artifact_type = artifact_type or {}
    return not artifact_type.get("schemaTitle") and not (artifact_type.get("instanceSchema") or "").strip()


def restore_input_types(executor_input: dict[str, Any], inputs_spec: dict[str, Any]) -> list[str]:
    """Give every untyped input artifact of `executor_input` the type the inputs spec declares for its key.

    Changes `executor_input` in place; returns the keys it repaired. An untyped input the spec does not declare
    is an error that names it (TFX could not guess its class).
    """
    declared = inputs_spec.get("artifacts", {})
    repaired = []
    for key, artifact_list in executor_input.get("inputs", {}).get("artifacts", {}).items():
        for artifact in artifact_list.get("artifacts", []):
            if not _is_untyped(artifact.get("type")):
                continue
            artifact_type = declared.get(key, {}).get("artifactType")
            if not artifact_type:
                raise ValueError(f"input artifact '{key}' has no type, and the inputs spec does not declare one")
            artifact["type"] = dict(artifact_type)
            repaired.append(key)
    return sorted(set(repaired))


def repair_argv(argv: list[str]) -> list[str]:
    """`argv` with the ExecutorInput's untyped input artifacts typed from the inputs spec (both JSON flags)."""
    invocation = _flag_value(argv, INVOCATION_FLAG)
    inputs_spec = _flag_value(argv, INPUTS_SPEC_FLAG)
    if invocation is None or inputs_spec is None:
        return list(argv)
    index, prefix, text = invocation
    executor_input = json.loads(text)
    repaired = restore_input_types(executor_input, json.loads(inputs_spec[2]))
    if not repaired:
        return list(argv)
    logging.warning("typed the untyped input artifact(s) %s from the inputs spec", ", ".join(repaired))
    result = list(argv)
    result[index] = prefix + json.dumps(executor_input)
    return result


def main(argv: list[str] | None = None) -> None:
    """Repair the arguments, then run TFX's Kubeflow V2 executor entrypoint with them."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    args = repair_argv(list(sys.argv[1:] if argv is None else argv))
    app.run(
        kubeflow_v2_run_executor.main, argv=[sys.argv[0], *args], flags_parser=kubeflow_v2_run_executor._parse_flags
    )  # noqa: SLF001 - TFX's own flag parser


if __name__ == "__main__":
    main()
