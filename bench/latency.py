"""int8 against float32 latency at the app's input size: V1 and V2 at 224 px (the widths the photo recipe ships),
built with the Trainer's builders and converted with the TFLite step's converter, each `invoke` timed on LiteRT
(the app's runtime) and on TensorFlow's interpreter at each thread count, with the ops each file holds and the
CPU's instruction-set flags that int8 kernels use. On LiteRT it also times what the project could change: the int8
file with uint8 input and output (`tflite.integer_io=uint8`, no QUANTIZE / DEQUANTIZE), and the int8 file without
the XNNPACK delegate (TFLite's own kernels). Untrained: a convolution's speed does not depend on its weights'
values, and int8 is calibrated on random images.

    python -m bench.latency [--size 224] [--threads 1 2] [--runs 100] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from typing import Any, Sequence

import numpy as np

from pipeline.reporting.tables import text_table

log = logging.getLogger("mobilenet.bench")
ALPHAS = {"v1": 1.0, "v2": 1.4}
"""V1 1.0 and V2 1.4: the largest widths Keras has ImageNet weights for, what a photo model ships."""
CALIBRATION_IMAGES = 16
INT8_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
"""The x86 flags XNNPACK's int8 kernels choose between (VNNI: int8 dot products in one instruction)."""


def _litert_without_xnnpack() -> Any:
    import functools

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return functools.partial(
        Interpreter, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )


def cpu_flags() -> list[str]:
    """Which of `INT8_FLAGS` this CPU has (from /proc/cpuinfo; empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next(line.split(":", 1)[1].split() for line in handle if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    return [flag for flag in INT8_FLAGS if flag in flags]


def measure(
    size: int, threads: Sequence[int], runs: int, warmup: int, scratch: str, alphas: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """One row per architecture, runtime and thread count: float32 and int8 median (p90) ms and their ratio; each
    row also names the int8 file's QUANTIZE / DEQUANTIZE ops and float tensors left inside the graph."""
    from components import keras_autograph
    from components.tflite import conversion, measurement, runtimes
    from components.trainer import export, mobilenet_v1, mobilenet_v2

    keras_autograph.exempt_tf_keras()
    calibration = np.random.default_rng(0).uniform(-1, 1, (CALIBRATION_IMAGES, size, size, 3)).astype(np.float32)
    rows = []
    for architecture, module in (("v1", mobilenet_v1), ("v2", mobilenet_v2)):
        alpha = (alphas or ALPHAS)[architecture]
        saved_model_dir = os.path.join(scratch, f"{architecture}-{alpha}")
        export.save_for_conversion(module.build_network((size, size, 3), 10, alpha=alpha), saved_model_dir, size)
        loaded = conversion.load(saved_model_dir)
        files = {
            "float32": conversion.convert(loaded, "float32"),
            "int8": conversion.convert(loaded, "int8", calibration),
        }
        uint8_io = conversion.convert(loaded, "int8", calibration, "uint8")
        ops = conversion.op_counts(files["int8"])
        without_xnnpack = runtimes.Runtime(runtimes.LITERT, _litert_without_xnnpack)
        for runtime in (runtimes.RUNTIMES[runtimes.LITERT], runtimes.RUNTIMES[runtimes.TENSORFLOW]):
            for count in threads:
                latency = {
                    mode: measurement.measure_latency(model, count, warmup, runs, runtime)
                    for mode, model in files.items()
                }
                if runtime.name == runtimes.LITERT:
                    latency["uint8_io"] = measurement.measure_latency(uint8_io, count, warmup, runs, runtime)
                    latency["without_xnnpack"] = measurement.measure_latency(
                        files["int8"], count, warmup, runs, without_xnnpack
                    )
                row = {
                    "architecture": architecture,
                    "alpha": alpha,
                    "input_size": size,
                    "runtime": runtime.name,
                    "runtime_version": runtime.version,
                    "threads": count,
                    "float32_ms": round(latency["float32"]["median"], 3),
                    "int8_ms": round(latency["int8"]["median"], 3),
                    "float32_p90_ms": round(latency["float32"]["p90"], 3),
                    "int8_p90_ms": round(latency["int8"]["p90"], 3),
                    "ratio": round(latency["int8"]["median"] / latency["float32"]["median"], 4),
                    **{
                        f"int8_{variant}_ratio": round(latency[variant]["median"] / latency["float32"]["median"], 4)
                        for variant in ("uint8_io", "without_xnnpack")
                        if variant in latency
                    },
                    "ops": sum(ops.values()),
                    "int8_quantize_ops": ops.get("QUANTIZE", 0),
                    "int8_dequantize_ops": ops.get("DEQUANTIZE", 0),
                    "int8_float_tensors_inside": len(conversion.float_tensors_inside(files["int8"])),
                    "float32_bytes": len(files["float32"]),
                    "int8_bytes": len(files["int8"]),
                }
                rows.append(row)
                log.info(
                    "  %s %s at %d px, %s %s, %d thread(s): float32 %.2f ms, int8 %.2f ms (%.2f)",
                    architecture,
                    alpha,
                    size,
                    runtime.name,
                    runtime.version,
                    count,
                    row["float32_ms"],
                    row["int8_ms"],
                    row["ratio"],
                )
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a text table; the last two columns are the int8 variants' latency / float32's (LiteRT only)."""
    return text_table(
        ["model", "runtime", "threads", "ops", "float32 ms", "int8 ms", "int8 / float32", "uint8 I/O", "no XNNPACK"],
        [
            [
                f"{row['architecture']} {row['alpha']} {row['input_size']} px",
                f"{row['runtime']} {row['runtime_version']}",
                row["threads"],
                row["ops"],
                f"{row['float32_ms']:.2f}",
                f"{row['int8_ms']:.2f}",
                f"{row['ratio']:.2f}",
                f"{row['int8_uint8_io_ratio']:.2f}" if "int8_uint8_io_ratio" in row else "-",
                f"{row['int8_without_xnnpack_ratio']:.2f}" if "int8_without_xnnpack_ratio" in row else "-",
            ]
            for row in rows
        ],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=224, help="input size in pixels (default %(default)s)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--runs", type=int, default=100, help="timed invokes per figure (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed invokes first (default %(default)s)")
    parser.add_argument("--json", metavar="OUT", help="also write the rows and the CPU's flags as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as scratch:
        rows = measure(args.size, args.threads, args.runs, args.warmup, scratch)
    flags = cpu_flags()
    print(table(rows))
    print(f"CPU int8 flags: {', '.join(flags) or 'none of ' + ', '.join(INT8_FLAGS)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"rows": rows, "cpu_int8_flags": flags}, handle, indent=2)


if __name__ == "__main__":
    main()
