"""Whether a model trains: its training input and settings against the last model the registry judged, and the
line that says why; and the registry weights the check hands a Trainer."""

import json
from pathlib import Path

import pytest

from components.ingestion.training_input import TrainingInput
from components.new_data import decision
from components.new_data import executor as new_data
from components.registry.store import Registry
from components.trainer import warm_start
from tests.helpers import tflite_report, write_model_files

NOW = TrainingInput(("2026-12-01", "2026-12-03"), "f" * 64, 120)


def _manifest(version: int, created_at: str, data: TrainingInput | None = NOW, settings: str = "s") -> dict:
    return {
        "version": version,
        "created_at": created_at,
        "settings_sha256": settings,
        "training_input": data.to_json() if data else None,
    }


def test_the_last_judged_is_the_newest_version_or_held_back_candidate():
    versions = [_manifest(1, "2026-12-01T03:00:00Z"), _manifest(2, "2026-12-02T03:00:00Z")]
    held = [{"created_at": "2026-12-03T03:00:00Z", "training_input": NOW.to_json(), "settings_sha256": "s"}]
    assert decision.last_judged(versions, []).version == 2
    latest = decision.last_judged(versions, held)
    assert latest.version is None and latest.describe("m") == "m's candidate held back at 2026-12-03T03:00:00Z"
    assert decision.last_judged([], []) is None


def test_the_same_data_and_settings_skip_with_the_line_naming_the_version_and_spans():
    last = decision.last_judged([_manifest(3, "2026-12-03T03:00:00Z")], [])
    decided = decision.decide("mobilenet_v2", NOW, "s", last)
    assert not decided.train
    assert decided.reason == "no new data since mobilenet_v2 version 3 (spans 2026-12-01..2026-12-03)"
    assert decision.decide("mobilenet_v2", NOW, "s", last, skip_unchanged=False).train


@pytest.mark.parametrize(
    "last, settings, reason",
    [
        (None, "s", "mobilenet_v1: first model in the registry; training on spans 2026-12-01..2026-12-03"),
        (
            _manifest(3, "t", TrainingInput(("2026-12-01",), "e" * 64, 80)),
            "s",
            "mobilenet_v1: new data since mobilenet_v1 version 3 (span 2026-12-01 -> spans 2026-12-01..2026-12-03)",
        ),
        (_manifest(3, "t"), "other", "mobilenet_v1: settings changed since mobilenet_v1 version 3; training on spans"),
        (_manifest(3, "t", None), "s", "mobilenet_v1: mobilenet_v1 version 3 records no training input"),
    ],
)
def test_anything_else_trains_and_says_why(last, settings, reason):
    judged = decision.last_judged([last], []) if last else None
    decided = decision.decide("mobilenet_v1", NOW, settings, judged)
    assert decided.train and decided.reason.startswith(reason)


def _publish(registry: Registry, folder: Path, labels: list[str]) -> None:
    tflite, labels_path = write_model_files(folder, b"m")
    labels_path.write_text("\n".join(labels) + "\n")
    weights = folder / "weights.h5"
    weights.write_bytes(b"float weights")
    registry.publish(
        "mobilenet_v1",
        str(tflite),
        str(labels_path),
        tflite_report(labels_count=len(labels)),
        extra_files={"weights": str(weights)},
    )


def test_the_check_hands_the_trainer_the_shipped_versions_weights_and_labels(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    assert new_data.registry_weights_record(
        registry, "mobilenet_v1", "production", "production", str(tmp_path / "out")
    )["reason"].startswith("nothing in the registry")
    _publish(registry, tmp_path / "a", ["bag", "coat"])
    _publish(registry, tmp_path / "b", ["bag", "coat", "eel"])
    registry.promote("mobilenet_v1", 1, "production")
    for weights, version in (("production", 1), ("version:2", 2), ("channel:production", 1)):
        folder = tmp_path / weights.replace(":", "_")
        record = new_data.registry_weights_record(registry, "mobilenet_v1", weights, "production", str(folder))
        (folder / warm_start.REGISTRY_WEIGHTS_RECORD).write_text(json.dumps(record))
        found, _ = warm_start.read_registry_weights(str(folder))
        assert record["version"] == version and Path(found.path).read_bytes() == b"float weights"
        assert found.labels == (("bag", "coat") if version == 1 else ("bag", "coat", "eel"))
    with pytest.raises(warm_start.WarmStartError, match="channel 'beta' of mobilenet_v1 is not set"):
        new_data.registry_weights_record(registry, "mobilenet_v1", "channel:beta", "production", str(tmp_path / "x"))
