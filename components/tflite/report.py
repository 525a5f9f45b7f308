"""The validation report: `report.json` for machines (and the registry manifest) and a summary for people."""

from __future__ import annotations

from typing import Any, Mapping

from components.contracts import (
    APP_PATH_ACCURACY_FIELD,
    FLOAT_ACCURACY_FIELD,
    LATENCY_BY_THREADS_FIELD,
    LATENCY_FIELD,
    TFLITE_ACCURACY_FIELD,
    TRAINING_INPUT_FIELD,
)
from components.ingestion.training_input import TrainingInput
from components.tflite.baseline import Baseline
from components.tflite.gates import GateResult

CANDIDATE_KEYS = (
    "quantization",
    "quantization_aware",
    "integer_io",
    "size_bytes",
    TFLITE_ACCURACY_FIELD,
    "tflite_top5_accuracy",
    APP_PATH_ACCURACY_FIELD,
    "gated_accuracy",
    "selection_accuracy",
    "accuracy_drop",
    LATENCY_FIELD,
    LATENCY_BY_THREADS_FIELD,
    "peak_memory_bytes",
    "ops",
    "builtin_ops_only",
    "input_dtype",
)
"""`selection_accuracy` is the candidate's top-1 on the split it is chosen on (`selection_split` in the report:
validation, or eval where there is none); the other accuracies and every gate are on eval."""
QUANTIZATION_AWARE_SETTING = "train.quantization_aware_epochs"
"""The setting that adds a quantization-aware int8 candidate (named when post-training int8 loses too much)."""


def runtime_line(report: Mapping[str, Any]) -> str | None:
    """Which runtime, delegate and CPU every accuracy and latency figure is from (the build machine's CPU, not a
    phone), or None for a report without it."""
    runtime = report.get("runtime")
    if not runtime:
        return None
    return (
        f"measured on {runtime['name']} {runtime['version']} with {runtime['delegate']}, on {runtime['cpu']}: "
        f"{runtime['where']}"
    )


def app_path_line(report: Mapping[str, Any]) -> str:
    """What the app-path accuracy is, or why there is none."""
    app = report.get("app_path")
    if not app:
        return "app path: not measured (no ImageExampleGen examples given); min_accuracy judges the interpreter's"
    return (
        f"app path: the {app['examples']} eval images' original files through {app['preprocessing']}; "
        "min_accuracy judges the lower of it and the interpreter's accuracy"
    )


def thread_medians(candidate: Mapping[str, Any]) -> str:
    """`1 t 7.79 ms, 2 t 4.10 ms, 4 t 4.30 ms` from a candidate's latency by thread count."""
    by_threads = candidate.get(LATENCY_BY_THREADS_FIELD) or {}
    return ", ".join(f"{threads} t {by_threads[threads]['median']:.2f} ms" for threads in sorted(by_threads, key=int))


def latency_table(report: Mapping[str, Any]) -> list[str]:
    """Markdown rows: median (p90) latency per thread count, one column per converted candidate, and int8 / float32
    beside them when both were converted."""
    measured = [c for c in report["candidates"] if not c.get("error") and c.get(LATENCY_BY_THREADS_FIELD)]
    if not measured:
        return []
    counts = sorted({int(t) for c in measured for t in c[LATENCY_BY_THREADS_FIELD]})
    float32 = next((c for c in measured if c["quantization"] == "float32"), None)
    ratios = [c for c in measured if c["quantization"] == "int8" and float32 is not None]
    lines = [
        "| threads | "
        + " | ".join(f"{candidate_label(c)} median (p90) ms" for c in measured)
        + "".join(f" | {candidate_label(c)} / float32" for c in ratios)
        + " |",
        "|---:|" + "---:|" * (len(measured) + len(ratios)),
    ]
    gated_threads = (report.get(LATENCY_FIELD) or {}).get("threads")
    for count in counts:
        cells = []
        for candidate in measured:
            latency = candidate[LATENCY_BY_THREADS_FIELD].get(str(count))
            cells.append("-" if latency is None else f"{latency['median']:.2f} ({latency['p90']:.2f})")
        for candidate in ratios:
            mine = candidate[LATENCY_BY_THREADS_FIELD].get(str(count))
            base = float32[LATENCY_BY_THREADS_FIELD].get(str(count))
            cells.append("-" if not mine or not base else f"{mine['median'] / base['median']:.2f}")
        gated = " (gated)" if count == gated_threads else ""
        lines.append(f"| {count}{gated} | " + " | ".join(cells) + " |")
    return lines


def candidate_label(candidate: Mapping[str, Any]) -> str:
    """A candidate's name in reports: its mode, `int8 (quantization-aware)` for the quantization-aware model."""
    return candidate["quantization"] + (" (quantization-aware)" if candidate.get("quantization_aware") else "")


def quantization_aware_hint(candidates: list[Mapping[str, Any]]) -> str | None:
    """What to do when post-training int8 failed only the accuracy-drop gate and no quantization-aware model was
    tried; None otherwise."""
    if any(candidate.get("quantization_aware") for candidate in candidates):
        return None
    for candidate in candidates:
        failed = [gate["name"] for gate in candidate.get("gates", []) if not gate["passed"]]
        if candidate["quantization"] == "int8" and failed == ["max_accuracy_drop"]:
            return (
                f"post-training int8 lost {candidate['accuracy_drop'] * 100:.2f} pts, more than "
                f"gates.max_accuracy_drop allows; quantization-aware training usually wins that back: set "
                f"{QUANTIZATION_AWARE_SETTING}=2"
            )
    return None


def quantization_aware_training(report: Mapping[str, Any]) -> str | None:
    """What the quantization-aware epochs cost and did (the Trainer's record), or None when none ran."""
    record = report.get("quantization_aware_training")
    if not record:
        return None
    text = (
        f"{record['epochs']} quantization-aware epoch(s): {record['fine_tune_seconds']:.1f} s, saving "
        f"{record['save_seconds']:.1f} s"
    )
    validation = record.get("validation_accuracy")
    if validation:
        text += (
            f"; validation accuracy {validation['float_kept']:.4f} float, {validation['float_weights_after']:.4f}"
            f" with the epochs' weights in float, {validation['quantization_aware']:.4f} fake-quantized "
            "(the int8 drop is against the float model, so it includes what the extra epochs learned)"
        )
    return text


def provenance(report: Mapping[str, Any]) -> list[str]:
    """What the model was trained on and started from, as lines: `trained on spans A..B (120 files)` and
    `warm start: mobilenet_v1 version 1 (channel production); classifier head kept (same classes, ...)`."""
    lines = []
    trained_on = TrainingInput.from_json(report.get(TRAINING_INPUT_FIELD))
    if trained_on is not None:
        where = trained_on.describe() if trained_on.spans else "the whole data root"
        lines.append(f"trained on {where} ({trained_on.files} files)")
    warm = report.get("warm_start")
    if warm:
        lines.append(
            f"warm start: {warm['source']}, {warm['layers_loaded']} of {warm['layers']} layers; classifier "
            f"head {warm['head']}"
        )
    elif TRAINING_INPUT_FIELD in report:
        lines.append("warm start: none (trained from scratch)")
    return lines


def selection(report: Mapping[str, Any]) -> str | None:
    """Which split chose between the candidates, e.g. `candidates chosen on the validation split (60 examples);
    accuracies and gates on eval`; None for a report without it."""
    split = report.get("selection_split")
    if not split:
        return None
    return (
        f"candidates chosen on the {split} split ({report.get('selection_examples')} examples); accuracies and "
        "gates on eval"
    )


def candidate_entry(measured: Mapping[str, Any], gates: list[GateResult], error: str | None = None) -> dict[str, Any]:
    """One tried quantization mode: its measurements, gate results and whether it passed."""
    entry = {key: measured.get(key) for key in CANDIDATE_KEYS}
    entry["gates"] = [{"name": g.name, "measured": g.measured, "limit": g.limit, "passed": g.passed} for g in gates]
    entry["passed"] = error is None and all(g.passed for g in gates)
    entry["error"] = error
    return entry


def build_report(
    identity: Mapping[str, Any],
    float_accuracy: float,
    candidates: list[dict[str, Any]],
    chosen: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The report. Top-level measurements are the chosen candidate's, or, when none passed, the first tried one's
    (so a held-back model still shows what failed)."""
    shown = chosen or next((c for c in candidates if c.get("error") is None), candidates[0])
    report = dict(identity)
    report.update({key: shown.get(key) for key in CANDIDATE_KEYS})
    report.update(
        {
            FLOAT_ACCURACY_FIELD: float_accuracy,
            "gates": shown.get("gates", []),
            "blessed": chosen is not None,
            "candidates": candidates,
        }
    )
    return report


def summary(report: Mapping[str, Any]) -> str:
    """A multi-line, human-readable summary naming each failing gate with its value and limit."""
    verdict = "BLESSED" if report["blessed"] else "HELD BACK"
    lines = [f"TFLite validation of {report['model_name']}: {verdict}"]
    lines += [f"  {line}" for line in provenance(report)]
    if "baseline" in report:
        lines.append(f"  no-regression baseline: {Baseline.from_json(report['baseline']).describe()}")
    if selection(report):
        lines.append(f"  {selection(report)}")
    for candidate in report["candidates"]:
        if candidate.get("error"):
            lines.append(f"  {candidate_label(candidate)}: failed: {candidate['error']}")
            continue
        latency = candidate.get(LATENCY_FIELD) or {}
        app = candidate.get(APP_PATH_ACCURACY_FIELD)
        lines.append(
            f"  {candidate_label(candidate)}: {candidate['size_bytes']:,} bytes, accuracy "
            f"{candidate[TFLITE_ACCURACY_FIELD]:.4f}{'' if app is None else f', app path {app:.4f}'} (float "
            f"{report[FLOAT_ACCURACY_FIELD]:.4f}, drop {candidate['accuracy_drop'] * 100:.2f} pts), latency median "
            f"{latency.get('median', 0):.2f} ms p90 {latency.get('p90', 0):.2f} ms at {latency.get('threads')} "
            f"threads ({thread_medians(candidate)}), {'passed' if candidate['passed'] else 'failed'}"
            + (
                f" ({report['selection_split']} accuracy {candidate['selection_accuracy']:.4f})"
                if report.get("selection_split", "eval") != "eval"
                else ""
            )
        )
        for gate in candidate["gates"]:
            if not gate["passed"]:
                lines.append(f"    gate {gate['name']} failed: measured {gate['measured']}, limit {gate['limit']}")
    training = quantization_aware_training(report)
    if training:
        lines.append(f"  {training}")
    if runtime_line(report):
        lines.append(f"  {runtime_line(report)}")
    if report["blessed"]:
        lines.append(f"  kept: {candidate_label(report)}")
    else:
        lines.append("  no quantization mode passed every gate: the model is held back and will not be pushed")
    hint = quantization_aware_hint(report["candidates"])
    if hint:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: the verdict, one table row per tried quantization mode, and every failing gate."""
    verdict = f"blessed, kept `{candidate_label(report)}`" if report["blessed"] else "held back (not pushed)"
    lines = [
        f"# {report['model_name']}: TFLite validation",
        "",
        f"- architecture: {report['architecture']}; input {report['input_shape']}; {report['labels_count']} labels",
        f"- float SavedModel accuracy on {report['eval_examples']} eval examples: {report[FLOAT_ACCURACY_FIELD]:.4f}",
        f"- verdict: {verdict}",
        *[f"- {line}" for line in provenance(report)],
        *(
            [f"- no-regression baseline: {Baseline.from_json(report['baseline']).describe()}"]
            if "baseline" in report
            else []
        ),
        *([f"- {quantization_aware_training(report)}"] if quantization_aware_training(report) else []),
        *([f"- {selection(report)}"] if selection(report) else []),
        *([f"- {runtime_line(report)}"] if runtime_line(report) else []),
        f"- {app_path_line(report)}",
        "",
        "| mode | bytes | top-1 | top-1 app path | top-5 | drop (pts) | median ms | p90 ms | peak memory "
        "| builtin ops only | gates |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for candidate in report["candidates"]:
        if candidate.get("error"):
            lines.append(
                f"| {candidate_label(candidate)} | - | - | - | - | - | - | - | - | - | error: {candidate['error']} |"
            )
            continue
        latency = candidate.get(LATENCY_FIELD) or {}
        drop = candidate.get("accuracy_drop")
        failed = [gate["name"] for gate in candidate["gates"] if not gate["passed"]]
        lines.append(
            f"| {candidate_label(candidate)} | {_cell(candidate['size_bytes'], ',')} | "
            f"{_cell(candidate[TFLITE_ACCURACY_FIELD], '.4f')} | "
            f"{_cell(candidate.get(APP_PATH_ACCURACY_FIELD), '.4f')} | "
            f"{_cell(candidate.get('tflite_top5_accuracy'), '.4f')} | "
            f"{_cell(None if drop is None else drop * 100, '.2f')} | {_cell(latency.get('median'), '.2f')} | "
            f"{_cell(latency.get('p90'), '.2f')} | {_cell(candidate.get('peak_memory_bytes'), ',')} | "
            f"{'yes' if candidate.get('builtin_ops_only') else 'no'} | "
            f"{'failed: ' + ', '.join(failed) if failed else 'passed'} |"
        )
    latency = latency_table(report)
    if latency:
        lines += [
            "",
            "Latency of one `invoke` by interpreter threads (the build machine's CPU, not a phone):",
            "",
            *latency,
        ]
    failing = [
        (candidate_label(candidate), gate)
        for candidate in report["candidates"]
        for gate in candidate.get("gates", [])
        if not gate["passed"]
    ]
    if failing:
        lines += ["", "Failing gates:", ""]
        lines += [
            f"- {mode}: {gate['name']} measured {gate['measured']}, limit {gate['limit']}" for mode, gate in failing
        ]
    hint = quantization_aware_hint(report["candidates"])
    if hint:
        lines += ["", f"Hint: {hint}."]
    return "\n".join(lines) + "\n"
