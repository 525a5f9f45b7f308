"""Ingestion scaling: ImageExampleGen + Transform alone, on DirectRunner with a given number of workers.

The ingest part is the real pipeline from `create_pipeline`, run partially up to Transform (TFX partial run:
ImageExampleGen, ImportSchemaGen, Transform), so no component is built a second way. Each measurement runs in a
fresh process with a fresh home (`python -m bench.ingestion ...`), and the parent samples the peak
resident memory of that process and its Beam workers.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bench import memory

INGEST_COMPONENTS = ("ImageExampleGen", "Transform")
LAST_NODE = "Transform"
log = logging.getLogger("mobilenet.bench")


def run_ingest_only(data: str, home: str, workers: int, overrides: list[str]) -> list[dict[str, Any]]:
    """Run the pipeline up to Transform with `workers` DirectRunner workers; returns the component timings."""
    from tfx import v1 as tfx
    from tfx.orchestration.pipeline import RunOptions

    from pipeline import config as config_lib, local_runner
    from pipeline.pipeline import create_pipeline
    from pipeline.reporting import progress

    config = config_lib.load_config(None, [*overrides, f"data.root={data}", f"pipeline.home={home}",
                                           f"registry.root={os.path.join(home, 'registry')}",
                                           f"beam.direct_num_workers={workers}"])
    config, paths = local_runner.localize(config)
    paths.home.mkdir(parents=True, exist_ok=True)
    pipeline = create_pipeline(
        config, pipeline_root=paths.pipeline_root,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata))
    with progress.capture_output(paths.new_log()) as terminal, progress.report_progress(terminal) as reporter:
        tfx.orchestration.LocalDagRunner().run(pipeline, run_options=RunOptions(to_nodes=[LAST_NODE]))
    return [dataclasses.asdict(timing) for timing in reporter.timings]


def measure(data: str, images: int, workers: int, home: str | Path, overrides: list[str]) -> dict[str, Any]:
    """Throughput (images/s over ImageExampleGen + Transform) and peak RSS of one ingest-only run."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    result_path = home / "timings.json"
    command = [sys.executable, "-m", "bench.ingestion", "--data", data, "--home", str(home),
               "--workers", str(workers), "--result", str(result_path)]
    for override in overrides:
        command += ["--set", override]
    measured = memory.run_measured(command, home / "stdout.log", env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if measured.returncode != 0:
        raise RuntimeError(f"ingest-only run failed ({measured.returncode}); see {home / 'stdout.log'} and "
                           f"{home / 'logs'}")
    seconds = {t["component"]: t["seconds"] for t in json.loads(result_path.read_text(encoding="utf-8"))}
    work = sum(seconds[name] for name in INGEST_COMPONENTS)
    row = {"images": images, "workers": workers,
           "example_gen_seconds": round(seconds["ImageExampleGen"], 2),
           "transform_seconds": round(seconds["Transform"], 2),
           "images_per_second": round(images / work, 1), "process_seconds": round(measured.seconds, 1),
           "peak_rss_bytes": measured.peak_rss_bytes}
    log.info("    %d images, %d worker(s): ExampleGen %.1f s, Transform %.1f s, %.0f images/s, peak RSS %.0f MB",
             images, workers, row["example_gen_seconds"], row["transform_seconds"], row["images_per_second"],
             measured.peak_rss_bytes / 1e6)
    return row


def main(argv: list[str] | None = None) -> int:
    """Child entry point: one ingest-only run; writes the component timings as JSON to `--result`."""
    parser = argparse.ArgumentParser(description="ImageExampleGen + Transform only (benchmark child process)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    timings = run_ingest_only(args.data, args.home, args.workers, args.overrides)
    Path(args.result).write_text(json.dumps(timings, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
