"""The model registry on real folders: versions, atomic and concurrent publishes, index, channels, names."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

import pytest

from components.registry import store
from components.registry.filesystems import filesystem_for
from components.registry.names import InvalidName
from components.registry.store import IntegrityError, Registry, RegistryError, VersionNotFound
from tests.helpers import (
    SPAWN,
    TFLITE_HEADER,
    kill_at_commit,
    publish_files,
    signal_and_hang,
    tflite_report,
    write_model_files,
)


def numbered_folders(model_dir: Path) -> list[str]:
    return sorted(path.name for path in model_dir.iterdir() if path.name.isdigit())


# Child processes (spawned: importable module-level functions)


def _publish_and_hang_before_commit(root: str, source: str, started) -> None:
    registry = Registry(root, before_commit=functools.partial(signal_and_hang, started))
    publish_files(registry, Path(source), b"never committed")


_waited_at_barrier = False


def _wait_at_barrier_once(barrier, staged_folder: str) -> None:
    """Hold every publisher after staging, with the same version in its manifest, so the renames race."""
    global _waited_at_barrier
    if not _waited_at_barrier:
        _waited_at_barrier = True
        barrier.wait(timeout=60)


def _publish_concurrently(root: str, source: str, payload: bytes, barrier, results) -> None:
    registry = Registry(root, before_commit=functools.partial(_wait_at_barrier_once, barrier))
    version = publish_files(registry, Path(source), payload)
    results.put((version.version, version.sha256))


# Tests


def test_publish_twice_gives_versions_1_and_2_with_full_manifests_and_index(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    first = publish_files(registry, tmp_path / "a", b"first model")
    second = publish_files(registry, tmp_path / "b", b"second model, larger")

    assert (first.version, second.version) == (1, 2)
    assert [version.version for version in registry.versions("mobilenet_v1")] == [1, 2]
    assert registry.latest_version("mobilenet_v1") == 2
    folder = tmp_path / "registry" / "mobilenet_v1" / "2"
    assert sorted(path.name for path in folder.iterdir()) == ["labels.txt", "manifest.json", "model.tflite"]
    manifest = json.loads((folder / "manifest.json").read_text())
    for field in (
        "model_name",
        "version",
        "architecture",
        "quantization",
        "size_bytes",
        "sha256",
        "tflite_accuracy",
        "float_accuracy",
        "latency_ms",
        "input_shape",
        "labels_count",
        "created_at",
        "pipeline_run_id",
        "source_examples",
    ):
        assert field in manifest, field
    model_bytes = (folder / "model.tflite").read_bytes()
    assert manifest["sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert manifest["size_bytes"] == len(model_bytes) == len(TFLITE_HEADER + b"second model, larger")
    assert manifest["labels_sha256"] == hashlib.sha256((folder / "labels.txt").read_bytes()).hexdigest()
    assert (manifest["model_name"], manifest["version"], manifest["pipeline_run_id"]) == ("mobilenet_v1", 2, "run-1")
    assert manifest["created_at"].endswith("Z") and manifest["latency_ms"]["median"] == 4.2

    index = json.loads((tmp_path / "registry" / "index.json").read_text())
    model = index["models"]["mobilenet_v1"]
    assert model["latest_version"] == 2
    assert [(entry["version"], entry["sha256"], entry["model_file"]) for entry in model["versions"]] == [
        (1, first.sha256, "mobilenet_v1/1/model.tflite"),
        (2, second.sha256, "mobilenet_v1/2/model.tflite"),
    ]
    assert registry.read_index() == index


def test_publish_carries_the_report_files_and_lists_them_in_the_manifest(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    tflite, labels = write_model_files(tmp_path / "src")
    (tmp_path / "src" / "report.md").write_text("# mobilenet_v1\n")
    (tmp_path / "src" / "report.png").write_bytes(b"\x89PNG picture")
    extras = {"report": str(tmp_path / "src" / "report.md"), "report_picture": str(tmp_path / "src" / "report.png")}
    version = registry.publish("mobilenet_v1", str(tflite), str(labels), tflite_report(), extra_files=extras)
    folder = tmp_path / "registry" / "mobilenet_v1" / "1"
    assert (folder / "report.md").read_text() == "# mobilenet_v1\n"
    assert (folder / "report.png").read_bytes() == b"\x89PNG picture"
    assert version.manifest["files"] == {
        "model": "model.tflite",
        "labels": "labels.txt",
        "report": "report.md",
        "report_picture": "report.png",
    }
    with pytest.raises(RegistryError, match="clashes with a version file"):
        registry.publish("mobilenet_v1", str(tflite), str(labels), tflite_report(), extra_files={"x": str(labels)})
    assert [v.version for v in registry.versions("mobilenet_v1")] == [1]


def test_publish_refuses_a_non_tflite_file_mismatched_labels_and_missing_fields(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    tflite, labels = write_model_files(tmp_path / "src")
    not_tflite = tmp_path / "model.h5"
    not_tflite.write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 32)
    with pytest.raises(RegistryError, match="not a TFLite model"):
        registry.publish("mobilenet_v1", str(not_tflite), str(labels), tflite_report())
    with pytest.raises(RegistryError, match="has 3 labels but the model has labels_count=10"):
        registry.publish("mobilenet_v1", str(tflite), str(labels), tflite_report(labels_count=10))
    incomplete = {key: value for key, value in tflite_report().items() if key not in ("sha256", "float_accuracy")}
    with pytest.raises(RegistryError, match="missing: float_accuracy"):
        registry.publish("mobilenet_v1", str(tflite), str(labels), incomplete)
    assert registry.list_models() == []


def test_push_killed_while_staging_leaves_no_readable_version(tmp_path):
    root = tmp_path / "registry"
    write_model_files(tmp_path / "src", b"never committed")
    kill_at_commit(_publish_and_hang_before_commit, (str(root), str(tmp_path / "src")))

    model_dir = root / "mobilenet_v1"
    leftovers = [path for path in model_dir.iterdir() if path.name.startswith(store.STAGING_PREFIX)]
    assert len(leftovers) == 1 and (leftovers[0] / "model.tflite").exists()  # the killed push got that far
    registry = Registry(str(root))
    assert numbered_folders(model_dir) == []
    assert registry.list_models() == [] and registry.versions("mobilenet_v1") == []
    with pytest.raises(VersionNotFound):
        registry.show("mobilenet_v1")

    fresh = publish_files(Registry(str(root), stale_staging_seconds=0), tmp_path / "next", b"the next model")
    assert fresh.version == 1 and fresh.sha256 == hashlib.sha256(TFLITE_HEADER + b"the next model").hexdigest()
    assert sorted(path.name for path in model_dir.iterdir()) == ["1"]  # the stale staging folder is gone
    assert [entry["version"] for entry in registry.read_index()["models"]["mobilenet_v1"]["versions"]] == [1]


def test_concurrent_publishes_get_distinct_complete_versions(tmp_path):
    root, publishers = tmp_path / "registry", 5
    barrier, results = SPAWN.Barrier(publishers), SPAWN.Queue()
    payloads = [f"model from publisher {i}".encode() for i in range(publishers)]
    for i, payload in enumerate(payloads):
        write_model_files(tmp_path / f"src{i}", payload)
    processes = [
        SPAWN.Process(
            target=_publish_concurrently, args=(str(root), str(tmp_path / f"src{i}"), payload, barrier, results)
        )
        for i, payload in enumerate(payloads)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * publishers

    published = sorted(results.get(timeout=5) for _ in processes)
    assert [version for version, _ in published] == [1, 2, 3, 4, 5]
    expected = {hashlib.sha256(TFLITE_HEADER + payload).hexdigest() for payload in payloads}
    assert {sha256 for _, sha256 in published} == expected
    registry = Registry(str(root))
    for version in registry.versions("mobilenet_v1"):
        assert registry.verify("mobilenet_v1", version.version).sha256 == dict(published)[version.version]
    assert sorted(path.name for path in (root / "mobilenet_v1").iterdir()) == ["1", "2", "3", "4", "5"]
    assert len(registry.read_index()["models"]["mobilenet_v1"]["versions"]) == publishers


def test_promote_checks_sha256_and_rollback_restores_the_previous_version(tmp_path):
    root = tmp_path / "registry"
    registry = Registry(str(root))
    for i in range(3):
        publish_files(registry, tmp_path / f"src{i}", f"model {i}".encode())

    registry.promote("mobilenet_v1", 1, "production")
    registry.promote("mobilenet_v1", 2, "production")
    pointer = registry.promote("mobilenet_v1", 3, "production")
    assert pointer.version == 3 and [entry.version for entry in pointer.history] == [1, 2]
    channel_file = json.loads((root / "mobilenet_v1" / "channels" / "production.json").read_text())
    assert (channel_file["version"], channel_file["sha256"]) == (3, registry.show("mobilenet_v1", 3).sha256)
    assert channel_file["promoted_at"].endswith("Z")

    assert registry.rollback("mobilenet_v1", "production").version == 2
    assert registry.channels("mobilenet_v1")["production"].version == 2
    assert registry.read_index()["models"]["mobilenet_v1"]["channels"]["production"]["version"] == 2
    assert registry.rollback("mobilenet_v1", "production").version == 1
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("mobilenet_v1", "production")
    with pytest.raises(RegistryError, match="is not set"):
        registry.rollback("mobilenet_v1", "staging")

    tampered = root / "mobilenet_v1" / "3" / "model.tflite"
    tampered.write_bytes(tampered.read_bytes() + b"!")
    with pytest.raises(IntegrityError, match="model.tflite has sha256 .* but the manifest says"):
        registry.promote("mobilenet_v1", 3, "staging")
    assert "staging" not in registry.channels("mobilenet_v1")
    with pytest.raises(VersionNotFound, match="no version 9"):
        registry.promote("mobilenet_v1", 9, "staging")


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "..", "Upper", "", "a\\b"])
def test_model_and_channel_names_are_validated(tmp_path, bad):
    registry = Registry(str(tmp_path / "registry"))
    publish_files(registry, tmp_path / "src", b"model")
    tflite, labels = write_model_files(tmp_path / "src")
    with pytest.raises(InvalidName, match=re.escape(f"invalid model name {bad!r}")):
        registry.publish(bad, str(tflite), str(labels), tflite_report())
    with pytest.raises(InvalidName, match="invalid model name"):
        registry.show(bad)
    with pytest.raises(InvalidName, match=re.escape(f"invalid channel {bad!r}")):
        registry.promote("mobilenet_v1", 1, bad)
    with pytest.raises(InvalidName, match="invalid channel"):
        registry.rollback("mobilenet_v1", bad)
    assert not (tmp_path / "x").exists() and not (tmp_path / "registry" / "mobilenet_v1" / "channels").exists()


def test_object_store_root_claims_each_version_and_writes_its_manifest_last(object_store_root, tmp_path):
    root = object_store_root
    seen_before_commit = []
    registry = Registry(
        root,
        before_commit=lambda folder: seen_before_commit.append(
            (folder, filesystem_for(folder).exists(f"{folder}/model.tflite"), registry.versions("mobilenet_v1"))
        ),
    )
    first = publish_files(registry, tmp_path / "a", b"first")
    second = publish_files(registry, tmp_path / "b", b"second")

    assert (first.version, second.version) == (1, 2) and first.path == f"{root}/mobilenet_v1/1"
    folder, model_written, visible = seen_before_commit[0]
    assert folder == f"{root}/mobilenet_v1/1" and model_written and visible == []  # no manifest yet: not listed
    fs = filesystem_for(root)
    claim = json.loads(fs.read_versioned(f"{folder}/{store.CLAIM_FILE}").data)
    assert claim["pipeline_run_id"] == "run-1" and claim["claimed_at"].endswith("Z")
    assert registry.promote("mobilenet_v1", 2, "production").version == 2
    assert registry.read_index()["models"]["mobilenet_v1"]["channels"]["production"]["version"] == 2
    assert [summary.versions for summary in registry.list_models()] == [(1, 2)]
    assert registry.promote("mobilenet_v1", 1, "production").history[-1].version == 2
    assert registry.rollback("mobilenet_v1", "production").version == 2
    assert registry.channels("mobilenet_v1")["production"].history == ()


def test_a_push_killed_on_an_object_store_leaves_no_version_and_its_number_is_not_reused(object_store_root, tmp_path):
    write_model_files(tmp_path / "src", b"never committed")
    kill_at_commit(_publish_and_hang_before_commit, (object_store_root, str(tmp_path / "src")))

    fs = filesystem_for(object_store_root)
    assert sorted(fs.listdir(f"{object_store_root}/mobilenet_v1/1")) == [
        store.CLAIM_FILE,
        "labels.txt",
        "model.tflite",
    ]  # the killed push got that far
    registry = Registry(object_store_root)
    assert registry.list_models() == [] and registry.versions("mobilenet_v1") == []
    fresh = publish_files(registry, tmp_path / "next", b"the next model")
    assert fresh.version == 2 and registry.verify("mobilenet_v1", 2).sha256 == fresh.sha256
    assert [entry["version"] for entry in registry.read_index()["models"]["mobilenet_v1"]["versions"]] == [2]
