"""Artifact locations as they may leave this machine (in report.json and registry manifests): remote URLs as they
are, local paths without the folders of the machine that ran the pipeline.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from components.contracts import is_remote

ARTIFACT_PATH_PARTS = 3  # TFX writes artifacts to <pipeline root>/<component id>/<output key>/<execution id>


def portable_uri(uri: str) -> str:
    """`uri` unchanged when remote; a local artifact path reduced to its place under the pipeline root,
    `<component id>/<output key>/<execution id>` (e.g. `Transform/transformed_examples/7`)."""
    if is_remote(uri):
        return uri
    parts = [part for part in PurePosixPath(uri).parts if part not in ("/", "")]
    return "/".join(parts[-ARTIFACT_PATH_PARTS:])


def portable_examples_reference(source: Any) -> Any:
    """A `source_examples` value ({"uri", "span"} or a bare URI string) with its URI made portable."""
    if isinstance(source, str):
        return portable_uri(source)
    if isinstance(source, dict) and isinstance(source.get("uri"), str):
        return {**source, "uri": portable_uri(source["uri"])}
    return source
