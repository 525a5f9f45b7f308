"""Where the registry's files live: a local folder (os calls, with atomic primitives) or any tf.io.gfile URL.

Local roots get what the registry's guarantees rest on: rename(2) of a staged folder that fails when the target
exists, atomic replacement of a file (temporary file + rename), fsync, and an exclusive flock. Remote roots
(gs://, s3://, hdfs://...) have none of these; there the registry relies on single-object writes being atomic
(see `store`). TensorFlow is imported only for remote paths, so local registry commands start fast.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import posixpath
import shutil
import time
import uuid
from typing import IO, Iterator

from components.contracts import is_remote


class LocalFilesystem:
    """A local folder, with atomic directory commit and file replacement, fsync and locking."""

    atomic_commit = True

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
    """Any filesystem tf.io.gfile reads: no atomic rename of folders, no locks; single-object writes are atomic."""

    atomic_commit = False

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

    def remove_tree(self, path: str) -> None:
        if self._gfile.exists(path):
            self._gfile.rmtree(path)

    def sync(self, handle: IO) -> None:
        """Nothing to do: a remote object is stored when its file is closed."""

    def write_atomic(self, path: str, data: bytes) -> None:
        """Write a temporary object, then rename it over `path`: on object stores (GCS, S3) the rename is one
        server-side copy, which replaces the object whole; on HDFS it is an atomic rename."""
        self.replace(self.write_temporary(path, data), path)

    def write_temporary(self, path: str, data: bytes) -> str:
        """Write `data` to a hidden object beside `path` (`temporary_prefix(path)` + a random suffix); its path."""
        folder = posixpath.dirname(path)
        self._gfile.makedirs(folder)
        temporary = posixpath.join(folder, f"{temporary_prefix(posixpath.basename(path))}{uuid.uuid4().hex}")
        with self._gfile.GFile(temporary, "wb") as handle:
            handle.write(data)
        return temporary

    def replace(self, temporary: str, path: str) -> None:
        """Rename `temporary` over `path` (one server-side copy on object stores)."""
        self._gfile.rename(temporary, path, overwrite=True)

    @contextlib.contextmanager
    def lock(self, path: str) -> Iterator[None]:
        """No cross-process lock on remote roots: concurrent writers of one file are last-writer-wins."""
        yield


Filesystem = LocalFilesystem | GFileFilesystem


def temporary_prefix(file_name: str) -> str:
    """How the temporary files written for `file_name` begin (hidden: readers never list them)."""
    return f".{file_name}.tmp-"


def filesystem_for(path: str) -> Filesystem:
    """The filesystem that holds `path`."""
    return GFileFilesystem() if is_remote(path) else LocalFilesystem()


def _sync_folder(folder: str) -> None:
    """fsync a folder so a rename inside it survives a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
