"""Wall time and peak resident memory of a child process together with all its descendants (psutil sampling): what
the benchmark reports per run, and what the local Kubeflow launcher reports per task, as a pod's memory use."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from typing import Sequence

import psutil


@dataclasses.dataclass(frozen=True)
class Measured:
    """How a measured child process went."""

    returncode: int
    seconds: float
    peak_rss_bytes: int


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of `process` plus all its live descendants (shared pages count once per process)."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def run_measured(
    command: Sequence[str],
    log_path: str | os.PathLike,
    env: dict[str, str] | None = None,
    interval: float = 0.2,
    cwd: str | os.PathLike | None = None,
) -> Measured:
    """Run `command` (in `cwd`) with stdout and stderr appended to `log_path`; sample its process tree's RSS every
    `interval`."""
    with open(log_path, "ab") as log:
        started = time.monotonic()
        child = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        process = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(process))
            time.sleep(interval)
        return Measured(child.returncode, time.monotonic() - started, peak)
