"""What an Android app feeds the model: a frame of any size resized and normalized as MediaPipe Tasks' image
classifier does on the CPU, with the normalization read from the file's own metadata.

MediaPipe's CPU path (`ImageToTensorOpenCvConverter`) stretches the whole frame to the input with OpenCV's
`warpPerspective`; the Transform resizes with the same arithmetic (`image_codec.resize_like_the_app`, checked
against MediaPipe itself in `tests/test_tflite_app_path.py`). Then 0..255 is mapped to the range the metadata's mean
and std give (a uint8 input takes the pixels, an int8 input pixel - 128). Scoring the eval split's original files
this way, beside the Transform's stored pixels, also catches what the stored pixels cannot show: the storage's
JPEG loss and metadata that normalizes differently from the Trainer.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

import numpy as np
import tensorflow as tf

from components.tflite import metadata
from components.transform import image_codec

PREPROCESSING = (
    "MediaPipe Tasks' CPU image preprocessing: whole frame stretched, corner-aligned bilinear "
    "(OpenCV warpPerspective INTER_LINEAR, edges replicated), uint8, normalization from the metadata"
)


@dataclasses.dataclass(frozen=True)
class Originals:
    """The original files of an eval split as the app's runtime hands them to the model before normalizing: each
    RGB uint8 frame resized to the input (`image_codec.resize_like_the_app`), [N, height, width, 3], and class
    indices."""

    pixels: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, frames: Iterable[tuple[np.ndarray, str]], classes: Sequence[str], height: int, width: int) -> Originals:
        """`frames` (RGB uint8 at their own size, with their class names) resized one at a time, so only the
        resized pixels are held; a class the model does not know is -1."""
        index = {name: position for position, name in enumerate(classes)}
        pixels, labels = [], []
        for frame, name in frames:
            pixels.append(image_codec.resize_like_the_app(tf.constant(frame), height, width).numpy())
            labels.append(index.get(name, -1))
        stacked = np.stack(pixels) if pixels else np.zeros((0, height, width, 3), np.uint8)
        return cls(stacked, np.array(labels, np.int64))


def normalization(model_bytes: bytes) -> tuple[float, float]:
    """The input's (mean, std) from the file's metadata; ValueError when it has none (the runtimes need it)."""
    described = metadata.read_metadata(model_bytes)["metadata"]
    for unit in described["subgraph_metadata"][0]["input_tensor_metadata"][0].get("process_units", []):
        if unit.get("options_type") == "NormalizationOptions":
            return float(unit["options"]["mean"][0]), float(unit["options"]["std"][0])
    raise ValueError("the model's metadata has no input normalization")


def app_inputs(model_bytes: bytes, pixels: np.ndarray, input_detail: dict[str, Any]) -> np.ndarray:
    """Resized frames (uint8, `Originals.pixels`) as the app's runtime hands them to the model's input
    (`input_detail`): normalized from the metadata for a float input, the pixels for uint8, pixel - 128 for int8."""
    if input_detail["dtype"] == np.uint8:
        return pixels
    if input_detail["dtype"] == np.int8:
        return (pixels.astype(np.int16) - 128).astype(np.int8)
    mean, std = normalization(model_bytes)
    return ((pixels.astype(np.float32) - np.float32(mean)) / np.float32(std)).astype(np.float32)
