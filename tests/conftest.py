"""Test set-up: legacy Keras (Keras 2) for TFX 1.16, quiet TensorFlow C++ logs, shared image fixtures."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402


def write_image_folder(root: Path, classes: dict[str, int], size: int = 20, seed: int = 0) -> Path:
    """Write `count` small PNGs per class under `root/<class>/`; class k is a distinct brightness pattern."""
    rng = np.random.default_rng(seed)
    for k, (name, count) in enumerate(sorted(classes.items())):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            base = np.full((size, size), 40 + 60 * k, dtype=np.float64)
            pixels = np.clip(base + rng.normal(0, 10, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / f"img_{i:03d}.png")
    return root


def invoke_tflite(path: Path) -> tuple[list[int], tuple[int, ...]]:
    """Load a `.tflite` file in the TFLite interpreter, run it once on zeros; (input shape, output shape)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    output = interpreter.get_output_details()[0]
    return list(detail["shape"]), interpreter.get_tensor(output["index"]).shape


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
