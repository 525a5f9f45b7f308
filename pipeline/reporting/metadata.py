"""A run home's ML Metadata (sqlite), opened read-only: the one reader of the run summary and the benchmark."""

from __future__ import annotations

import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """The ML Metadata store in the sqlite file `metadata_path`, read-only."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def component_of(uri: str, pipeline_root: str) -> str:
    """The id of the node that wrote the artifact at `uri` (its first folder under the pipeline root)."""
    return os.path.relpath(uri, pipeline_root).split(os.sep, 1)[0]
