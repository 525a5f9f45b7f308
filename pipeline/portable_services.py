"""Beam's portable path on this machine: the Python job service and an external SDK worker pool as child processes.

This is the layout Flink and Spark on Kubernetes use (a job server, and a worker-pool sidecar that starts one SDK
worker process per bundle of work), with Beam's own Python job service in place of the Flink or Spark one:

    python -m apache_beam.runners.portability.local_job_service_main --port P --port_file F
    python -m pipeline.loopback_worker_pool --port Q   (Beam's worker-pool servicer, served on loopback only)

and every Beam step run with `--runner=PortableRunner --job_endpoint=... --environment_type=EXTERNAL
--environment_config=...`. Three things the pool needs are set here, not left to the reader:
- the pool starts each worker as the first `python` on PATH, so PATH starts with this project's interpreter's
  folder (otherwise the worker has no `apache_beam` and the client sees "Deadline Exceeded");
- workers load the Trainer's SavedModel (the Evaluator), so they get `TF_USE_LEGACY_KERAS=1` like every other
  process of the project (otherwise "Keras 3 only supports V3 .keras files");
- the client waits `JOB_SERVER_TIMEOUT_SECONDS` for the job service, above Beam's 60 s (the Evaluator's job
  otherwise fails with "Deadline Exceeded").

Both services listen on free loopback ports, run in their own process groups (workers included) and are stopped
by PID, group and all, when the run ends or fails; if the run itself dies, the kernel kills them too (parent-death
signal). One run at a time uses a run home's services (a lock file). A run home keeps its ports (`ports.json`
beside the services' logs) while they stay free: the endpoints are part of every Beam step's options, and so of
TFX's cache key, so new ports on every run would make each run recompute the cached steps.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger(__name__)

JOB_SERVER_TIMEOUT_SECONDS = 600
STARTUP_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 15
JOB_SERVICE_MODULE = "apache_beam.runners.portability.local_job_service_main"
WORKER_POOL_MODULE = "pipeline.loopback_worker_pool"
PR_SET_PDEATHSIG = 1


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
        return [
            f"--job_endpoint={self.job_endpoint}",
            "--environment_type=EXTERNAL",
            f"--environment_config={self.worker_pool_endpoint}",
            f"--job_server_timeout={JOB_SERVER_TIMEOUT_SECONDS}",
        ]


def worker_environment() -> dict[str, str]:
    """The environment of the services and the workers they start: this process's, with this interpreter first on
    PATH and legacy Keras."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def free_loopback_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _is_free(port: int) -> bool:
    """Whether a server can listen on `port` (with SO_REUSEADDR, as gRPC's servers do, so a port the last run's
    service closed a moment ago counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_home_ports(ports_file: Path) -> tuple[int, int]:
    """The (job service, worker pool) ports this run home used before when both are still free, else two new
    free ones, recorded in `ports_file`."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        recorded = json.loads(ports_file.read_text())
        ports = int(recorded["job_service"]), int(recorded["worker_pool"])
        if ports[0] != ports[1] and all(map(_is_free, ports)):
            return ports
    ports = free_loopback_port(), free_loopback_port()
    while ports[1] == ports[0]:
        ports = ports[0], free_loopback_port()
    staged = ports_file.with_name(ports_file.name + ".tmp")
    staged.write_text(json.dumps({"job_service": ports[0], "worker_pool": ports[1]}) + "\n")
    staged.replace(ports_file)
    return ports


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _die_with_parent() -> None:
    """In the child, before it runs: the kernel sends SIGKILL when the process that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_service(command: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start `command` in its own process group (so it can be stopped with everything it starts), output to
    `log_path`, killed by the kernel if this process dies first."""
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def wait_until_ready(
    ready: Callable[[], bool], process: subprocess.Popen, name: str, log_path: Path, timeout: float
) -> None:
    """Wait until `ready()`; raise ServiceError naming the service and its log if it exits or `timeout` passes."""
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
    """Start the job service and the worker pool on free loopback ports (the ones `log_dir` used before when they
    are free) with logs in `log_dir`; stop both (and every worker) on exit, whether the block ended or raised."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "services.lock", "w", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                f"another run is using the Beam services of this run home ({log_dir}); wait for it "
                "or use another --home"
            ) from None
        with _services(log_dir, timeout) as services:
            yield services


@contextlib.contextmanager
def _services(log_dir: Path, timeout: float) -> Iterator[PortableServices]:
    env = worker_environment()
    port_file = log_dir / "job-service.port"
    port_file.unlink(missing_ok=True)
    job_log, pool_log = log_dir / "job-service.log", log_dir / "worker-pool.log"
    job_port, pool_port = run_home_ports(log_dir / "ports.json")
    started: list[subprocess.Popen] = []
    try:
        job_service = start_service(
            [
                sys.executable,
                "-m",
                JOB_SERVICE_MODULE,
                "--port",
                str(job_port),
                "--port_file",
                str(port_file),
                "--staging_dir",
                str(log_dir / "job-staging"),
            ],
            job_log,
            env,
        )
        started.append(job_service)
        worker_pool = start_service([sys.executable, "-m", WORKER_POOL_MODULE, f"--port={pool_port}"], pool_log, env)
        started.append(worker_pool)
        wait_until_ready(port_file.exists, job_service, "Beam job service", job_log, timeout)
        wait_until_ready(lambda: accepts(job_port), job_service, "Beam job service", job_log, timeout)
        wait_until_ready(lambda: accepts(pool_port), worker_pool, "Beam worker pool", pool_log, timeout)
        services = PortableServices(
            f"localhost:{job_port}", f"127.0.0.1:{pool_port}", job_service.pid, worker_pool.pid, job_log, pool_log
        )
        log.info(
            "started the Beam job service at %s (pid %d) and the worker pool at %s (pid %d)",
            services.job_endpoint,
            job_service.pid,
            services.worker_pool_endpoint,
            worker_pool.pid,
        )
        yield services
    finally:
        for process in reversed(started):
            stop(process)
        log.info(
            "stopped the Beam job service and worker pool (pids %s)", ", ".join(str(process.pid) for process in started)
        )
