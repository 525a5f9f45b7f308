"""Ingestion scaling: ImageExampleGen + Transform alone, on the DirectRunner with a given number of workers or on
the portable path (job service and external worker pool started for the run, pipeline/portable_services.py).

The ingest part is the real pipeline from `create_pipeline`, run partially (TFX partial run), so no component is
built a second way. Each measurement runs two fresh processes on a fresh home (`python -m bench.ingestion ...`):
one up to ImageExampleGen, then one up to Transform that takes ImageExampleGen from the cache, and the parent
samples the peak resident memory of each process and everything it starts (Beam workers, the portable services),
so each step has its own peak.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bench import runs
from pipeline import process_memory

INGEST_COMPONENTS = ("ImageExampleGen", "Transform")
PORTABLE = ("beam.runner=PortableRunner", "beam.local_services=true")
"""The overrides of the portable path's rows."""
log = logging.getLogger("mobilenet.bench")


def run_ingest_only(data: str, home: str, workers: int, overrides: list[str], last_node: str) -> list[dict[str, Any]]:
    """Run the pipeline up to `last_node` with `workers` DirectRunner workers (or the runner `overrides` set);
    returns the component timings."""
    return runs.run_partial(data, home, [*overrides, f"beam.direct_num_workers={workers}"], [last_node])


def _run_step(data: str, workers: int, home: Path, overrides: list[str], last_node: str) -> tuple[float, float, int]:
    """One child process up to `last_node`: that step's seconds, the process's seconds and its tree's peak RSS."""
    result_path = home / f"timings-{last_node}.json"
    command = [
        sys.executable,
        "-m",
        "bench.ingestion",
        "--data",
        data,
        "--home",
        str(home),
        "--workers",
        str(workers),
        "--result",
        str(result_path),
        "--to",
        last_node,
        *runs.set_args(overrides),
    ]
    measured = process_memory.run_measured(command, home / "stdout.log", env=runs.child_env())
    if measured.returncode != 0:
        raise RuntimeError(
            f"ingest-only run up to {last_node} failed ({measured.returncode}); see "
            f"{home / 'stdout.log'} and {home / 'logs'}"
        )
    seconds = {t["component"]: t["seconds"] for t in json.loads(result_path.read_text(encoding="utf-8"))}
    return seconds[last_node], measured.seconds, measured.peak_rss_bytes


def measure(
    data: str, images: int, workers: int, home: str | Path, overrides: list[str], portable: bool = False
) -> dict[str, Any]:
    """Throughput (images/s over ImageExampleGen + Transform) and the peak RSS of each step, on the DirectRunner
    with `workers` workers or, with `portable`, on the portable path."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    overrides = [*overrides, *(PORTABLE if portable else ())]
    example_gen, example_gen_process, example_gen_peak = _run_step(data, workers, home, overrides, "ImageExampleGen")
    transform, transform_process, transform_peak = _run_step(data, workers, home, overrides, "Transform")
    row = {
        "images": images,
        "runner": "PortableRunner" if portable else "DirectRunner",
        "workers": "pool" if portable else workers,
        "example_gen_seconds": round(example_gen, 2),
        "transform_seconds": round(transform, 2),
        "images_per_second": round(images / (example_gen + transform), 1),
        "process_seconds": round(example_gen_process + transform_process, 1),
        "example_gen_peak_rss_bytes": example_gen_peak,
        "transform_peak_rss_bytes": transform_peak,
        "peak_rss_bytes": max(example_gen_peak, transform_peak),
    }
    log.info(
        "    %d images, %s: ExampleGen %.1f s (peak %.0f MB), Transform %.1f s (peak %.0f MB), %.0f images/s",
        images,
        "portable path" if portable else f"{workers} DirectRunner worker(s)",
        example_gen,
        example_gen_peak / 1e6,
        transform,
        transform_peak / 1e6,
        row["images_per_second"],
    )
    return row


def main(argv: list[str] | None = None) -> int:
    """Child entry point: one ingest-only run; writes the component timings as JSON to `--result`."""
    parser = argparse.ArgumentParser(description="ImageExampleGen + Transform only (benchmark child process)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--to", default="Transform", choices=INGEST_COMPONENTS, help="the last step to run")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    timings = run_ingest_only(args.data, args.home, args.workers, args.overrides, args.to)
    Path(args.result).write_text(json.dumps(timings, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
