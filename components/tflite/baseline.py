"""The no-regression baseline: the model the app ships now, taken from the registry.

The new model is compared with the registry version that a release channel serves (default `production`), or
with the latest version when that channel is not set, run on the TFLite interpreter on the same eval images as
the candidate. There is no baseline on a first run, when the registry cannot be read, or when the baseline was
trained on other labels or another input shape; then the model is judged on the absolute gates alone, and the
report says why.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from components.contracts import LABELS_FILE, MODEL_FILE
from components.registry import store
from components.registry.filesystems import filesystem_for


@dataclasses.dataclass(frozen=True)
class Baseline:
    """What the new model was compared with: a registry version and its accuracy, or why there is none."""

    version: int | None = None
    source: str = ""
    accuracy: float | None = None
    reason: str = ""

    @property
    def compared(self) -> bool:
        return self.accuracy is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One line for the summary, e.g. `version 2 (channel production): accuracy 0.7310`."""
        if self.compared:
            return f"version {self.version} ({self.source}): accuracy {self.accuracy:.4f} on the same eval images"
        return f"none ({self.reason}); judged on the absolute gates alone"


def _read_labels(path: str) -> list[str]:
    fs = filesystem_for(path)
    with fs.open(path, "rb") as handle:
        return [line.strip() for line in handle.read().decode("utf-8").splitlines() if line.strip()]


def find_version(registry: store.Registry, model_name: str, channel: str) -> tuple[store.RegistryVersion, str] | None:
    """The version `channel` serves, else the latest complete one; with where it came from. None if there is none."""
    if not registry.exists() or not registry.versions(model_name):
        return None
    pointer = registry.channels(model_name).get(channel)
    if pointer is not None:
        return registry.verify(model_name, pointer.version), f"channel {channel}"
    latest = registry.show(model_name)
    return registry.verify(model_name, latest.version), f"latest version, channel {channel} is not set"


def measure_baseline(registry_root: str, model_name: str, channel: str, labels: list[str],
                     input_shape: list[int], accuracy_of: Callable[[bytes], float]) -> Baseline:
    """Find the baseline in the registry and measure it with `accuracy_of(model_bytes)` when it is comparable."""
    if not registry_root:
        return Baseline(reason="no registry given")
    try:
        found = find_version(store.Registry(registry_root), model_name, channel)
    except store.RegistryError as error:
        return Baseline(reason=f"the registry could not be read: {type(error).__name__}")
    if found is None:
        return Baseline(reason=f"first version of {model_name} in the registry")
    entry, source = found
    if _read_labels(os.path.join(entry.path, LABELS_FILE)) != labels:
        return Baseline(entry.version, source, reason=f"version {entry.version} was trained on other labels")
    if list(entry.manifest.get("input_shape") or []) != list(input_shape):
        return Baseline(entry.version, source, reason=f"version {entry.version} takes input "
                        f"{entry.manifest.get('input_shape')}, this model {list(input_shape)}")
    fs = filesystem_for(entry.path)
    with fs.open(os.path.join(entry.path, MODEL_FILE), "rb") as handle:
        model_bytes = handle.read()
    return Baseline(entry.version, source, float(accuracy_of(model_bytes)))
