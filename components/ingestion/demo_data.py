"""Built-in real datasets that a package ships, written as `DIR/<label>/<file>.png` (no download).

- `fashion-mnist`: Zalando's Fashion-MNIST from Debian's `dataset-fashion-mnist` package (IDX files).
- `digits`: scikit-learn's bundled 8x8 handwritten digits, for machines where no system package can be installed.
- `photos`: views of the three colour photos the Python packages ship (scikit-learn's `china.jpg` and
  `flower.jpg`, 640x427, and matplotlib's `grace_hopper.jpg`, 512x600), as JPEGs. Each photo's left and right
  halves are two classes (six in all); an example is a random square crop of 60 % to 100 % of its half's shorter
  side, at the crop's own resolution (154 to 320 px), with brightness, contrast, colour and blur jitter. Small,
  but real camera pixels: the classes differ in texture and structure, and the halves of one photo share colours.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_LABELS = (
    "t-shirt top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
DIGIT_LABELS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DATASETS = ("fashion-mnist", "digits", "photos")
PHOTO_SEED = 12


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
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(source_dir: Path = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The 60,000 Fashion-MNIST training images (28x28 uint8), their labels and the class names."""
    images_path = source_dir / "train-images-idx3-ubyte.gz"
    labels_path = source_dir / "train-labels-idx1-ubyte.gz"
    if not images_path.exists() or not labels_path.exists():
        raise DatasetUnavailable(
            f"{source_dir}: Fashion-MNIST is not installed. Install Debian's package with "
            "`apt-get install dataset-fashion-mnist` (make setup does this where apt exists), "
            "or use `--dataset digits`, which scikit-learn ships."
        )
    return read_idx(images_path), read_idx(labels_path), FASHION_MNIST_LABELS


def load_digits() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """scikit-learn's 1,797 8x8 digits, scaled from 0..16 to 0..255 uint8."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.clip(np.rint(bunch.images * 255.0 / 16.0), 0, 255).astype(np.uint8)
    return images, bunch.target.astype(np.int64), DIGIT_LABELS


def load_package_photos() -> dict[str, Image.Image]:
    """The colour photos scikit-learn and matplotlib ship, by short name, as RGB images."""
    from matplotlib import cbook
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    photos = {Path(name).stem: Image.fromarray(array) for name, array in zip(bunch.filenames, bunch.images)}
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        photos["grace_hopper"] = Image.open(handle).convert("RGB")
    return photos


def photo_views(per_class: int, seed: int = PHOTO_SEED) -> dict[str, list[Image.Image]]:
    """`per_class` jittered square crops of each half of each package photo, by class (`<photo>-left|right`)."""
    from PIL import ImageEnhance, ImageFilter

    rng = np.random.default_rng(seed)
    views: dict[str, list[Image.Image]] = {}
    for name, photo in sorted(load_package_photos().items()):
        width, height = photo.size
        for side_name, left in (("left", 0), ("right", width // 2)):
            half = photo.crop((left, 0, left + width // 2, height))
            shorter = min(half.size)
            crops = []
            for _ in range(per_class):
                side = int(shorter * rng.uniform(0.6, 1.0))
                x, y = int(rng.integers(0, half.width - side + 1)), int(rng.integers(0, half.height - side + 1))
                view = half.crop((x, y, x + side, y + side))
                for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
                    view = enhancer(view).enhance(float(rng.uniform(0.7, 1.3)))
                crops.append(view.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 1.2)))))
            views[f"{name}-{side_name}"] = crops
    return views


def pick_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` examples of every class (deterministic)."""
    chosen = [np.flatnonzero(labels == cls)[:per_class] for cls in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def _images(dataset: str, per_class: int) -> Iterator[tuple[str, str, Image.Image]]:
    """(class name, file name, image) of `per_class` images of each class of `dataset`."""
    if dataset == "photos":
        for name, views in photo_views(per_class).items():
            for index, view in enumerate(views):
                yield name, f"{name}-{index:05d}.jpg", view
        return
    images, labels, names = load_fashion_mnist() if dataset == "fashion-mnist" else load_digits()
    for index in pick_per_class(labels, per_class):
        yield names[int(labels[index])], f"{dataset}-{index:05d}.png", Image.fromarray(images[index], mode="L")


def write_dataset(
    output_dir: str | os.PathLike, dataset: str = "fashion-mnist", per_class: int = 300, image_size: int | None = None
) -> dict[str, int]:
    """Write `per_class` images of each class under `output_dir/<label>/` (PNGs, or JPEGs for `photos`); returns
    counts per label.
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
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    counts: dict[str, int] = {}
    try:
        for name, file_name, image in _images(dataset, per_class):
            folder = staging / name
            folder.mkdir(exist_ok=True)
            if image_size:
                image = image.resize((image_size, image_size), Image.BILINEAR)
            image.save(folder / file_name, **({"quality": 90} if file_name.endswith(".jpg") else {}))
            counts[name] = counts.get(name, 0) + 1
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts
