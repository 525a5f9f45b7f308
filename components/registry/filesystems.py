"""Where the registry's files live, behind one interface: a local folder (os calls), Google Cloud Storage or S3
(`object_stores`, their own clients), or any other tf.io.gfile URL.

Every store the registry runs on has two atomic primitives, which concurrent writers rest on:
`create_if_absent(path, data)` (exactly one of concurrent creators of a name succeeds) and
`replace_if_unchanged(path, data, token)` (compare-and-swap against the token `read_versioned` returned). A local
folder has them through link(2) and rename(2) under an exclusive flock, plus what its versions are staged with: a
folder rename that fails when the target exists, and fsync. Other tf.io.gfile URLs (hdfs://, ram://...) have
neither primitive: they serve as files to read and as `registry pull` destinations, never as a registry root.
TensorFlow and the object stores' SDKs are imported only for paths that need them, so local commands start fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import os
import posixpath
import random
import shutil
import time
import uuid
from typing import IO, TYPE_CHECKING, Callable, Iterator, TypeAlias

from components.contracts import is_remote, url_parts

if TYPE_CHECKING:
    from components.registry.object_stores import ObjectStore

REGISTRY_STORES = (
    "a local folder, gs://BUCKET/PATH (Google Cloud Storage) or s3://BUCKET/PATH (Amazon S3, or an "
    "S3-compatible store with conditional writes)"
)
"""The roots a registry can have: stores with atomic create-if-absent and compare-and-swap."""
MAX_SWAP_ATTEMPTS = 50
_MAX_BACKOFF_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class StoredObject:
    """A file's bytes and the token `replace_if_unchanged` compares: its generation (GCS), ETag (S3) or sha256 (a
    local file)."""

    data: bytes
    token: str


class LocalFilesystem:
    """A local folder, with atomic directory commit, create-if-absent and compare-and-swap, fsync and locking."""

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def open(self, path: str, mode: str) -> IO:
        return open(path, mode)  # noqa: SIM115 - the caller closes it

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def listdir(self, path: str) -> list[str]:
        """Entry names of a folder; [] when it does not exist."""
        return os.listdir(path) if os.path.isdir(path) else []

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def age_seconds(self, path: str) -> float:
        return time.time() - os.path.getmtime(path)

    def sync(self, handle: IO) -> None:
        """Flush an open file to disk."""
        handle.flush()
        os.fsync(handle.fileno())

    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace `path` with `data` so that readers see the old or the new content, never a part."""
        self.replace(self.write_temporary(path, data), path)

    def write_temporary(self, path: str, data: bytes) -> str:
        """Write `data` to a hidden file beside `path` (`temporary_prefix(path)` + a random suffix), synced; its
        path. Nothing is left behind when the write fails."""
        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f"{temporary_prefix(os.path.basename(path))}{uuid.uuid4().hex}")
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                self.sync(handle)
        except BaseException:
            self.remove(temporary)
            raise
        return temporary

    def replace(self, temporary: str, path: str) -> None:
        """Move `temporary` over `path` in one step (rename(2)), durably."""
        os.replace(temporary, path)
        _sync_folder(os.path.dirname(path) or ".")

    def read_versioned(self, path: str) -> StoredObject | None:
        """The file's bytes with their sha256 as the token; None when there is no file."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        return StoredObject(data, hashlib.sha256(data).hexdigest())

    def create_if_absent(self, path: str, data: bytes) -> bool:
        """Write `data` as `path` only if nothing has that name: a complete temporary file is hard-linked to `path`
        (link(2) fails when the name exists). True if this call created it."""
        temporary = self.write_temporary(path, data)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        finally:
            self.remove(temporary)
        _sync_folder(os.path.dirname(path) or ".")
        return True

    def replace_if_unchanged(self, path: str, data: bytes, token: str | None) -> bool:
        """Replace `path` with `data` only if it still has `token` (None: only if there is no file), checked and
        replaced under an exclusive lock of the hidden file `.<name>.lock` beside it. False when another writer
        changed it first."""
        if token is None:
            return self.create_if_absent(path, data)
        folder, name = os.path.split(path)
        with self.lock(os.path.join(folder, f".{name}.lock")):
            current = self.read_versioned(path)
            if current is None or current.token != token:
                return False
            self.write_atomic(path, data)
        return True

    def commit_directory(self, staged: str, target: str) -> bool:
        """Rename the complete folder `staged` to `target` in one step; False when `target` is already taken."""
        try:
            os.rename(staged, target)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                return False
            raise
        _sync_folder(os.path.dirname(target))
        return True

    @contextlib.contextmanager
    def lock(self, path: str) -> Iterator[None]:
        """Hold an exclusive advisory lock on the file `path` (created if missing) across processes."""
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock


class GFileFilesystem:
    """Any other filesystem tf.io.gfile reads (hdfs://, ram://...): files to read and pull destinations, with no atomic
    create-if-absent nor compare-and-swap, so never a registry root."""

    def __init__(self) -> None:
        import tensorflow as tf

        self._gfile = tf.io.gfile

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def open(self, path: str, mode: str) -> IO:
        return self._gfile.GFile(path, mode)

    def exists(self, path: str) -> bool:
        return self._gfile.exists(path)

    def isdir(self, path: str) -> bool:
        return self._gfile.isdir(path)

    def listdir(self, path: str) -> list[str]:
        """Entry names of a folder (without the trailing '/' some stores add); [] when it does not exist."""
        if not self._gfile.isdir(path):
            return []
        return [name.rstrip("/") for name in self._gfile.listdir(path)]

    def makedirs(self, path: str) -> None:
        self._gfile.makedirs(path)

    def remove(self, path: str) -> None:
        if self._gfile.exists(path):
            self._gfile.remove(path)

    def sync(self, handle: IO) -> None:
        """Nothing to do: a remote file is stored when it is closed."""

    def write_temporary(self, path: str, data: bytes) -> str:
        """Write `data` to a hidden file beside `path` (`temporary_prefix(path)` + a random suffix); its path."""
        folder = posixpath.dirname(path)
        self._gfile.makedirs(folder)
        temporary = posixpath.join(folder, f"{temporary_prefix(posixpath.basename(path))}{uuid.uuid4().hex}")
        with self._gfile.GFile(temporary, "wb") as handle:
            handle.write(data)
        return temporary

    def replace(self, temporary: str, path: str) -> None:
        """Rename `temporary` over `path`."""
        self._gfile.rename(temporary, path, overwrite=True)


RegistryFilesystem: TypeAlias = "LocalFilesystem | ObjectStore"
"""A store a registry can have as its root."""
Filesystem: TypeAlias = "LocalFilesystem | ObjectStore | GFileFilesystem"


class SwapConflict(RuntimeError):
    """Other writers changed a file between every read and compare-and-swap of it."""


def swap(
    fs: RegistryFilesystem, path: str, change: Callable[[bytes | None], bytes | None]
) -> tuple[bytes | None, bytes | None]:
    """Replace the file `path` with `change(its bytes, None if absent)` by compare-and-swap, retried from a fresh
    read (after a random pause) while others write in between, so no writer's update is lost; (bytes read, bytes
    written), the latter None when `change` returns None (nothing to write). A write that the next read finds in
    place (its reply was lost, the client retried it) counts as done."""
    attempted: tuple[bytes | None, bytes] | None = None
    for attempt in range(MAX_SWAP_ATTEMPTS):
        stored = fs.read_versioned(path)
        before = stored.data if stored else None
        if attempted and before == attempted[1]:
            return attempted
        after = change(before)
        if after is None:
            return before, None
        if fs.replace_if_unchanged(path, after, stored.token if stored else None):
            return before, after
        attempted = before, after
        time.sleep(random.uniform(0, min(_MAX_BACKOFF_SECONDS, 0.01 * 2**attempt)))
    raise SwapConflict(f"{path} was changed by other writers at each of {MAX_SWAP_ATTEMPTS} attempts")


def create_or_own(fs: RegistryFilesystem, path: str, data: bytes) -> bool:
    """Create `path` with `data` if absent; also True when it already holds exactly `data` (this writer's own
    create, retried by the client after a lost reply: give unique `data`, e.g. with a random id)."""
    if fs.create_if_absent(path, data):
        return True
    stored = fs.read_versioned(path)
    return stored is not None and stored.data == data


def temporary_prefix(file_name: str) -> str:
    """How the temporary files written for `file_name` begin (hidden: readers never list them)."""
    return f".{file_name}.tmp-"


def filesystem_for(path: str) -> Filesystem:
    """The filesystem that holds `path`."""
    return registry_filesystem_for(path) or GFileFilesystem()


def registry_filesystem_for(root: str) -> RegistryFilesystem | None:
    """The store of a registry root; None for a URL whose store has no atomic create-if-absent and compare-and-swap
    (anything but a local folder, gs:// and s3://)."""
    if not is_remote(root):
        return LocalFilesystem()
    from components.registry import object_stores

    stores = {"gs": object_stores.GCSStore, "s3": object_stores.S3Store}
    store = stores.get(url_parts(root)[0])
    return store() if store else None


def _sync_folder(folder: str) -> None:
    """fsync a folder so a rename inside it survives a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
