"""The benchmark's outputs: `results.json`, `results.md` and PNG plots (one point per model x quantization mode)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from bench.targets import TARGETS
from components.contracts import FLOAT_ACCURACY_FIELD, LATENCY_FIELD, TFLITE_ACCURACY_FIELD

RESULTS_JSON = "results.json"
RESULTS_MARKDOWN = "results.md"
SIZE_PLOT = "accuracy_vs_size.png"
LATENCY_PLOT = "accuracy_vs_latency.png"
INGESTION_PLOT = "ingestion.png"
MODE_MARKERS = {"float32": "o", "float16": "s", "dynamic": "^", "int8": "D"}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; `|` in cells is escaped and None shows as `-`."""

    def cell(value: Any) -> str:
        return "-" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: float | None, pattern: str) -> str | None:
    return None if value is None else pattern.format(value)


def _mb(value: int | None) -> str | None:
    return None if value is None else f"{value / 1e6:.0f}"


def _model_label(row: dict[str, Any]) -> str:
    return f"{row['model']} a{row['alpha']} {row['input_size']}px"


def _targets_section(results: dict[str, Any]) -> list[str]:
    rows = []
    for name, entry in results["targets"].items():
        met = {True: "yes", False: "**no**", None: "not measured"}[entry["met"]]
        limit = f"{'>=' if TARGETS[name][1] else '<='} {entry['limit']}"
        detail = ", ".join(f"{k}: {v}" for k, v in results["target_details"].get(name, {}).items())
        rows.append([name, entry["measured"], limit, met, TARGETS[name][2], detail])
    return ["## Targets", "", markdown_table(["target", "measured", "limit", "met", "what", "per item"], rows), ""]


def _models_section(models: list[dict[str, Any]]) -> list[str]:
    if not models:
        return ["## Models x quantization modes", "", "Not measured (--skip-variants).", ""]
    threads = sorted({t for row in models for t in row[LATENCY_FIELD]}, key=int)
    headers = [
        "model",
        "mode",
        "size (KB)",
        "float acc",
        "tflite acc",
        "drop (points)",
        *[f"latency {t}t median / p90 (ms)" for t in threads],
        "peak memory (MB)",
    ]
    rows = [
        [
            _model_label(r),
            r["mode"],
            f"{r['size_bytes'] / 1e3:.1f}",
            f"{r[FLOAT_ACCURACY_FIELD]:.4f}",
            f"{r[TFLITE_ACCURACY_FIELD]:.4f}",
            f"{r['accuracy_drop_points']:.2f}",
            *[f"{r[LATENCY_FIELD][t]['median']:.3f} / {r[LATENCY_FIELD][t]['p90']:.3f}" for t in threads],
            _num(r["peak_memory_bytes"] and r["peak_memory_bytes"] / 1e6, "{:.1f}"),
        ]
        for r in models
    ]
    eval_counts = sorted({r["eval_examples"] for r in models})
    return [
        "## Models x quantization modes",
        "",
        f"Measured on the eval split ({', '.join(map(str, eval_counts))} images) on the TFLite interpreter; "
        "latency of `invoke` on one image; peak memory is the RSS the interpreter adds in a fresh process.",
        "",
        markdown_table(headers, rows),
        "",
        f"![accuracy vs size]({SIZE_PLOT})",
        "",
        f"![accuracy vs latency]({LATENCY_PLOT})",
        "",
    ]


def _variants_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Pipeline vs plain script",
        "",
        "Both in their own process on the same data and configuration, one after the other; wall time "
        "includes start-up and imports. Peak memory is the RSS summed over the process tree.",
        "",
    ]
    rows = [
        [
            v["variant"],
            v["pipeline"]["wall_seconds"],
            v["baseline"]["wall_seconds"],
            f"{v['wall_ratio']:.2f}",
            _mb(v["pipeline"]["peak_rss_bytes"]),
            _mb(v["baseline"]["peak_rss_bytes"]),
            f"{v['baseline']['import_seconds']:.1f}",
            ", ".join(v["baseline"]["heavy_modules_imported"]) or "none",
        ]
        for v in results["variants"]
    ]
    lines += [
        markdown_table(
            [
                "variant",
                "pipeline (s)",
                "script (s)",
                "ratio",
                "pipeline peak RSS (MB)",
                "script peak RSS (MB)",
                "script imports (s)",
                "TFX-side modules the script imported",
            ],
            rows,
        ),
        "",
    ]
    for variant in results["variants"]:
        lines += _components_table(variant, results.get("fixed_cost"))
        accuracy_rows = [
            [m["model"], f"{m[FLOAT_ACCURACY_FIELD]:.4f}"]
            + [f"{mode[TFLITE_ACCURACY_FIELD]:.4f}" for mode in m["modes"]]
            for m in variant["baseline"]["models"]
        ]
        modes = [mode["quantization"] for mode in variant["baseline"]["models"][0]["modes"]]
        lines += [
            f"Script accuracies ({variant['variant']}):",
            "",
            markdown_table(["model", "float", *modes], accuracy_rows),
            "",
        ]
    return lines


def _components_table(variant: dict[str, Any], fixed_cost: dict[str, Any] | None) -> list[str]:
    seconds = variant["pipeline"]["component_seconds"]
    fixed = (fixed_cost or {}).get("component_seconds", {})
    rows = [[name, value, fixed.get(name)] for name, value in seconds.items()]
    rows.append(
        ["total (components)", round(sum(seconds.values()), 1), round(sum(fixed.values()), 1) if fixed else None]
    )
    steps = variant["baseline"]["steps"]
    step_rows = [[name, f"{value:.1f}"] for name, value in steps.items()]
    note = "Fixed cost not measured."
    if fixed_cost:
        note = (
            f"Fixed cost = the same pipeline and configuration on {fixed_cost['images']} images "
            f"({fixed_cost['wall_seconds']} s wall"
        )
        if fixed_cost.get("baseline"):
            note += (
                f"; the plain script on them {fixed_cost['baseline']['wall_seconds']} s, ratio "
                f"{fixed_cost['wall_ratio']:.2f}"
            )
        note += ")."
    return [
        f"### Seconds per component ({variant['variant']})",
        "",
        note,
        "",
        markdown_table(["component", "this run (s)", "fixed cost (s)"], rows),
        "",
        "Script steps:",
        "",
        markdown_table(["step", "seconds"], step_rows),
        "",
    ]


def _fixed_cost_section(results: dict[str, Any]) -> list[str]:
    fixed_cost = results.get("fixed_cost")
    if not fixed_cost:
        return ["## Fixed cost", "", "Not measured (--skip-fixed-cost).", ""]
    script = fixed_cost.get("baseline") or {}
    rows = [[name, value] for name, value in fixed_cost["component_seconds"].items()]
    pairs = fixed_cost.get("pairs") or []
    return (
        [
            f"## Fixed cost: the same pipeline and configuration on {fixed_cost['images']} images",
            "",
            f"Pipeline {fixed_cost['wall_seconds']} s wall, the plain script {script.get('wall_seconds')} s, ratio "
            f"{_num(fixed_cost.get('wall_ratio'), '{:.2f}')}{' (the pair of the median ratio)' if pairs[1:] else ''}.",
            "",
            markdown_table(["component", "seconds"], rows),
            "",
        ]
        + _pairs_section(pairs)
        + _branches_section(fixed_cost.get("branches"))
    )


def _pairs_section(pairs: list[dict[str, Any]]) -> list[str]:
    """Each pipeline and script pair of the fixed cost, in the order they ran, when there were several."""
    if not pairs[1:]:
        return []
    rows = [
        [index, pair["first"], pair["pipeline_seconds"], pair["script_seconds"], f"{pair['wall_ratio']:.2f}"]
        for index, pair in enumerate(pairs, 1)
    ]
    return [
        "Every pair, in the order they ran:",
        "",
        markdown_table(["pair", "ran first", "pipeline s", "script s", "ratio"], rows),
        "",
    ]


def _branches_section(branches: dict[str, Any] | None) -> list[str]:
    """The model branches one after the other and at once (`bench.branches`): wall times and measured latency."""
    if not branches:
        return []
    sequential, concurrent = branches["sequential"], branches["concurrent"]
    rows = []
    for model, modes in sorted(sequential["latency_median_ms"].items()):
        for mode, alone in modes.items():
            beside = concurrent["latency_median_ms"].get(model, {}).get(mode)
            rows.append([model, mode, alone, beside, _num(beside / alone if beside and alone else None, "{:.2f}")])
    branch_seconds = ", ".join(f"{arch} {seconds} s" for arch, seconds in concurrent["branch_seconds"].items())
    return [
        "### The model branches one after the other and at once",
        "",
        f"One after the other {sequential['wall_seconds']} s; at once {concurrent['wall_seconds']} s (upstream "
        f"{concurrent['upstream_seconds']} s, then the branches together: {branch_seconds}); ratio "
        f"{branches['wall_ratio']:.2f}. Median latency each TFLite step measured:",
        "",
        markdown_table(["model", "mode", "one after the other (ms)", "at once (ms)", "ratio"], rows),
        "",
    ]


def _int8_section(results: dict[str, Any]) -> list[str]:
    runs = results.get("int8") or []
    if not runs:
        return ["## int8: post-training against quantization-aware", "", "Not measured (--skip-int8).", ""]
    lines = [
        "## int8: post-training against quantization-aware",
        "",
        "One pipeline run per dataset with float32 and int8 and quantization-aware training on; every drop is "
        "against the same float SavedModel on the same eval images, as the TFLite step measures it. Training "
        "added = the quantization-aware epochs + saving their SavedModel, from the Trainer's record. The last "
        "column tells extra training from quantization: validation accuracy of the float model, of the weights "
        "after the quantization-aware epochs run in float, and of those weights fake-quantized.",
        "",
    ]
    for run in runs:
        rows = []
        for name, entry in run["models"].items():
            for row in entry["candidates"]:
                training = row.get("training") or {}
                added = (training.get("fine_tune_seconds", 0) + training.get("save_seconds", 0)) if training else None
                validation = training.get("validation_accuracy")
                rows.append(
                    [
                        name,
                        row["candidate"],
                        _num(row.get(TFLITE_ACCURACY_FIELD), "{:.4f}"),
                        row.get("drop_points"),
                        _num(row.get("size_bytes") and row["size_bytes"] / 1e3, "{:.1f}"),
                        _num(row.get(LATENCY_FIELD), "{:.3f}"),
                        row.get("passed", row.get("error")),
                        _num(added, "{:.1f}"),
                        entry["trainer_seconds"],
                        entry.get("tflite_seconds"),
                        " / ".join(f"{value:.4f}" for value in validation.values()) if validation else None,
                    ]
                )
        counts = ", ".join(f"{name} {entry['eval_examples']}" for name, entry in run["models"].items())
        lines += [
            f"### {run['dataset']} ({run['wall_seconds']} s wall; eval images: {counts})",
            "",
            f"`{' '.join(run['overrides'])}`" + (f" on `{Path(run['config']).name}`" if run["config"] else ""),
            "",
            markdown_table(
                [
                    "model",
                    "candidate",
                    "tflite acc",
                    "drop (points)",
                    "size (KB)",
                    "median latency (ms)",
                    "passed",
                    "training added (s)",
                    "Trainer (s)",
                    "TFLite step (s)",
                    "validation acc: float / its weights after, in float / fake-quantized",
                ],
                rows,
            ),
            "",
        ]
        study = [
            [name, r["requested"], r["drawn"], f"{r[TFLITE_ACCURACY_FIELD]:.4f}", r["drop_points"]]
            for name, rows_ in run["calibration"].items()
            for r in rows_
        ]
        lines += [
            f"Post-training int8 by calibration examples ({run['dataset']}, class-balanced from the train split):",
            "",
            markdown_table(["model", "requested", "drawn", "tflite acc", "drop (points)"], study),
            "",
        ]
    return lines


def _size_sweep_section(results: dict[str, Any]) -> list[str]:
    rows = [
        [
            f"{r['architecture']} a{r['alpha']}",
            f"{r['parameters']:,}",
            f"{r['float32_bytes']:,}",
            f"{r['int8_bytes']:,}",
            f"{r['int8_ratio']:.3f}",
            _num(r.get("quantization_aware_int8_bytes"), "{:,}"),
            _yes_no(r.get("quantization_aware_full_integer")),
            _yes_no(r.get("quantization_aware_builtin_ops_only")),
        ]
        for r in results.get("size_sweep") or []
    ]
    if not rows:
        return ["## Size by width", "", "Not measured (--skip-size-sweep).", ""]
    return [
        "## Size by width (untrained, int8 calibrated on random images)",
        "",
        markdown_table(
            [
                "model",
                "parameters",
                "float32 bytes",
                "int8 bytes",
                "int8 / float32",
                "quantization-aware int8 bytes",
                "full-integer",
                "builtin ops only",
            ],
            rows,
        ),
        "",
    ]


def _app_latency_section(results: dict[str, Any]) -> list[str]:
    """int8 against float32 at the app's input size, on LiteRT and TensorFlow's interpreter (`bench.latency`)."""
    from bench import latency

    section = results.get("app_latency")
    if not section:
        return ["## Latency at 224 px", "", "Not measured (--skip-app-latency).", ""]
    first = section["rows"][0]
    ops = (
        f"The int8 files hold {first['int8_quantize_ops']} QUANTIZE and {first['int8_dequantize_ops']} DEQUANTIZE "
        f"ops and {first['int8_float_tensors_inside']} float tensors between their float input and output (V1)."
    )
    return [
        "## Latency at 224 px (untrained, the build machine's CPU, not a phone)",
        "",
        "```",
        latency.table(section["rows"]),
        "```",
        "",
        f"CPU flags int8 kernels use: {', '.join(section['cpu_int8_flags']) or 'none'}. {ops}",
        "",
    ]


def _trainer_epoch_section(results: dict[str, Any]) -> list[str]:
    """The Trainer's epoch against a plain `model.fit`, with augmentation's cost apart (`bench.trainer_epoch`)."""
    from bench import trainer_epoch

    rows = results.get("trainer_epoch")
    if not rows:
        return ["## The Trainer's epoch", "", "Not measured (--skip-trainer-epoch).", ""]
    return [
        "## The Trainer's epoch against a plain model.fit (the build machine's CPU)",
        "",
        "Median seconds per epoch after the first, on the same photos, one loop after the other. The profile times "
        "apart a pass of the input alone, one BatchNorm recalibration by extra forward passes (what augmented "
        "training pays; without augmentation the statistics come from the training steps) and one validation pass.",
        "",
        "```",
        trainer_epoch.table(rows),
        "```",
        "",
    ]


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "yes" if value else "**no**"


def _ingestion_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            r["images"],
            r.get("runner", "DirectRunner"),
            r["workers"],
            r["example_gen_seconds"],
            r["transform_seconds"],
            r["images_per_second"],
            _mb(r.get("example_gen_peak_rss_bytes")),
            _mb(r.get("transform_peak_rss_bytes")),
            _mb(r["peak_rss_bytes"]),
            r["process_seconds"],
        ]
        for r in rows
    ]


def _shuffle_memory_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    from bench import shuffle_memory

    return [
        "Where the memory goes: the same Reshuffle ExampleGen ends with, alone on the DirectRunner (no TFX, "
        f"`python -m bench.shuffle_memory`), elements of {rows[0]['bytes']:,} bytes:",
        "",
        "```",
        shuffle_memory.table(rows),
        "```",
        "",
    ]


def _ingestion_section(results: dict[str, Any]) -> list[str]:
    ingestion = results.get("ingestion") or []
    if not ingestion:
        return ["## Ingestion scaling", "", "Not measured (--skip-ingestion).", ""]
    rows = _ingestion_rows(ingestion + (results.get("ingestion_portable") or []))
    marginal = results.get("ingestion_marginal_images_per_second") or {}
    return [
        "## Ingestion scaling (ImageExampleGen + Transform; DirectRunner multi_processing, and the portable path)",
        "",
        "images/s = images / (ExampleGen + Transform seconds); each step's peak RSS is over its own process "
        "and everything it starts (Beam workers; the job service and worker pool on the portable path).",
        "",
        markdown_table(
            [
                "images",
                "runner",
                "workers",
                "ExampleGen (s)",
                "Transform (s)",
                "images/s",
                "ExampleGen peak (MB)",
                "Transform peak (MB)",
                "peak RSS (MB)",
                "process (s)",
            ],
            rows,
        ),
        "",
        "Marginal rate between the two sizes (start-up cost removed): "
        + (", ".join(f"{w} worker(s): {v} images/s" for w, v in marginal.items()) or "-"),
        "",
        *_shuffle_memory_lines(results.get("shuffle_memory") or []),
        f"![ingestion]({INGESTION_PLOT})",
        "",
    ]


def _pod_sizes_section(results: dict[str, Any]) -> list[str]:
    """Each step of the compiled package, its peak memory against its pod (`bench.pod_sizes`)."""
    from bench import pod_sizes

    if not results.get("pod_sizes"):
        return []
    section = results["pod_sizes"]
    return pod_sizes.markdown(section["rows"], section["per_class"]).replace("# ", "## ", 1).splitlines() + [""]


def results_markdown(results: dict[str, Any]) -> str:
    """The whole benchmark as Markdown: targets, models, pipeline vs script with timings, fixed cost, int8, size
    by width, ingestion."""
    machine = results["machine"]
    header = [
        "# MobileNet pipeline benchmark",
        "",
        f"{results['created']} on {machine['cpus']} CPUs ({machine['processor']}), TensorFlow "
        f"{machine['tensorflow']}, options: `{json.dumps(results['options'])}`",
        "",
    ]
    return "\n".join(
        header
        + _targets_section(results)
        + _models_section(results["models"])
        + _variants_section(results)
        + _fixed_cost_section(results)
        + _int8_section(results)
        + _size_sweep_section(results)
        + _app_latency_section(results)
        + _trainer_epoch_section(results)
        + _ingestion_section(results)
        + _pod_sizes_section(results)
    )


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _scatter(axis: Any, models: list[dict[str, Any]], x_of: Any) -> None:
    labels = sorted({_model_label(r) for r in models})
    colors = {label: f"C{i}" for i, label in enumerate(labels)}
    for row in models:
        axis.scatter(
            x_of(row),
            row[TFLITE_ACCURACY_FIELD],
            color=colors[_model_label(row)],
            marker=MODE_MARKERS.get(row["mode"], "x"),
            s=50,
        )
    for label in labels:
        axis.scatter([], [], color=colors[label], marker="o", label=label)
    for mode, marker in MODE_MARKERS.items():
        axis.scatter([], [], color="black", marker=marker, label=mode)
    axis.set_ylabel("TFLite eval accuracy")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)


def plot_accuracy_vs_size(models: list[dict[str, Any]], path: str | Path) -> None:
    """Accuracy against `.tflite` size, one point per model x mode."""
    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(7, 5))
    _scatter(axis, models, lambda row: row["size_bytes"] / 1e3)
    axis.set(xscale="log", xlabel=".tflite size (KB, log scale)", title="accuracy vs size")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def plot_accuracy_vs_latency(models: list[dict[str, Any]], path: str | Path) -> None:
    """Accuracy against median latency, one panel per thread count, one point per model x mode."""
    pyplot = _pyplot()
    threads = sorted({t for row in models for t in row[LATENCY_FIELD]}, key=int)
    figure, axes = pyplot.subplots(1, len(threads), figsize=(6 * len(threads), 5), squeeze=False)
    for axis, count in zip(axes[0], threads):
        _scatter(axis, models, lambda row, count=count: row[LATENCY_FIELD][count]["median"])
        axis.set(xlabel="median latency (ms)", title=f"accuracy vs latency, {count} thread(s)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def plot_ingestion(ingestion: list[dict[str, Any]], path: str | Path) -> None:
    """Images/s and peak RSS against dataset size, one line per worker count."""
    pyplot = _pyplot()
    figure, (rate_axis, memory_axis) = pyplot.subplots(1, 2, figsize=(11, 4))
    for workers in sorted({r["workers"] for r in ingestion}):
        rows = sorted((r for r in ingestion if r["workers"] == workers), key=lambda r: r["images"])
        sizes = [r["images"] for r in rows]
        rate_axis.plot(sizes, [r["images_per_second"] for r in rows], marker="o", label=f"{workers} worker(s)")
        memory_axis.plot(sizes, [r["peak_rss_bytes"] / 1e6 for r in rows], marker="o", label=f"{workers} worker(s)")
    rate_axis.set(xlabel="images", ylabel="images/s", title="ExampleGen + Transform throughput")
    memory_axis.set(xlabel="images", ylabel="peak RSS (MB)", title="peak memory", ylim=(0, None))
    for axis in (rate_axis, memory_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def benchmarks_markdown(results: dict[str, Any]) -> str:
    """`docs/benchmarks.md`: every target with its limit and the value measured, and where and when (machine,
    date, commit), rendered from `results.json` by `make bench` (never edited by hand)."""
    machine = results["machine"]
    status = {True: "met", False: "**not met**", None: "not measured"}
    rows = [
        [
            name,
            TARGETS[name][2],
            f"{'>=' if TARGETS[name][1] else '<='} {entry['limit']}",
            "-" if entry["measured"] is None else entry["measured"],
            status[entry["met"]],
        ]
        for name, entry in results["targets"].items()
    ]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench --docs docs/benchmarks.md`) from `bench/results/results.json`; "
        "do not edit by hand. Every figure is this machine's CPU, not a phone's. The full tables and plots of "
        "the same run are in `bench/results/results.md`.",
        "",
        f"- machine: {machine['cpus']} CPUs, {machine['processor']}; Python {machine['python']}, TensorFlow "
        f"{machine['tensorflow']}, TFX {machine['tfx']}",
        f"- date: {results['created']}",
        f"- commit: {results.get('commit') or 'unknown'}",
        f"- options: `{json.dumps(results['options'])}`",
        "",
        "## Targets",
        "",
        markdown_table(["target", "what", "limit", "measured", "status"], rows),
        "",
    ]
    lines += _app_latency_section(results) if results.get("app_latency") else []
    lines += _trainer_epoch_section(results) if results.get("trainer_epoch") else []
    lines += _pod_sizes_section(results)
    return "\n".join(lines) + "\n"


def write_outputs(results: dict[str, Any], out_dir: str | Path, docs_path: str | Path | None = None) -> list[Path]:
    """Write results.json, results.md and the plots into `out_dir`, and with `docs_path` the benchmarks page;
    returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / RESULTS_JSON, out / RESULTS_MARKDOWN]
    written[0].write_text(json.dumps(results, indent=2), encoding="utf-8")
    written[1].write_text(results_markdown(results), encoding="utf-8")
    if results["models"]:
        plot_accuracy_vs_size(results["models"], out / SIZE_PLOT)
        plot_accuracy_vs_latency(results["models"], out / LATENCY_PLOT)
        written += [out / SIZE_PLOT, out / LATENCY_PLOT]
    if results.get("ingestion"):
        plot_ingestion(results["ingestion"], out / INGESTION_PLOT)
        written.append(out / INGESTION_PLOT)
    if docs_path:
        Path(docs_path).write_text(benchmarks_markdown(results), encoding="utf-8")
        written.append(Path(docs_path))
    return written
