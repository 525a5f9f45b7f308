"""The TFLite runtimes a converted model is measured on, and the machine the figures come from.

LiteRT (`ai-edge-litert`) is the runtime Android apps ship (`com.google.ai.edge.litert`); its Python interpreter
has the same kernels. TensorFlow's own `tf.lite.Interpreter` is older and has slow paths the app's runtime does not,
so it is only the benchmark's comparison. Both apply the XNNPACK delegate to the CPU graph by default, as the app's
CPU path does; every latency is the build machine's CPU's.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import platform
from typing import Any, Callable

LITERT = "ai-edge-litert"
TENSORFLOW = "tensorflow"
DELEGATE = "XNNPACK (the default CPU delegate)"
WHERE = "the build machine's CPU, not a phone"


def _litert_interpreter() -> Callable[..., Any]:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter


def _tensorflow_interpreter() -> Callable[..., Any]:
    import tensorflow as tf

    return tf.lite.Interpreter


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One TFLite runtime: its distribution name and where its `Interpreter` comes from."""

    name: str
    load_interpreter: Callable[[], Callable[..., Any]]

    @property
    def version(self) -> str:
        return importlib.metadata.version(self.name)

    def interpreter(self, model_bytes: bytes | None = None, threads: int = 1, model_path: str | None = None) -> Any:
        """An interpreter of the model (bytes or path) at `threads` CPU threads, the default delegate applied."""
        return self.load_interpreter()(model_content=model_bytes, model_path=model_path, num_threads=threads)

    def describe(self) -> dict[str, str]:
        """What the report says of the runtime: name, version, delegate and the CPU it ran on."""
        return {"name": self.name, "version": self.version, "delegate": DELEGATE, "cpu": cpu_name(), "where": WHERE}


RUNTIMES = {LITERT: Runtime(LITERT, _litert_interpreter), TENSORFLOW: Runtime(TENSORFLOW, _tensorflow_interpreter)}


def default() -> Runtime:
    """The runtime every figure of the TFLite step is measured on: LiteRT, the app's."""
    return RUNTIMES[LITERT]


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what `platform` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"
