"""Small JSON records beside artifacts (what a step found or did), read and written on any tf.io.gfile path."""

from __future__ import annotations

import json
from typing import Any


def read_optional(path: str) -> Any | None:
    """The JSON document at `path`, None when there is no such file."""
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def write(path: str, document: Any) -> None:
    """Write `document` as indented JSON (non-ASCII kept as it is) at `path`, creating its folder."""
    import os

    import tensorflow as tf

    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
