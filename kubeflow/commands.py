"""`compile-kubeflow`, `submit`, `schedule`, `unschedule` and `runs`: the pipeline on Kubeflow Pipelines (and
Vertex AI)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from pipeline import config as config_lib

KUBEFLOW_COMMANDS = ("compile-kubeflow", "submit", "schedule", "unschedule", "runs")
COMPILE_ONLY = ("config", "overrides", "image")
"""The options that only shape a package compiled on the spot; with --package they would be ignored."""
WAIT_TIMEOUT = 24 * 3600.0
POLL_SECONDS = 10.0

COMPILE_EXAMPLES = """examples:
  mobilenet-pipeline compile-kubeflow --output build/pipeline.yaml \\
      --image us-docker.pkg.dev/PROJECT/ml/mobilenet-pipeline:1.0.0 \\
      --set data.root=gs://BUCKET/images --set registry.root=gs://BUCKET/registry \\
      --pipeline-root gs://BUCKET/pipeline-root
  mobilenet-pipeline compile-kubeflow --output build/pipeline.yaml --set kubeflow.trainer_gpus=1 ...
  mobilenet-pipeline compile-kubeflow --output build/job.json --vertex-job --pipeline-root gs://BUCKET/root ..."""
SUBMIT_EXAMPLES = """examples:
  mobilenet-pipeline submit --host http://localhost:8080 --package build/pipeline.yaml --wait
  mobilenet-pipeline submit --host http://localhost:8080 --image REGISTRY/mobilenet-pipeline:1.0.0 \\
      --set data.root=gs://BUCKET/images --set registry.root=gs://BUCKET/registry \\
      --pipeline-root gs://BUCKET/pipeline-root --experiment adhoc"""
SCHEDULE_EXAMPLES = """examples:
  mobilenet-pipeline schedule --host http://localhost:8080 --cron "0 3 * * *" --experiment nightly \\
      --package build/pipeline.yaml
  mobilenet-pipeline schedule --host http://localhost:8080 --cron "0 3 * * *" --package build/pipeline.yaml \\
      --replace      # replace the recurring run of the same name with this package"""


def _add_compile_options(parser: argparse.ArgumentParser, default_image: str | None) -> None:
    from kubeflow.compile import DEFAULT_IMAGE

    parser.add_argument(
        "--config", metavar="FILE", help="YAML file overriding the defaults (e.g. pipeline/profiles/flink.yaml)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (repeatable); data.root and registry.root become the "
        "defaults of the runtime parameters data_root and registry_root",
    )
    parser.add_argument(
        "--image",
        default=default_image,
        help="container image of every step, built from kubeflow/Dockerfile and pushed to a registry "
        f"the cluster pulls from (default {DEFAULT_IMAGE}, which no cluster can pull)",
    )
    parser.add_argument(
        "--pipeline-root",
        default="",
        metavar="URL",
        help="where runs write artifacts, e.g. gs://BUCKET/pipelines (minio:// is refused: the steps cannot write it)",
    )


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", required=True, metavar="URL", help="Kubeflow Pipelines API, e.g. http://localhost:8080"
    )
    parser.add_argument("--namespace", help="Kubernetes namespace of a multi-user deployment")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """What `submit` and `schedule` share: the package, its runs' parameters and where they go."""
    parser.add_argument(
        "--package",
        metavar="FILE",
        help="compiled .yaml package (default: compile one now from --config/--set/--image)",
    )
    parser.add_argument("--experiment", help="experiment of the runs (default: the pipeline name)")
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="runtime parameter of the runs, e.g. data_root=gs://bucket/images (repeatable)",
    )
    parser.add_argument(
        "--allow-local-paths",
        action="store_true",
        help="accept a data_root or registry_root that is a path, for a cluster whose every pod "
        "mounts one shared volume at that path (kubeflow/README.md)",
    )
    _add_compile_options(parser, default_image=None)
    _add_host_options(parser)


def add_kubeflow_subparsers(subparsers: argparse._SubParsersAction) -> None:
    """Add the Kubeflow subcommands to the CLI's subparsers."""
    from kubeflow.compile import DEFAULT_IMAGE

    formatter = argparse.RawDescriptionHelpFormatter
    compile_parser = subparsers.add_parser(
        "compile-kubeflow",
        help="compile the pipeline for Kubeflow Pipelines (.yaml) or Vertex AI (.json)",
        description=textwrap.fill(
            "Compile the pipeline (the same create_pipeline as `run`) into a Kubeflow Pipelines v2 package "
            "or a Vertex AI PipelineJob; data_root and registry_root become runtime parameters, each step's "
            "pod is sized by kubeflow.*."
        ),
        epilog=COMPILE_EXAMPLES,
        formatter_class=formatter,
    )
    compile_parser.add_argument(
        "--output",
        required=True,
        metavar="FILE",
        help="FILE.yaml: PipelineSpec to upload to Kubeflow Pipelines; FILE.json: PipelineJob for Vertex AI",
    )
    compile_parser.add_argument(
        "--vertex-job",
        action="store_true",
        help="write the whole Vertex AI PipelineJob (needs a .json output and a gs:// root)",
    )
    _add_compile_options(compile_parser, default_image=DEFAULT_IMAGE)

    submit = subparsers.add_parser(
        "submit",
        help="start one run of the pipeline on Kubeflow Pipelines",
        description=textwrap.fill(
            "Start one run of a compiled package (or of one compiled now; sent with the run, "
            "not uploaded as a pipeline); print its id and URL, and with --wait follow it to "
            "the end and exit with its state (0: succeeded)."
        ),
        epilog=SUBMIT_EXAMPLES,
        formatter_class=formatter,
    )
    _add_run_options(submit)
    submit.add_argument("--name", help="name of the run (default: the pipeline name and the time)")
    submit.add_argument("--wait", action="store_true", help="follow the run to its end; exit 0 only if it succeeded")
    submit.add_argument(
        "--timeout",
        type=float,
        default=WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"with --wait, give up after this long (default {WAIT_TIMEOUT:.0f})",
    )

    schedule = subparsers.add_parser(
        "schedule",
        help="upload the pipeline to Kubeflow Pipelines and run it on a cron schedule",
        description=textwrap.fill(
            "Upload a package (or one compiled now) as a new version of the pipeline and create a recurring "
            "run of it. A recurring run of the same name is refused unless --replace, which creates the new "
            "one and then deletes the old."
        ),
        epilog=SCHEDULE_EXAMPLES,
        formatter_class=formatter,
    )
    _add_run_options(schedule)
    schedule.add_argument(
        "--cron",
        required=True,
        metavar="EXPR",
        help="'MIN HOUR DAY MONTH WEEKDAY' (or KFP's 6 fields with seconds first), e.g. '0 3 * * *'",
    )
    schedule.add_argument("--max-concurrency", type=int, default=1, metavar="N", help="runs at once (default 1)")
    schedule.add_argument("--name", help="name of the recurring run (default: <pipeline>-recurring)")
    schedule.add_argument(
        "--replace",
        action="store_true",
        help="replace a recurring run of the same name (created first, then the old one deleted)",
    )

    unschedule = subparsers.add_parser("unschedule", help="delete a recurring run of Kubeflow Pipelines")
    _add_host_options(unschedule)
    unschedule.add_argument("job", metavar="JOB_ID_OR_NAME", help="recurring run id or name")

    runs = subparsers.add_parser("runs", help="list the newest runs on Kubeflow Pipelines")
    _add_host_options(runs)
    runs.add_argument("--experiment", help="only runs of this experiment")
    runs.add_argument("--limit", type=int, default=20, metavar="N", help="how many runs (default 20)")


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE, e.g. data_root=gs://bucket/images")
        params[name.strip()] = value.strip()
    return params


def _compile(args: argparse.Namespace, output: str) -> config_lib.Config:
    from kubeflow.compile import DEFAULT_IMAGE, compile_pipeline

    config = config_lib.load_config(args.config, args.overrides)
    compile_pipeline(
        config,
        output,
        image=args.image or DEFAULT_IMAGE,
        pipeline_root=args.pipeline_root,
        vertex_job=getattr(args, "vertex_job", False),
    )
    return config


def cmd_compile(args: argparse.Namespace) -> int:
    """Write the Kubeflow package and say what it contains, warning of what a cluster cannot use."""
    from kubeflow.compile import image_problem, is_vertex_job, parameter_defaults

    kind = "Vertex AI PipelineJob" if is_vertex_job(args.output, args.vertex_job) else "Kubeflow Pipelines package"
    defaults = parameter_defaults(_compile(args, args.output))
    parameters = ", ".join(f"{name} (default {value})" for name, value in defaults.items())
    sys.stdout.write(f"wrote {kind} to {args.output}\nimage: {args.image}\nruntime parameters: {parameters}\n")
    problem = image_problem(args.image)
    if problem:
        sys.stderr.write(f"warning: {problem}; submit and schedule refuse this package\n")
    if not args.pipeline_root:
        sys.stdout.write(
            "pipeline root: none compiled in; give a gs:// or s3:// one when you create the run (the "
            "cluster's default, minio://mlpipeline/v2/artifacts out of the box, cannot be written)\n"
        )
    return 0


def _runnable_package(args: argparse.Namespace, scratch: str) -> tuple[str, dict[str, str], str]:
    """The package `submit` or `schedule` sends (compiled now unless --package) after every check that keeps a
    run from losing work: its path, the runs' parameters and their pipeline root. ValueError naming the problem."""
    from kubeflow import schedule
    from kubeflow.compile import (
        check_pipeline_root,
        check_sees_new_data,
        image_problem,
        package_images,
        shared_location_problem,
    )

    package = args.package
    if package is None:
        package = str(Path(scratch) / "pipeline.yaml")
        _compile(args, package)
    else:
        given = [f"--{'set' if name == 'overrides' else name}" for name in COMPILE_ONLY if getattr(args, name)]
        if given:
            raise ValueError(
                f"--package {package}: {', '.join(given)} would be ignored (they shape a package "
                "compiled now); compile with them (compile-kubeflow), or leave out --package"
            )
        if not Path(package).is_file():
            raise ValueError(f"--package {package}: no such file")
    spec = schedule.read_package(package)
    check_sees_new_data(spec)
    for image in package_images(spec):
        if problem := image_problem(image):
            raise ValueError(problem)
    params = _parse_params(args.params)
    pipeline_root = args.pipeline_root or spec.get("defaultPipelineRoot", "")
    check_pipeline_root(pipeline_root, required=True)
    if not args.allow_local_paths:
        for name, value in effective_parameters(spec, params).items():
            if problem := shared_location_problem(name, value):
                raise ValueError(problem)
    return package, params, args.pipeline_root


def effective_parameters(spec: dict[str, Any], params: dict[str, str]) -> dict[str, str]:
    """The runtime parameters a run gets: the package's defaults, then `params`."""
    definitions = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    values = {name: str(definition.get("defaultValue", "")) for name, definition in definitions.items()}
    return {**values, **params}


def cmd_submit(args: argparse.Namespace) -> int:
    """Start one run; with --wait, follow it and exit with its state."""
    from kubeflow import schedule

    with tempfile.TemporaryDirectory() as scratch:
        package, params, pipeline_root = _runnable_package(args, scratch)
        with schedule.translate_kfp_errors(args.host):
            client = schedule.connect(args.host, args.namespace)
            run = schedule.submit_package(
                client,
                package,
                experiment=args.experiment,
                run_name=args.name,
                pipeline_root=pipeline_root,
                parameters=params,
                namespace=args.namespace,
            )
            sys.stdout.write(
                f"started run {run.display_name} ({run.run_id}): {schedule.run_url(args.host, run.run_id)}\n"
            )
            sys.stdout.flush()
            if not args.wait:
                return 0
            run_id = run.run_id

            def show(state: str) -> None:
                sys.stdout.write(f"run {run_id}: {state}\n")
                sys.stdout.flush()

            run = schedule.wait_for_run(client, run_id, args.timeout, POLL_SECONDS, on_state=show)
    return 0 if run.state == "SUCCEEDED" else 1


def cmd_schedule(args: argparse.Namespace) -> int:
    """Upload the package (compiling one first if none is given) and create, or replace, the recurring run."""
    from kubeflow import schedule

    cron = schedule.kfp_cron(args.cron)
    with tempfile.TemporaryDirectory() as scratch:
        package, params, pipeline_root = _runnable_package(args, scratch)
        with schedule.translate_kfp_errors(args.host):
            client = schedule.connect(args.host, args.namespace)
            job, replaced = schedule.schedule_package(
                client,
                package,
                cron,
                experiment=args.experiment,
                job_name=args.name,
                max_concurrency=args.max_concurrency,
                pipeline_root=pipeline_root,
                parameters=params,
                namespace=args.namespace,
                replace=args.replace,
            )
    sys.stdout.write(
        f"scheduled recurring run {job.display_name} ({job.recurring_run_id}) on '{cron}' at {args.host}\n"
    )
    if replaced:
        sys.stdout.write(f"replaced and deleted recurring run(s) {', '.join(replaced)}\n")
    return 0


def cmd_unschedule(args: argparse.Namespace) -> int:
    """Delete one recurring run."""
    from kubeflow import schedule

    with schedule.translate_kfp_errors(args.host):
        client = schedule.connect(args.host, args.namespace)
        job_id = schedule.unschedule(client, args.job, namespace=args.namespace)
    sys.stdout.write(f"deleted recurring run {job_id}\n")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """Print the newest runs as a table."""
    from kubeflow import schedule

    with schedule.translate_kfp_errors(args.host):
        client = schedule.connect(args.host, args.namespace)
        runs = schedule.list_runs(client, experiment=args.experiment, limit=args.limit, namespace=args.namespace)
    sys.stdout.write(schedule.runs_table(runs) + "\n")
    return 0


def run_kubeflow_command(args: argparse.Namespace) -> int:
    """Run one Kubeflow subcommand; an unreachable or refusing API is one line on stderr and exit code 2, a
    recurring run not found or already there one line and exit code 1."""
    from kubeflow.schedule import KubeflowUnavailable, RecurringRunExists, RecurringRunNotFound

    handlers = {
        "compile-kubeflow": cmd_compile,
        "submit": cmd_submit,
        "schedule": cmd_schedule,
        "unschedule": cmd_unschedule,
        "runs": cmd_runs,
    }
    try:
        return handlers[args.command](args)
    except KubeflowUnavailable as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except (RecurringRunNotFound, RecurringRunExists, TimeoutError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
