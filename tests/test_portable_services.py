"""The job service and worker pool of the portable path as real child processes: started on free loopback ports,
reachable, given the workers' environment, stopped with nothing left behind, and the run home's ports kept."""

import json
import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

from pipeline import portable_services
from tests.helpers import alive


def test_services_start_listen_and_stop_with_nothing_left(tmp_path):
    with portable_services.local_portable_services(tmp_path) as services:
        ports = [int(endpoint.rsplit(":", 1)[1]) for endpoint in (services.job_endpoint, services.worker_pool_endpoint)]
        assert all(map(portable_services.accepts, ports))
        pool = psutil.Process(services.worker_pool_pid)
        assert pool.cmdline()[1:3] == ["-m", "pipeline.loopback_worker_pool"]
        assert pool.environ()["TF_USE_LEGACY_KERAS"] == "1"
        assert pool.environ()["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
        assert services.pipeline_args() == [
            f"--job_endpoint={services.job_endpoint}",
            "--environment_type=EXTERNAL",
            f"--environment_config={services.worker_pool_endpoint}",
            f"--job_server_timeout={portable_services.JOB_SERVER_TIMEOUT_SECONDS}",
        ]
        pids = (services.job_service_pid, services.worker_pool_pid)
    assert not any(map(alive, pids)) and not any(map(portable_services.accepts, ports))
    assert json.loads((tmp_path / "ports.json").read_text()) == {"job_service": ports[0], "worker_pool": ports[1]}


def test_the_services_stop_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError, match="the run failed"):
        with portable_services.local_portable_services(tmp_path) as services:
            pids = (services.job_service_pid, services.worker_pool_pid)
            ports = [
                int(endpoint.rsplit(":", 1)[1]) for endpoint in (services.job_endpoint, services.worker_pool_endpoint)
            ]
            raise RuntimeError("the run failed")
    assert not any(map(alive, pids)) and not any(map(portable_services.accepts, ports))


def test_a_second_run_on_the_same_home_is_refused_while_the_first_holds_the_services(tmp_path):
    with portable_services.local_portable_services(tmp_path):
        with pytest.raises(
            portable_services.ServiceError, match="another run is using the Beam services of this run home"
        ):
            with portable_services.local_portable_services(tmp_path):
                pass


def test_the_services_die_with_the_process_that_started_them(tmp_path):
    """A run killed with SIGKILL runs no clean-up: the kernel's parent-death signal stops its services."""
    code = (
        "import sys, time; from pathlib import Path; from pipeline import portable_services as p\n"
        f"with p.local_portable_services(Path({str(tmp_path)!r})) as s:\n"
        "    print(s.job_service_pid, s.worker_pool_pid, flush=True); time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(map(alive, pids))
    finally:
        parent.kill()
        parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(alive, pids))


def test_a_run_home_keeps_its_ports_while_they_are_free(tmp_path):
    ports_file = tmp_path / "ports.json"
    first = portable_services.run_home_ports(ports_file)
    assert portable_services.run_home_ports(ports_file) == first
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first[1]))
        taken.listen()
        second = portable_services.run_home_ports(ports_file)
    assert second[1] != first[1] and len(set(second)) == 2
    assert json.loads(ports_file.read_text()) == {"job_service": second[0], "worker_pool": second[1]}


def test_a_service_that_exits_at_start_up_is_named_with_its_log(tmp_path):
    log_path = tmp_path / "job-service.log"
    process = portable_services.start_service([sys.executable, "-c", "raise SystemExit(3)"], log_path, dict(os.environ))
    with pytest.raises(
        portable_services.ServiceError, match=f"the Beam job service exited with code 3 at start-up; see {log_path}"
    ):
        portable_services.wait_until_ready(lambda: False, process, "Beam job service", log_path, timeout=60)


def test_a_service_that_does_not_listen_in_time_is_stopped_and_named(tmp_path):
    log_path = tmp_path / "worker-pool.log"
    process = portable_services.start_service(
        [sys.executable, "-c", "import time; time.sleep(600)"], log_path, dict(os.environ)
    )
    with pytest.raises(portable_services.ServiceError, match="the Beam worker pool did not start within 1 s"):
        portable_services.wait_until_ready(lambda: False, process, "Beam worker pool", log_path, timeout=1)
    portable_services.stop(process, timeout=5)
    assert process.poll() is not None


def test_the_worker_pool_keeps_serving_and_only_on_loopback(tmp_path):
    """Still accepting after a while (the server object is kept, not collected), and bound to 127.0.0.1 alone."""
    with portable_services.local_portable_services(tmp_path) as services:
        time.sleep(3)
        port = int(services.worker_pool_endpoint.rsplit(":", 1)[1])
        assert portable_services.accepts(port)
        connections = psutil.Process(services.worker_pool_pid).net_connections("tcp")
        bound = {
            c.laddr.ip.removeprefix("::ffff:")
            for c in connections
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert bound == {"127.0.0.1"}
