"""Beam's portable path on this machine: the Python job service and an external SDK worker pool as child processes.

This is the layout Flink and Spark on Kubernetes use (a job server, and a worker-pool sidecar that starts one SDK
worker process per bundle of work), with Beam's own Python job service in place of the Flink or Spark one:

    python -m apache_beam.runners.portability.local_job_service_main --port 0 --port_file F
    python -m apache_beam.runners.worker.worker_pool_main --service_port P

and every Beam step run with `--runner=PortableRunner --job_endpoint=... --environment_type=EXTERNAL
--environment_config=...`. Three things the pool needs are set here, not left to the reader:
- the pool starts each worker as the first `python` on PATH, so PATH starts with this project's interpreter's
  folder (otherwise the worker has no `apache_beam` and the client sees "Deadline Exceeded");
- workers load the Trainer's SavedModel (the Evaluator), so they get `TF_USE_LEGACY_KERAS=1` like every other
  process of the project (otherwise "Keras 3 only supports V3 .keras files");
- the client waits `JOB_SERVER_TIMEOUT_SECONDS` for the job service, above Beam's 60 s (the Evaluator's job
  otherwise fails with "Deadline Exceeded").

Both services listen on free loopback ports, run in their own process groups (workers included) and are stopped
by PID, group and all, when the run ends or fails.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

JOB_SERVER_TIMEOUT_SECONDS = 600
STARTUP_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 15
JOB_SERVICE_MODULE = "apache_beam.runners.portability.local_job_service_main"
WORKER_POOL_MODULE = "apache_beam.runners.worker.worker_pool_main"


class ServiceError(RuntimeError):
    """A portable Beam service did not start; the message names it and its log."""


@dataclasses.dataclass(frozen=True)
class PortableServices:
    """A running job service and worker pool: their endpoints, PIDs and log files."""

    job_endpoint: str
    worker_pool_endpoint: str
    job_service_pid: int
    worker_pool_pid: int
    job_service_log: Path
    worker_pool_log: Path

    def pipeline_args(self) -> list[str]:
        """The Beam options that send every Beam step to these services."""
        return [f"--job_endpoint={self.job_endpoint}", "--environment_type=EXTERNAL",
                f"--environment_config={self.worker_pool_endpoint}",
                f"--job_server_timeout={JOB_SERVER_TIMEOUT_SECONDS}"]


def worker_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the services and the workers they start: this interpreter first on PATH, legacy Keras."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def free_loopback_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _start(command: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def _wait_until(ready, process: subprocess.Popen, name: str, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise ServiceError(f"the {name} exited with code {process.returncode} at start-up; see {log_path}")
        if time.monotonic() > deadline:
            raise ServiceError(f"the {name} did not start within {timeout:.0f} s; see {log_path}")
        time.sleep(0.2)


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM the process group of `process` (its PID), then SIGKILL what is left of it after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # workers the pool started are in the same group
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def local_portable_services(log_dir: Path, timeout: float = STARTUP_TIMEOUT_SECONDS) -> Iterator[PortableServices]:
    """Start the job service and the worker pool on free loopback ports with logs in `log_dir`; stop both (and
    every worker) on exit, whether the block ended or raised."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = worker_environment()
    port_file = log_dir / "job-service.port"
    port_file.unlink(missing_ok=True)
    job_log, pool_log = log_dir / "job-service.log", log_dir / "worker-pool.log"
    pool_port = free_loopback_port()
    started: list[subprocess.Popen] = []
    try:
        job_service = _start([sys.executable, "-m", JOB_SERVICE_MODULE, "--port", "0", "--port_file", str(port_file),
                              "--staging_dir", str(log_dir / "job-staging")], job_log, env)
        started.append(job_service)
        worker_pool = _start([sys.executable, "-m", WORKER_POOL_MODULE, f"--service_port={pool_port}"], pool_log, env)
        started.append(worker_pool)
        _wait_until(port_file.exists, job_service, "Beam job service", job_log, timeout)
        job_port = int(port_file.read_text().strip())
        _wait_until(lambda: _accepts(job_port), job_service, "Beam job service", job_log, timeout)
        _wait_until(lambda: _accepts(pool_port), worker_pool, "Beam worker pool", pool_log, timeout)
        services = PortableServices(f"localhost:{job_port}", f"localhost:{pool_port}", job_service.pid,
                                    worker_pool.pid, job_log, pool_log)
        log.info("started the Beam job service at %s (pid %d) and the worker pool at %s (pid %d)",
                 services.job_endpoint, job_service.pid, services.worker_pool_endpoint, worker_pool.pid)
        yield services
    finally:
        for process in reversed(started):
            stop(process)
        log.info("stopped the Beam job service and worker pool (pids %s)",
                 ", ".join(str(process.pid) for process in started))
