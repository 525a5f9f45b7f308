"""The two measured runs of a benchmark variant: `mobilenet-pipeline run` on a fresh home, and the plain script
`python -m bench.baseline`, each in its own process, timed by wall clock with the peak memory of its process tree."""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import memory
from components.contracts import REPORT_MARKDOWN_FILE

log = logging.getLogger("mobilenet.bench")


def _env() -> dict[str, str]:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def set_args(overrides: list[str]) -> list[str]:
    """`--set KEY=VALUE` per override."""
    return [arg for override in overrides for arg in ("--set", override)]


def pipeline_command(data: str, home: Path, registry: Path, overrides: list[str],
                     config: str | None = None) -> list[str]:
    """`mobilenet-pipeline run` (as `python -m pipeline`) on `data` with that home, registry and overrides."""
    return [sys.executable, "-m", "pipeline", "run", "--data", data, "--home", str(home), "--registry", str(registry),
            *(["--config", config] if config else []), *set_args(overrides)]


def fresh_dir(path: Path) -> Path:
    """`path` as a new empty folder (a previous benchmark's folder there is removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_pipeline(data: str, workdir: Path, overrides: list[str], config: str | None = None) -> dict[str, Any]:
    """`mobilenet-pipeline run` (with the `config` file when given) on a fresh home under `workdir`; its wall time,
    peak RSS, timings and results."""
    from pipeline.reporting import run_report

    home, registry = workdir / "home", workdir / "registry"
    measured = memory.run_measured(pipeline_command(data, home, registry, overrides, config),
                                   workdir / "pipeline-stdout.log", env=_env())
    if measured.returncode != 0:
        raise RuntimeError(f"pipeline run failed ({measured.returncode}); see {workdir / 'pipeline-stdout.log'}")
    (report,) = sorted((home / run_report.REPORTS_DIR).iterdir())
    results, timings = run_report.read_run_report(report)
    return {"wall_seconds": round(measured.seconds, 1), "peak_rss_bytes": measured.peak_rss_bytes,
            "home": str(home), "report": str(report / REPORT_MARKDOWN_FILE),
            "component_seconds": {t.component: round(t.seconds, 1) for t in timings},
            "pushed": {r.model_name: r.pushed_path for r in results}}


def run_baseline(data: str, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    """`bench/baseline.py` on the same data and configuration; its wall time, peak RSS and own JSON result."""
    result_path = workdir / "baseline.json"
    command = [sys.executable, "-m", "bench.baseline", "--data", data, "--json", str(result_path),
               *set_args(overrides)]
    measured = memory.run_measured(command, workdir / "baseline-stdout.log", env=_env())
    if measured.returncode != 0:
        raise RuntimeError(f"baseline script failed ({measured.returncode}); see {workdir / 'baseline-stdout.log'}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result.pop("config", None)
    result["script_seconds"] = round(result.pop("wall_seconds"), 1)
    return {"wall_seconds": round(measured.seconds, 1), "peak_rss_bytes": measured.peak_rss_bytes, **result}
