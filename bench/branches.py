"""V1's and V2's branches one after the other, and at once: what running them concurrently would save
on this machine, and what it does to the latency the TFLite step gates on.

    python -m bench.branches --data DIR --out DIR [--set KEY=VALUE ...]

TFX 1.16's `LocalDagRunner` runs a pipeline's nodes one after the other. The concurrent path is the one a local
run could take without another orchestrator: the upstream steps alone (a partial run up to Transform and
ExampleValidator, in its own process), then one `mobilenet-pipeline run --models ARCH` per architecture, started
together on the same home. Each takes the upstream steps from TFX's cache and runs its own Trainer, Evaluator,
TFLite step and Pusher; both write the one sqlite ML Metadata store. The sequential path is `mobilenet-pipeline
run` of every architecture on a fresh home. Both paths' wall times, their component seconds and the median
latency each TFLite step measured per mode are written as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import runs
from components.contracts import LATENCY_FIELD, REPORT_FILE

UPSTREAM = ("Transform", "ExampleValidator")
"""The nodes the upstream partial run ends at: together they cover every node outside the model branches."""
log = logging.getLogger("mobilenet.bench")


def run_upstream(data: str, home: str, overrides: list[str]) -> None:
    """Child process: the pipeline up to `UPSTREAM` on `home`, with the DirectRunner mode the data's size picks."""
    from components.ingestion.image_files import scan_folder

    runs.run_partial(data, home, overrides, UPSTREAM, scan_folder(data).total)


def _start(command: list[str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=runs.child_env())


def _wait(processes: dict[str, subprocess.Popen], started: float, logs: dict[str, Path]) -> dict[str, float]:
    """Seconds from `started` until each process ended; raises if one failed."""
    ended: dict[str, float] = {}
    while len(ended) < len(processes):
        for name, process in processes.items():
            if name not in ended and process.poll() is not None:
                ended[name] = round(time.monotonic() - started, 1)
                if process.returncode != 0:
                    raise RuntimeError(f"{name} failed ({process.returncode}); see {logs[name]}")
        time.sleep(0.2)
    return ended


def _measured(home: Path) -> dict[str, Any]:
    """Per component its seconds (from every run report in `home`, the latest run of each component), and per
    model the median latency its TFLite step measured in each mode."""
    from pipeline.reporting import run_report

    seconds: dict[str, float] = {}
    for report in sorted((home / run_report.REPORTS_DIR).iterdir()):
        for timing in run_report.read_run_report(report)[1]:
            if not timing.cached:
                seconds[timing.component] = round(timing.seconds, 1)
    latency = {}
    for path in sorted((home / "pipeline_root").glob(f"TFLite_*/report/*/{REPORT_FILE}")):
        report = json.loads(path.read_text(encoding="utf-8"))
        latency[report["model_name"]] = {
            candidate["quantization"]: round(candidate[LATENCY_FIELD]["median"], 3)
            for candidate in report["candidates"]
            if candidate.get(LATENCY_FIELD)
        }
    return {"component_seconds": seconds, "latency_median_ms": latency}


def compare(data: str, out: Path, overrides: list[str], architectures: list[str]) -> dict[str, Any]:
    """The sequential run, then the concurrent one, on fresh homes under `out`; their wall times and measurements."""
    sequential_home = runs.fresh_dir(out / "sequential") / "home"
    logs = {"sequential": out / "sequential" / "stdout.log"}
    started = time.monotonic()
    command = runs.pipeline_command(data, sequential_home, sequential_home / "registry", overrides)
    _wait({"sequential": _start(command, logs["sequential"])}, started, logs)
    sequential_seconds = round(time.monotonic() - started, 1)
    log.info("  branches one after the other: %.0f s", sequential_seconds)

    concurrent = runs.fresh_dir(out / "concurrent")
    home = concurrent / "home"
    logs = {"upstream": concurrent / "upstream.log", **{arch: concurrent / f"{arch}.log" for arch in architectures}}
    started = time.monotonic()
    upstream = [
        sys.executable,
        "-m",
        "bench.branches",
        "--upstream-only",
        "--data",
        data,
        "--out",
        str(home),
        *runs.set_args(overrides),
    ]
    upstream_seconds = _wait({"upstream": _start(upstream, logs["upstream"])}, started, logs)["upstream"]
    branch_started = time.monotonic()
    processes = {
        arch: _start(
            runs.pipeline_command(data, home, home / "registry", [*overrides, f"model.architectures={arch}"]),
            logs[arch],
        )
        for arch in architectures
    }
    branch_seconds = _wait(processes, branch_started, logs)
    concurrent_seconds = round(time.monotonic() - started, 1)
    log.info(
        "  upstream %.0f s, then the branches at once (%s): %.0f s in all",
        upstream_seconds,
        ", ".join(f"{arch} {seconds:.0f} s" for arch, seconds in branch_seconds.items()),
        concurrent_seconds,
    )
    return {
        "sequential": {"wall_seconds": sequential_seconds, **_measured(sequential_home)},
        "concurrent": {
            "wall_seconds": concurrent_seconds,
            "upstream_seconds": upstream_seconds,
            "branch_seconds": branch_seconds,
            **_measured(home),
        },
        "wall_ratio": round(concurrent_seconds / sequential_seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Compare the two paths and write `OUT/branches.json`, or (`--upstream-only`) be the upstream child."""
    parser = argparse.ArgumentParser(prog="python -m bench.branches", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="image folder (class sub-folders)")
    parser.add_argument("--out", required=True, help="output folder (the upstream child: the run home)")
    parser.add_argument("--models", default="v1,v2", help="architectures, one concurrent branch each")
    parser.add_argument("--upstream-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    if args.upstream_only:
        run_upstream(args.data, args.out, args.overrides)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = compare(args.data, out, [*args.overrides, f"model.architectures={args.models}"], args.models.split(","))
    (out / "branches.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps({key: result[key]["wall_seconds"] for key in ("sequential", "concurrent")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
