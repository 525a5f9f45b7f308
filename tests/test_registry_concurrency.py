"""Concurrent pushers and promoters on every store the registry supports: a local folder, S3 (moto) and GCS
(fake-gcs-server), each writer a separate process released at one barrier. Every push gets a version of its own
whose files are its own, and no channel move or index rewrite is lost. A pusher paused between choosing its
version and its first write there (a slow network, a long pause) still does not share that version."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from components.registry.store import Registry
from tests.helpers import SPAWN, TFLITE_HEADER, publish_files, write_model_files
from tests.object_store_servers import MODEL_FILE_WRITES, VERSION_FOLDER_WRITES, HoldingProxy

PUSHERS = 5
JOIN_SECONDS = 180


@pytest.fixture(params=["local", "s3", "gcs"])
def registry_root(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "registry")
    return request.getfixturevalue(f"{request.param}_root")


# Child processes (spawned: importable module-level functions)


def _publish_after_barrier(root: str, source: str, payload: bytes, barrier, results) -> None:
    barrier.wait(timeout=60)
    version = publish_files(Registry(root), Path(source), payload)
    results.put((version.version, version.sha256))


def _publish_via(endpoint: str, root: str, source: str, payload: bytes, results) -> None:
    """Publish with every S3 request sent to `endpoint`."""
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    version = publish_files(Registry(root), Path(source), payload)
    results.put((version.version, version.sha256))


def _promote_after_barrier(root: str, version: int, channels: tuple[str, ...], barrier) -> None:
    registry = Registry(root)
    barrier.wait(timeout=60)
    for channel in channels:
        registry.promote("mobilenet_v1", version, channel)


def _run_all(processes: list) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=JOIN_SECONDS)
    assert [process.exitcode for process in processes] == [0] * len(processes)


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(TFLITE_HEADER + payload).hexdigest()


# Tests


def test_concurrent_pushes_get_distinct_complete_verifiable_versions(registry_root, tmp_path):
    barrier, results = SPAWN.Barrier(PUSHERS), SPAWN.Queue()
    payloads = [f"model from pusher {i}".encode() for i in range(PUSHERS)]
    for i, payload in enumerate(payloads):
        write_model_files(tmp_path / f"src{i}", payload)
    _run_all(
        [
            SPAWN.Process(
                target=_publish_after_barrier,
                args=(registry_root, str(tmp_path / f"src{i}"), payload, barrier, results),
            )
            for i, payload in enumerate(payloads)
        ]
    )

    published = dict(results.get(timeout=5) for _ in payloads)
    assert sorted(published) == list(range(1, PUSHERS + 1))
    assert sorted(published.values()) == sorted(_sha256(payload) for payload in payloads)
    registry = Registry(registry_root)
    for version, sha256 in published.items():
        assert registry.verify("mobilenet_v1", version).sha256 == sha256  # its own files, complete
    index = registry.read_index()["models"]["mobilenet_v1"]
    assert [(entry["version"], entry["sha256"]) for entry in index["versions"]] == sorted(published.items())


def test_concurrent_promotes_lose_no_channel_move_and_no_index_update(registry_root, tmp_path):
    registry = Registry(registry_root)
    for i in range(PUSHERS):
        publish_files(registry, tmp_path / f"src{i}", f"model {i}".encode())
    barrier = SPAWN.Barrier(PUSHERS)
    _run_all(
        [
            SPAWN.Process(
                target=_promote_after_barrier, args=(registry_root, version, ("production", f"team-{version}"), barrier)
            )
            for version in range(1, PUSHERS + 1)
        ]
    )

    production = registry.channels("mobilenet_v1")["production"]
    served = [entry.version for entry in (*production.history, production.current)]
    assert sorted(served) == list(range(1, PUSHERS + 1))  # every move is in the pointer's history, once
    expected = {"production": production.version, **{f"team-{v}": v for v in range(1, PUSHERS + 1)}}
    assert {name: pointer.version for name, pointer in registry.channels("mobilenet_v1").items()} == expected
    index = registry.read_index()["models"]["mobilenet_v1"]
    assert {name: entry["version"] for name, entry in index["channels"].items()} == expected
    assert len(index["versions"]) == PUSHERS


def test_a_pusher_paused_after_choosing_its_version_does_not_share_it(s3_root, s3_server, tmp_path):
    """Pusher A chooses version 1 and pauses before its first write into it; pusher B takes version 1 meanwhile
    and pauses while writing its model file; A goes on to the end, then B. (Each pauses at a loopback proxy that
    holds its writes.) Each version must hold its own pusher's files."""
    payloads = {"a": b"pusher A's model", "b": b"pusher B's model"}
    results = {name: SPAWN.Queue() for name in payloads}
    for name, payload in payloads.items():
        write_model_files(tmp_path / name, payload)
    with (
        HoldingProxy(s3_server.endpoint, VERSION_FOLDER_WRITES) as proxy_a,
        HoldingProxy(s3_server.endpoint, MODEL_FILE_WRITES) as proxy_b,
    ):
        pushers = {
            name: SPAWN.Process(
                target=_publish_via, args=(proxy.endpoint, s3_root, str(tmp_path / name), payloads[name], results[name])
            )
            for name, proxy in (("a", proxy_a), ("b", proxy_b))
        }
        try:
            pushers["a"].start()
            assert proxy_a.held.wait(timeout=60), "pusher A never wrote into a version folder"
            pushers["b"].start()
            assert proxy_b.held.wait(timeout=60), "pusher B never wrote its model file"
            for name, proxy in (("a", proxy_a), ("b", proxy_b)):
                proxy.release()
                pushers[name].join(timeout=JOIN_SECONDS)
                assert pushers[name].exitcode == 0, f"pusher {name} failed"
        finally:
            for pusher in pushers.values():
                if pusher.is_alive():
                    pusher.kill()
                    pusher.join(timeout=10)

    published = {name: queue.get(timeout=5) for name, queue in results.items()}
    registry = Registry(s3_root)
    for name, (version, sha256) in published.items():
        assert sha256 == _sha256(payloads[name])
        assert registry.verify("mobilenet_v1", version).sha256 == sha256
    assert (published["b"][0], published["a"][0]) == (1, 2)
