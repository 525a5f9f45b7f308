"""`submit`: one run of a package against the stub KFP API, followed to its end with --wait; and the refusals that
keep `submit` and `schedule` from starting a run that would lose its work."""

import argparse

import pytest

from kubeflow import commands as kubeflow_commands
from tests.kfp_api_stub import KfpApiState, kfp_api

IMAGE = "registry.example.com/ml/mobilenet-pipeline:1"
SHARED = ["--set", "data.root=gs://bucket/images", "--set", "registry.root=gs://bucket/registry"]


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    kubeflow_commands.add_kubeflow_subparsers(parser.add_subparsers(dest="command"))
    return kubeflow_commands.run_kubeflow_command(parser.parse_args(list(argv)))


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("package") / "pipeline.yaml"
    assert (
        _run("compile-kubeflow", "--output", str(path), "--image", IMAGE, "--set", "model.architectures=v1", *SHARED)
        == 0
    )
    return str(path)


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(kubeflow_commands, "POLL_SECONDS", 0.01)


@pytest.mark.parametrize(
    "states, code", [(("PENDING", "RUNNING", "SUCCEEDED"), 0), (("RUNNING", "FAILED"), 1), (("CANCELED",), 1)]
)
def test_submit_wait_follows_the_run_and_exits_with_its_state(package, capsys, states, code):
    state = KfpApiState(run_states=states)
    with kfp_api(state) as host:
        assert (
            _run(
                "submit",
                "--host",
                host,
                "--package",
                package,
                "--pipeline-root",
                "gs://bucket/root",
                "--param",
                "data_root=gs://bucket/new-images",
                "--experiment",
                "adhoc",
                "--wait",
            )
            == code
        )
    out = capsys.readouterr().out
    (run_id,) = state.runs
    assert f"({run_id}): {host}/#/runs/details/{run_id}" in out
    assert f"run {run_id}: {states[-1]}" in out
    (body,) = [body for method, path, body in state.requests if (method, path) == ("POST", "/apis/v2beta1/runs")]
    assert body["runtime_config"] == {
        "parameters": {"data_root": "gs://bucket/new-images"},
        "pipeline_root": "gs://bucket/root",
    }
    assert body["pipeline_spec"]["pipelineInfo"]["name"] == "mobilenet-pipeline"


def test_submit_without_wait_returns_once_the_run_exists(package, capsys):
    state = KfpApiState(run_states=("RUNNING",))
    with kfp_api(state) as host:
        assert _run("submit", "--host", host, "--package", package, "--pipeline-root", "gs://bucket/root") == 0
    assert "started run" in capsys.readouterr().out


def test_submit_compiles_a_package_on_the_spot(capsys):
    state = KfpApiState()
    with kfp_api(state) as host:
        assert (
            _run(
                "submit",
                "--host",
                host,
                "--image",
                IMAGE,
                "--set",
                "model.architectures=v1",
                *SHARED,
                "--pipeline-root",
                "gs://bucket/root",
                "--wait",
            )
            == 0
        )
    (body,) = [body for method, path, body in state.requests if path == "/apis/v2beta1/runs"]
    assert "Trainer_mobilenet_v1" in body["pipeline_spec"]["root"]["dag"]["tasks"]


@pytest.mark.parametrize("command", ["submit", "schedule"])
@pytest.mark.parametrize(
    "argv, refusal",
    [
        (
            ["--pipeline-root", "gs://bucket/root", "--param", "registry_root=/models"],
            "registry_root is '/models', a path inside each pod",
        ),
        (["--pipeline-root", "gs://bucket/root", "--param", "data_root=file:///data"], "data_root is 'file:///data'"),
        ([], "no pipeline root: the run would fall back to the cluster's default"),
        (["--pipeline-root", "minio://mlpipeline/v2/artifacts"], "no minio:// filesystem"),
    ],
)
def test_a_run_that_would_lose_its_work_is_refused_with_the_fix(package, command, argv, refusal):
    extra = ["--cron", "0 3 * * *"] if command == "schedule" else []
    with pytest.raises(ValueError, match=refusal):
        _run(command, "--host", "http://127.0.0.1:9", "--package", package, *extra, *argv)


def test_an_image_no_cluster_can_pull_is_refused(tmp_path):
    path = tmp_path / "pipeline.yaml"
    assert _run("compile-kubeflow", "--output", str(path), "--set", "model.architectures=v1", *SHARED) == 0
    with pytest.raises(ValueError, match="image 'mobilenet-pipeline:latest' names no registry"):
        _run("submit", "--host", "http://127.0.0.1:9", "--package", str(path), "--pipeline-root", "gs://b/r")


def test_local_paths_are_accepted_when_every_pod_mounts_a_shared_volume(package, capsys):
    state = KfpApiState(run_states=("SUCCEEDED",))
    with kfp_api(state) as host:
        assert (
            _run(
                "submit",
                "--host",
                host,
                "--package",
                package,
                "--pipeline-root",
                "gs://bucket/root",
                "--param",
                "registry_root=/mnt/shared/registry",
                "--allow-local-paths",
            )
            == 0
        )
