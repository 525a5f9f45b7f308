"""`run`, `demo-data` and `show-config`: the local commands of `mobilenet-pipeline`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import time
import traceback
from typing import TYPE_CHECKING, TextIO

from components.contracts import is_remote
from pipeline import config as config_lib

if TYPE_CHECKING:
    from pipeline import local_runner
    from pipeline.reporting import progress, run_summary


HELD_BACK_EXIT_CODE = 3
"""`run --fail-on-held-back`'s exit code when a trained model was not pushed (2 is a bad command or config)."""
RUN_EXAMPLES = """examples:
  mobilenet-pipeline run --data PHOTOS                       # 224 px, the photo recipe (the defaults)
  mobilenet-pipeline run --data data/fashion-mnist --config pipeline/profiles/demo.yaml
  mobilenet-pipeline run --data PHOTOS --models v2 --set train.epochs=30 --set model.weights=imagenet
  mobilenet-pipeline run --data NIGHTLY --set data.spans=7 --set model.weights=production --fail-on-held-back
settings: mobilenet-pipeline show-config --keys (or docs/configuration.md)"""


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` and repeatable `--set KEY=VALUE`."""
    parser.add_argument("--config", metavar="FILE", help="YAML file overriding the defaults")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set train.epochs=3 (repeatable)",
    )


def add_local_subparsers(commands: argparse._SubParsersAction) -> None:
    """Register `run`, `demo-data` and `show-config`."""
    from components.ingestion import demo_data

    run = commands.add_parser(
        "run",
        help="run the whole pipeline locally (LocalDagRunner; Beam on the DirectRunner, or the runner "
        "beam.runner names)",
        description=textwrap.fill(
            "Train, quantize, validate and push MobileNet V1 and V2 on a folder of images (DATA/<label>/<file>, "
            "or span folders of those), with TFX's LocalDagRunner and ML Metadata in the run home. Shows each "
            "step with its time and each epoch; the end prints a table per model and where it was pushed. "
            "TFX, Beam and TensorFlow output goes to the run's log file."
        ),
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--data", help="folder of class sub-folders of images (data.root)")
    run.add_argument("--registry", help="model registry root (registry.root)")
    run.add_argument("--home", help="folder for artifacts, ML Metadata and logs of runs (pipeline.home)")
    run.add_argument("--models", help="architectures to train, e.g. v1,v2 (model.architectures)")
    run.add_argument(
        "--fail-on-held-back",
        action="store_true",
        help=f"exit with code {HELD_BACK_EXIT_CODE} when a model was trained but held back by a gate "
        "(for CI jobs); a model not trained because nothing is new is not held back",
    )
    add_config_options(run)

    demo = commands.add_parser("demo-data", help="write a built-in real image dataset as DIR/<label>/<file>")
    demo.add_argument("dir", help="output folder (must not exist or be empty)")
    demo.add_argument(
        "--dataset",
        default="fashion-mnist",
        choices=demo_data.DATASETS,
        help="fashion-mnist (Debian package), digits (scikit-learn) or photos (views of the photos "
        "scikit-learn and matplotlib ship, 6 classes)",
    )
    demo.add_argument("--per-class", type=int, default=300, help="images per class (default 300)")
    demo.add_argument(
        "--image-size",
        type=int,
        metavar="N",
        help="scale the images to NxN pixels (default: the dataset's own size: 28, 8, or the crop's)",
    )

    show = commands.add_parser(
        "show-config",
        help="print the effective configuration as YAML",
        description=textwrap.fill(
            "Print the effective configuration (defaults, then --config, then --set) "
            "as YAML, or with --keys every setting with its default and meaning."
        ),
    )
    add_config_options(show)
    show.add_argument(
        "--keys",
        action="store_true",
        help="list every setting with its default, allowed values and meaning (docs/configuration.md)",
    )


def config_from_args(args: argparse.Namespace) -> config_lib.Config:
    """The config of a command: `--config`, then `--set`, then the flags that name a config key."""
    overrides = list(args.overrides)
    for flag, key in (
        ("data", "data.root"),
        ("registry", "registry.root"),
        ("home", "pipeline.home"),
        ("models", "model.architectures"),
    ):
        value = getattr(args, flag, None)
        if value:
            overrides.append(f"{key}={value}")
    return config_lib.load_config(args.config, overrides)


def _check_data(config: config_lib.Config, out: TextIO) -> int | None:
    """Fail early, with the folder named, when the image folder cannot make a classifier; the number of files in a
    local image folder's chosen spans (None for TFRecords or a remote folder)."""
    if config.data.format != "images" or is_remote(config.data.root):
        return None
    from components.ingestion import training_input
    from components.ingestion.data_files import readable_name
    from components.ingestion.image_files import scan_folder, typical_side

    root = config.data.root
    if not os.path.isdir(root):
        scan_folder(root)  # raises, naming the folder
    selection = training_input.resolve(root, config.data.spans, os.listdir, os.path.isdir)
    folders = [os.path.join(root, name) for name in selection.names] or [root]
    summaries = [scan_folder(folder) for folder in folders]
    classes: dict[str, int] = {}
    for summary in summaries:
        for name, count in summary.classes.items():
            classes[name] = classes.get(name, 0) + count
    where = f"{root} ({selection.describe()} of {selection.available})" if selection.spans else root
    if len(classes) < 2:
        raise ValueError(
            f"{where}: found {len(classes)} class folder(s) with files "
            f"({', '.join(map(readable_name, classes)) or 'none'}); a classifier needs at least 2"
        )
    out.write(f"data: {sum(classes.values())} files in {len(classes)} classes under {where}\n")
    side, size = typical_side(folders[-1], list(summaries[-1].classes)), config.model.input_size
    if side and 2 * side <= size:
        out.write(
            f"note: the images are about {side} px, upscaled to model.input_size={size} (slower, no more "
            f"detail); set a smaller model.input_size for small images, e.g. --config "
            f"pipeline/profiles/demo.yaml for Fashion-MNIST\n"
        )
    for summary, span in zip(summaries, selection.names or [""]):
        for name in summary.empty_classes:
            out.write(f"warning: class folder '{readable_name(os.path.join(span, name))}' is empty and is ignored\n")
        if summary.stray_files:
            folder = f"span folder {span}" if span else "the data folder"
            out.write(
                f"warning: {len(summary.stray_files)} file(s) directly under {folder} are ignored "
                f"(e.g. {readable_name(summary.stray_files[0])}); images must be inside class folders\n"
            )
    return sum(classes.values())


def _results(config: config_lib.Config, paths: local_runner.RunPaths) -> list[run_summary.ModelResult]:
    """Per-model outcome of the run just finished, read from ML Metadata."""
    from pipeline.reporting import run_summary

    names = [config.model_name(arch) for arch in config.model.architectures]
    return run_summary.collect_results(paths.metadata, config.pipeline.name, paths.pipeline_root, names)


def _run_with_progress(
    config: config_lib.Config, paths: local_runner.RunPaths, example_count: int | None, log_path: str
) -> tuple[progress.ProgressReporter, list[run_summary.ModelResult], str | None]:
    """Run the pipeline with its progress on the terminal and library output in `log_path`: the progress reporter
    (with the timings), the per-model results, and what failed (None when nothing did)."""
    from pipeline import local_runner
    from pipeline.reporting import progress

    failure: str | None = None
    results: list[run_summary.ModelResult] = []
    with progress.capture_output(log_path) as terminal, progress.report_progress(terminal) as reporter:
        try:
            local_runner.run_pipeline(config, paths, example_count)
            results = _results(config, paths)
        except Exception as error:  # the run failed: say where and why, not a traceback
            component = reporter.mark_failed()
            traceback.print_exc()
            failure = f"{component or 'pipeline'} failed: {type(error).__name__}: {error}"
    return reporter, results, failure


def cmd_run(args: argparse.Namespace) -> int:
    """Run the pipeline locally, showing progress, then print the per-model table and write the run report."""
    from pipeline import local_runner
    from pipeline.reporting import progress

    # A terminated run (SIGTERM, e.g. a CI timeout or `kill`) unwinds like a failed one: the services it started
    # for Beam are stopped by their clean-up, not left running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    out = sys.stdout
    with progress.held_stderr() as noise:  # TensorFlow's and Google's import-time lines go to the run's log
        from pipeline.reporting import run_report, run_summary

        config = config_from_args(args)
        config, paths = local_runner.localize(config)
        example_count = _check_data(config, out)
    log_path = paths.new_log()
    with open(log_path, "ab") as log:
        log.write(b"".join(noise))
    out.write(f"run home: {paths.home}\nTFX/Beam/TensorFlow log: {log_path}\n")
    if config.beam.runner == "DirectRunner":
        mode, workers = config.beam.direct_mode(example_count)
        out.write(
            f"beam: DirectRunner {mode}, {workers} worker(s) (beam.direct_running_mode="
            f"{config.beam.direct_running_mode}, beam.in_memory_max_examples="
            f"{config.beam.in_memory_max_examples})\n"
        )
    out.flush()
    started = time.monotonic()
    with local_runner.beam_services(config, paths) as (config, services):
        if services:
            out.write(
                f"beam: PortableRunner, job service {services.job_endpoint} (pid {services.job_service_pid}), "
                f"external SDK worker pool {services.worker_pool_endpoint} (pid {services.worker_pool_pid}); "
                f"their logs: {services.worker_pool_log.parent}\n"
            )
            out.flush()
        reporter, results, failure = _run_with_progress(config, paths, example_count, log_path)
    if services:
        out.write(
            f"beam: stopped the job service and worker pool (pids {services.job_service_pid}, "
            f"{services.worker_pool_pid})\n"
        )
    out.write("\n" + run_summary.timings_table(reporter.timings) + "\n")
    if failure:
        out.write(f"\nerror: {failure}\nNothing was pushed by the failed step. Full log: {log_path}\n")
        return 1
    out.write("\n" + run_summary.results_table(results) + "\n")
    held_back = False
    for result in results:
        if result.class_changes:
            out.write(
                f"{result.model_name}: {result.class_changes} since the baseline; the no-regression gate "
                "compared the classes both models know\n"
            )
        if not result.trained:
            out.write(f"{result.decision}\n")
        elif not result.pushed_path:
            held_back = True
            reasons = "; ".join(run_summary.reasons_not_pushed(result)) or "it did not reach the Pusher"
            out.write(f"{result.model_name} was held back and not pushed: {reasons}. Details: {log_path}\n")
    run_name = os.path.splitext(os.path.basename(log_path))[0]
    report = run_report.write_run_report(
        run_report.report_dir(paths.home, run_name), results, reporter.timings, title=run_name
    )
    out.write(f"\nreport: {report}")
    out.write(f"\nfinished in {time.monotonic() - started:.0f} s; registry: {config.registry.root}\n")
    if held_back and args.fail_on_held_back:
        out.write(f"exit code {HELD_BACK_EXIT_CODE}: a model was held back (--fail-on-held-back)\n")
        return HELD_BACK_EXIT_CODE
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    """Write the built-in dataset and say what was written."""
    from components.ingestion import demo_data

    counts = demo_data.write_dataset(
        args.dir, dataset=args.dataset, per_class=args.per_class, image_size=args.image_size
    )
    print(f"wrote {sum(counts.values())} images in {len(counts)} classes to {args.dir}")
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    """Print the effective configuration, or the reference of every setting."""
    import yaml

    if args.keys:
        from pipeline import config_reference

        sys.stdout.write(config_reference.plain_text())
        return 0
    print(yaml.safe_dump(config_from_args(args).to_dict(), sort_keys=False), end="")
    return 0


LOCAL_COMMANDS = {"run": cmd_run, "demo-data": cmd_demo_data, "show-config": cmd_show_config}
"""Each local subcommand's handler."""
