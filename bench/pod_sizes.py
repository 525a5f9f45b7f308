"""`python -m bench.pod_sizes`: what each step of the compiled package uses, against the pod it is given.

Compiles the default package (MobileNet V1 1.0 and V2 1.4 at 224 px, the config's batch size), runs it on the
photo set through the local launcher in open-source KFP semantics, one task at a time, and records each task's
wall time and peak resident memory (the task's process and its children, as a pod's memory use) beside the CPU
and memory `kubeflow.*` gives its pod. The `kubeflow.*_memory` defaults are chosen from these peaks with room for
larger datasets and batches (`docs/` and `kubeflow/README.md` say by how much).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("mobilenet.bench")
DEFAULT_OUT = Path("bench/results/pod_sizes")
POD_SIZES_PER_CLASS = 60


def measure(out: Path, per_class: int, overrides: list[str]) -> list[dict[str, Any]]:
    """Run the default package once on `per_class` photos per class; one row per task."""
    from components.ingestion import demo_data
    from kubeflow import compile as kubeflow_compile
    from kubeflow.local_launcher import LocalLauncher, load_spec
    from pipeline.config import load_config

    data = out / "data"
    if not data.exists():
        demo_data.write_dataset(str(data), dataset="photos", per_class=per_class)
    config = load_config(None, ["train.epochs=1", *overrides])
    package = out / "package.yaml"
    kubeflow_compile.compile_pipeline(config, str(package))
    launcher = LocalLauncher(
        load_spec(str(package)),
        str(out / "root"),
        cache=False,
        parameters={"data_root": str(data.resolve()), "registry_root": str(out / "registry")},
    )
    rows = []
    for run in launcher.run(
        parallelism=1,
        on_task=lambda run: log.info("%s: %.1f s, peak %.2f GB", run.name, run.seconds, run.peak_rss_bytes / 1e9),
    ):
        rows.append(
            {
                "task": run.name,
                "seconds": round(run.seconds, 1),
                "peak_rss_gb": round(run.peak_rss_bytes / 1e9, 2),
                "cpu": run.resources.get("cpuLimit"),
                "memory_gb": run.resources.get("memoryLimit"),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], per_class: int) -> str:
    """The rows as a Markdown table, with how much of its pod's memory each task used."""
    lines = [
        f"# Pod sizes: the default package on {per_class} photos per class (one task at a time)",
        "",
        "| task | seconds | peak memory (GB) | pod CPU | pod memory (GB) | peak / pod memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        share = row["peak_rss_gb"] / row["memory_gb"] if row["memory_gb"] else 0.0
        lines.append(
            f"| {row['task']} | {row['seconds']} | {row['peak_rss_gb']} | {row['cpu']:g} | "
            f"{row['memory_gb']:g} | {share:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pod_sizes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--per-class",
        type=int,
        default=POD_SIZES_PER_CLASS,
        help=f"photos per class (default {POD_SIZES_PER_CLASS}, 6 classes)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override of the compiled package (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = measure(args.out, args.per_class, args.overrides)
    (args.out / "pod_sizes.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "pod_sizes.md").write_text(markdown(rows, args.per_class))
    sys.stdout.write(markdown(rows, args.per_class))
    return 0


if __name__ == "__main__":
    sys.exit(main())
