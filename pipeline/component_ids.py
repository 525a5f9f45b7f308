"""The ids of the pipeline's per-model nodes (`Trainer_mobilenet_v1`, ...), built and read back in one place.

`create_pipeline` gives each architecture's Trainer, Evaluator, TFLite step and Pusher the id `<kind>_<model name>`;
the run summary, the benchmark and the tests find a model's outputs by it. Imports nothing heavy.
"""

from __future__ import annotations

NEW_DATA_CHECK, EXAMPLE_GEN = "NewDataCheck", "ImageExampleGen"
ALWAYS_RUN = (NEW_DATA_CHECK,)
"""Nodes every run executes, never from a cache: the check must look at the data root and the registry as they are
now. The runners switch their step cache off for these (`local_runner`, `kubeflow/compile.py`)."""
TRAINER, EVALUATOR, TFLITE, PUSHER = "Trainer", "Evaluator", "TFLite", "Pusher"
PER_MODEL_KINDS = (TRAINER, EVALUATOR, TFLITE, PUSHER)
MODEL_BOUND_KINDS = (TRAINER, TFLITE)
"""Steps whose time grows with the model and its training, not with orchestration."""


def component_id(kind: str, model_name: str) -> str:
    """The node id of `model_name`'s step of `kind` (one of PER_MODEL_KINDS)."""
    if kind not in PER_MODEL_KINDS:
        raise ValueError(f"unknown per-model step {kind!r}; choose from {', '.join(PER_MODEL_KINDS)}")
    return f"{kind}_{model_name}"


def model_of(node_id: str, kind: str) -> str | None:
    """The model name in `node_id` if it is a step of `kind`, else None."""
    prefix = component_id(kind, "")
    return node_id[len(prefix) :] if node_id.startswith(prefix) and len(node_id) > len(prefix) else None
