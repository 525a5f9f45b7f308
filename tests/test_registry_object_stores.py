"""The registry's stores against real servers: a local folder, S3 (moto) and GCS (fake-gcs-server) through the
product's own clients. Each store's create-if-absent and compare-and-swap are enforced by the server, the file
operations the registry and `registry pull` use behave alike on all three, and any other root is refused."""

from __future__ import annotations

import concurrent.futures

import pytest

from components.registry.filesystems import (
    LocalFilesystem,
    create_or_own,
    filesystem_for,
    registry_filesystem_for,
    swap,
)
from components.registry.object_stores import GCSStore, ObjectStoreError, S3Store
from components.registry.store import Registry, RegistryError

WRITERS = 8


@pytest.fixture(params=["local", "s3", "gcs"])
def store_root(request, tmp_path) -> str:
    """A folder on a local disk, in a moto S3 bucket or in a fake-gcs-server bucket."""
    return str(tmp_path / "store") if request.param == "local" else request.getfixturevalue(f"{request.param}_root")


def test_each_root_gets_the_store_with_atomic_primitives():
    assert isinstance(registry_filesystem_for("/srv/registry"), LocalFilesystem)
    assert isinstance(registry_filesystem_for("gs://bucket/registry"), GCSStore)
    assert isinstance(registry_filesystem_for("s3://bucket/registry"), S3Store)
    assert registry_filesystem_for("hdfs://namenode/registry") is None


@pytest.mark.parametrize("root", ["hdfs://namenode/registry", "ram://registry", "az://container/registry"])
def test_a_root_without_atomic_primitives_is_refused_naming_it_and_what_is_supported(root):
    with pytest.raises(
        RegistryError,
        match=f"^registry {root}: .* has no atomic create-if-absent and "
        "compare-and-swap.*a registry root is a local folder, gs://BUCKET/PATH "
        r"\(Google Cloud Storage\) or s3://BUCKET/PATH",
    ):
        Registry(root)


def test_create_if_absent_lets_exactly_one_of_concurrent_creators_win(store_root):
    fs = filesystem_for(store_root)
    path = fs.join(store_root, "model", "1", ".claim")

    def create(writer: int) -> bool:
        return fs.create_if_absent(path, f"writer {writer}".encode())

    with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
        won = list(pool.map(create, range(WRITERS)))
    assert won.count(True) == 1
    assert fs.read_versioned(path).data == f"writer {won.index(True)}".encode()
    assert fs.create_if_absent(path, b"late") is False


def test_replace_if_unchanged_is_a_compare_and_swap(store_root):
    fs = filesystem_for(store_root)
    path = fs.join(store_root, "model", "channels", "production.json")
    assert fs.read_versioned(path) is None
    assert fs.replace_if_unchanged(path, b"v1", None) is True  # None: only if absent
    assert fs.replace_if_unchanged(path, b"v1 again", None) is False
    first = fs.read_versioned(path)
    assert first.data == b"v1"
    assert fs.replace_if_unchanged(path, b"v2", first.token) is True
    assert fs.replace_if_unchanged(path, b"v3 from a stale read", first.token) is False
    second = fs.read_versioned(path)
    assert second.data == b"v2" and second.token != first.token


def test_a_create_whose_reply_was_lost_is_recognised_as_its_own(store_root):
    """A client that retries a create after a lost reply finds the object there: it is its own if the bytes are."""
    fs = filesystem_for(store_root)
    path = fs.join(store_root, "model", "1", ".claim")
    assert create_or_own(fs, path, b'{"claim_id": "a"}') is True
    assert create_or_own(fs, path, b'{"claim_id": "a"}') is True  # the retry of the same create
    assert create_or_own(fs, path, b'{"claim_id": "b"}') is False  # another writer's


def test_swap_writes_what_the_change_derives_and_leaves_the_file_when_it_returns_none(store_root):
    fs = filesystem_for(store_root)
    path = fs.join(store_root, "index.json")
    assert swap(fs, path, lambda data: b"1" if data is None else None) == (None, b"1")
    assert swap(fs, path, lambda data: data + b"2") == (b"1", b"12")
    assert swap(fs, path, lambda data: None) == (b"12", None)
    assert fs.read_versioned(path).data == b"12"


def test_concurrent_compare_and_swap_increments_lose_no_update(store_root):
    fs = filesystem_for(store_root)
    path = fs.join(store_root, "counter")
    fs.write_atomic(path, b"0")

    def increment(_: int) -> int:
        attempts = 0
        while True:
            attempts += 1
            stored = fs.read_versioned(path)
            if fs.replace_if_unchanged(path, str(int(stored.data) + 1).encode(), stored.token):
                return attempts

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        attempts = list(pool.map(increment, range(4 * 5)))
    assert fs.read_versioned(path).data == b"20"
    assert sum(attempts) >= 20


def test_files_and_folders_behave_alike_on_every_store(store_root):
    fs = filesystem_for(store_root)
    folder = fs.join(store_root, "model", "1")
    assert not fs.isdir(store_root) and fs.listdir(folder) == []
    fs.makedirs(folder)
    with fs.open(fs.join(folder, "model.tflite"), "wb") as handle:
        handle.write(b"part one, ")
        handle.write(b"part two")
    fs.write_atomic(fs.join(folder, "labels.txt"), b"cat\n")
    fs.write_atomic(fs.join(store_root, "model", "channels", "production.json"), b"{}")
    assert fs.isdir(store_root) and fs.isdir(folder) and not fs.isdir(fs.join(folder, "model.tflite"))
    assert sorted(fs.listdir(fs.join(store_root, "model"))) == ["1", "channels"]
    assert sorted(fs.listdir(folder)) == ["labels.txt", "model.tflite"]
    assert fs.exists(fs.join(folder, "labels.txt")) and not fs.exists(fs.join(folder, "manifest.json"))
    with fs.open(fs.join(folder, "model.tflite"), "rb") as handle:
        assert handle.read(4) == b"part" and handle.read() == b" one, part two"

    temporary = fs.write_temporary(fs.join(folder, "labels.txt"), b"dog\n")
    assert sorted(fs.listdir(folder))[0].startswith(".labels.txt.tmp-")
    fs.replace(temporary, fs.join(folder, "labels.txt"))
    assert fs.read_versioned(fs.join(folder, "labels.txt")).data == b"dog\n"
    assert sorted(fs.listdir(folder)) == ["labels.txt", "model.tflite"]
    fs.remove(fs.join(folder, "labels.txt"))
    fs.remove(fs.join(folder, "labels.txt"))  # removing what is gone is no error
    assert fs.listdir(folder) == ["model.tflite"]


def test_a_write_that_fails_half_way_stores_nothing(store_root):
    fs = filesystem_for(store_root)
    path = fs.join(store_root, "model", "1", "model.tflite")
    fs.makedirs(fs.join(store_root, "model", "1"))
    with pytest.raises(OSError, match="source gone"), fs.open(path, "wb") as handle:
        handle.write(b"half")
        raise OSError("source gone")
    if not isinstance(fs, LocalFilesystem):  # a local file is written as it goes; the registry stages it
        assert not fs.exists(path)


def test_store_errors_name_the_object(object_store_root):
    fs = filesystem_for(object_store_root)
    missing_bucket = object_store_root.replace("registry-", "no-such-bucket-", 1)
    with pytest.raises(ObjectStoreError, match=f"^{missing_bucket.split('/registry')[0]}/registry/x: "):
        fs.write_atomic(fs.join(missing_bucket, "x"), b"data")
    with pytest.raises(FileNotFoundError, match=f"^{object_store_root}/absent: no such object"):
        fs.open(fs.join(object_store_root, "absent"), "rb")
