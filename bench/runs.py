"""The two measured runs of a benchmark variant: `mobilenet-pipeline run` on a fresh home, and the plain script
`python -m bench.baseline`, each in its own process, timed by wall clock with the peak memory of its process tree."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence

from components.contracts import REPORT_MARKDOWN_FILE
from pipeline import process_memory

log = logging.getLogger("mobilenet.bench")


def child_env() -> dict[str, str]:
    """The environment of the benchmark's child processes: this one's, with TensorFlow's C++ log at errors only."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def set_args(overrides: list[str]) -> list[str]:
    """`--set KEY=VALUE` per override."""
    return [arg for override in overrides for arg in ("--set", override)]


def pipeline_command(
    data: str, home: Path, registry: Path, overrides: list[str], config: str | None = None
) -> list[str]:
    """`mobilenet-pipeline run` (as `python -m pipeline`) on `data` with that home, registry and overrides."""
    return [
        sys.executable,
        "-m",
        "pipeline",
        "run",
        "--data",
        data,
        "--home",
        str(home),
        "--registry",
        str(registry),
        *(["--config", config] if config else []),
        *set_args(overrides),
    ]


def fresh_dir(path: Path) -> Path:
    """`path` as a new empty folder (a previous benchmark's folder there is removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_partial(
    data: str, home: str, overrides: list[str], to_nodes: Sequence[str], example_count: int | None = None
) -> list[dict[str, Any]]:
    """In this process: the pipeline on `data` up to `to_nodes` (a TFX partial run) on `home`, by the local run's own
    path (`local_runner.run_pipeline`, with the portable path's services when the overrides ask for them), with
    its progress captured; returns the component timings."""
    from pipeline import config as config_lib
    from pipeline import local_runner
    from pipeline.reporting import progress

    config = config_lib.load_config(
        None,
        [*overrides, f"data.root={data}", f"pipeline.home={home}", f"registry.root={os.path.join(home, 'registry')}"],
    )
    config, paths = local_runner.localize(config)
    paths.home.mkdir(parents=True, exist_ok=True)
    with local_runner.beam_services(config, paths) as (config, _):
        with progress.capture_output(paths.new_log()) as terminal, progress.report_progress(terminal) as reporter:
            local_runner.run_pipeline(config, paths, example_count, to_nodes)
    return [dataclasses.asdict(timing) for timing in reporter.timings]


def run_pipeline(data: str, workdir: Path, overrides: list[str], config: str | None = None) -> dict[str, Any]:
    """`mobilenet-pipeline run` (with the `config` file when given) on a fresh home under `workdir`; its wall time,
    peak RSS, timings and results."""
    from pipeline.reporting import run_report

    home, registry = workdir / "home", workdir / "registry"
    measured = process_memory.run_measured(
        pipeline_command(data, home, registry, overrides, config), workdir / "pipeline-stdout.log", env=child_env()
    )
    if measured.returncode != 0:
        raise RuntimeError(f"pipeline run failed ({measured.returncode}); see {workdir / 'pipeline-stdout.log'}")
    (report,) = sorted((home / run_report.REPORTS_DIR).iterdir())
    results, timings = run_report.read_run_report(report)
    return {
        "wall_seconds": round(measured.seconds, 1),
        "peak_rss_bytes": measured.peak_rss_bytes,
        "home": str(home),
        "report": str(report / REPORT_MARKDOWN_FILE),
        "component_seconds": {t.component: round(t.seconds, 1) for t in timings},
        "pushed": {r.model_name: r.pushed_path for r in results},
    }


def run_baseline(data: str, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    """`bench/baseline.py` on the same data and configuration; its wall time, peak RSS and own JSON result."""
    result_path = workdir / "baseline.json"
    command = [sys.executable, "-m", "bench.baseline", "--data", data, "--json", str(result_path), *set_args(overrides)]
    measured = process_memory.run_measured(command, workdir / "baseline-stdout.log", env=child_env())
    if measured.returncode != 0:
        raise RuntimeError(f"baseline script failed ({measured.returncode}); see {workdir / 'baseline-stdout.log'}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result.pop("config", None)
    result["script_seconds"] = round(result.pop("wall_seconds"), 1)
    return {"wall_seconds": round(measured.seconds, 1), "peak_rss_bytes": measured.peak_rss_bytes, **result}
