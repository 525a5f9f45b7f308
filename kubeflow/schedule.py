"""Kubeflow Pipelines API glue (kfp.Client): upload a package, run it once or on a schedule, replace or delete a
schedule, follow a run, list runs."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import re
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import yaml

from kubeflow.compile import SPEC_SUFFIXES

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_NOT_SET_YEAR = 1970  # the API reports unset timestamps as the epoch


class KubeflowUnavailable(RuntimeError):
    """The Kubeflow Pipelines API could not be reached, or it refused a request."""


class RecurringRunNotFound(RuntimeError):
    """No single recurring run has the given name."""


class RecurringRunExists(RuntimeError):
    """A recurring run of the name asked for exists, and replacing it was not asked for."""


FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
"""The run states after which a run changes no more (kfp_server_api V2beta1RuntimeState)."""


def _connection_reason(error: Exception) -> str:
    """The useful end of a urllib3/socket error, e.g. 'Failed to establish a new connection: [Errno 111] ...'."""
    reason = getattr(error, "reason", None) or error
    return str(reason).split(">: ", 1)[-1]


def _api_message(error: Any) -> str:
    """`HTTP <status> <reason>: <server message>` of a kfp_server_api.ApiException."""
    text = f"HTTP {error.status} {error.reason or ''}".rstrip()
    try:
        message = json.loads(error.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return f"{text}: {message}" if message else text


@contextlib.contextmanager
def translate_kfp_errors(host: str) -> Iterator[None]:
    """Turn network and HTTP errors from kfp.Client into one KubeflowUnavailable line naming `host`."""
    import kfp_server_api
    import urllib3

    try:
        yield
    except kfp_server_api.ApiException as error:
        raise KubeflowUnavailable(f"Kubeflow Pipelines at {host} refused the request: {_api_message(error)}") from None
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as error:
        raise KubeflowUnavailable(f"cannot reach Kubeflow Pipelines at {host}: {_connection_reason(error)}") from None


def connect(host: str, namespace: str | None = None) -> Any:
    """A kfp.Client for `host` (it checks the API's health on creation)."""
    import kfp

    previous = logging.root.manager.disable
    # kfp.Client logs a full traceback for every health-check retry; the caller reports the failure once.
    logging.disable(logging.ERROR)
    try:
        with warnings.catch_warnings(), translate_kfp_errors(host):
            warnings.simplefilter("ignore", FutureWarning)
            return kfp.Client(host=host, namespace=namespace or "kubeflow")
    finally:
        logging.disable(previous)


def read_package(package: str) -> dict[str, Any]:
    """The PipelineSpec in a compiled `.yaml` package, checked to name its pipeline (ValueError naming the file)."""
    if Path(package).suffix.lower() not in SPEC_SUFFIXES:
        raise ValueError(
            f"{package}: Kubeflow Pipelines takes the .yaml PipelineSpec package "
            "(compile-kubeflow --output FILE.yaml); .json PipelineJobs are for Vertex AI"
        )
    try:
        spec = next(yaml.safe_load_all(Path(package).read_text(encoding="utf-8")), None)
    except yaml.YAMLError as error:
        raise ValueError(f"{package}: not a YAML pipeline package ({error})") from None
    name = (spec or {}).get("pipelineInfo", {}).get("name") if isinstance(spec, dict) else None
    if not name:
        raise ValueError(f"{package}: not a pipeline package (no pipelineInfo.name)")
    return spec


def package_pipeline_name(package: str) -> str:
    """The pipeline name inside a compiled `.yaml` PipelineSpec package."""
    return read_package(package)["pipelineInfo"]["name"]


def kfp_cron(expression: str) -> str:
    """A cron expression in KFP's 6-field form (seconds first); a standard 5-field one runs at second 0."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0"] + fields
    if len(fields) != 6:
        raise ValueError(
            f"--cron {expression!r}: expected 5 fields (minute hour day month weekday) or KFP's 6 (with seconds first)"
        )
    return " ".join(fields)


def upload_package(client: Any, package: str, pipeline_name: str) -> tuple[str, str]:
    """Upload `package` as a new pipeline, or as a new version of the pipeline of that name; (pipeline, version) ids."""
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(package, pipeline_name=pipeline_name).pipeline_id
        versions = client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc")
        return pipeline_id, versions.pipeline_versions[0].pipeline_version_id
    version_name = f"{pipeline_name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    version = client.upload_pipeline_version(package, version_name, pipeline_id=pipeline_id)
    return pipeline_id, version.pipeline_version_id


def recurring_runs_named(client: Any, name: str, namespace: str | None = None) -> list[Any]:
    """The recurring runs whose display name is `name`."""
    name_filter = json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": name}]})
    return list(client.list_recurring_runs(filter=name_filter, namespace=namespace, page_size=100).recurring_runs or [])


def schedule_package(
    client: Any,
    package: str,
    cron: str,
    experiment: str | None = None,
    job_name: str | None = None,
    max_concurrency: int = 1,
    pipeline_root: str | None = None,
    parameters: dict[str, str] | None = None,
    namespace: str | None = None,
    replace: bool = False,
) -> tuple[Any, list[str]]:
    """Upload `package` and create a recurring run of that version on `cron`; the recurring run, and the ids of
    the recurring runs of the same name it replaced. An existing one of that name is refused (RecurringRunExists)
    unless `replace`; then the old ones are deleted only after the new one exists, so a failure leaves a schedule."""
    pipeline_name = package_pipeline_name(package)
    expression = kfp_cron(cron)
    if max_concurrency < 1:
        raise ValueError(f"--max-concurrency {max_concurrency}: expected at least 1")
    name = job_name or f"{pipeline_name}-recurring"
    existing = recurring_runs_named(client, name, namespace)
    if existing and not replace:
        ids = ", ".join(run.recurring_run_id for run in existing)
        raise RecurringRunExists(
            f"a recurring run named {name!r} exists ({ids}); add --replace to replace it with "
            "this package (the old one is deleted once the new one is created)"
        )
    pipeline_id, version_id = upload_package(client, package, pipeline_name)
    experiment_id = client.create_experiment(experiment or pipeline_name, namespace=namespace).experiment_id
    created = client.create_recurring_run(
        experiment_id=experiment_id,
        job_name=name,
        cron_expression=expression,
        max_concurrency=max_concurrency,
        no_catchup=True,
        pipeline_id=pipeline_id,
        version_id=version_id,
        pipeline_root=pipeline_root or None,
        params=parameters or None,
    )
    for old in existing:
        client.delete_recurring_run(old.recurring_run_id)
    return created, [old.recurring_run_id for old in existing]


def submit_package(
    client: Any,
    package: str,
    experiment: str | None = None,
    run_name: str | None = None,
    pipeline_root: str | None = None,
    parameters: dict[str, str] | None = None,
    namespace: str | None = None,
) -> Any:
    """Start one run of `package` (in `experiment`, default the pipeline's name); returns the run."""
    import contextlib
    import io

    pipeline_name = package_pipeline_name(package)
    with contextlib.redirect_stdout(io.StringIO()):  # kfp.Client prints its own "Run details" line
        result = client.create_run_from_pipeline_package(
            package,
            arguments=parameters or None,
            experiment_name=experiment or pipeline_name,
            run_name=run_name or f"{pipeline_name} {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}",
            namespace=namespace,
            pipeline_root=pipeline_root or None,
        )
    return client.get_run(result.run_id)


def run_url(host: str, run_id: str) -> str:
    """The run's page in the Kubeflow Pipelines UI."""
    return f"{host.rstrip('/')}/#/runs/details/{run_id}"


def wait_for_run(client: Any, run_id: str, timeout: float, poll_seconds: float = 10.0, on_state: Any = None) -> Any:
    """Poll the run until it reaches a final state (`FINAL_STATES`), calling `on_state(state)` on each change;
    returns the run, or raises TimeoutError after `timeout` seconds."""
    deadline, state = time.monotonic() + timeout, None
    while True:
        run = client.get_run(run_id)
        if run.state != state:
            state = run.state
            if on_state:
                on_state(state)
        if state in FINAL_STATES:
            return run
        if time.monotonic() >= deadline:
            raise TimeoutError(f"run {run_id} is still {state} after {timeout:.0f} s")
        time.sleep(poll_seconds)


def unschedule(client: Any, job: str, namespace: str | None = None) -> str:
    """Delete the recurring run with id or display name `job`; returns its id."""
    if _UUID.fullmatch(job):
        client.delete_recurring_run(job)
        return job
    found = recurring_runs_named(client, job, namespace)
    if not found:
        raise RecurringRunNotFound(f"no recurring run named {job!r}")
    if len(found) > 1:
        raise RecurringRunNotFound(f"several recurring runs are named {job!r}; give the id instead")
    client.delete_recurring_run(found[0].recurring_run_id)
    return found[0].recurring_run_id


def list_runs(client: Any, experiment: str | None = None, limit: int = 20, namespace: str | None = None) -> list[Any]:
    """The newest `limit` runs, of one experiment (by name) or of all."""
    experiment_id = None
    if experiment:
        experiment_id = client.get_experiment(experiment_name=experiment, namespace=namespace).experiment_id
    response = client.list_runs(
        experiment_id=experiment_id, namespace=namespace, page_size=limit, sort_by="created_at desc"
    )
    return list(response.runs or [])


def _when(value: datetime.datetime | None) -> str:
    if value is None or value.year == _NOT_SET_YEAR:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M")


def runs_table(runs: list[Any]) -> str:
    """Runs (kfp_server_api V2beta1Run) as an aligned text table, one line per run."""
    from pipeline.reporting.tables import text_table

    if not runs:
        return "no runs"
    header = ("run id", "name", "state", "created", "finished")
    rows = [
        (run.run_id or "", run.display_name or "", run.state or "", _when(run.created_at), _when(run.finished_at))
        for run in runs
    ]
    return text_table(header, rows, rule=False)
