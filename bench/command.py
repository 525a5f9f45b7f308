"""`python -m bench` (`make bench`): the benchmark, step by step.

1. writes the Fashion-MNIST folders it needs under `<out>/work/data/` (kept between benchmarks; default out
   `bench/results/`);
2. per variant (V1 alpha : V2 alpha, input size): `mobilenet-pipeline run` with every quantization mode on a fresh
   home, then the plain script `bench/baseline.py` on the same data and configuration;
3. converts each trained model in every mode and measures it (size, accuracy, latency at 1 and 2 threads, memory);
4. the fixed cost per component: the same pipeline and configuration on a tiny dataset, and the plain script on it,
   three pairs, each pair's order alternating, the pair of the median ratio reported; then on the same data V1's and
   V2's branches one after the other and at once (`bench.branches`);
5. int8 (`bench.quantization`): post-training against quantization-aware int8 per model, on Fashion-MNIST
   and on the photo set, and post-training int8 by number of calibration examples;
6. the size sweep: float32, int8 and quantization-aware int8 bytes of every allowed width, untrained; and int8
   against float32 latency at 224 px for V1 1.0 and V2 1.4 on LiteRT and on TensorFlow's interpreter
   (`bench.latency`);
7. the Trainer's epoch against a plain `model.fit` on the photo set at 224 px, V1 1.0 and V2 1.4, with and
   without augmentation, and where the epoch's time goes (`bench.trainer_epoch`);
8. pod sizes (`bench.pod_sizes`): the compiled default package run task by task in KFP semantics on the photo
   set, each task's peak memory against the pod `kubeflow.*` gives it;
9. ingestion scaling: ImageExampleGen + Transform alone on two dataset sizes (images scaled up to 224 px, like
   photos) with 1 and 2 DirectRunner workers and on the portable path, with each step's peak RSS; then the
   Reshuffle that makes ExampleGen's memory grow, measured alone (`bench.shuffle_memory`);
10. writes `results.json` (with `targets`), `results.md` and PNG plots into `<out>`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench import branches, latency, pod_sizes, quantization, shuffle_memory, trainer_epoch
from components.contracts import ARCHITECTURES, QUANTIZATION_MODES
from pipeline.config import DEMO_PROFILE, PHOTO_PROFILE, load_config

log = logging.getLogger("mobilenet.bench")
THREADS = (1, 2)
FIXED_COST_PER_CLASS = 4
TARGET_STATUS = {True: "met", False: "NOT met", None: "not measured"}
APP_INPUT_SIZE = 224
"""The input size the latency target is measured at: the photo default, what an app runs."""
SHUFFLE_BYTES = 60_000
"""Bytes per element of the Reshuffle study: about one 224 px image as ImageExampleGen stores it."""


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big a benchmark is."""

    per_class: int
    epochs: int
    latency_runs: int
    ingestion_per_class: tuple[int, int]
    ingestion_image_size: int = 224
    extra_overrides: tuple[str, ...] = ()
    photo_per_class: int = 300
    photo_overrides: tuple[str, ...] = ("model.input_size=96", "train.epochs=8")
    calibration_counts: tuple[int, ...] = quantization.COUNTS
    shuffle_elements: tuple[int, int] = (5000, 20000)
    fixed_cost_pairs: int = 3
    trainer_epoch_size: int = APP_INPUT_SIZE
    trainer_epochs: int = 4


FULL = Sizes(per_class=300, epochs=5, latency_runs=200, ingestion_per_class=(500, 2000))
QUICK = Sizes(
    per_class=30,
    epochs=1,
    latency_runs=20,
    ingestion_per_class=(20, 80),
    extra_overrides=("train.batch_size=32", "tflite.representative_examples=16", "tflite.latency_runs=10"),
    photo_per_class=10,
    photo_overrides=("model.input_size=32", "train.epochs=1"),
    calibration_counts=quantization.QUICK_COUNTS,
    shuffle_elements=(200, 800),
    fixed_cost_pairs=1,
    trainer_epoch_size=32,
    trainer_epochs=2,
)


DEFAULT_OUT = "bench/results"
"""The benchmark's output folder (not a package: results, plots, bench.log and the runs under work/)."""


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    bench = argparse.ArgumentParser(
        prog="python -m bench",
        description="benchmark accuracy, size, latency, memory, pipeline overhead and "
        "ingestion scaling; writes results.json, results.md and plots",
    )
    bench.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder: results, plots, bench.log and work/ (default {DEFAULT_OUT})"
    )
    bench.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    bench.add_argument("--docs", metavar="FILE", help="also write the benchmarks page (make bench: docs/benchmarks.md)")
    bench.add_argument(
        "--per-class", type=int, help=f"images per class (default {FULL.per_class}, quick {QUICK.per_class})"
    )
    bench.add_argument("--epochs", type=int, help=f"training epochs (default {FULL.epochs}, quick {QUICK.epochs})")
    defaults = load_config(str(DEMO_PROFILE)).model
    bench.add_argument(
        "--alphas",
        nargs="+",
        default=[f"{defaults.v1_alpha}:{defaults.v2_alpha}"],
        metavar="V1:V2",
        help=f"width multipliers, one pipeline run per V1:V2 pair (default the config's, "
        f"{defaults.v1_alpha}:{defaults.v2_alpha})",
    )
    bench.add_argument(
        "--input-sizes",
        nargs="+",
        type=int,
        default=[defaults.input_size],
        metavar="N",
        help=f"input sizes, one pipeline run per size and alpha pair (default {defaults.input_size})",
    )
    bench.add_argument(
        "--latency-runs",
        type=int,
        help=f"invokes per latency measurement (default {FULL.latency_runs}, quick {QUICK.latency_runs})",
    )
    bench.add_argument(
        "--ingestion-per-class",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help=f"images per class of the two ingestion datasets (default {' '.join(map(str, FULL.ingestion_per_class))})",
    )
    bench.add_argument(
        "--ingestion-image-size",
        type=int,
        metavar="N",
        help=f"pixels of the ingestion datasets' images, scaled up like photos (default {FULL.ingestion_image_size})",
    )
    bench.add_argument("--skip-ingestion", action="store_true", help="leave out the ingestion scaling runs")
    bench.add_argument(
        "--skip-pod-sizes",
        action="store_true",
        help="leave out the compiled package's run with each step's peak memory against its pod",
    )
    bench.add_argument(
        "--skip-variants",
        action="store_true",
        help="leave out the full-size pipeline and script runs and the per-mode measurements",
    )
    bench.add_argument("--skip-fixed-cost", action="store_true", help="leave out the tiny-dataset pipeline run")
    bench.add_argument(
        "--fixed-cost-pairs",
        type=_odd_count,
        metavar="N",
        help=f"tiny-dataset pipeline and script pairs, an odd number; the pair of the median ratio "
        f"is reported (default {FULL.fixed_cost_pairs}, quick {QUICK.fixed_cost_pairs})",
    )
    bench.add_argument(
        "--skip-branches",
        action="store_true",
        help="leave out the tiny-dataset runs with the model branches one after the other and at once",
    )
    bench.add_argument(
        "--skip-int8",
        action="store_true",
        help="leave out post-training against quantization-aware int8 and the calibration study",
    )
    bench.add_argument(
        "--quantization-aware-epochs",
        type=int,
        default=quantization.QUANTIZATION_AWARE_EPOCHS,
        metavar="N",
        help="train.quantization_aware_epochs of the int8 step's runs (default %(default)s)",
    )
    bench.add_argument(
        "--skip-size-sweep",
        action="store_true",
        help="leave out the float32 / int8 / quantization-aware int8 size of every allowed width (untrained)",
    )
    bench.add_argument(
        "--skip-app-latency",
        action="store_true",
        help="leave out int8 against float32 latency at 224 px on LiteRT and TensorFlow's interpreter",
    )
    bench.add_argument(
        "--skip-trainer-epoch",
        action="store_true",
        help="leave out the Trainer's epoch against a plain model.fit on the photo set",
    )
    bench.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for both the pipeline and the script (repeatable)",
    )
    return bench


def _odd_count(text: str) -> int:
    """An odd positive count, so that one pair has the median ratio."""
    count = int(text)
    if count < 1 or count % 2 == 0:
        raise argparse.ArgumentTypeError(f"needs an odd number of pairs (1, 3, 5, ...), not {count}")
    return count


def _sizes(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else FULL
    return dataclasses.replace(
        base,
        per_class=args.per_class or base.per_class,
        epochs=args.epochs or base.epochs,
        latency_runs=args.latency_runs or base.latency_runs,
        ingestion_per_class=tuple(args.ingestion_per_class or base.ingestion_per_class),
        ingestion_image_size=args.ingestion_image_size or base.ingestion_image_size,
        fixed_cost_pairs=args.fixed_cost_pairs or base.fixed_cost_pairs,
    )


def variants(alphas: list[str], input_sizes: list[int]) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(name, settings, config overrides) per V1:V2 alpha pair x input size."""
    found = []
    for pair in alphas:
        v1, sep, v2 = pair.partition(":")
        if not sep:
            raise ValueError(f"--alphas {pair!r}: expected V1:V2, e.g. 0.25:0.35")
        for size in input_sizes:
            settings = {"alpha": {"v1": float(v1), "v2": float(v2)}, "input_size": size}
            found.append(
                (
                    f"v1a{v1}-v2a{v2}-{size}px",
                    settings,
                    [f"model.v1_alpha={v1}", f"model.v2_alpha={v2}", f"model.input_size={size}"],
                )
            )
    return found


def ensure_demo_data(
    root: Path, per_class: int, image_size: int | None = None, dataset: str = "fashion-mnist"
) -> tuple[str, int]:
    """A built-in dataset's folder (Fashion-MNIST unless told) with `per_class` images per class under `root`
    (written once), scaled up to `image_size` pixels when given; its path and number of images."""
    from components.ingestion import demo_data, image_files

    folder = root / (f"{dataset}-{per_class}" + (f"-{image_size}px" if image_size else ""))
    if not folder.exists():
        log.info("writing %d %s images per class to %s", per_class, dataset, folder)
        demo_data.write_dataset(folder, dataset=dataset, per_class=per_class, image_size=image_size)
    return str(folder.resolve()), image_files.scan_folder(folder).total


def _measure_variant(
    name: str,
    settings: dict[str, Any],
    overrides: list[str],
    pipeline_run: dict[str, Any],
    threads_runs: tuple[tuple[int, ...], int],
    scratch: Path,
) -> list[dict[str, Any]]:
    from bench import models
    from pipeline import config as config_lib

    config = config_lib.load_config(None, overrides)
    home = Path(pipeline_run["home"])
    outputs = models.find_outputs(str(home / "metadata.sqlite"), str(home / "pipeline_root"))
    representative, _ = models.load_split(outputs, "train", config.tflite.representative_examples)
    eval_images, eval_labels = models.load_split(outputs, "eval", config.tflite.max_eval_examples)
    threads, runs = threads_runs
    rows = []
    for model_name, saved_model_dir in sorted(outputs.saved_models.items()):
        architecture = model_name.rsplit("_", 1)[-1]
        log.info("  measuring %s (%s) in %s", model_name, name, ", ".join(QUANTIZATION_MODES))
        model_scratch = scratch / model_name
        model_scratch.mkdir(parents=True, exist_ok=True)
        for row in models.measure_modes(
            saved_model_dir,
            QUANTIZATION_MODES,
            representative,
            eval_images,
            eval_labels,
            threads,
            config.tflite.latency_warmup,
            runs,
            model_scratch,
        ):
            rows.append(
                {
                    "variant": name,
                    "model": model_name,
                    "architecture": architecture,
                    "alpha": settings["alpha"][architecture],
                    "input_size": settings["input_size"],
                    **row,
                }
            )
    return rows


def _run_variant(
    name: str, settings: dict[str, Any], overrides: list[str], data: tuple[str, int], work: Path, sizes: Sizes
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Pipeline run, script run and per-mode measurements of one variant: its entry and its model x mode rows."""
    from bench import runs

    workdir = runs.fresh_dir(work / name)
    log.info("%s: pipeline run on %d images (every quantization mode)", name, data[1])
    pipeline_run = runs.run_pipeline(data[0], workdir, overrides)
    log.info("  pipeline: %.0f s; per-run report %s", pipeline_run["wall_seconds"], pipeline_run["report"])
    log.info("%s: plain script on the same data", name)
    baseline = runs.run_baseline(data[0], workdir, overrides)
    log.info("  script: %.0f s", baseline["wall_seconds"])
    log.info("%s: converting and measuring each model", name)
    rows = _measure_variant(name, settings, overrides, pipeline_run, (THREADS, sizes.latency_runs), workdir / "tflite")
    variant = {
        "variant": name,
        "overrides": overrides,
        "pipeline": pipeline_run,
        "baseline": baseline,
        "wall_ratio": round(pipeline_run["wall_seconds"] / baseline["wall_seconds"], 3),
    }
    return variant, rows


def _int8(
    work: Path, sizes: Sizes, common: list[str], alphas: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The int8 step on Fashion-MNIST (the bench's configuration) and on the photo set (the photo recipe)."""
    from bench import runs

    int8 = ["tflite.quantization=float32,int8", f"train.quantization_aware_epochs={args.quantization_aware_epochs}"]
    fashion_mnist = [override for override in common if not override.startswith("tflite.quantization=")]
    datasets = [
        quantization.Dataset("fashion-mnist", sizes.per_class, None, (*fashion_mnist, *alphas, *int8)),
        quantization.Dataset(
            "photos",
            sizes.photo_per_class,
            str(PHOTO_PROFILE),
            (*sizes.photo_overrides, *sizes.extra_overrides, *alphas, *int8, *args.overrides),
        ),
    ]
    threads = load_config(None, list(common)).tflite.threads
    results = []
    for dataset in datasets:
        data, _ = ensure_demo_data(work / "data", dataset.per_class, dataset=dataset.name)
        results.append(
            quantization.run_dataset(
                dataset,
                data,
                runs.fresh_dir(work / "int8" / dataset.name),
                list(dataset.overrides),
                sizes.calibration_counts,
                threads,
            )
        )
    return results


def _fixed_cost_pairs(data: str, images: int, work: Path, overrides: list[str], pairs: int) -> dict[str, Any]:
    """The pipeline and the plain script on the tiny dataset, `pairs` (an odd number) times, the pipeline first in
    the odd pairs and the script first in the even ones. A pair's ratio moved by 0.1 from one bench run to the next
    on the same commit, so the result is the pair of the median ratio (its component seconds and both runs), with
    every pair's times beside it."""
    from bench import runs

    measured, summaries = [], []
    for index in range(pairs):
        order = [("pipeline", runs.run_pipeline), ("script", runs.run_baseline)][:: -1 if index % 2 else 1]
        log.info("fixed cost, pair %d of %d on %d images: the %s first", index + 1, pairs, images, order[0][0])
        pair_work = runs.fresh_dir(work / f"pair-{index + 1}")
        done = {name: run(data, pair_work, overrides) for name, run in order}
        ratio = round(done["pipeline"]["wall_seconds"] / done["script"]["wall_seconds"], 3)
        log.info(
            "  pipeline %.0f s, script %.0f s: %.2f",
            done["pipeline"]["wall_seconds"],
            done["script"]["wall_seconds"],
            ratio,
        )
        measured.append({**done["pipeline"], "baseline": done["script"], "wall_ratio": ratio})
        summaries.append(
            {
                "first": order[0][0],
                "pipeline_seconds": done["pipeline"]["wall_seconds"],
                "script_seconds": done["script"]["wall_seconds"],
                "wall_ratio": ratio,
            }
        )
    median = sorted(measured, key=lambda pair: pair["wall_ratio"])[len(measured) // 2]
    return {**median, "pairs": summaries}


def _ingestion(
    work: Path, sizes: Sizes, overrides: list[str]
) -> tuple[list[dict[str, Any]], dict[str, float], list[dict[str, Any]]]:
    """DirectRunner rows (1 and 2 workers), the marginal images/s per worker count, and the portable path's rows."""
    from bench import ingestion, runs

    rows, portable = [], []
    for per_class in sizes.ingestion_per_class:
        data, images = ensure_demo_data(work / "data", per_class, sizes.ingestion_image_size)
        for workers in (1, 2):
            log.info("ingestion: %d images, %d DirectRunner worker(s)", images, workers)
            home = runs.fresh_dir(work / "ingestion" / f"{images}-images-{workers}-workers")
            rows.append(ingestion.measure(data, images, workers, home, overrides))
        log.info("ingestion: %d images, portable path (job service and external worker pool)", images)
        home = runs.fresh_dir(work / "ingestion" / f"{images}-images-portable")
        portable.append(ingestion.measure(data, images, 1, home, overrides, portable=True))
    marginal = {}
    for workers in (1, 2):
        small, large = sorted((r for r in rows if r["workers"] == workers), key=lambda r: r["images"])
        extra_seconds = (
            large["example_gen_seconds"]
            + large["transform_seconds"]
            - small["example_gen_seconds"]
            - small["transform_seconds"]
        )
        if extra_seconds > 0:
            marginal[str(workers)] = round((large["images"] - small["images"]) / extra_seconds, 1)
    return rows, marginal, portable


def _machine() -> dict[str, Any]:
    processor = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            processor = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "processor": processor or "unknown",
        "python": platform.python_version(),
        "tensorflow": importlib.metadata.version("tensorflow"),
        "tfx": importlib.metadata.version("tfx"),
    }


def _commit() -> str | None:
    """The checkout's commit, `+changes` when the working tree differs from it; None outside a git checkout."""
    import subprocess

    from pipeline.config import REPO_ROOT

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run every step; returns the results that `report.write_outputs` writes."""
    from bench import runs, targets
    from bench import sizes as sizes_lib
    from pipeline import config as config_lib

    sizes = _sizes(args)
    out = Path(args.out).resolve()
    work = out / "work"
    common = [
        f"model.input_size={args.input_sizes[0]}",
        f"train.epochs={sizes.epochs}",
        f"tflite.quantization={','.join(QUANTIZATION_MODES)}",
        *sizes.extra_overrides,
        *args.overrides,
    ]
    all_variants = variants(args.alphas, args.input_sizes)
    for _, _, variant_overrides in all_variants:
        config_lib.load_config(None, [*common, *variant_overrides])  # every variant's config is valid before any run
    data, images = ensure_demo_data(work / "data", sizes.per_class)
    results: dict[str, Any] = {
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": _machine(),
        "commit": _commit(),
        "options": {
            "quick": args.quick,
            "per_class": sizes.per_class,
            "images": images,
            "epochs": sizes.epochs,
            "alphas": args.alphas,
            "input_sizes": args.input_sizes,
            "latency_runs": sizes.latency_runs,
            "ingestion_image_size": sizes.ingestion_image_size,
            "threads": list(THREADS),
            "overrides": common,
        },
        "models": [],
        "variants": [],
        "fixed_cost": None,
        "int8": [],
        "size_sweep": [],
        "app_latency": None,
        "trainer_epoch": [],
        "ingestion": [],
        "ingestion_portable": [],
        "shuffle_memory": [],
        "step_seconds": {},
    }
    for name, settings, variant_overrides in [] if args.skip_variants else all_variants:
        started = time.monotonic()
        variant, rows = _run_variant(name, settings, [*common, *variant_overrides], (data, images), work, sizes)
        results["variants"].append(variant)
        results["models"] += rows
        results["step_seconds"][name] = round(time.monotonic() - started, 1)
    if not args.skip_fixed_cost:
        started = time.monotonic()
        tiny_data, tiny_images = ensure_demo_data(work / "data", FIXED_COST_PER_CLASS)
        tiny_work, tiny_overrides = runs.fresh_dir(work / "fixed-cost"), [*common, *all_variants[0][2]]
        results["fixed_cost"] = {
            "images": tiny_images,
            "variant": all_variants[0][0],
            **_fixed_cost_pairs(tiny_data, tiny_images, tiny_work, tiny_overrides, sizes.fixed_cost_pairs),
        }
        if not args.skip_branches:
            log.info(
                "fixed cost: the model branches on the same %d images one after the other, then at once", tiny_images
            )
            results["fixed_cost"]["branches"] = branches.compare(
                tiny_data, tiny_work / "branches", tiny_overrides, load_config(None, tiny_overrides).model.architectures
            )
        results["step_seconds"]["fixed_cost"] = round(time.monotonic() - started, 1)
    if not args.skip_int8:
        started = time.monotonic()
        alpha_overrides = [o for o in all_variants[0][2] if not o.startswith("model.input_size=")]
        results["int8"] = _int8(work, sizes, common, alpha_overrides, args)
        results["step_seconds"]["int8"] = round(time.monotonic() - started, 1)
    if not args.skip_size_sweep:
        started = time.monotonic()
        log.info(
            "size sweep: float32, int8 and quantization-aware int8 bytes of every allowed width at %d px",
            args.input_sizes[0],
        )
        classes = sum(1 for path in Path(data).iterdir() if path.is_dir())
        results["size_sweep"] = sizes_lib.size_sweep(
            args.input_sizes[0], classes, str(runs.fresh_dir(work / "size-sweep"))
        )
        results["step_seconds"]["size_sweep"] = round(time.monotonic() - started, 1)
    if not args.skip_app_latency:
        started = time.monotonic()
        log.info("latency at %d px: int8 against float32 on LiteRT and TensorFlow's interpreter", APP_INPUT_SIZE)
        results["app_latency"] = {
            "rows": latency.measure(
                APP_INPUT_SIZE, THREADS, sizes.latency_runs, 10, str(runs.fresh_dir(work / "app-latency"))
            ),
            "cpu_int8_flags": latency.cpu_flags(),
        }
        results["step_seconds"]["app_latency"] = round(time.monotonic() - started, 1)
    if not args.skip_trainer_epoch:
        started = time.monotonic()
        photos, _ = ensure_demo_data(work / "data", sizes.photo_per_class, dataset="photos")
        log.info(
            "the Trainer's epoch against a plain model.fit at %d px on %d photos per class",
            sizes.trainer_epoch_size,
            sizes.photo_per_class,
        )
        results["trainer_epoch"] = trainer_epoch.measure(
            photos,
            list(ARCHITECTURES),
            sizes.trainer_epoch_size,
            sizes.trainer_epochs,
            str(PHOTO_PROFILE),
            [*sizes.extra_overrides, *args.overrides],
        )
        results["step_seconds"]["trainer_epoch"] = round(time.monotonic() - started, 1)
    if not args.skip_pod_sizes:
        started = time.monotonic()
        per_class = pod_sizes.POD_SIZES_PER_CLASS if not args.quick else FIXED_COST_PER_CLASS
        log.info("pod sizes: the compiled default package on %d photos per class, task by task", per_class)
        results["pod_sizes"] = {
            "per_class": per_class,
            "rows": pod_sizes.measure(
                runs.fresh_dir(work / "pod-sizes"), per_class, [*sizes.extra_overrides, *args.overrides]
            ),
        }
        results["step_seconds"]["pod_sizes"] = round(time.monotonic() - started, 1)
    if not args.skip_ingestion:
        started = time.monotonic()
        (results["ingestion"], results["ingestion_marginal_images_per_second"], results["ingestion_portable"]) = (
            _ingestion(work, sizes, [f"model.input_size={args.input_sizes[0]}", *args.overrides])
        )
        log.info(
            "ingestion memory: a Reshuffle on the DirectRunner, without TFX, at %s elements of %d bytes",
            " and ".join(str(count) for count in sizes.shuffle_elements),
            SHUFFLE_BYTES,
        )
        results["shuffle_memory"] = shuffle_memory.study(
            list(sizes.shuffle_elements), SHUFFLE_BYTES, shuffle_memory.MODES, work / "shuffle-memory"
        )
        results["step_seconds"]["ingestion"] = round(time.monotonic() - started, 1)
    results["targets"], results["target_details"] = targets.compute_targets(
        results["models"],
        {v["variant"]: v["wall_ratio"] for v in results["variants"]},
        results["ingestion"],
        results["fixed_cost"],
        results["int8"],
        (results["app_latency"] or {}).get("rows"),
        results["trainer_epoch"],
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark with its progress on the terminal and library output in `<out>/bench.log`, write its
    outputs and print which targets were met."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from bench import report
    from pipeline.reporting import progress

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "bench.log"
    started = time.monotonic()
    with progress.capture_output(str(log_path)) as terminal:
        handler = logging.StreamHandler(terminal)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        log.info("benchmark output in %s; library log %s", out.resolve(), log_path.resolve())
        try:
            results = run_bench(args)
        finally:
            log.removeHandler(handler)
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    written = report.write_outputs(results, out, args.docs)
    for name, entry in results["targets"].items():
        print(f"{name}: {entry['measured']} (limit {entry['limit']}): {TARGET_STATUS[entry['met']]}")
    print(f"benchmark finished in {results['bench_seconds']:.0f} s; wrote {', '.join(str(p) for p in written)}")
    return 0
