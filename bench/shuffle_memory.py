"""Where ingestion's memory grows with the dataset: Beam's DirectRunner holding a shuffled PCollection whole.

TFX's ExampleGen ends each split with a `Reshuffle` before writing (`tfx/components/example_gen/write_split.py`).
This measures that pattern alone, without TFX or TensorFlow: N elements of B random bytes (about one encoded
224 px image each), with and without a `Reshuffle`, written to TFRecords on the DirectRunner, each in a fresh
process whose peak RSS (with its Beam workers) is sampled:

    python -m bench.shuffle_memory --elements 5000 20000 --bytes 60000 [--mode in_memory]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from pipeline import process_memory

MODES = ("in_memory", "multi_processing")


def _random_bytes(_: int, size: int) -> bytes:
    return os.urandom(size)


def _pipeline(elements: int, size: int, mode: str, shuffle: bool, out_dir: str) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions([f"--direct_running_mode={mode}", "--direct_num_workers=1"])
    with beam.Pipeline(options=options) as pipeline:
        records = pipeline | beam.Create(range(elements)) | beam.Map(_random_bytes, size)
        if shuffle:
            records = records | beam.Reshuffle()
        _ = records | beam.io.WriteToTFRecord(os.path.join(out_dir, "records"))


def measure(elements: int, size: int, mode: str, shuffle: bool, scratch: Path) -> dict[str, Any]:
    """Peak RSS and seconds of one such pipeline in a fresh process."""
    with tempfile.TemporaryDirectory(dir=scratch) as out_dir:
        command = [
            sys.executable,
            "-m",
            "bench.shuffle_memory",
            "--child",
            "--elements",
            str(elements),
            "--bytes",
            str(size),
            "--mode",
            mode,
            "--out",
            out_dir,
            *(["--shuffle"] if shuffle else []),
        ]
        log_path = scratch / "shuffle-memory.log"
        measured = process_memory.run_measured(command, log_path)
    if measured.returncode != 0:
        raise RuntimeError(
            f"shuffle memory run failed ({measured.returncode}):\n"
            + log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        )
    return {
        "elements": elements,
        "bytes": size,
        "mode": mode,
        "reshuffle": shuffle,
        "seconds": round(measured.seconds, 1),
        "peak_rss_bytes": measured.peak_rss_bytes,
    }


def study(counts: list[int], size: int, modes: tuple[str, ...], scratch: Path) -> list[dict[str, Any]]:
    """Every count x mode, with and without the Reshuffle."""
    scratch.mkdir(parents=True, exist_ok=True)
    return [
        measure(count, size, mode, shuffle, scratch) for mode in modes for shuffle in (False, True) for count in counts
    ]


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table, one line per mode x Reshuffle with the peak at each count and the ratio."""
    from pipeline.reporting.tables import text_table

    counts = sorted({row["elements"] for row in rows})
    lines = []
    for mode in dict.fromkeys(row["mode"] for row in rows):
        for shuffle in (False, True):
            peaks = {
                row["elements"]: row["peak_rss_bytes"]
                for row in rows
                if row["mode"] == mode and row["reshuffle"] == shuffle
            }
            lines.append(
                [
                    mode,
                    "yes" if shuffle else "no",
                    *(f"{peaks[c] / 1e6:.0f}" for c in counts),
                    f"{peaks[counts[-1]] / peaks[counts[0]]:.2f}",
                ]
            )
    return text_table(
        ["DirectRunner mode", "Reshuffle", *(f"peak MB at {c}" for c in counts), f"{counts[-1]} / {counts[0]}"], lines
    )


def main(argv: list[str] | None = None) -> int:
    """Print the study's table (or, with --child, run one pipeline)."""
    parser = argparse.ArgumentParser(prog="python -m bench.shuffle_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--bytes", type=int, default=60000, help="bytes per element (default %(default)s)")
    parser.add_argument("--mode", choices=MODES, nargs="+", default=list(MODES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shuffle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _pipeline(args.elements[0], args.bytes, args.mode[0], args.shuffle, args.out)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        print(table(study(args.elements, args.bytes, tuple(args.mode), Path(scratch))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
