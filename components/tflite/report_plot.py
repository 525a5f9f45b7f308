"""The picture of a TFLite validation: accuracy against size and against latency, one point per quantization
mode, with the gate limits drawn; saved as `report.png` beside the model (and so in each registry version)."""

from __future__ import annotations

from typing import Any, Mapping

from components.contracts import FLOAT_ACCURACY_FIELD, LATENCY_FIELD, TFLITE_ACCURACY_FIELD
from components.tflite import report as report_lib


def report_png(report: Mapping[str, Any]) -> bytes:
    """The two-panel PNG of `report`."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    measured = [c for c in report["candidates"] if not c.get("error") and c.get("size_bytes")]
    limits = {gate["name"]: gate["limit"] for c in measured for gate in c.get("gates", [])}
    figure, (size_axis, latency_axis) = pyplot.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for candidate in measured:
        kept = report["blessed"] and report_lib.candidate_label(candidate) == report_lib.candidate_label(report)
        style = {
            "s": 90 if kept else 50,
            "marker": "*" if kept else "o",
            "label": report_lib.candidate_label(candidate) + (" (kept)" if kept else ""),
        }
        size_axis.scatter(candidate["size_bytes"] / 1e6, candidate[TFLITE_ACCURACY_FIELD], **style)
        latency_axis.scatter(
            (candidate.get(LATENCY_FIELD) or {}).get("median", 0.0), candidate[TFLITE_ACCURACY_FIELD], **style
        )
    for axis in (size_axis, latency_axis):
        axis.axhline(report[FLOAT_ACCURACY_FIELD], color="grey", linestyle=":", label="float SavedModel")
        if limits.get("min_accuracy") is not None:
            axis.axhline(limits["min_accuracy"], color="red", linestyle="--", label="min_accuracy gate")
        axis.grid(alpha=0.3)
    if limits.get("max_model_bytes"):
        size_axis.axvline(limits["max_model_bytes"] / 1e6, color="red", linestyle="-.", label="max_model_bytes gate")
    if limits.get("max_latency_ms"):
        latency_axis.axvline(limits["max_latency_ms"], color="red", linestyle="-.", label="max_latency_ms gate")
    size_axis.set(xlabel=".tflite size (MB)", ylabel="top-1 accuracy (eval split)", title="accuracy vs size")
    latency_axis.set(xlabel="median latency (ms)", title="accuracy vs latency")
    latency_axis.legend(fontsize="small", loc="best")
    verdict = "blessed" if report["blessed"] else "held back"
    figure.suptitle(f"{report['model_name']}: {verdict}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    pyplot.close(figure)
    return buffer.getvalue()
