"""Whether a model needs training: its training input and settings against those of the last model judged. Pure.

The last judged model is the newest of the registry's versions of it and of the candidates the gates held back
(each records what it was trained on). When the data and the settings are the same as that model's, training
again would make the same model and meet the same verdict, so the run skips it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from components.contracts import SETTINGS_FIELD, TRAINING_INPUT_FIELD
from components.ingestion.training_input import TrainingInput


@dataclasses.dataclass(frozen=True)
class Judged:
    """A model the registry judged: a version it holds, or a candidate the gates held back."""

    created_at: str
    version: int | None
    training_input: TrainingInput | None
    settings: str | None

    def describe(self, model_name: str) -> str:
        """`mobilenet_v2 version 3`, or `mobilenet_v2's candidate held back at 2026-12-04T03:00:12Z`."""
        if self.version is not None:
            return f"{model_name} version {self.version}"
        return f"{model_name}'s candidate held back at {self.created_at}"


def _judged(record: Mapping[str, Any], version: int | None) -> Judged:
    return Judged(
        str(record.get("created_at", "")),
        version,
        TrainingInput.from_json(record.get(TRAINING_INPUT_FIELD)),
        record.get(SETTINGS_FIELD),
    )


def last_judged(manifests: Sequence[Mapping[str, Any]], held_back: Sequence[Mapping[str, Any]]) -> Judged | None:
    """The newest of the versions (their manifests) and held-back candidates (their records); None for neither."""
    judged = [_judged(manifest, int(manifest["version"])) for manifest in manifests]
    judged += [_judged(record, None) for record in held_back]
    return max(judged, key=lambda entry: (entry.created_at, entry.version is not None), default=None)


def describe_input(current: TrainingInput) -> str:
    """`spans 2026-12-01..2026-12-03`, or `the whole data root, 120 files` without span folders."""
    return current.describe() if current.spans else f"the whole data root, {current.files} files"


@dataclasses.dataclass(frozen=True)
class Decision:
    """Whether to train one model, and the line that says why."""

    model_name: str
    train: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def decide(
    model_name: str, current: TrainingInput, settings: str, last: Judged | None, skip_unchanged: bool = True
) -> Decision:
    """Train unless `current` and `settings` equal what `last` was trained on (and `skip_unchanged`)."""
    if last is None:
        return Decision(
            model_name, True, f"{model_name}: first model in the registry; training on {describe_input(current)}"
        )
    judged = last.describe(model_name)
    if last.training_input is None:
        return Decision(
            model_name, True, f"{model_name}: {judged} records no training input; training on {describe_input(current)}"
        )
    same_data = last.training_input.fingerprint == current.fingerprint
    if same_data and last.settings == settings:
        if skip_unchanged:
            return Decision(model_name, False, f"no new data since {judged} ({describe_input(current)})")
        return Decision(
            model_name,
            True,
            f"{model_name}: no new data since {judged}, training anyway (pipeline.skip_unchanged=false)",
        )
    if same_data:
        return Decision(
            model_name, True, f"{model_name}: settings changed since {judged}; training on {describe_input(current)}"
        )
    before = last.training_input
    before_text = describe_input(before) if before.spans else f"{before.files} files"
    now_text = describe_input(current) if current.spans else f"{current.files} files"
    return Decision(model_name, True, f"{model_name}: new data since {judged} ({before_text} -> {now_text})")
