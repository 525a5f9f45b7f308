"""What an Android app feeds the model: a frame of any size resized and normalized as MediaPipe Tasks' image
classifier does on the CPU, with the normalization read from the file's own metadata.

MediaPipe's CPU path (`ImageToTensorOpenCvConverter`) stretches the whole frame to the input (no crop, the aspect
ratio not kept) with OpenCV's `warpPerspective`, INTER_LINEAR, edges replicated. Output pixel (x, y) samples the
source at (x * W / width, y * H / height): corner-aligned, not at pixel centres as the Transform's resize
(`image_codec.resize_like_the_app`), so the two grids differ by up to half an output pixel. Sampling is on a
1/32-pixel grid with 15-bit fixed-point weights, in uint8. Then 0..255 is mapped to the range the metadata's mean
and std give (a uint8 input takes the pixels, an int8 input pixel - 128). `resize_like_mediapipe` reproduces it bit
for bit; `tests/test_tflite_app_path.py` checks that against MediaPipe itself on photos.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

import numpy as np

from components.tflite import metadata

GRID = 32
"""OpenCV's INTER_TAB_SIZE: source coordinates are rounded to 1/32 pixel."""
WEIGHT_BITS = 15
"""OpenCV's INTER_REMAP_COEF_BITS: the bilinear weights of a tap sum to 2**15."""
PREPROCESSING = (
    "MediaPipe Tasks' CPU image preprocessing: whole frame stretched, corner-aligned bilinear "
    "(OpenCV warpPerspective INTER_LINEAR, edges replicated), uint8, normalization from the metadata"
)


@dataclasses.dataclass(frozen=True)
class Originals:
    """The original files of an eval split as the app's runtime hands them to the model before normalizing: each
    RGB uint8 frame resized to the input (`resize_like_mediapipe`), [N, height, width, 3], and class indices."""

    pixels: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, frames: Iterable[tuple[np.ndarray, str]], classes: Sequence[str], height: int, width: int) -> Originals:
        """`frames` (RGB uint8 at their own size, with their class names) resized one at a time, so only the
        resized pixels are held; a class the model does not know is -1."""
        index = {name: position for position, name in enumerate(classes)}
        pixels, labels = [], []
        for frame, name in frames:
            pixels.append(resize_like_mediapipe(frame, height, width))
            labels.append(index.get(name, -1))
        stacked = np.stack(pixels) if pixels else np.zeros((0, height, width, 3), np.uint8)
        return cls(stacked, np.array(labels, np.int64))


def _taps(output: int, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output position: the two source indices (replicated at the edge) and the 1/32 fraction between them."""
    position = np.rint(np.arange(output) * (source / output) * GRID).astype(np.int64)
    first, fraction = position // GRID, position % GRID
    return np.clip(first, 0, source - 1), np.clip(first + 1, 0, source - 1), fraction


def resize_like_mediapipe(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """An RGB uint8 frame [H, W, 3] resized to uint8 [height, width, 3] as MediaPipe's CPU path does."""
    top, bottom, down = _taps(height, frame.shape[0])
    left, right, across = _taps(width, frame.shape[1])
    pixels = frame.astype(np.int64)
    down, across = down[:, None, None], across[None, :, None]
    weighted = (GRID - down) * ((GRID - across) * pixels[top][:, left] + across * pixels[top][:, right]) + down * (
        (GRID - across) * pixels[bottom][:, left] + across * pixels[bottom][:, right]
    )
    scale = (1 << WEIGHT_BITS) // (GRID * GRID)
    return np.clip((weighted * scale + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS, 0, 255).astype(np.uint8)


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
