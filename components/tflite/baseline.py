"""The no-regression baseline: the model the app ships now, taken from the registry.

The new model is compared with the registry version that a release channel serves (default `production`), or
with the latest version when that channel is not set, run on the TFLite interpreter on the same eval images as
the candidate. Classes are matched by name, never by position: when the class set changed, the comparison is on
the eval images of the classes both models know, and the classes added and removed are named. A baseline that
exists but cannot be read (a broken registry, a file that fails its checksum or does not load) holds the new
model back with the reason. There is no baseline on a first run, or when the baseline takes another input
shape or shares no class; then the model is judged on the absolute gates alone, and the report says why.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Sequence

import numpy as np

from components.contracts import LABELS_FILE, MODEL_FILE
from components.registry import store
from components.registry.filesystems import filesystem_for
from components.registry.shipped import shipped_version

Predict = Callable[[bytes, np.ndarray], np.ndarray]
"""Class scores [N, C] of a `.tflite` model (its bytes) on images [N, H, W, 3]."""


@dataclasses.dataclass(frozen=True)
class Baseline:
    """What the new model was compared with: a registry version and its accuracy, or why there is none.

    `compared_images` is how many eval images the comparison used (all of them unless classes changed);
    `readable` is False when a baseline exists but could not be read, which holds the model back."""

    version: int | None = None
    source: str = ""
    accuracy: float | None = None
    reason: str = ""
    compared_images: int = 0
    classes_added: tuple[str, ...] = ()
    classes_removed: tuple[str, ...] = ()
    readable: bool = True

    @property
    def compared(self) -> bool:
        return self.accuracy is not None

    @property
    def classes_changed(self) -> bool:
        return bool(self.classes_added or self.classes_removed)

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "classes_added": list(self.classes_added),
            "classes_removed": list(self.classes_removed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        known = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key in ("classes_added", "classes_removed"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)

    def class_changes(self) -> str:
        """`class added: bird; class removed: cat`, or "" when both models know the same classes."""
        parts = []
        for kind, names in (("added", self.classes_added), ("removed", self.classes_removed)):
            if names:
                parts.append(f"class{'es' if len(names) > 1 else ''} {kind}: {', '.join(names)}")
        return "; ".join(parts)

    def describe(self) -> str:
        """One line for the summary, e.g. `version 2 (channel production): accuracy 0.7310 on the same eval images`."""
        changes = f"; {self.class_changes()}" if self.classes_changed else ""
        if self.compared:
            images = (
                "the same eval images"
                if not self.classes_changed
                else f"the {self.compared_images} eval images of the classes both know"
            )
            return f"version {self.version} ({self.source}): accuracy {self.accuracy:.4f} on {images}{changes}"
        if not self.readable:
            return f"version {self.version} ({self.source}) cannot be read ({self.reason}); the model is held back"
        return f"none ({self.reason}); judged on the absolute gates alone{changes}"


def _read_labels(path: str) -> list[str]:
    fs = filesystem_for(path)
    with fs.open(path, "rb") as handle:
        return [line.strip() for line in handle.read().decode("utf-8").splitlines() if line.strip()]


def compared_subset(labels: Sequence[str], baseline_labels: Sequence[str], eval_labels: np.ndarray) -> np.ndarray:
    """Which eval images (by their class index in `labels`) belong to a class the baseline also knows."""
    known = set(baseline_labels)
    return np.array([labels[int(index)] in known for index in eval_labels], dtype=bool)


def measure_baseline(
    registry_root: str,
    model_name: str,
    channel: str,
    labels: Sequence[str],
    input_shape: list[int],
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    predict: Predict,
) -> tuple[Baseline, np.ndarray]:
    """Find the baseline in the registry and measure it on the eval images, matching classes by name; returns it
    with the mask of the eval images it was compared on (the candidates are scored on the same ones)."""
    everything = np.ones(len(eval_labels), dtype=bool)
    if not registry_root:
        return Baseline(reason="no registry given"), everything
    found: tuple[store.RegistryVersion, str] | None = None
    try:
        found = shipped_version(store.Registry(registry_root), model_name, channel)
        if found is None:
            return Baseline(reason=f"first version of {model_name} in the registry"), everything
        entry, source = found
        baseline_labels = _read_labels(os.path.join(entry.path, LABELS_FILE))
        added = tuple(sorted(set(labels) - set(baseline_labels)))
        removed = tuple(sorted(set(baseline_labels) - set(labels)))
        identity = {"version": entry.version, "source": source, "classes_added": added, "classes_removed": removed}
        if list(entry.manifest.get("input_shape") or []) != list(input_shape):
            return Baseline(
                **identity,
                reason=f"version {entry.version} takes input "
                f"{entry.manifest.get('input_shape')}, this model {list(input_shape)}",
            ), everything
        subset = compared_subset(labels, baseline_labels, eval_labels)
        if not subset.any():
            return Baseline(**identity, reason=f"version {entry.version} shares no class with this model"), everything
        fs = filesystem_for(entry.path)
        with fs.open(os.path.join(entry.path, MODEL_FILE), "rb") as handle:
            model_bytes = handle.read()
        predicted = np.argmax(predict(model_bytes, eval_images[subset]), axis=1)
        truth = [labels[int(index)] for index in eval_labels[subset]]
        correct = [baseline_labels[int(index)] == name for index, name in zip(predicted, truth)]
    except Exception as error:  # noqa: BLE001 - whatever stops the baseline from being read holds the model back
        version, source = (found[0].version, found[1]) if found else (None, f"registry {registry_root}")
        return Baseline(version, source, reason=f"{type(error).__name__}: {error}", readable=False), everything
    return Baseline(**identity, accuracy=float(np.mean(correct)), compared_images=int(subset.sum())), subset
