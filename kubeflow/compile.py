"""Compile the pipeline for Kubeflow Pipelines v2 and Vertex AI with `KubeflowV2DagRunner`.

The same `create_pipeline` as the local run. Data root and registry root become runtime parameters (their
defaults come from the config), the schema path points inside the container image, and every module is
referenced by dotted path: the image installs this project at `CONTAINER_PROJECT_DIR`.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import yaml

from components.contracts import is_remote
from kubeflow.entrypoint import ENTRYPOINT_COMMAND
from pipeline.component_ids import ALWAYS_RUN, TFLITE, TRAINER, model_of
from pipeline.config import REPO_ROOT, Config, memory_gigabytes

CONTAINER_PROJECT_DIR = "/pipeline"
"""Where kubeflow/Dockerfile installs the project (its WORKDIR)."""
DEFAULT_IMAGE = "mobilenet-pipeline:latest"
DATA_ROOT_PARAMETER = "data_root"
REGISTRY_ROOT_PARAMETER = "registry_root"
SPEC_SUFFIXES = (".yaml", ".yml")
JOB_SUFFIX = ".json"
_KFP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
RUNNABLE_EXECUTORS = ("container", "importer")
"""The executor kinds open-source Kubeflow Pipelines runs (backend/src/v2/compiler/visitor.go refuses the rest)."""
KFP_TARGET = "Kubeflow Pipelines 2.x (PipelineSpec schema 2.1.0; the v2 engine of KFP 2.0 and later) and Vertex AI"

logger = logging.getLogger(__name__)


def container_path(path: str) -> str:
    """`path` as the container sees it: project files under CONTAINER_PROJECT_DIR, URLs unchanged."""
    if is_remote(path):
        return path
    resolved = Path(path).resolve()
    try:
        relative = resolved.relative_to(REPO_ROOT)
    except ValueError:
        raise ValueError(
            f"{path} is outside the project ({REPO_ROOT}), so the image does not contain it; "
            "move it into the project or use a URL such as gs://..."
        ) from None
    return f"{CONTAINER_PROJECT_DIR}/{relative.as_posix()}"


def kubeflow_config(config: Config) -> Config:
    """A copy of `config` whose file paths point inside the container image."""
    result = copy.deepcopy(config)
    try:
        result.data.schema_path = container_path(config.data.schema_path)
    except ValueError as error:
        raise ValueError(f"data.schema_path: {error}") from None
    return result


def image_registry(image: str) -> str | None:
    """The registry host an image reference names (`us-docker.pkg.dev`, `localhost:5000`), None when it names none
    (`mobilenet-pipeline:latest`, `me/image`: a cluster would look for it on Docker Hub or nowhere)."""
    first, slash, _ = image.partition("/")
    return first if slash and ("." in first or ":" in first or first == "localhost") else None


def image_problem(image: str) -> str | None:
    """Why a cluster cannot pull `image`, None when it names a registry."""
    if image_registry(image):
        return None
    return (
        f"image {image!r} names no registry, so no cluster can pull it; build and push it to a registry the "
        "cluster reaches (make image push IMAGE=REGISTRY/PATH/mobilenet-pipeline:TAG) and pass --image with "
        "that reference"
    )


def package_images(spec: dict[str, Any]) -> list[str]:
    """The container images of a compiled package's executors."""
    return sorted(
        {
            executor["container"]["image"]
            for executor in spec["deploymentSpec"]["executors"].values()
            if "container" in executor
        }
    )


def shared_location_problem(name: str, value: str) -> str | None:
    """Why the runtime parameter `name` = `value` would lose work on Kubeflow, None for a shared URL."""
    if is_remote(value) and not value.startswith("file://"):
        return None
    return (
        f"{name} is {value!r}, a path inside each pod, which vanishes when its step ends (pushes lost, every "
        f"baseline a first version); give a shared URL, e.g. --param {name}=gs://BUCKET/PATH or s3://BUCKET/PATH,"
        " or --allow-local-paths when every pod mounts one shared volume at that path"
    )


def check_pipeline_root(pipeline_root: str, required: bool = False) -> None:
    """Refuse a pipeline root the steps cannot write (every step writes its artifacts with tf.io.gfile), and with
    `required` an empty one, which falls back to the cluster's default (out of the box `minio://`)."""
    if required and not pipeline_root:
        raise ValueError(
            "no pipeline root: the run would fall back to the cluster's default, out of the box "
            "minio://mlpipeline/v2/artifacts, which the steps cannot write; give --pipeline-root "
            "gs://BUCKET/PATH or s3://BUCKET/PATH (or compile one into the package)"
        )
    if pipeline_root.startswith("minio://"):
        raise ValueError(
            f"pipeline root {pipeline_root}: the steps write artifacts with tf.io.gfile, which has no minio:// "
            "filesystem. Use gs://BUCKET/PATH (GCS, built in), or s3://BUCKET/PATH, which needs tensorflow-io's S3 "
            "filesystem in the image (and S3_ENDPOINT plus AWS credentials in the pods for MinIO)"
        )


def check_runnable(spec: dict[str, Any]) -> None:
    """Refuse a compiled spec with executors other than containers and importers (resolvers, say), which
    open-source Kubeflow Pipelines refuses before any task starts."""
    refused = sorted(
        name
        for name, executor in spec["deploymentSpec"]["executors"].items()
        if not any(kind in executor for kind in RUNNABLE_EXECUTORS)
    )
    if refused:
        raise ValueError(
            f"the compiled pipeline has executors open-source Kubeflow Pipelines cannot run (only "
            f"{' and '.join(RUNNABLE_EXECUTORS)} executors): {', '.join(refused)}"
        )


def run_always(spec: dict[str, Any]) -> None:
    """Take the step cache off the tasks every run must execute (`component_ids.ALWAYS_RUN`): the backend caches
    a task whose inputs and parameters are unchanged, and the new-data check's are the same every night."""
    tasks = spec["root"]["dag"]["tasks"]
    for name in ALWAYS_RUN:
        if name not in tasks:
            raise ValueError(f"the compiled pipeline has no {name} task")
        tasks[name].pop("cachingOptions", None)


STEP_KINDS = ("step", "beam", "trainer")
"""How the package sizes a step's pod (`kubeflow.<kind>_cpu` / `_memory`): a plain step, a step that runs Beam on the
DirectRunner in its pod, or a Trainer (which alone gets `kubeflow.trainer_gpus`)."""


def step_kinds(pipeline: Any) -> dict[str, str]:
    """Each node id of `pipeline` with its kind: `trainer`, `beam` (a Beam executor) or `step`."""
    from tfx.dsl.components.base import executor_spec

    kinds = {}
    for component in pipeline.components:
        if model_of(component.id, TRAINER) is not None:
            kinds[component.id] = "trainer"
        elif isinstance(component.executor_spec, executor_spec.BeamExecutorSpec):
            kinds[component.id] = "beam"
        else:
            kinds[component.id] = "step"
    return kinds


def pod_resources(config: Config, kind: str) -> dict[str, Any]:
    """The PipelineSpec `resources` of a step of `kind`: CPU and memory (gigabytes) requested and limited alike,
    which both the KFP backend (`backend/src/v2/driver/driver.go`: the pod's requests and limits) and Vertex AI
    (the machine type) read, and for a Trainer with `kubeflow.trainer_gpus` the accelerator's type and count."""
    cpu = float(getattr(config.kubeflow, f"{kind}_cpu"))
    memory = memory_gigabytes(getattr(config.kubeflow, f"{kind}_memory"))
    resources: dict[str, Any] = {"cpuLimit": cpu, "cpuRequest": cpu, "memoryLimit": memory, "memoryRequest": memory}
    if kind == "trainer" and config.kubeflow.trainer_gpus:
        resources["accelerator"] = {"type": config.kubeflow.gpu_type, "count": str(config.kubeflow.trainer_gpus)}
    return resources


def apply_resources(spec: dict[str, Any], kinds: dict[str, str], config: Config) -> None:
    """Give every task's container the resources of its kind; a TFLite step at least `tflite.threads` cores, so the
    latency it gates on is timed with the threads it asks for, and the Beam steps' memory, since it holds the eval
    split in memory as float32 images. (TFX's `with_platform_config` would set the same field, but its builder of
    file-based ExampleGen leaves it out, so the package is sized here, in one place.)"""
    tasks = spec["root"]["dag"]["tasks"]
    for name, task in tasks.items():
        label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
        resources = pod_resources(config, kinds[name])
        if model_of(name, TFLITE) is not None:
            resources["cpuLimit"] = resources["cpuRequest"] = max(resources["cpuLimit"], float(config.tflite.threads))
            memory = max(resources["memoryLimit"], pod_resources(config, "beam")["memoryLimit"])
            resources["memoryLimit"] = resources["memoryRequest"] = memory
        spec["deploymentSpec"]["executors"][label]["container"]["resources"] = resources


def describe_resources(resources: dict[str, Any]) -> str:
    """`8 CPU, 16 GB, 1 nvidia.com/gpu` for a container's `resources` ("" when it has none)."""
    if not resources:
        return ""
    text = f"{resources.get('cpuLimit', 0):g} CPU, {resources.get('memoryLimit', 0):g} GB"
    accelerator = resources.get("accelerator")
    return text + (f", {accelerator['count']} {accelerator['type']}" if accelerator else "")


def check_sees_new_data(spec: dict[str, Any]) -> None:
    """Refuse a package whose scheduled runs could not see new data: one without the new-data check, with that
    check cached (the backend would replay its first decision every night), or with a step that does not wait
    for it (a cached ExampleGen would replay its first ingestion)."""
    tasks = spec["root"]["dag"]["tasks"]
    fix = "compile the package again with `mobilenet-pipeline compile-kubeflow` (or schedule without --package)"
    for name in ALWAYS_RUN:
        if name not in tasks:
            raise ValueError(f"the package has no {name} task, so its scheduled runs would never see new data; {fix}")
        if tasks[name].get("cachingOptions", {}).get("enableCache"):
            raise ValueError(
                f"the package caches {name}, so every scheduled run would replay the first run's "
                f"decision and never see new data; {fix}"
            )
    unguarded = sorted(
        name
        for name, task in tasks.items()
        if name not in ALWAYS_RUN and not set(ALWAYS_RUN) & set(task.get("dependentTasks", []))
    )
    if unguarded:
        raise ValueError(
            f"steps of the package do not wait for the new-data check ({', '.join(unguarded)}), so a "
            f"cached step would replay an earlier run's data; {fix}"
        )


def parameter_defaults(config: Config) -> dict[str, str]:
    """Default values of the pipeline's runtime parameters."""
    return {DATA_ROOT_PARAMETER: config.data.root, REGISTRY_ROOT_PARAMETER: config.registry.root}


def build_pipeline(config: Config, pipeline_root: str = "") -> Any:
    """`create_pipeline` with the data and registry roots as runtime parameters, for the container."""
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    if not _KFP_NAME.fullmatch(config.pipeline.name):
        raise ValueError(
            f"pipeline.name: {config.pipeline.name!r} is not a valid Kubeflow pipeline name "
            "(lowercase letters, digits and '-', starting with a letter or digit)"
        )
    parameters = {
        name: tfx.dsl.experimental.RuntimeParameter(name=name, ptype=str, default=default)
        for name, default in parameter_defaults(config).items()
    }
    return create_pipeline(
        kubeflow_config(config),
        pipeline_root,
        data_root=parameters[DATA_ROOT_PARAMETER],
        registry_root=parameters[REGISTRY_ROOT_PARAMETER],
        schema_source=config.data.schema_path,
    )


def is_vertex_job(output: str, vertex_job: bool = False) -> bool:
    """Whether `output` gets a whole Vertex AI PipelineJob (JSON) rather than a bare PipelineSpec (YAML)."""
    suffix = Path(output).suffix.lower()
    if suffix not in SPEC_SUFFIXES + (JOB_SUFFIX,):
        raise ValueError(f"--output {output}: name it *.yaml (Kubeflow Pipelines) or *.json (Vertex AI PipelineJob)")
    if vertex_job and suffix != JOB_SUFFIX:
        raise ValueError(f"--output {output}: a Vertex AI PipelineJob is JSON; name the output *.json")
    return suffix == JOB_SUFFIX


def compile_job(config: Config, image: str = DEFAULT_IMAGE, pipeline_root: str = "") -> dict[str, Any]:
    """The PipelineJob (as a JSON dict) of the pipeline; its `pipelineSpec` is what Kubeflow Pipelines uploads.

    Runtime parameters get their config defaults in the spec itself, and `pipeline_root` (if given) becomes the
    spec's default pipeline root and the job's output directory.
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as runner_lib

    check_pipeline_root(pipeline_root)
    defaults = parameter_defaults(config)
    for name, value in defaults.items():
        if not is_remote(value):
            logger.warning(
                "runtime parameter %s defaults to %r, a path inside the container; give a shared "
                "location (gs://..., s3://...) in the config or when the run is created",
                name,
                value,
            )
    runner = runner_lib.KubeflowV2DagRunner(
        config=runner_lib.KubeflowV2DagRunnerConfig(
            default_image=image, default_commands=ENTRYPOINT_COMMAND, use_pipeline_spec_2_1=True
        )
    )
    pipeline = build_pipeline(config, pipeline_root)
    try:
        job = runner.run(pipeline, parameter_values=defaults, write_out=False)
    except ValueError as error:
        if "custom artifact type name" not in str(error):
            raise
        raise ValueError(
            f"{error}: Kubeflow needs custom artifact TYPE_NAMEs of the form "
            "'<lowercase module>.<CamelCaseName>' that import as a class path, e.g. "
            "'components.TFLiteValidationReport' (see components.CUSTOM_ARTIFACT_TYPES)"
        ) from None
    spec = job["pipelineSpec"]
    check_runnable(spec)
    run_always(spec)
    check_sees_new_data(spec)
    apply_resources(spec, step_kinds(pipeline), config)
    for name, value in defaults.items():
        spec["root"]["inputDefinitions"]["parameters"][name].update(defaultValue=value, isOptional=True)
    if pipeline_root:
        spec["defaultPipelineRoot"] = pipeline_root
    return job


def _spec_yaml(spec: dict[str, Any]) -> str:
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    header = [
        f"# Kubeflow Pipelines v2 package of '{spec['pipelineInfo']['name']}' ({spec['sdkVersion']}),",
        "# compiled by `mobilenet-pipeline compile-kubeflow`. Runtime parameters:",
    ]
    header += [f"#   {name}: {value['defaultValue']!r}" for name, value in sorted(parameters.items())]
    return "\n".join(header) + "\n" + yaml.safe_dump(spec, sort_keys=True)


def compile_pipeline(
    config: Config, output: str, image: str = DEFAULT_IMAGE, pipeline_root: str = "", vertex_job: bool = False
) -> dict[str, Any]:
    """Write the package: a bare PipelineSpec (`.yaml`) or a Vertex AI PipelineJob (`.json`); return the job dict."""
    from tfx.dsl.io import fileio

    if config.beam.local_services:
        raise ValueError(
            "beam.local_services starts a job service and worker pool on this machine, not on Kubeflow; "
            "set it false and point beam.extra_args at the cluster's (--job_endpoint, "
            "--environment_config), e.g. with pipeline/profiles/flink.yaml"
        )
    as_job = is_vertex_job(output, vertex_job)
    if as_job and not pipeline_root.startswith("gs://"):
        raise ValueError("a Vertex AI PipelineJob needs --pipeline-root gs://BUCKET/PATH")
    job = compile_job(config, image=image, pipeline_root=pipeline_root)
    text = json.dumps(job, indent=2, sort_keys=True) + "\n" if as_job else _spec_yaml(job["pipelineSpec"])
    if str(REPO_ROOT) in text:
        raise ValueError(
            f"the compiled pipeline refers to {REPO_ROOT}, which exists only on this machine; "
            "point that setting at the container (/pipeline/...) or a URL"
        )
    parent = os.path.dirname(output)
    if parent:
        fileio.makedirs(parent)
    with fileio.open(output, "w") as handle:
        handle.write(text)
    return job
