"""Plain functions over image files: scan a class-folder tree, check and normalise one image, build a tf.Example.

The layout users have is `ROOT/<label>/<file>` with JPEG or PNG files. Images that TensorFlow decodes as they
are (8-bit greyscale or RGB PNG/JPEG) and that need no rotation are kept byte for byte. A photo whose EXIF
orientation says it is stored sideways or upside down is turned upright, since TensorFlow's decoder ignores that
tag and the app's camera frames arrive upright. Other decodable images (CMYK, 16-bit, alpha, palette) are
converted to an 8-bit RGB PNG. Every stored image is then decoded with the Transform's own decoder
(`image_codec.decode_rgb`): a file that PIL reads but TensorFlow does not is a bad file here, counted against
`data.max_bad_fraction`, rather than a failed Transform. Images of more than `data.max_image_pixels` are refused
from their header, before any decoding. Undecodable files are reported with the reason.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from components.contracts import IMAGE_KEY, LABEL_KEY

FILENAME_KEY = "filename"
TRAIN_SPLIT, VALIDATION_SPLIT, EVAL_SPLIT = "train", "validation", "eval"
"""ExampleGen's splits: the Trainer fits on train and picks its epoch on validation, on which the TFLite step also
chooses between its candidates; only the Evaluator and the TFLite step see eval, to judge and report."""
HASH_BUCKETS = 100
KEPT_AS_IS = {("PNG", "L"), ("PNG", "RGB"), ("JPEG", "L"), ("JPEG", "RGB")}
PIL_PIXEL_LIMIT = Image.MAX_IMAGE_PIXELS
"""PIL's decompression-bomb limit (89,478,485 pixels): above it PIL only warns and decodes the image whole (and
refuses it above twice that), so `data.max_image_pixels` may not exceed it."""
_OP_DECORATION = re.compile(r"^\{\{[^}]*\}\}\s*|\s*\[Op:\w+\].*$")


class BadImage(ValueError):
    """A file that cannot be used as a training image; the message says why."""


@dataclasses.dataclass(frozen=True)
class FolderSummary:
    """What a local image folder holds, before ingestion."""

    classes: dict[str, int]
    empty_classes: list[str]
    stray_files: list[str]

    @property
    def total(self) -> int:
        """Number of candidate image files across all classes."""
        return sum(self.classes.values())


def is_hidden(name: str) -> bool:
    """Dot-files (e.g. `.DS_Store`) are not data."""
    return name.startswith(".")


def is_hidden_path(path: str) -> bool:
    """True for a dot-file, or any file in a dot-folder (e.g. `.thumbnails/x.png`): neither is data."""
    folder, name = os.path.split(path)
    return is_hidden(name) or is_hidden(os.path.basename(folder))


def scan_folder(root: str | os.PathLike) -> FolderSummary:
    """Count the candidate files per class folder under a local `root` (names as `os` gives them: see
    `data_files.readable_name` to show them).

    Raises FileNotFoundError / NotADirectoryError naming `root` when it is missing or not a folder.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise FileNotFoundError(f"{root}: data folder does not exist")
    if not root_path.is_dir():
        raise NotADirectoryError(f"{root}: expected a folder of class sub-folders")
    classes: dict[str, int] = {}
    stray: list[str] = []
    for entry in sorted(root_path.iterdir()):
        if is_hidden(entry.name):
            continue
        if entry.is_dir():
            classes[entry.name] = sum(1 for f in entry.iterdir() if f.is_file() and not is_hidden(f.name))
        else:
            stray.append(entry.name)
    empty = [name for name, count in classes.items() if count == 0]
    return FolderSummary({k: v for k, v in classes.items() if v}, empty, stray)


def typical_side(root: str | os.PathLike, classes: list[str], per_class: int = 4) -> int | None:
    """The median shorter side, in pixels, of the first few images listed in each class folder (headers only, and
    no folder listed further than that; None when none of them opens)."""
    sides = []
    for name in classes:
        files = (f for f in Path(root, name).iterdir() if f.is_file() and not is_hidden(f.name))
        for path in itertools.islice(files, per_class):
            try:
                with Image.open(path) as image:
                    sides.append(min(image.size))
            except (OSError, UnidentifiedImageError):
                continue
    return int(np.median(sides)) if sides else None


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Decode any PIL mode to an 8-bit RGB array (16-bit scaled down, alpha composited on white)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(np.rint(values * 255.0 / peak), 0, 255).astype(np.uint8)
        return np.stack([grey] * 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def _upright(image: Image.Image) -> Image.Image | None:
    """`image` turned as its EXIF orientation tag says it is to be shown; None when it is stored upright (no tag,
    or orientation 1)."""
    if image.getexif().get(ExifTags.Base.Orientation, 1) not in range(2, 9):
        return None
    return ImageOps.exif_transpose(image)


def _encode_like(image: Image.Image, source: Image.Image) -> bytes:
    """`image` as a JPEG with the quantization tables and chroma subsampling of `source` (a JPEG): the camera's
    own quality, so turning a photo upright costs one more encoding at that quality and no more."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", qtables=source.quantization, subsampling=JpegImagePlugin.get_sampling(source))
    return buffer.getvalue()


def _encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_to_rgb_array(image), mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The decoded image, refused (BadImage) when it has more than `max_pixels` pixels before it is decoded."""
    try:
        with warnings.catch_warnings():  # the size is checked below, against a limit at most PIL's
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise BadImage(
                f"{image.width}x{image.height} is {pixels:,} pixels, over data.max_image_pixels={max_pixels:,}"
            )
        image.load()
    except UnidentifiedImageError:
        raise BadImage("not a decodable image (unknown image format)") from None
    except Image.DecompressionBombError as error:
        raise BadImage(f"over data.max_image_pixels={max_pixels:,} ({error})") from None
    except BadImage:
        raise
    except Exception as error:  # PIL raises many types for bad files
        raise BadImage(f"not a decodable image ({type(error).__name__}: {error})") from None
    if image.width < 1 or image.height < 1:
        raise BadImage("image has no pixels")
    return image


def _check_transform_decodes(encoded: bytes) -> None:
    """Raise BadImage unless the Transform's decoder decodes `encoded`. PIL reads some files that it refuses: a
    PNG whose IDAT checksum is wrong, or one that ends before its IEND chunk."""
    import tensorflow as tf

    from components.transform import image_codec

    try:
        image_codec.decode_rgb(tf.constant(encoded))
    except tf.errors.OpError as error:
        raise BadImage(f"TensorFlow cannot decode it ({_OP_DECORATION.sub('', error.message)})") from None


def normalise_image(data: bytes, max_pixels: int) -> bytes:
    """Return encoded upright image bytes that the Transform's decoder decodes to RGB, or raise BadImage saying
    why. `max_pixels` is `data.max_image_pixels`."""
    if not data:
        raise BadImage("empty file (0 bytes)")
    image = _open(data, max_pixels)
    turned = _upright(image)
    kept_as_is = (image.format, image.mode) in KEPT_AS_IS and not getattr(image, "is_animated", False)
    if kept_as_is and turned is None:
        encoded = data
    elif kept_as_is and image.format == "JPEG":
        encoded = _encode_like(turned, image)
    else:
        encoded = _encode_png(image if turned is None else turned)
    _check_transform_decodes(encoded)
    return encoded


def label_of(relative_path: str) -> str:
    """The class label of a file is the name of its folder: `ankle boot/0001.png` -> `ankle boot`.

    Spaces and any Unicode are fine; a blank name or one with a line break is refused (BadImage), because the
    label vocabulary and labels.txt hold one label per line.
    """
    parts = Path(relative_path).parts
    if len(parts) < 2:
        raise BadImage("file is not inside a class folder")
    label = parts[-2]
    if not label.strip():
        raise BadImage(f"class folder name {label!r} is blank")
    if label.splitlines() != [label]:
        raise BadImage(f"class folder name {label!r} contains a line break")
    return label


def make_example(image_bytes: bytes, label: str, filename: str):
    """A tf.train.Example with `image_raw`, `label` and `filename` bytes features."""
    import tensorflow as tf

    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                IMAGE_KEY: _bytes(image_bytes),
                LABEL_KEY: _bytes(label.encode("utf-8")),
                FILENAME_KEY: _bytes(filename.encode("utf-8")),
            }
        )
    )


def split_buckets(eval_fraction: float, validation_fraction: float = 0.0) -> dict[str, int]:
    """Hash buckets (of 100) per split, in ExampleGen's order (train first, eval last)."""
    eval_buckets = min(HASH_BUCKETS - 1, max(1, round(eval_fraction * HASH_BUCKETS)))
    validation_buckets = round(validation_fraction * HASH_BUCKETS)
    if validation_fraction > 0:
        validation_buckets = min(HASH_BUCKETS - eval_buckets - 1, max(1, validation_buckets))
    buckets = {TRAIN_SPLIT: HASH_BUCKETS - eval_buckets - validation_buckets}
    if validation_buckets:
        buckets[VALIDATION_SPLIT] = validation_buckets
    buckets[EVAL_SPLIT] = eval_buckets
    return buckets
