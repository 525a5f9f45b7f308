"""Run the pipeline on this machine: LocalDagRunner, Beam DirectRunner, sqlite ML Metadata under the run home."""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from components.contracts import is_remote
from pipeline.config import Config


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Where a local run keeps its artifacts, metadata and logs."""

    home: Path

    @property
    def pipeline_root(self) -> str:
        """Root of every component's output artifacts."""
        return str(self.home / "pipeline_root")

    @property
    def metadata(self) -> str:
        """The sqlite ML Metadata database."""
        return str(self.home / "metadata.sqlite")

    def new_log(self) -> str:
        """A fresh log file for TFX, Beam and TensorFlow output of one run."""
        return str(self.home / "logs" / time.strftime("run-%Y%m%d-%H%M%S.log"))


def absolute(path: str) -> str:
    """Local paths made absolute (artifacts and ML Metadata outlive the working directory); URLs unchanged."""
    return path if is_remote(path) else os.path.abspath(os.path.expanduser(path))


def localize(config: Config) -> RunPaths:
    """Make the config's local paths absolute and return the run's paths."""
    config.data.root = absolute(config.data.root)
    config.registry.root = absolute(config.registry.root)
    config.pipeline.home = absolute(config.pipeline.home)
    return RunPaths(Path(config.pipeline.home))


def run_pipeline(config: Config, paths: RunPaths, example_count: int | None = None) -> None:
    """Assemble the pipeline with `create_pipeline` and run it to the end with LocalDagRunner (`example_count`, the
    images in the data folder when known, picks the DirectRunner's mode in `auto`)."""
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    paths.home.mkdir(parents=True, exist_ok=True)
    pipeline = create_pipeline(
        config,
        pipeline_root=paths.pipeline_root,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata),
        example_count=example_count,
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
