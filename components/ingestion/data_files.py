"""Listing a data root: Python's `os` and `glob` on this machine, `tf.io.gfile` for URLs (gs://, s3://).

A file name on Linux can be any bytes. `tf.io.gfile` decodes and encodes names as strict UTF-8, so one folder whose
name is not UTF-8 made every listing of the root fail (UnicodeDecodeError). Python's own functions give such bytes
as surrogates, so the folder's files are listed, and ingestion reports each of them as a bad file, named by
`readable_name`. Object-store names are UTF-8 by the stores' own rules.
"""

from __future__ import annotations

import glob as local_glob
import os

from components.contracts import is_remote


def readable_name(path: str) -> str:
    """`path` as text that any UTF-8 writer accepts: unchanged when it is UTF-8, else with each byte that is not
    written `\\xNN` (e.g. `caf\\xe9/0001.jpg` for a Latin-1 folder name)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_utf8(path: str) -> bool:
    """Whether the file name `path` (as `os` gives it) is UTF-8."""
    return readable_name(path) == path


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def listdir(path: str) -> list[str]:
    """The names in the folder `path`."""
    return _gfile().listdir(path) if is_remote(path) else os.listdir(path)


def isdir(path: str) -> bool:
    """Whether `path` is a folder."""
    return _gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def glob(pattern: str) -> list[str]:
    """The paths that match `pattern` (`*` within one path component; names starting with a dot match only
    locally when the pattern spells the dot)."""
    return _gfile().glob(pattern) if is_remote(pattern) else local_glob.glob(pattern)


def read(path: str) -> bytes:
    """The bytes of the file at `path`."""
    with _gfile().GFile(path, "rb") if is_remote(path) else open(path, "rb") as handle:
        return handle.read()


def stat(path: str) -> tuple[int, int]:
    """The size in bytes and the modification time in whole seconds of the file at `path`."""
    if is_remote(path):
        found = _gfile().stat(path)
        return found.length, found.mtime_nsec // 1_000_000_000
    found = os.stat(path)
    return found.st_size, found.st_mtime_ns // 1_000_000_000
