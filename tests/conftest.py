"""Test set-up: legacy Keras (Keras 2) for TFX 1.16, quiet TensorFlow C++ logs, shared fixtures (the shared
plain helpers are in `tests/helpers.py`; the object-store servers' fixtures in `tests/object_store_servers.py`)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers import write_image_folder  # noqa: E402
from tests.object_store_servers import gcs_root, gcs_server, object_store_root, s3_root, s3_server  # noqa: E402, F401


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three classes of 12 greyscale PNGs each."""
    return write_image_folder(tmp_path / "images", {"cat": 12, "dog": 12, "ankle boot": 12})


def pytest_configure(config):
    """The `slow` marker (`make test-quick` leaves those tests out); third-party deprecation noise (kfp,
    google-api-core, TF) is not this project's to fix."""
    config.addinivalue_line("markers", "slow: runs whole pipelines or trains for minutes (left out by make test-quick)")
    for category in ("DeprecationWarning", "FutureWarning", "PendingDeprecationWarning", "UserWarning"):
        config.addinivalue_line("filterwarnings", f"ignore::{category}")
