"""The report of one pipeline run: `report.md`, `report.png` (accuracy vs size per model, seconds per component)
and `report.json` (the same numbers, for tools such as the benchmark), written after every `mobilenet-pipeline run`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from components.contracts import REPORT_FILE, REPORT_MARKDOWN_FILE, REPORT_PICTURE_FILE
from pipeline.reporting.progress import ComponentTiming
from pipeline.reporting.run_summary import ModelResult, results_table, timings_table

REPORTS_DIR = "reports"


def report_dir(home: str | Path, run_name: str) -> Path:
    """The folder of the report of run `run_name` (its log's name, e.g. `run-20261125-101500`) in `home`."""
    return Path(home) / REPORTS_DIR / run_name


def plot_run(results: Sequence[ModelResult], timings: Sequence[ComponentTiming], path: str | Path) -> None:
    """Two panels: `.tflite` accuracy against size for each model, and seconds per component."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (models_axis, timings_axis) = pyplot.subplots(
        1, 2, figsize=(12, max(4.0, 0.3 * len(timings) + 1.5)), gridspec_kw={"width_ratios": [1, 1.2]}
    )
    measured = [r for r in results if r.size_bytes is not None and r.tflite_accuracy is not None]
    for result in measured:
        size_mb = result.size_bytes / 1e6
        models_axis.scatter(size_mb, result.tflite_accuracy, s=60, label=f"{result.model_name} ({result.quantization})")
        if result.float_accuracy is not None:
            models_axis.scatter(size_mb, result.float_accuracy, s=60, marker="_", color="grey")
    models_axis.set(xlabel=".tflite size (MB)", ylabel="eval accuracy", title="accuracy vs size (- = float model)")
    models_axis.grid(alpha=0.3)
    if measured:
        models_axis.legend(fontsize=8)
    else:
        models_axis.text(0.5, 0.5, "no model measured", ha="center", transform=models_axis.transAxes)
    names = [t.component for t in timings]
    seconds = [t.seconds for t in timings]
    colors = ["tab:red" if t.failed else ("lightgrey" if t.cached else "tab:blue") for t in timings]
    timings_axis.barh(range(len(timings)), seconds, color=colors)
    timings_axis.set_yticks(range(len(timings)), names, fontsize=8)
    timings_axis.invert_yaxis()
    timings_axis.set(xlabel="seconds", title=f"components (total {sum(seconds):.0f} s; grey = cached)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write_run_report(
    out_dir: str | Path, results: Sequence[ModelResult], timings: Sequence[ComponentTiming], title: str = "Pipeline run"
) -> Path:
    """Write `report.md`, `report.png` and `report.json` into `out_dir` (created); returns the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_run(results, timings, out / REPORT_PICTURE_FILE)
    data = {
        "title": title,
        "results": [dataclasses.asdict(r) for r in results],
        "timings": [dataclasses.asdict(t) for t in timings],
    }
    (out / REPORT_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")
    markdown = "\n".join(
        [
            f"# {title}",
            "",
            f"![accuracy vs size and component timings]({REPORT_PICTURE_FILE})",
            "",
            "## Models",
            "",
            "```",
            results_table(list(results)),
            "```",
            "",
            "## Components",
            "",
            "```",
            timings_table(list(timings)),
            "```",
            "",
        ]
    )
    path = out / REPORT_MARKDOWN_FILE
    path.write_text(markdown, encoding="utf-8")
    return path


def read_run_report(out_dir: str | Path) -> tuple[list[ModelResult], list[ComponentTiming]]:
    """The results and timings a report in `out_dir` was written from."""
    data = json.loads((Path(out_dir) / REPORT_FILE).read_text(encoding="utf-8"))
    return ([ModelResult(**row) for row in data["results"]], [ComponentTiming(**row) for row in data["timings"]])
