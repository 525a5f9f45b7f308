"""Kubeflow Pipelines API glue (kfp.Client): upload a package, schedule it, unschedule it, list runs."""
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
        raise ValueError(f"{package}: Kubeflow Pipelines takes the .yaml PipelineSpec package "
                         "(compile-kubeflow --output FILE.yaml); .json PipelineJobs are for Vertex AI")
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
        raise ValueError(f"--cron {expression!r}: expected 5 fields (minute hour day month weekday) "
                         "or KFP's 6 (with seconds first)")
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


def schedule_package(client: Any, package: str, cron: str, experiment: str | None = None,
                     job_name: str | None = None, max_concurrency: int = 1, pipeline_root: str | None = None,
                     parameters: dict[str, str] | None = None, namespace: str | None = None) -> Any:
    """Upload `package` and create a recurring run of that version on `cron`; returns the recurring run."""
    pipeline_name = package_pipeline_name(package)
    expression = kfp_cron(cron)
    if max_concurrency < 1:
        raise ValueError(f"--max-concurrency {max_concurrency}: expected at least 1")
    pipeline_id, version_id = upload_package(client, package, pipeline_name)
    experiment_id = client.create_experiment(experiment or pipeline_name, namespace=namespace).experiment_id
    return client.create_recurring_run(
        experiment_id=experiment_id,
        job_name=job_name or f"{pipeline_name}-recurring",
        cron_expression=expression,
        max_concurrency=max_concurrency,
        no_catchup=True,
        pipeline_id=pipeline_id,
        version_id=version_id,
        pipeline_root=pipeline_root or None,
        params=parameters or None,
    )


def unschedule(client: Any, job: str, namespace: str | None = None) -> str:
    """Delete the recurring run with id or display name `job`; returns its id."""
    if _UUID.fullmatch(job):
        client.delete_recurring_run(job)
        return job
    name_filter = json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": job}]})
    found = client.list_recurring_runs(filter=name_filter, namespace=namespace, page_size=2).recurring_runs or []
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
    response = client.list_runs(experiment_id=experiment_id, namespace=namespace, page_size=limit,
                                sort_by="created_at desc")
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
    rows = [(run.run_id or "", run.display_name or "", run.state or "", _when(run.created_at), _when(run.finished_at))
            for run in runs]
    return text_table(header, rows, rule=False)
