"""The pipeline compiled for Kubeflow Pipelines v2 / Vertex AI, checked with KFP's own loaders."""

import argparse
import json
import re

import pytest
import yaml
from google.protobuf import json_format
from kfp.components import load_component_from_file
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow import commands as kubeflow_commands
from kubeflow import compile as kubeflow_compile
from pipeline.config import REPO_ROOT, load_config

IMAGE = "registry.example.com/ml/mobilenet-pipeline:1.2.3"
DATA_ROOT = "gs://example-bucket/images"
REGISTRY_ROOT = "gs://example-bucket/registry"
OVERRIDES = [f"data.root={DATA_ROOT}", f"registry.root={REGISTRY_ROOT}"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The default config compiled to a .yaml package: (path, text, spec dict)."""
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    kubeflow_compile.compile_pipeline(load_config(None, OVERRIDES), str(path), image=IMAGE)
    text = path.read_text(encoding="utf-8")
    return path, text, yaml.safe_load(text)


@pytest.fixture(scope="module")
def local_pipeline(tmp_path_factory):
    from pipeline.pipeline import create_pipeline

    return create_pipeline(load_config(None, OVERRIDES), str(tmp_path_factory.mktemp("local_root")))


def test_package_loads_with_kfp_as_a_pipeline_spec(compiled):
    path, _, spec = compiled
    parsed = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    assert parsed.pipeline_info.name == "mobilenet-pipeline"
    component = load_component_from_file(str(path))
    assert component.name == "mobilenet-pipeline"
    inputs = component.component_spec.inputs
    assert inputs["data_root"].default == DATA_ROOT
    assert inputs["registry_root"].default == REGISTRY_ROOT


def test_same_components_and_edges_as_the_local_pipeline(compiled, local_pipeline):
    tasks = compiled[2]["root"]["dag"]["tasks"]
    compiled_edges = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    local_edges = {node.id: {upstream.id for upstream in node.upstream_nodes} for node in local_pipeline.components}
    assert compiled_edges == local_edges
    assert {"ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "Pusher_mobilenet_v2"} <= set(compiled_edges)


def test_every_step_is_a_container_of_the_configured_image_with_the_project_entrypoint(compiled):
    executors = compiled[2]["deploymentSpec"]["executors"]
    assert all(set(executor) == {"container"} for executor in executors.values())
    assert {executor["container"]["image"] for executor in executors.values()} == {IMAGE}
    assert {tuple(executor["container"]["command"]) for executor in executors.values()} == {
        ("python", "-m", "kubeflow.entrypoint")
    }


def test_a_spec_with_a_resolver_is_refused():
    spec = {
        "deploymentSpec": {
            "executors": {"Trainer_executor": {"container": {}}, "Latest-resolver_executor": {"resolver": {}}}
        }
    }
    with pytest.raises(ValueError, match="cannot run .*: Latest-resolver_executor"):
        kubeflow_compile.check_runnable(spec)


def test_a_minio_pipeline_root_is_refused_with_what_works(tmp_path):
    with pytest.raises(ValueError, match="no minio:// filesystem. Use gs://BUCKET/PATH .* s3://"):
        kubeflow_compile.compile_pipeline(
            load_config(), str(tmp_path / "p.yaml"), pipeline_root="minio://mlpipeline/v2/artifacts"
        )
    assert not (tmp_path / "p.yaml").exists()


def test_roots_are_runtime_parameters_wired_to_ingestion_and_pushers(compiled):
    spec = compiled[2]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {"data_root", "registry_root"}
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["ImageExampleGen"]["inputs"]["parameters"]["input_base"] == {"componentInputParameter": "data_root"}
    for name in ("Pusher_mobilenet_v1", "Pusher_mobilenet_v2", "TFLite_mobilenet_v1", "TFLite_mobilenet_v2"):
        assert tasks[name]["inputs"]["parameters"]["registry_root"] == {"componentInputParameter": "registry_root"}


def test_modules_by_dotted_path_and_files_inside_the_container(compiled):
    _, text, spec = compiled
    tasks = spec["root"]["dag"]["tasks"]
    for architecture in ("v1", "v2"):
        run_fn = tasks[f"Trainer_mobilenet_{architecture}"]["inputs"]["parameters"]["run_fn"]
        assert run_fn["runtimeValue"]["constant"] == f"components.trainer.mobilenet_{architecture}.run_fn"
    schema_file = tasks["ImportSchemaGen"]["inputs"]["parameters"]["schema_file"]["runtimeValue"]["constant"]
    assert schema_file == "/pipeline/schemas/schema.pbtxt"
    assert "/work/" not in text and str(REPO_ROOT) not in text


def test_vertex_job_is_a_whole_pipeline_job(tmp_path):
    path = tmp_path / "job.json"
    kubeflow_compile.compile_pipeline(
        load_config(None, OVERRIDES + ["model.architectures=v2"]),
        str(path),
        image=IMAGE,
        pipeline_root="gs://example-bucket/root",
        vertex_job=True,
    )
    job = json.loads(path.read_text(encoding="utf-8"))
    parsed = json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob())
    assert parsed.display_name == "mobilenet-pipeline"
    assert parsed.runtime_config.gcs_output_directory == "gs://example-bucket/root"
    values = {name: value.string_value for name, value in parsed.runtime_config.parameter_values.items()}
    assert values == {"data_root": DATA_ROOT, "registry_root": REGISTRY_ROOT}
    assert job["pipelineSpec"]["defaultPipelineRoot"] == "gs://example-bucket/root"
    assert "Trainer_mobilenet_v2" in job["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "Trainer_mobilenet_v1" not in job["pipelineSpec"]["root"]["dag"]["tasks"]


@pytest.mark.parametrize(
    "output, vertex_job, root, message",
    [
        ("job.json", False, "", "needs --pipeline-root gs://"),
        ("job.yaml", True, "gs://b/root", "name the output *.json"),
        ("pipeline.txt", False, "", "name it *.yaml"),
    ],
)
def test_impossible_outputs_are_refused_before_compiling(tmp_path, output, vertex_job, root, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kubeflow_compile.compile_pipeline(
            load_config(), str(tmp_path / output), pipeline_root=root, vertex_job=vertex_job
        )
    assert not (tmp_path / output).exists()


def test_schema_outside_the_project_is_refused(tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="data.schema_path: .* is outside the project"):
        kubeflow_compile.kubeflow_config(load_config(None, [f"data.schema_path={schema}"]))


def test_compile_command_writes_the_package(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    kubeflow_commands.add_kubeflow_subparsers(parser.add_subparsers(dest="command"))
    output = tmp_path / "out" / "pipeline.yaml"
    args = parser.parse_args(
        [
            "compile-kubeflow",
            "--output",
            str(output),
            "--image",
            IMAGE,
            "--set",
            "model.architectures=v1",
            "--set",
            f"data.root={DATA_ROOT}",
        ]
    )
    assert kubeflow_commands.run_kubeflow_command(args) == 0
    spec = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert "Trainer_mobilenet_v1" in spec["root"]["dag"]["tasks"]
    assert f"wrote Kubeflow Pipelines package to {output}" in capsys.readouterr().out


def _resources(spec: dict) -> dict[str, dict]:
    """Task name -> the `resources` of its executor's container."""
    tasks, executors = spec["root"]["dag"]["tasks"], spec["deploymentSpec"]["executors"]
    return {
        name: executors[spec["components"][task["componentRef"]["name"]]["executorLabel"]]["container"]["resources"]
        for name, task in tasks.items()
    }


def test_each_step_kind_gets_its_pod_and_only_the_trainers_a_gpu(tmp_path):
    """`compile-kubeflow --set kubeflow.trainer_gpus=1 --set kubeflow.gpu_type=nvidia.com/gpu
    --set kubeflow.trainer_memory=32G`: the fields the KFP backend's driver and Vertex AI read (CPU and memory
    requests and limits, in cores and gigabytes; the accelerator's type and count)."""
    config = load_config(
        None, [*OVERRIDES, "kubeflow.trainer_gpus=1", "kubeflow.gpu_type=nvidia.com/gpu", "kubeflow.trainer_memory=32G"]
    )
    path = tmp_path / "pipeline.yaml"
    kubeflow_compile.compile_pipeline(config, str(path), image=IMAGE)
    resources = _resources(yaml.safe_load(path.read_text(encoding="utf-8")))
    defaults = config.kubeflow
    beam = {"ImageExampleGen", "StatisticsGen", "Transform", "Evaluator_mobilenet_v1", "Evaluator_mobilenet_v2"}
    for name, given in resources.items():
        kind = "trainer" if name.startswith("Trainer_") else "beam" if name in beam else "step"
        cpu = getattr(defaults, f"{kind}_cpu")
        memory = {"trainer": 32.0, "beam": 8.0, "step": 4.0}[kind]
        if name.startswith("TFLite_"):
            cpu, memory = max(cpu, config.tflite.threads), 8.0
        assert {key: given[key] for key in ("cpuLimit", "cpuRequest", "memoryLimit", "memoryRequest")} == {
            "cpuLimit": cpu,
            "cpuRequest": cpu,
            "memoryLimit": memory,
            "memoryRequest": memory,
        }, name
        assert ("accelerator" in given) == (kind == "trainer"), name
    assert resources["Trainer_mobilenet_v2"]["accelerator"] == {"type": "nvidia.com/gpu", "count": "1"}
    parsed = json_format.ParseDict(
        yaml.safe_load(path.read_text(encoding="utf-8"))["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig()
    )
    trainer = parsed.executors["Trainer_mobilenet_v1_executor"].container.resources
    assert (trainer.memory_limit, trainer.accelerator.count) == (32.0, 1)


@pytest.mark.parametrize(
    "setting, message",
    [
        ("kubeflow.trainer_memory=lots", "kubeflow.trainer_memory"),
        ("kubeflow.beam_cpu=0", "kubeflow.beam_cpu"),
        ("kubeflow.trainer_gpus=-1", "kubeflow.trainer_gpus"),
    ],
)
def test_impossible_pod_sizes_are_refused_naming_the_key(setting, message):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(None, [setting])


def test_compiling_without_a_pullable_image_warns(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    kubeflow_commands.add_kubeflow_subparsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["compile-kubeflow", "--output", str(tmp_path / "p.yaml"), "--set", "model.architectures=v1"]
    )
    assert kubeflow_commands.run_kubeflow_command(args) == 0
    assert "warning: image 'mobilenet-pipeline:latest' names no registry" in capsys.readouterr().err
    assert kubeflow_compile.image_registry("localhost:5000/x:1") == "localhost:5000"
    assert kubeflow_compile.image_registry("me/image:1") is None
