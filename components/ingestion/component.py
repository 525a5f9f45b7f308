"""`ImageFolderExampleGen`: TFX's file-based ExampleGen with this package's executor (`executor.py`) and driver
(`driver.py`)."""

from __future__ import annotations

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.ingestion.driver import ImageFolderDriver
from components.ingestion.executor import ImageFolderExecutor


class ImageFolderExampleGen(FileBasedExampleGen):
    """Ingests `ROOT/<label>/<image>` (or `ROOT/<span>/<label>/<image>`) folders into tf.Examples."""

    DRIVER_CLASS = ImageFolderDriver
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(ImageFolderExecutor)
