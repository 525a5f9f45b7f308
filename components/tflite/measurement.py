"""Measurements of a converted model on the app's runtime (`runtimes.default()`: LiteRT): accuracy on the eval
split as the Transform resized it and on its original files as the app resizes them, the float reference, CPU
latency at several thread counts and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from components.contracts import (
    APP_PATH_ACCURACY_FIELD,
    LATENCY_BY_THREADS_FIELD,
    LATENCY_FIELD,
    PREPROCESSED_SIGNATURE,
    TFLITE_ACCURACY_FIELD,
)
from components.tflite import app_path, runtimes
from components.tflite.conversion import LoadedModel

LATENCY_THREADS = (1, 2, 4)
"""The thread counts every latency is also reported at, beside the gated `tflite.threads`: a phone's big cores are
few, so the thread count is a setting the app developer chooses."""


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


def _scores(interpreter: Any, inputs: np.ndarray) -> np.ndarray:
    """Class scores [N, C] of an allocated batch-1 interpreter on `inputs` in its input dtype, one at a time."""
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    scores = []
    for item in inputs:
        interpreter.set_tensor(input_detail["index"], item[None])
        interpreter.invoke()
        scores.append(_dequantize(interpreter.get_tensor(output_detail["index"])[0], output_detail))
    return np.stack(scores) if scores else np.zeros((0, output_detail["shape"][-1]), np.float32)


def _allocated(model_bytes: bytes, threads: int, runtime: runtimes.Runtime | None) -> Any:
    interpreter = (runtime or runtimes.default()).interpreter(model_bytes, threads)
    interpreter.allocate_tensors()
    return interpreter


def tflite_predictions(
    model_bytes: bytes, images: np.ndarray, threads: int = 2, runtime: runtimes.Runtime | None = None
) -> np.ndarray:
    """Class scores [N, C] of a batch-1 `.tflite` on float images in [-1, 1] (quantized for an integer input)."""
    interpreter = _allocated(model_bytes, threads, runtime)
    return _scores(interpreter, _quantize(images, interpreter.get_input_details()[0]))


def app_path_predictions(
    model_bytes: bytes, pixels: np.ndarray, threads: int = 2, runtime: runtimes.Runtime | None = None
) -> np.ndarray:
    """Class scores [N, C] on frames resized as the app's runtime does (`app_path.Originals.pixels`), normalized
    as it does from the file's own metadata (`app_path.app_inputs`)."""
    interpreter = _allocated(model_bytes, threads, runtime)
    return _scores(interpreter, app_path.app_inputs(model_bytes, pixels, interpreter.get_input_details()[0]))


def input_dtype(model_bytes: bytes) -> str:
    """The name of the model's input dtype (`float32`, `uint8`, `int8`)."""
    return np.dtype(_allocated(model_bytes, 1, None).get_input_details()[0]["dtype"]).name


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
    model_bytes: bytes,
    images: np.ndarray,
    labels: np.ndarray,
    threads: int,
    warmup: int,
    runs: int,
    originals: app_path.Originals | None = None,
    thread_counts: Sequence[int] = LATENCY_THREADS,
    runtime: runtimes.Runtime | None = None,
) -> dict[str, Any]:
    """What the gates, the report and the benchmark read of one converted model: its bytes; its top-1 and top-5
    accuracy on `images`; its top-1 on the `originals` (the same split's files) through the app's resize, None
    without them; its `invoke` latency at `threads` (the gated figure) and at each of `thread_counts`."""
    runtime = runtime or runtimes.default()
    scores = accuracy(tflite_predictions(model_bytes, images, threads, runtime), labels)
    app = None
    if originals is not None and len(originals.labels):
        app = accuracy(app_path_predictions(model_bytes, originals.pixels, threads, runtime), originals.labels)
    by_threads = measure_latencies(model_bytes, sorted({*thread_counts, threads}), warmup, runs, runtime)
    return {
        "size_bytes": len(model_bytes),
        TFLITE_ACCURACY_FIELD: scores["top1"],
        "tflite_top5_accuracy": scores["top5"],
        APP_PATH_ACCURACY_FIELD: None if app is None else app["top1"],
        LATENCY_FIELD: by_threads[str(threads)],
        LATENCY_BY_THREADS_FIELD: by_threads,
    }


def measure_latencies(
    model_bytes: bytes, thread_counts: Sequence[int], warmup: int, runs: int, runtime: runtimes.Runtime | None = None
) -> dict[str, dict[str, float | int]]:
    """`measure_latency` at each thread count, keyed by the count as a string (JSON's keys)."""
    return {str(count): measure_latency(model_bytes, count, warmup, runs, runtime) for count in thread_counts}


def measure_latency(
    model_bytes: bytes, threads: int, warmup: int, runs: int, runtime: runtimes.Runtime | None = None
) -> dict[str, float | int]:
    """Median and 90th-percentile wall time (ms) of `invoke` on a zero input, after `warmup` invokes."""
    interpreter = _allocated(model_bytes, threads, runtime)
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
path, threads, runs, runtime = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if runtime == "tensorflow":
    import tensorflow as tf
    Interpreter = tf.lite.Interpreter
else:
    from ai_edge_litert.interpreter import Interpreter
before = psutil.Process().memory_info().rss
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
interpreter = Interpreter(model_path=path, num_threads=threads)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
for _ in range(runs):
    interpreter.invoke()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
high_water = peak if peak > peak_before else psutil.Process().memory_info().rss
print(json.dumps({"peak_memory_bytes": max(0, high_water - before)}))
"""


def measure_peak_memory(
    model_path: str, threads: int, runs: int = 5, runtime: runtimes.Runtime | None = None
) -> int | None:
    """Peak resident memory the interpreter adds (load, allocate, invokes), measured in a fresh process that imports
    only the runtime.

    It is the process's high-water RSS minus its RSS before the interpreter was created, so it covers the model
    buffer, the tensor arena and kernel scratch space. None where the child cannot report it.
    """
    name = (runtime or runtimes.default()).name
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PEAK_MEMORY_PROBE, model_path, str(threads), str(runs), name],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return int(json.loads(result.stdout.strip().splitlines()[-1])["peak_memory_bytes"])
    except (subprocess.SubprocessError, ValueError, IndexError, KeyError, OSError):
        return None
