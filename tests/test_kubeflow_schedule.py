"""Scheduling through kfp.Client: one clear line when Kubeflow Pipelines cannot be reached, the requests kfp.Client
sends for a schedule (to a local stand-in of the REST API), cron expressions and the runs table."""
import argparse
import datetime
import http.server
import json
import socket
import threading

import kfp_server_api
import pytest
import yaml

from kubeflow import schedule
from kubeflow import commands as kubeflow_commands


@pytest.fixture
def closed_port_url() -> str:
    """http://127.0.0.1:<port> with nothing listening on the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _package_spec(check_caching: bool = False, guarded: bool = True) -> dict:
    """A PipelineSpec with the new-data check and one task after it (the shape `schedule` checks)."""
    check = {"taskInfo": {"name": "NewDataCheck"}}
    if check_caching:
        check["cachingOptions"] = {"enableCache": True}
    example_gen = {"taskInfo": {"name": "ImageExampleGen"}, "cachingOptions": {"enableCache": True},
                   "dependentTasks": ["NewDataCheck"] if guarded else []}
    return {"pipelineInfo": {"name": "mobilenet-pipeline"}, "schemaVersion": "2.1.0",
            "root": {"dag": {"tasks": {"NewDataCheck": check, "ImageExampleGen": example_gen}}}}


@pytest.fixture
def package(tmp_path) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(_package_spec()), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("spec, refusal", [
    ({"pipelineInfo": {"name": "mobilenet-pipeline"}, "root": {"dag": {"tasks": {}}}}, "has no NewDataCheck task"),
    (_package_spec(check_caching=True), "caches NewDataCheck"),
    (_package_spec(guarded=False), "do not wait for the new-data check \\(ImageExampleGen\\)"),
])
def test_schedule_refuses_a_package_whose_runs_could_not_see_new_data(tmp_path, closed_port_url, spec, refusal):
    """Before any request: a package compiled before the new-data check existed, or edited so that a step cache
    replays an earlier night, is refused with the fix."""
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(ValueError, match=refusal) as raised:
        _run(["schedule", "--host", closed_port_url, "--cron", "0 3 * * *", "--package", str(path)])
    assert "compile the package again with `mobilenet-pipeline compile-kubeflow`" in str(raised.value)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    kubeflow_commands.add_kubeflow_subparsers(parser.add_subparsers(dest="command"))
    return kubeflow_commands.run_kubeflow_command(parser.parse_args(argv))


@pytest.mark.parametrize("command", [
    ["schedule", "--cron", "0 3 * * *", "--experiment", "nightly", "--max-concurrency", "1"],
    ["unschedule", "mobilenet-pipeline-recurring"],
    ["runs", "--experiment", "nightly"],
])
def test_unreachable_host_is_one_clear_line_and_exit_code_2(command, closed_port_url, package, capsys):
    argv = command[:1] + ["--host", closed_port_url] + command[1:]
    if command[0] == "schedule":
        argv += ["--package", package]
    assert _run(argv) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: cannot reach Kubeflow Pipelines at {closed_port_url}: ")
    assert "Connection refused" in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_bad_package_fails_before_any_request(tmp_path, closed_port_url):
    job = tmp_path / "job.json"
    job.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="takes the .yaml PipelineSpec"):
        _run(["schedule", "--host", closed_port_url, "--cron", "0 3 * * *", "--package", str(job)])
    with pytest.raises(ValueError, match="no such file"):
        _run(["schedule", "--host", closed_port_url, "--cron", "0 3 * * *", "--package", str(tmp_path / "x.yaml")])


def test_package_pipeline_name(package):
    assert schedule.package_pipeline_name(package) == "mobilenet-pipeline"


def test_cron_in_kfp_six_field_form():
    assert schedule.kfp_cron("0 3 * * *") == "0 0 3 * * *"
    assert schedule.kfp_cron("30 0 3 * * 1-5") == "30 0 3 * * 1-5"
    with pytest.raises(ValueError, match="expected 5 fields"):
        schedule.kfp_cron("daily")


def test_runs_table_lists_runs_in_aligned_columns():
    created = datetime.datetime(2026, 11, 24, 3, 0, tzinfo=datetime.timezone.utc)
    runs = [
        kfp_server_api.V2beta1Run(run_id="run-1", display_name="nightly 1", state="SUCCEEDED", created_at=created,
                                  finished_at=created + datetime.timedelta(minutes=42)),
        kfp_server_api.V2beta1Run(run_id="run-2", display_name="nightly 2", state="RUNNING", created_at=created,
                                  finished_at=datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)),
    ]
    lines = schedule.runs_table(runs).splitlines()
    assert lines[0].split() == ["run", "id", "name", "state", "created", "finished"]
    assert lines[1].split() == ["run-1", "nightly", "1", "SUCCEEDED", "2026-11-24", "03:00", "2026-11-24", "03:42"]
    assert lines[2].split() == ["run-2", "nightly", "2", "RUNNING", "2026-11-24", "03:00", "-"]
    assert lines[0].index("state") == lines[1].index("SUCCEEDED")
    assert schedule.runs_table([]) == "no runs"


class _FakeKfpApi(http.server.BaseHTTPRequestHandler):
    """Just enough of the KFP v2beta1 REST API for one `schedule` on an empty cluster; records the requests."""

    requests: list = []
    replies = {
        ("GET", "/apis/v2beta1/healthz"): {"multi_user": False},
        ("GET", "/apis/v2beta1/pipelines"): {},
        ("POST", "/apis/v2beta1/pipelines/upload"): {"pipeline_id": "p-1"},
        ("GET", "/apis/v2beta1/pipelines/p-1/versions"): {"pipeline_versions": [{"pipeline_version_id": "v-1"}]},
        ("GET", "/apis/v2beta1/experiments"): {},
        ("POST", "/apis/v2beta1/experiments"): {"experiment_id": "e-1"},
        ("POST", "/apis/v2beta1/recurringruns"): {"recurring_run_id": "j-1", "display_name": "nightly-job"},
    }

    def _reply(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = self.path.split("?")[0]
        self.requests.append((method, path, body))
        payload = json.dumps(self.replies[(method, path)]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802 (http.server naming)
        self._reply("GET")

    def do_POST(self):  # noqa: N802
        self._reply("POST")

    def log_message(self, *args):
        """Quiet."""


def test_schedule_uploads_the_package_and_creates_a_cron_recurring_run(package, capsys):
    server = http.server.HTTPServer(("127.0.0.1", 0), _FakeKfpApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        assert _run(["schedule", "--host", host, "--cron", "0 3 * * *", "--experiment", "nightly",
                     "--max-concurrency", "2", "--name", "nightly-job", "--package", package,
                     "--param", "data_root=gs://bucket/images", "--pipeline-root", "gs://bucket/root"]) == 0
    finally:
        server.shutdown()
    calls = [(method, path) for method, path, _ in _FakeKfpApi.requests]
    upload, recurring_run = ("POST", "/apis/v2beta1/pipelines/upload"), ("POST", "/apis/v2beta1/recurringruns")
    assert calls.index(upload) < calls.index(recurring_run)
    body = json.loads(next(body for method, path, body in _FakeKfpApi.requests if path.endswith("/recurringruns")))
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert body["max_concurrency"] == 2
    assert body["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "v-1"}
    assert body["experiment_id"] == "e-1"
    assert body["runtime_config"] == {"parameters": {"data_root": "gs://bucket/images"},
                                      "pipeline_root": "gs://bucket/root"}
    assert "scheduled recurring run nightly-job (j-1) on '0 0 3 * * *'" in capsys.readouterr().out
