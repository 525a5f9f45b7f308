"""Pipeline components: ingestion, Transform preprocessing, Trainer modules, TFLite and registry."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

PROGRESS_LOGGER = "mobilenet.progress"
"""Logger whose INFO messages (training epochs, validation summaries) the CLI shows on the terminal."""
