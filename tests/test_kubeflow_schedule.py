"""Scheduling through kfp.Client: one clear line when Kubeflow Pipelines cannot be reached, the requests kfp.Client
sends for a schedule (to a local stand-in of the REST API), cron expressions and the runs table."""

import argparse
import datetime
import socket

import kfp_server_api
import pytest
import yaml

from kubeflow import commands as kubeflow_commands
from kubeflow import schedule
from tests.kfp_api_stub import KfpApiState, kfp_api


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
    example_gen = {
        "taskInfo": {"name": "ImageExampleGen"},
        "cachingOptions": {"enableCache": True},
        "dependentTasks": ["NewDataCheck"] if guarded else [],
    }
    image = {"container": {"image": "registry.example.com/ml/mobilenet-pipeline:1"}}
    return {
        "pipelineInfo": {"name": "mobilenet-pipeline"},
        "schemaVersion": "2.1.0",
        "deploymentSpec": {"executors": {"NewDataCheck_executor": image, "ImageExampleGen_executor": image}},
        "root": {
            "dag": {"tasks": {"NewDataCheck": check, "ImageExampleGen": example_gen}},
            "inputDefinitions": {"parameters": {"data_root": {"defaultValue": "gs://bucket/images"}}},
        },
    }


@pytest.fixture
def package(tmp_path) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(_package_spec()), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "spec, refusal",
    [
        ({"pipelineInfo": {"name": "mobilenet-pipeline"}, "root": {"dag": {"tasks": {}}}}, "has no NewDataCheck task"),
        (_package_spec(check_caching=True), "caches NewDataCheck"),
        (_package_spec(guarded=False), "do not wait for the new-data check \\(ImageExampleGen\\)"),
    ],
)
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


@pytest.mark.parametrize(
    "command",
    [
        ["schedule", "--cron", "0 3 * * *", "--experiment", "nightly", "--max-concurrency", "1"],
        ["unschedule", "mobilenet-pipeline-recurring"],
        ["runs", "--experiment", "nightly"],
    ],
)
def test_unreachable_host_is_one_clear_line_and_exit_code_2(command, closed_port_url, package, capsys):
    argv = command[:1] + ["--host", closed_port_url] + command[1:]
    if command[0] == "schedule":
        argv += ["--package", package, "--pipeline-root", "gs://bucket/root"]
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
        kfp_server_api.V2beta1Run(
            run_id="run-1",
            display_name="nightly 1",
            state="SUCCEEDED",
            created_at=created,
            finished_at=created + datetime.timedelta(minutes=42),
        ),
        kfp_server_api.V2beta1Run(
            run_id="run-2",
            display_name="nightly 2",
            state="RUNNING",
            created_at=created,
            finished_at=datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),
        ),
    ]
    lines = schedule.runs_table(runs).splitlines()
    assert lines[0].split() == ["run", "id", "name", "state", "created", "finished"]
    assert lines[1].split() == ["run-1", "nightly", "1", "SUCCEEDED", "2026-11-24", "03:00", "2026-11-24", "03:42"]
    assert lines[2].split() == ["run-2", "nightly", "2", "RUNNING", "2026-11-24", "03:00", "-"]
    assert lines[0].index("state") == lines[1].index("SUCCEEDED")
    assert schedule.runs_table([]) == "no runs"


@pytest.fixture(scope="module")
def compiled_package(tmp_path_factory) -> str:
    """A real compiled package: V1 only, shared roots, an image a cluster can pull."""
    from kubeflow import compile as kubeflow_compile
    from pipeline.config import load_config

    path = tmp_path_factory.mktemp("package") / "pipeline.yaml"
    config = load_config(
        None, ["model.architectures=v1", "data.root=gs://bucket/images", "registry.root=gs://bucket/registry"]
    )
    kubeflow_compile.compile_pipeline(config, str(path), image="registry.example.com/ml/mobilenet-pipeline:1")
    return str(path)


def _schedule(host: str, package: str, *extra: str) -> int:
    return _run(
        [
            "schedule",
            "--host",
            host,
            "--cron",
            "0 3 * * *",
            "--experiment",
            "nightly",
            "--package",
            package,
            "--pipeline-root",
            "gs://bucket/root",
            *extra,
        ]
    )


def test_schedule_uploads_the_package_and_creates_a_cron_recurring_run(compiled_package, capsys):
    state = KfpApiState()
    with kfp_api(state) as host:
        assert (
            _schedule(
                host,
                compiled_package,
                "--max-concurrency",
                "2",
                "--name",
                "nightly-job",
                "--param",
                "data_root=gs://bucket/images",
            )
            == 0
        )
    calls = [(method, path) for method, path, _ in state.requests]
    upload, recurring_run = ("POST", "/apis/v2beta1/pipelines/upload"), ("POST", "/apis/v2beta1/recurringruns")
    assert calls.index(upload) < calls.index(recurring_run)
    body = next(body for method, path, body in state.requests if (method, path) == recurring_run)
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert body["max_concurrency"] == 2
    assert body["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "v-1"}
    assert body["experiment_id"] == "e-1"
    assert body["runtime_config"] == {
        "parameters": {"data_root": "gs://bucket/images"},
        "pipeline_root": "gs://bucket/root",
    }
    assert "scheduled recurring run nightly-job (j-1) on '0 0 3 * * *'" in capsys.readouterr().out


def test_scheduling_a_name_again_is_refused_until_replace_which_creates_then_deletes(compiled_package, capsys):
    state = KfpApiState()
    with kfp_api(state) as host:
        assert _schedule(host, compiled_package, "--name", "nightly") == 0
        (first,) = state.recurring_runs
        assert _schedule(host, compiled_package, "--name", "nightly") == 1
        assert "a recurring run named 'nightly' exists (j-1); add --replace" in capsys.readouterr().err
        assert list(state.recurring_runs) == [first]
        assert _schedule(host, compiled_package, "--name", "nightly", "--replace") == 0
        assert "replaced and deleted recurring run(s) j-1" in capsys.readouterr().out
        (second,) = state.recurring_runs
        assert second != first
        calls = [(method, path) for method, path, _ in state.requests]
        created = [index for index, call in enumerate(calls) if call == ("POST", "/apis/v2beta1/recurringruns")]
        assert created[-1] < calls.index(("DELETE", f"/apis/v2beta1/recurringruns/{first}"))
        assert _run(["unschedule", "--host", host, "nightly"]) == 0
        assert state.recurring_runs == {}


@pytest.mark.parametrize("option", [["--set", "train.epochs=3"], ["--config", "x.yaml"], ["--image", "r.io/x:1"]])
def test_schedule_with_a_package_refuses_compile_options_naming_them(compiled_package, closed_port_url, option):
    with pytest.raises(ValueError, match=f"{option[0]} would be ignored"):
        _schedule(closed_port_url, compiled_package, *option)
