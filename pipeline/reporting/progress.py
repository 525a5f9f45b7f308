"""Terminal progress for a pipeline run: which component runs, how long each took, training epochs.

Everything else TFX, Beam and TensorFlow print goes to the run's log file: `capture_output` points the
process's stdout and stderr (file descriptors 1 and 2, so C++ and Beam worker output too) at the log file and
hands back a stream on the real terminal, which only `ProgressReporter` writes to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import sys
import time
from typing import Iterator, TextIO

from components import PROGRESS_LOGGER

_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")
_SKIPPED = re.compile(r"Skipping execution for (\S+)")
_PREAMBLE = ("Running launcher for", "MetadataStore with DB connection", "ArtifactQuery.", "[")
"""How TFX's launcher starts every node, before it knows whether the node runs: a component's start line waits
for anything else, so a skipped component gets one line."""


@dataclasses.dataclass
class ComponentTiming:
    """How one component of a run went."""

    component: str
    seconds: float
    cached: bool = False
    failed: bool = False
    skipped: bool = False

    @property
    def status(self) -> str:
        """ran, cached, skipped (its condition was false: nothing to train) or failed."""
        return "failed" if self.failed else "skipped" if self.skipped else "cached" if self.cached else "ran"


class ProgressReporter(logging.Handler):
    """A logging handler that turns TFX's component messages and the progress logger into terminal lines."""

    def __init__(self, stream: TextIO):
        super().__init__(level=logging.INFO)
        self._stream = stream
        self._current: str | None = None
        self._started = 0.0
        self._cached = self._skipped = self._announced = False
        self.timings: list[ComponentTiming] = []

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        """Print component start/finish lines and progress-logger messages; ignore the rest."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed third-party record must not break the run
            return
        if (
            self._current
            and not self._announced
            and not self._skipped
            and not _SKIPPED.match(message)
            and not (record.name != PROGRESS_LOGGER and message.startswith(_PREAMBLE))
        ):
            self._write(f"> {self._current} ...")
            self._announced = True
        if record.name == PROGRESS_LOGGER:
            for line in message.splitlines():
                self._write(f"    {line}")
        elif match := _RUNNING.match(message):
            self._current, self._started = match.group(1), time.monotonic()
            self._cached = self._skipped = self._announced = False
        elif _CACHED.match(message):
            self._cached = True
        elif (match := _SKIPPED.match(message)) and match.group(1) == self._current:
            self._skipped = True
        elif (match := _FINISHED.match(message)) and match.group(1) == self._current:
            seconds = time.monotonic() - self._started
            self.timings.append(ComponentTiming(self._current, seconds, self._cached, skipped=self._skipped))
            if self._skipped:
                self._write(f"{'  ' if self._announced else '- '}{self._current} skipped: nothing to train")
            else:
                self._write(f"  {self._current} done in {seconds:.1f} s{' (cached)' if self._cached else ''}")
            self._current = None

    def mark_failed(self) -> str | None:
        """Record the component that was running when the run failed; returns its name."""
        if self._current is None:
            return None
        self.timings.append(ComponentTiming(self._current, time.monotonic() - self._started, failed=True))
        return self._current


@contextlib.contextmanager
def held_stderr() -> Iterator[list[bytes]]:
    """Hold what fd 2 receives for the duration (the libraries' import-time noise, before the run's log exists)
    and yield a list that then holds it, for the log; restored before any exception propagates, so an error
    still reaches the terminal."""
    import tempfile

    held: list[bytes] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as buffer:
        os.dup2(buffer.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            buffer.seek(0)
            held.append(buffer.read())


@contextlib.contextmanager
def capture_output(log_path: str) -> Iterator[TextIO]:
    """Send fd 1 and 2 to `log_path` for the duration; yield a text stream on the original stdout."""
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, log_fd):
            os.close(fd)
        terminal.close()


@contextlib.contextmanager
def report_progress(stream: TextIO) -> Iterator[ProgressReporter]:
    """Attach a ProgressReporter to the root logger, and copy every INFO record to stderr (the log file while
    `capture_output` is on), for the duration."""
    from absl import logging as absl_logging

    reporter = ProgressReporter(stream)
    to_log = logging.StreamHandler(sys.stderr)
    to_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    absl_logging.set_verbosity(absl_logging.INFO)
    root.setLevel(logging.INFO)
    root.addHandler(reporter)
    if not any(
        isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stderr
        for handler in root.handlers
    ):
        root.addHandler(to_log)
    logging.getLogger(PROGRESS_LOGGER).setLevel(logging.INFO)
    try:
        yield reporter
    finally:
        root.removeHandler(reporter)
        root.removeHandler(to_log)
        root.setLevel(previous_level)
