"""What ExampleValidator found against the curated schema, read from its anomalies artifact: one line per anomaly,
naming the split, the feature and what is wrong (the text TFDV gives)."""

from __future__ import annotations

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.components.example_validator.executor import DEFAULT_FILE_NAME as ANOMALIES_FILE
from tfx.types import artifact_utils

from components.registry.filesystems import filesystem_for


def read_split(path: str) -> anomalies_pb2.Anomalies:
    """The Anomalies proto ExampleValidator wrote at `path` (a split's `SchemaDiff.pb`)."""
    with filesystem_for(path).open(path, "rb") as handle:
        return anomalies_pb2.Anomalies.FromString(handle.read())


def describe(split: str, anomalies: anomalies_pb2.Anomalies) -> list[str]:
    """One split's anomalies as lines: `split train: feature 'label': Unexpected string values (Examples contain
    values missing from the schema: triangle (~33%).)`, and the dataset's own, if any."""
    lines = [
        f"split {split}: feature '{feature}': {info.short_description} ({info.description})"
        for feature, info in sorted(anomalies.anomaly_info.items())
    ]
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split {split}: dataset: {info.short_description} ({info.description})")
    return lines


def found(artifact: types.Artifact) -> list[str]:
    """Every anomaly ExampleValidator recorded in `artifact` (an ExampleAnomalies), split by split; empty when the
    data matched the schema."""
    return [
        line
        for split in artifact_utils.decode_split_names(artifact.split_names)
        for line in describe(
            split, read_split(os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE))
        )
    ]
