"""Pipeline components: ingestion, Transform preprocessing, Trainer modules, TFLite and registry."""

import importlib
import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

PROGRESS_LOGGER = "mobilenet.progress"
"""Logger whose INFO messages (training epochs, validation summaries) the CLI shows on the terminal."""

CUSTOM_ARTIFACT_TYPES = {
    "TFLiteValidationReport": "components.tflite.spec",
    "TrainingDecision": "components.new_data.spec",
}
"""Custom artifact classes by name, with the module that defines them. Each one's TYPE_NAME is
`components.<name>`: on Kubeflow, TFX's container entrypoint imports an input or output artifact's class from its
schema title, and KFP's schema titles allow one dot, so the class must be reachable as `components.<name>`."""


def __getattr__(name: str) -> Any:
    """`components.<custom artifact class>`, imported on first use (so `import components` stays light)."""
    if name in CUSTOM_ARTIFACT_TYPES:
        return getattr(importlib.import_module(CUSTOM_ARTIFACT_TYPES[name]), name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
