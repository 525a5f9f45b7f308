"""Beam's portable path (issue #17): `mobilenet-pipeline run --config pipeline/profiles/portable.yaml` starts Beam's
Python job service and an external SDK worker pool (Beam's worker-pool servicer, which the sidecar of a Flink or
Spark on Kubernetes deployment serves), runs ImageExampleGen, StatisticsGen, Transform and the Evaluator on them,
and stops both.

Checked against a DirectRunner run of the same folder: the same split counts, label vocabulary and statistics;
the Beam work ran in the pool's worker processes; nothing of the services is left running afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from pipeline.config import REPO_ROOT
from tests.helpers import TINY_RUN, alive, write_image_folder

pytestmark = pytest.mark.slow

PORTABLE_PROFILE = REPO_ROOT / "pipeline" / "profiles" / "portable.yaml"
BEAM_STEPS = ("ImageExampleGen", "StatisticsGen", "Transform", "Evaluator_mobilenet_v1")
ONE_MODEL = ["--models", "v1", "--set", "tflite.latency_warmup=0", "--set", "tflite.latency_runs=1"]
TIMEOUT_SECONDS = 1500
SERVICES_LINE = re.compile(
    r"beam: PortableRunner, job service (\S+) \(pid (\d+)\), external SDK worker pool (\S+) "
    r"\(pid (\d+)\)"
)


class WorkerSampler(threading.Thread):
    """Polls the worker pool's descendants (the SDK workers it starts) until stopped: their PIDs and CPU seconds."""

    def __init__(self, pool_pid: int):
        super().__init__(daemon=True)
        self.pool_pid, self.cpu_seconds, self.done = pool_pid, {}, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                for child in psutil.Process(self.pool_pid).children(recursive=True):
                    times = child.cpu_times()
                    self.cpu_seconds[child.pid] = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(0.3)


def _run(data: Path, home: Path, *extra: str) -> tuple[subprocess.CompletedProcess, WorkerSampler | None]:
    """`mobilenet-pipeline run` on `data` (output merged into stdout; the whole process group killed if it outlives
    TIMEOUT_SECONDS or the test fails); with the portable profile, the worker pool's processes are sampled."""
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "run",
        "--data",
        str(data),
        "--home",
        str(home / "home"),
        "--registry",
        str(home / "registry"),
        *TINY_RUN,
        *ONE_MODEL,
        *extra,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        start_new_session=True,
    )
    watchdog = threading.Timer(TIMEOUT_SECONDS, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    sampler, lines = None, []
    try:
        for line in process.stdout:
            lines.append(line)
            match = SERVICES_LINE.match(line)
            if match:
                sampler = WorkerSampler(int(match.group(4)))
                sampler.start()
        code = process.wait(timeout=60)
    finally:
        watchdog.cancel()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if sampler:
            sampler.done.set()
            sampler.join()
    return subprocess.CompletedProcess(command, code, "".join(lines), ""), sampler


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("portable")
    data = write_image_folder(root / "data", {"circle": 12, "square": 12, "ankle boot": 12}, size=24)
    direct, _ = _run(data, root / "direct", "--set", "beam.direct_running_mode=in_memory")
    portable, sampler = _run(data, root / "portable", "--config", str(PORTABLE_PROFILE))
    return {"root": root, "direct": direct, "portable": portable, "sampler": sampler}


def _latest(home: Path, component: str, output: str) -> Path:
    folder = home / "home" / "pipeline_root" / component / output
    return max(folder.iterdir(), key=lambda path: int(path.name))


def _split_counts(home: Path) -> dict[str, int]:
    import tensorflow as tf

    examples = _latest(home, "ImageExampleGen", "examples")
    return {
        split.name: sum(1 for _ in tf.data.TFRecordDataset(sorted(map(str, split.iterdir())), compression_type="GZIP"))
        for split in sorted(examples.glob("Split-*"))
    }


def _vocabulary(home: Path) -> list[str]:
    import tensorflow_transform as tft

    from components.transform.preprocessing import LABEL_VOCAB

    return tft.TFTransformOutput(str(_latest(home, "Transform", "transform_graph"))).vocabulary_by_name(LABEL_VOCAB)


def _statistics(home: Path) -> dict[str, tuple]:
    """Per split and feature: examples, non-missing values, and for strings the unique count and top values."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    found = {}
    for split in sorted(_latest(home, "StatisticsGen", "statistics").glob("Split-*")):
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString((split / "FeatureStats.pb").read_bytes())
        (dataset,) = stats.datasets
        for feature in dataset.features:
            common = (
                feature.string_stats.common_stats
                if feature.HasField("string_stats")
                else feature.num_stats.common_stats
            )
            top = sorted((value.value, value.frequency) for value in feature.string_stats.top_values)
            found[f"{split.name}/{feature.path.step[0]}"] = (
                dataset.num_examples,
                common.num_non_missing,
                feature.string_stats.unique,
                top,
            )
    return found


def test_both_runs_push_and_the_portable_run_says_where_its_services_were(runs):
    for name in ("direct", "portable"):
        assert runs[name].returncode == 0, runs[name].stdout[-6000:]
        assert (runs["root"] / name / "registry" / "mobilenet_v1" / "1" / "model.tflite").exists()
    assert "beam: DirectRunner in_memory" in runs["direct"].stdout
    assert SERVICES_LINE.search(runs["portable"].stdout)
    assert "beam: stopped the job service and worker pool" in runs["portable"].stdout
    for step in BEAM_STEPS:
        assert f"  {step} done in" in runs["portable"].stdout


def test_the_portable_run_gives_the_direct_runs_splits_vocabulary_and_statistics(runs):
    direct, portable = runs["root"] / "direct", runs["root"] / "portable"
    assert _split_counts(portable) == _split_counts(direct)
    assert sum(_split_counts(direct).values()) == 36
    assert _vocabulary(portable) == _vocabulary(direct)
    assert sorted(_vocabulary(direct)) == [b"ankle boot", b"circle", b"square"]
    assert _statistics(portable) == _statistics(direct) and _statistics(direct)


def test_the_beam_work_ran_in_the_worker_pools_processes(runs):
    """One SDK worker process per Beam step, each started by the pool (its log says so) and each doing work there
    (CPU time well beyond an idle process), while the run itself sent its steps as jobs."""
    sampler = runs["sampler"]
    pool_log = (runs["root"] / "portable" / "home" / "logs" / "beam" / "worker-pool.log").read_text()
    started = pool_log.count("Starting worker with command")
    # A worker may start a short helper process of its own (seen: one at 0.0 CPU seconds); the workers are the
    # descendants that worked.
    busy = {pid: seconds for pid, seconds in sampler.cpu_seconds.items() if seconds > 2.0}
    assert started == len(BEAM_STEPS) == len(busy), (started, sampler.cpu_seconds)
    (run_log,) = (runs["root"] / "portable" / "home" / "logs").glob("run-*.log")
    assert "--runner=PortableRunner" in run_log.read_text()


def test_no_service_or_worker_is_left_running(runs):
    match = SERVICES_LINE.search(runs["portable"].stdout)
    pids = {int(match.group(2)), int(match.group(4)), *runs["sampler"].cpu_seconds}
    assert [pid for pid in pids if alive(pid)] == []
    for endpoint in (match.group(1), match.group(3)):
        port = int(endpoint.rsplit(":", 1)[1])
        assert not any(
            c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in psutil.net_connections("tcp")
        )
