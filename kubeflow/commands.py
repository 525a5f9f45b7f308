"""`compile-kubeflow`, `schedule`, `unschedule` and `runs`: the pipeline on Kubeflow Pipelines (and Vertex AI)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pipeline import config as config_lib

KUBEFLOW_COMMANDS = ("compile-kubeflow", "schedule", "unschedule", "runs")


def _add_compile_options(parser: argparse.ArgumentParser) -> None:
    from kubeflow.compile import DEFAULT_IMAGE

    parser.add_argument("--config", metavar="FILE",
                        help="YAML file overriding the defaults (e.g. pipeline/profiles/flink.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key (repeatable); data.root and registry.root become the "
                             "defaults of the runtime parameters data_root and registry_root")
    parser.add_argument("--image", default=DEFAULT_IMAGE,
                        help=f"container image of every step, built from kubeflow/Dockerfile (default {DEFAULT_IMAGE})")
    parser.add_argument("--pipeline-root", default="", metavar="URL",
                        help="where runs write artifacts, e.g. gs://BUCKET/pipelines (default: the cluster's own, "
                             "which must then be gs:// or s3://; KFP's out-of-the-box minio:// is refused)")


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, metavar="URL",
                        help="Kubeflow Pipelines API, e.g. http://localhost:8080")
    parser.add_argument("--namespace", help="Kubernetes namespace of a multi-user deployment")


def add_kubeflow_subparsers(subparsers: argparse._SubParsersAction) -> None:
    """Add the Kubeflow subcommands to the CLI's subparsers."""
    compile_parser = subparsers.add_parser(
        "compile-kubeflow", help="compile the pipeline for Kubeflow Pipelines (.yaml) or Vertex AI (.json)")
    compile_parser.add_argument("--output", required=True, metavar="FILE",
                                help="FILE.yaml: PipelineSpec to upload to Kubeflow Pipelines; "
                                     "FILE.json: PipelineJob for Vertex AI")
    compile_parser.add_argument("--vertex-job", action="store_true",
                                help="write the whole Vertex AI PipelineJob (needs a .json output and a gs:// root)")
    _add_compile_options(compile_parser)

    schedule = subparsers.add_parser("schedule",
                                     help="upload the pipeline to Kubeflow Pipelines and run it on a cron schedule")
    _add_host_options(schedule)
    schedule.add_argument("--cron", required=True, metavar="EXPR",
                          help="'MIN HOUR DAY MONTH WEEKDAY' (or KFP's 6 fields with seconds first), e.g. '0 3 * * *'")
    schedule.add_argument("--experiment", help="experiment of the runs (default: the pipeline name)")
    schedule.add_argument("--max-concurrency", type=int, default=1, metavar="N", help="runs at once (default 1)")
    schedule.add_argument("--package", metavar="FILE", help="compiled .yaml package (default: compile one now)")
    schedule.add_argument("--name", help="name of the recurring run (default: <pipeline>-recurring)")
    schedule.add_argument("--param", dest="params", action="append", default=[], metavar="NAME=VALUE",
                          help="runtime parameter of the scheduled runs, e.g. data_root=gs://bucket/images")
    _add_compile_options(schedule)

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
    from kubeflow.compile import compile_pipeline

    config = config_lib.load_config(args.config, args.overrides)
    compile_pipeline(config, output, image=args.image, pipeline_root=args.pipeline_root,
                     vertex_job=getattr(args, "vertex_job", False))
    return config


def cmd_compile(args: argparse.Namespace) -> int:
    """Write the Kubeflow package and say what it contains."""
    from kubeflow.compile import is_vertex_job, parameter_defaults

    kind = "Vertex AI PipelineJob" if is_vertex_job(args.output, args.vertex_job) else "Kubeflow Pipelines package"
    defaults = parameter_defaults(_compile(args, args.output))
    parameters = ", ".join(f"{name} (default {value})" for name, value in defaults.items())
    sys.stdout.write(f"wrote {kind} to {args.output}\nimage: {args.image}\nruntime parameters: {parameters}\n")
    if not args.pipeline_root:
        sys.stdout.write("pipeline root: none compiled in; give a gs:// or s3:// one when you create the run (the "
                         "cluster's default, minio://mlpipeline/v2/artifacts out of the box, cannot be written)\n")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    """Upload the package (compiling one first if none is given) and create the recurring run."""
    from kubeflow import schedule
    from kubeflow.compile import check_pipeline_root, check_sees_new_data

    check_pipeline_root(args.pipeline_root)
    params = _parse_params(args.params)
    cron = schedule.kfp_cron(args.cron)
    with tempfile.TemporaryDirectory() as scratch:
        package = args.package
        if package is None:
            package = str(Path(scratch) / "pipeline.yaml")
            _compile(args, package)
        elif not Path(package).is_file():
            raise ValueError(f"--package {package}: no such file")
        check_sees_new_data(schedule.read_package(package))  # a wrong package fails here, before any request
        with schedule.translate_kfp_errors(args.host):
            client = schedule.connect(args.host, args.namespace)
            job = schedule.schedule_package(client, package, cron, experiment=args.experiment, job_name=args.name,
                                            max_concurrency=args.max_concurrency, pipeline_root=args.pipeline_root,
                                            parameters=params, namespace=args.namespace)
    sys.stdout.write(f"scheduled recurring run {job.display_name} ({job.recurring_run_id}) on '{cron}' "
                     f"at {args.host}\n")
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
    """Run one Kubeflow subcommand; an unreachable or refusing API is one line on stderr and exit code 2."""
    from kubeflow.schedule import KubeflowUnavailable, RecurringRunNotFound

    handlers = {"compile-kubeflow": cmd_compile, "schedule": cmd_schedule, "unschedule": cmd_unschedule,
                "runs": cmd_runs}
    try:
        return handlers[args.command](args)
    except KubeflowUnavailable as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except RecurringRunNotFound as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
