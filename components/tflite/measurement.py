"""Measurements on the real TFLite interpreter: accuracy, the float reference, CPU latency and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np
import tensorflow as tf

from components.contracts import LATENCY_FIELD, PREPROCESSED_SIGNATURE, TFLITE_ACCURACY_FIELD
from components.tflite.conversion import LoadedModel


def _quantize(images: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float images as the input tensor's dtype (quantized with its scale and zero point when integer)."""
    if detail["dtype"] == np.float32:
        return images.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.rint(images / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def tflite_predictions(model_bytes: bytes, images: np.ndarray, threads: int = 2) -> np.ndarray:
    """Class scores [N, C] of a batch-1 `.tflite` run on each image in turn."""
    interpreter = tf.lite.Interpreter(model_content=model_bytes, num_threads=threads)
    interpreter.allocate_tensors()
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    scores = []
    for image in _quantize(images, input_detail):
        interpreter.set_tensor(input_detail["index"], image[None])
        interpreter.invoke()
        scores.append(_dequantize(interpreter.get_tensor(output_detail["index"])[0], output_detail))
    return np.stack(scores)


def saved_model_predictions(model: str | LoadedModel, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class scores [N, C] of the float SavedModel's preprocessed-image signature (`model`: its folder, or loaded
    once with `conversion.load` for this and the conversions)."""
    loaded = tf.saved_model.load(model) if isinstance(model, str) else model.trackable
    signature = loaded.signatures[PREPROCESSED_SIGNATURE]
    (name,) = signature.structured_input_signature[1]
    outputs = [
        signature(**{name: tf.constant(images[i : i + batch_size], tf.float32)})["probabilities"].numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """Top-1 accuracy, and top-5 accuracy when there are more than 5 classes (else None)."""
    labels = np.asarray(labels).reshape(-1)
    top1 = float(np.mean(np.argmax(scores, axis=1) == labels))
    top5 = None
    if scores.shape[1] > 5:
        best5 = np.argsort(-scores, axis=1)[:, :5]
        top5 = float(np.mean(np.any(best5 == labels[:, None], axis=1)))
    return {"top1": top1, "top5": top5}


def float_accuracy(model: str | LoadedModel, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of the float SavedModel (folder or loaded) on `images`: what each converted model's drop is
    measured against."""
    return accuracy(saved_model_predictions(model, images), labels)["top1"]


def measure_flatbuffer(
    model_bytes: bytes, images: np.ndarray, labels: np.ndarray, threads: int, warmup: int, runs: int
) -> dict[str, Any]:
    """What the gates, the report and the benchmark read of one converted model: its bytes, its top-1 and top-5
    accuracy on `images` and its `invoke` latency, all at `threads` interpreter threads."""
    scores = accuracy(tflite_predictions(model_bytes, images, threads), labels)
    return {
        "size_bytes": len(model_bytes),
        TFLITE_ACCURACY_FIELD: scores["top1"],
        "tflite_top5_accuracy": scores["top5"],
        LATENCY_FIELD: measure_latency(model_bytes, threads, warmup, runs),
    }


def measure_latency(model_bytes: bytes, threads: int, warmup: int, runs: int) -> dict[str, float | int]:
    """Median and 90th-percentile wall time (ms) of `invoke` on a zero input, after `warmup` invokes."""
    interpreter = tf.lite.Interpreter(model_content=model_bytes, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000.0)
    return {"median": float(np.median(times)), "p90": float(np.percentile(times, 90)), "threads": threads, "runs": runs}


_PEAK_MEMORY_PROBE = """
import json, resource, sys
import numpy as np
import psutil
import tensorflow as tf
path, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
before = psutil.Process().memory_info().rss
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
interpreter = tf.lite.Interpreter(model_path=path, num_threads=threads)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
for _ in range(runs):
    interpreter.invoke()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
high_water = peak if peak > peak_before else psutil.Process().memory_info().rss
print(json.dumps({"peak_memory_bytes": max(0, high_water - before)}))
"""


def measure_peak_memory(model_path: str, threads: int, runs: int = 5) -> int | None:
    """Peak resident memory the interpreter adds (load, allocate, invokes), measured in a fresh process.

    It is the process's high-water RSS minus its RSS before the interpreter was created, so it covers the model
    buffer, the tensor arena and kernel scratch space. None where the child cannot report it.
    """
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PEAK_MEMORY_PROBE, model_path, str(threads), str(runs)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return int(json.loads(result.stdout.strip().splitlines()[-1])["peak_memory_bytes"])
    except (subprocess.SubprocessError, ValueError, IndexError, KeyError, OSError):
        return None
