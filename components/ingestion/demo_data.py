"""Built-in real datasets that a package ships, written as `DIR/<label>/<file>.png` (no download).

- `fashion-mnist`: Zalando's Fashion-MNIST from Debian's `dataset-fashion-mnist` package (IDX files).
- `digits`: scikit-learn's bundled 8x8 handwritten digits, for machines where no system package can be installed.
"""
from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_LABELS = ("t-shirt top", "trouser", "pullover", "dress", "coat",
                        "sandal", "shirt", "sneaker", "bag", "ankle boot")
DIGIT_LABELS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DATASETS = ("fashion-mnist", "digits")


class DatasetUnavailable(RuntimeError):
    """The package that ships the dataset is not installed; the message says how to install it."""


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file as used by MNIST and Fashion-MNIST."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(source_dir: Path = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The 60,000 Fashion-MNIST training images (28x28 uint8), their labels and the class names."""
    images_path = source_dir / "train-images-idx3-ubyte.gz"
    labels_path = source_dir / "train-labels-idx1-ubyte.gz"
    if not images_path.exists() or not labels_path.exists():
        raise DatasetUnavailable(
            f"{source_dir}: Fashion-MNIST is not installed. Install Debian's package with "
            "`apt-get install dataset-fashion-mnist` (make setup does this where apt exists), "
            "or use `--dataset digits`, which scikit-learn ships.")
    return read_idx(images_path), read_idx(labels_path), FASHION_MNIST_LABELS


def load_digits() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """scikit-learn's 1,797 8x8 digits, scaled from 0..16 to 0..255 uint8."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.clip(np.rint(bunch.images * 255.0 / 16.0), 0, 255).astype(np.uint8)
    return images, bunch.target.astype(np.int64), DIGIT_LABELS


def pick_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` examples of every class (deterministic)."""
    chosen = [np.flatnonzero(labels == cls)[:per_class] for cls in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def write_dataset(output_dir: str | os.PathLike, dataset: str = "fashion-mnist", per_class: int = 300,
                  image_size: int | None = None) -> dict[str, int]:
    """Write `per_class` images of each class as PNGs under `output_dir/<label>/`; returns counts per label.
    `image_size` scales them up to that many pixels square (bilinear), e.g. to load ingestion like photos do.

    The folder is written beside its final place and renamed into it, so an interrupted run leaves nothing half-written.
    An existing non-empty `output_dir` is an error.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be at least 1, got {image_size}")
    target = Path(output_dir)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target}: folder exists and is not empty; choose a new folder or remove it")
    images, labels, names = load_fashion_mnist() if dataset == "fashion-mnist" else load_digits()
    indices = pick_per_class(labels, per_class)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    counts: dict[str, int] = {}
    try:
        for index in indices:
            name = names[int(labels[index])]
            folder = staging / name
            folder.mkdir(exist_ok=True)
            image = Image.fromarray(images[index], mode="L")
            if image_size:
                image = image.resize((image_size, image_size), Image.BILINEAR)
            image.save(folder / f"{dataset}-{index:05d}.png")
            counts[name] = counts.get(name, 0) + 1
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts
