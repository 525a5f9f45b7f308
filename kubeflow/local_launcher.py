"""Run a compiled Kubeflow package on this machine, task by task, through the real container entrypoints.

A test harness for the package, not a scheduler: it does here what Kubeflow Pipelines' v2 driver and launcher do
in each pod, as read in kubeflow/pipelines (2.17, `backend/src/v2/`):

- the order: `root.dag.tasks` by `dependentTasks` and the producers of their input artifacts;
- the inputs (`driver/resolve.go`, `resolveInputs`): root parameters from `--param` or the spec's
  `defaultValue`, `runtimeValue.constant`s, and upstream artifacts with their uri and metadata; in `kfp` mode
  with an empty type, as the open-source metadata client returns them (`metadata/client.go`,
  `GetOutputArtifactsByExecutionId`: `Schema: ""`), named by an ML Metadata id;
- the outputs (`driver/driver.go`, `provisionOutputs`): `<root>/<pipeline>/<run id>/<task>/<uuid>/<output key>`,
  named by their key and typed from the component's `outputDefinitions`, and `outputs.outputFile` beside them
  (`output_metadata.json`); in `vertex` mode Vertex AI's `<root>/<project>/<job>/<task>_<uuid>/` layout and
  `executor_output.json`;
- the command (`component/launcher_v2.go`, `compileCmdAndArgs`): `{{$}}` replaced by the ExecutorInput JSON, run
  with the project's Python in place of the image's `python`, in the project folder in place of the image's
  `/pipeline`, with the image's environment;
- the results (`launcher_v2.go`, `mergeRuntimeArtifacts`): the ExecutorOutput's uri and metadata merged into each
  output artifact, which downstream tasks receive;
- conditions (`driver/container.go`, `Container`; `expression/expression.go`, `Condition`): a task's
  `triggerPolicy.condition`, a CEL expression, is evaluated over its ExecutorInput's inputs once they are
  resolved, with artifact metadata as protobuf Structs (so every number is a double, as in the driver); a task
  whose condition is false is skipped, and every task downstream of a skipped one is omitted, as the Argo
  workflow's `depends: <task>.Succeeded` omits them (`compiler/argocompiler/dag.go`, `depends`);
- caching (`cachingOptions.enableCache`): a task whose image, command, parameters and input artifacts match an
  earlier execution under the same pipeline root reuses its outputs instead of running.

Modes:
- `kfp`, open-source Kubeflow Pipelines: input artifacts untyped; only container and importer executors
  (`compiler/visitor.go`: "non-container and non-importer executor not implemented"; `argocompiler/argo.go`:
  "resolver not implemented yet"); `lifecycle` hooks ignored, as the backend never reads them.
- `vertex`, Vertex AI Pipelines: input artifacts typed; a container's `lifecycle.preCacheCheck` (the file-based
  ExampleGen driver) runs first, and the parameters it writes replace the task's before the executor runs.

Importer executors are not implemented here (the pipeline has none). Not covered: pods, images, object stores,
retries, and ML Metadata itself (artifacts pass between tasks in memory, as the driver would read them back).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import dataclasses
import hashlib
import itertools
import json
import os
import sys
import time
import uuid
from typing import Any, Callable

import yaml

from components.contracts import REPORT_FILE, is_remote
from kubeflow.compile import CONTAINER_PROJECT_DIR, RUNNABLE_EXECUTORS, describe_resources
from pipeline import process_memory
from pipeline.config import REPO_ROOT

MODES = ("kfp", "vertex")
IMAGE_ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1"}
"""The ENV of kubeflow/Dockerfile, which every step runs with."""
CACHE_DIR = ".launcher-cache"
LOG_TAIL_LINES = 40
_CONTAINER_PREFIX = CONTAINER_PROJECT_DIR.rstrip("/") + "/"


class LaunchError(RuntimeError):
    """The package cannot run, or one of its tasks failed; the message names the task."""


@dataclasses.dataclass
class TaskRun:
    """One task's execution: how long it took, whether it came from the cache or did not run (`skipped`: its
    condition was false, or a task upstream of it did not run), and its output artifacts."""

    name: str
    seconds: float
    cached: bool
    outputs: dict[str, dict[str, Any]]
    log: str
    skipped: str = ""
    peak_rss_bytes: int = 0
    resources: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The container's `resources` in the package (CPU, memory, accelerator), as the pod would be sized."""

    @property
    def state(self) -> str:
        return "skipped" if self.skipped else "cached" if self.cached else "ran"


def load_spec(path: str) -> dict[str, Any]:
    """The PipelineSpec of a compiled package: a bare spec (.yaml) or a Vertex AI PipelineJob (.json)."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise LaunchError(f"{path}: not a compiled pipeline (expected a PipelineSpec or a PipelineJob)")
    spec = data.get("pipelineSpec", data)
    if "root" not in spec or "deploymentSpec" not in spec:
        raise LaunchError(f"{path}: not a compiled pipeline (no root DAG or deploymentSpec)")
    return spec


def _producers(task: dict[str, Any]) -> set[str]:
    artifacts = task.get("inputs", {}).get("artifacts", {})
    return {
        value["taskOutputArtifact"]["producerTask"] for value in artifacts.values() if "taskOutputArtifact" in value
    }


def upstream_tasks(spec: dict[str, Any]) -> dict[str, set[str]]:
    """Each root task's upstream tasks: its `dependentTasks` and the producers of its input artifacts."""
    return {
        name: set(task.get("dependentTasks", [])) | _producers(task)
        for name, task in spec["root"]["dag"]["tasks"].items()
    }


def task_order(spec: dict[str, Any]) -> list[str]:
    """The root DAG's tasks, each after every task it depends on (ties by name)."""
    tasks = spec["root"]["dag"]["tasks"]
    needs = upstream_tasks(spec)
    for name, upstream in needs.items():
        unknown = upstream - set(tasks)
        if unknown:
            raise LaunchError(f"task {name} depends on unknown task(s) {', '.join(sorted(unknown))}")
    order: list[str] = []
    while len(order) < len(tasks):
        ready = sorted(name for name in tasks if name not in order and needs[name] <= set(order))
        if not ready:
            raise LaunchError(f"tasks {', '.join(sorted(set(tasks) - set(order)))} depend on each other in a cycle")
        order.append(ready[0])
    return order


def executor_of(spec: dict[str, Any], task_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The component and the executor (deploymentSpec entry) of a root task."""
    component = spec["components"][spec["root"]["dag"]["tasks"][task_name]["componentRef"]["name"]]
    return component, spec["deploymentSpec"]["executors"][component["executorLabel"]]


def check_executors(spec: dict[str, Any], mode: str) -> None:
    """Refuse the package as the backend would: `kfp` runs container and importer executors only."""
    for name in task_order(spec):
        component, executor = executor_of(spec, name)
        label = component["executorLabel"]
        if mode == "kfp" and not any(kind in executor for kind in RUNNABLE_EXECUTORS):
            raise LaunchError(
                f"executor(label={label!r}): non-container and non-importer executor not implemented "
                "(what open-source Kubeflow Pipelines answers; only Vertex AI runs resolvers)"
            )
        if "container" not in executor:
            raise LaunchError(
                f"executor(label={label!r}): this harness runs container executors only (found {', '.join(executor)})"
            )


def root_parameters(spec: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Root parameter values: the spec's defaults, then `overrides` (NAME -> text, converted to its type)."""
    definitions = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = set(overrides) - set(definitions)
    if unknown:
        raise LaunchError(
            f"unknown runtime parameter(s) {', '.join(sorted(unknown))}; the package has "
            f"{', '.join(sorted(definitions)) or 'none'}"
        )
    values = {
        name: definition["defaultValue"] for name, definition in definitions.items() if "defaultValue" in definition
    }
    converters = {
        "NUMBER_INTEGER": int,
        "NUMBER_DOUBLE": float,
        "BOOLEAN": lambda text: text.lower() == "true",
        "STRUCT": json.loads,
        "LIST": json.loads,
    }
    for name, text in overrides.items():
        values[name] = converters.get(definitions[name].get("parameterType"), str)(text)
    missing = sorted(set(definitions) - set(values))
    if missing:
        raise LaunchError(f"runtime parameter(s) {', '.join(missing)} have no default; give --param NAME=VALUE")
    return values


def condition_holds(condition: str, executor_input: dict[str, Any]) -> bool:
    """Evaluate a task's `triggerPolicy.condition` (CEL) over its ExecutorInput as the KFP driver does: the input
    as its protobuf message (`pipeline_spec_pb2.ExecutorInput`), so artifact metadata numbers are doubles."""
    import celpy
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    message = json_format.ParseDict(
        {"inputs": executor_input["inputs"]}, pipeline_spec_pb2.ExecutorInput(), ignore_unknown_fields=True
    )
    as_proto = json_format.MessageToDict(message, preserving_proto_field_name=False)
    environment = celpy.Environment()
    try:
        result = environment.program(environment.compile(condition)).evaluate(
            {"inputs": celpy.json_to_cel(as_proto.get("inputs", {}))}
        )
    except celpy.CELEvalError as error:
        raise LaunchError(f"condition {condition!r}: evaluation error: {error.args[0]}") from None
    if not isinstance(result, celpy.celtypes.BoolType):
        raise LaunchError(f"condition {condition!r}: evaluation error: return type is not bool, got {result!r}")
    return bool(result)


def _in_project(value: Any, project_dir: str) -> Any:
    """A container path under the image's project folder, as the same file in this checkout."""
    if isinstance(value, str) and value.startswith(_CONTAINER_PREFIX):
        return os.path.join(project_dir, value[len(_CONTAINER_PREFIX) :])
    return value


def task_parameters(
    task: dict[str, Any], component: dict[str, Any], root_values: dict[str, Any], project_dir: str
) -> dict[str, Any]:
    """A task's parameter values: root parameters, constants, then the component's own defaults."""
    values = {}
    for key, source in task.get("inputs", {}).get("parameters", {}).items():
        if "componentInputParameter" in source:
            values[key] = root_values[source["componentInputParameter"]]
        elif "runtimeValue" in source:
            values[key] = source["runtimeValue"]["constant"]
        else:
            raise LaunchError(
                f"task {task['taskInfo']['name']}: parameter {key} comes from "
                f"{', '.join(source)}, which this harness does not resolve"
            )
    for key, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
        if key not in values and "defaultValue" in definition:
            values[key] = definition["defaultValue"]
    return {key: _in_project(value, project_dir) for key, value in values.items()}


class LocalLauncher:
    """Runs one compiled package, one task after another, in `kfp` or `vertex` mode."""

    def __init__(
        self,
        spec: dict[str, Any],
        pipeline_root: str,
        mode: str = "kfp",
        parameters: dict[str, str] | None = None,
        python: str = sys.executable,
        project_dir: str = str(REPO_ROOT),
        cache: bool = True,
    ) -> None:
        if mode not in MODES:
            raise LaunchError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if is_remote(pipeline_root):
            raise LaunchError(f"pipeline root {pipeline_root}: this harness writes to a local folder only")
        check_executors(spec, mode)
        self.spec, self.mode, self.python, self.project_dir, self.cache = spec, mode, python, project_dir, cache
        self.pipeline_root = os.path.abspath(pipeline_root)
        self.root_values = root_parameters(spec, parameters or {})
        self.run_id = uuid.uuid4().hex[:12]
        self.produced: dict[str, dict[str, dict[str, Any]]] = {}
        self._artifact_ids = itertools.count(1)

    @property
    def run_root(self) -> str:
        """Where this run's task folders go: KFP's `<root>/<pipeline>/<run id>`, Vertex's `<root>/<project>/<job>`."""
        if self.mode == "kfp":
            return os.path.join(self.pipeline_root, self.spec["pipelineInfo"]["name"], self.run_id)
        return os.path.join(self.pipeline_root, "local-project", f"{self.spec['pipelineInfo']['name']}-{self.run_id}")

    def _task_root(self, task_name: str) -> str:
        salt = uuid.uuid4().hex[:8]
        if self.mode == "kfp":
            return os.path.join(self.run_root, task_name, salt)
        return os.path.join(self.run_root, f"{task_name}_{salt}")

    def _artifact_name(self) -> str:
        """A new artifact's name: its ML Metadata id (open-source KFP) or its Vertex ML Metadata resource name."""
        number = next(self._artifact_ids)
        if self.mode == "kfp":
            return str(number)
        return f"projects/local-project/locations/local/metadataStores/default/artifacts/{number}"

    def _input_artifacts(self, task: dict[str, Any]) -> dict[str, Any]:
        artifacts = {}
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            reference = source.get("taskOutputArtifact")
            if reference is None:
                raise LaunchError(
                    f"task {task['taskInfo']['name']}: input artifact {key} comes from "
                    f"{', '.join(source)}, which this harness does not resolve"
                )
            artifact = copy.deepcopy(self.produced[reference["producerTask"]][reference["outputArtifactKey"]])
            if self.mode == "kfp":
                artifact["type"] = {"instanceSchema": ""}
            artifacts[key] = {"artifacts": [artifact]}
        return artifacts

    def executor_input(self, task_name: str, task_root: str) -> dict[str, Any]:
        """The ExecutorInput the driver would hand this task's container."""
        task = self.spec["root"]["dag"]["tasks"][task_name]
        component, _ = executor_of(self.spec, task_name)
        outputs = {}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            outputs[key] = {
                "artifacts": [
                    {
                        "name": self._artifact_name() if self.mode == "vertex" else key,
                        "type": definition["artifactType"],
                        "uri": os.path.join(task_root, key),
                        "metadata": {},
                    }
                ]
            }
        if component.get("outputDefinitions", {}).get("parameters"):
            raise LaunchError(f"task {task_name}: output parameters are not implemented by this harness")
        output_file = "output_metadata.json" if self.mode == "kfp" else "executor_output.json"
        return {
            "inputs": {
                "parameterValues": task_parameters(task, component, self.root_values, self.project_dir),
                "artifacts": self._input_artifacts(task),
            },
            "outputs": {"artifacts": outputs, "outputFile": os.path.join(task_root, output_file)},
        }

    def _command(self, container: dict[str, Any], executor_input: dict[str, Any]) -> list[str]:
        text = json.dumps(executor_input)
        command = [arg.replace("{{$}}", text) for arg in [*container.get("command", []), *container.get("args", [])]]
        leftover = [arg for arg in command if "{{$" in arg]
        if leftover:
            raise LaunchError(f"placeholder(s) this harness does not substitute: {', '.join(leftover)}")
        if command and command[0] in ("python", "python3"):
            command[0] = self.python
        return command

    def _run(self, name: str, command: list[str], log_path: str) -> int:
        """Run one container command as the pod would; its peak resident memory (with its children)."""
        measured = process_memory.run_measured(
            command, log_path, env={**os.environ, **IMAGE_ENVIRONMENT}, cwd=self.project_dir
        )
        returncode = measured.returncode
        if returncode != 0:
            with open(log_path, encoding="utf-8", errors="replace") as handle:
                tail = "".join(handle.readlines()[-LOG_TAIL_LINES:])
            raise LaunchError(f"task {name} failed (exit code {returncode}); log {log_path}, last lines:\n{tail}")
        return measured.peak_rss_bytes

    def _cache_path(self, task_name: str, executor_input: dict[str, Any], container: dict[str, Any]) -> str | None:
        task = self.spec["root"]["dag"]["tasks"][task_name]
        if not (self.cache and task.get("cachingOptions", {}).get("enableCache")):
            return None
        inputs = {
            key: [(a["uri"], a.get("metadata")) for a in value["artifacts"]]
            for key, value in executor_input["inputs"]["artifacts"].items()
        }
        key = json.dumps(
            [
                self.mode,
                container,
                executor_input["inputs"]["parameterValues"],
                inputs,
                sorted(executor_input["outputs"]["artifacts"]),
            ],
            sort_keys=True,
        )
        return os.path.join(self.pipeline_root, CACHE_DIR, hashlib.sha256(key.encode()).hexdigest() + ".json")

    def run_task(self, task_name: str, log_dir: str) -> TaskRun:
        """Run (or reuse from the cache, or skip on its condition) one task and record its output artifacts for
        the tasks downstream."""
        _, executor = executor_of(self.spec, task_name)
        container = executor["container"]
        task_root = self._task_root(task_name)
        executor_input = self.executor_input(task_name, task_root)
        log_path = os.path.join(log_dir, f"{task_name}.log")
        start = time.monotonic()
        condition = self.spec["root"]["dag"]["tasks"][task_name].get("triggerPolicy", {}).get("condition")
        if condition and not condition_holds(condition, executor_input):
            self.produced[task_name] = {}
            return TaskRun(task_name, time.monotonic() - start, False, {}, log_path, skipped="its condition is false")
        cache_path = self._cache_path(task_name, executor_input, container)
        if cache_path and os.path.exists(cache_path):
            with open(cache_path, encoding="utf-8") as handle:
                outputs = json.load(handle)
            self.produced[task_name] = outputs
            return TaskRun(task_name, time.monotonic() - start, True, outputs, log_path)
        os.makedirs(task_root, exist_ok=True)
        lifecycle = container.get("lifecycle", {}).get("preCacheCheck")
        peak = 0
        if self.mode == "vertex" and lifecycle:
            peak = self._run(task_name, self._command(lifecycle, executor_input), log_path)
            executor_input["inputs"]["parameterValues"].update(
                self._executor_output(executor_input).get("parameterValues", {})
            )
        peak = max(peak, self._run(task_name, self._command(container, executor_input), log_path))
        outputs = self._merged_outputs(executor_input)
        self.produced[task_name] = outputs
        if cache_path:
            os.makedirs(os.path.dirname(cache_path), exist_ok=True)
            with open(cache_path, "w", encoding="utf-8") as handle:
                json.dump(outputs, handle)
        return TaskRun(
            task_name,
            time.monotonic() - start,
            False,
            outputs,
            log_path,
            peak_rss_bytes=peak,
            resources=container.get("resources", {}),
        )

    @staticmethod
    def _executor_output(executor_input: dict[str, Any]) -> dict[str, Any]:
        path = executor_input["outputs"]["outputFile"]
        if not os.path.exists(path):
            return {}
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    def _merged_outputs(self, executor_input: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Each output artifact with the uri and metadata the executor reported, as recorded for downstream."""
        reported = self._executor_output(executor_input).get("artifacts", {})
        outputs = {}
        for key, artifact_list in executor_input["outputs"]["artifacts"].items():
            artifact = copy.deepcopy(artifact_list["artifacts"][0])
            for update in reported.get(key, {}).get("artifacts", [])[:1]:
                artifact["uri"] = update.get("uri") or artifact["uri"]
                artifact["metadata"] = {**artifact.get("metadata", {}), **update.get("metadata", {})}
            if self.mode == "kfp":
                artifact["name"] = self._artifact_name()
                artifact["metadata"].setdefault("display_name", key)
            outputs[key] = artifact
        return outputs

    def run(
        self, log_dir: str | None = None, on_task: Callable[[TaskRun], None] | None = None, parallelism: int = 2
    ) -> list[TaskRun]:
        """Run every task once its upstream tasks are done, up to `parallelism` at once (Kubeflow starts each
        task's pod as soon as it can); `on_task(TaskRun)` is called after each. The first failure stops the run
        once the tasks already started have ended."""
        log_dir = log_dir or os.path.join(self.run_root, "logs")
        os.makedirs(log_dir, exist_ok=True)
        needs = upstream_tasks(self.spec)
        pending, runs = task_order(self.spec), []
        failure: BaseException | None = None
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            running: dict[concurrent.futures.Future, str] = {}
            while pending or running:
                done_names = {run.name for run in runs}
                ready = [name for name in pending if needs[name] <= done_names] if failure is None else []
                not_run = {run.name for run in runs if run.skipped}
                omitted = [name for name in ready if needs[name] & not_run]
                for name in omitted:
                    pending.remove(name)
                    upstream = ", ".join(sorted(needs[name] & not_run))
                    runs.append(TaskRun(name, 0.0, False, {}, "", skipped=f"upstream {upstream} did not run"))
                    if on_task:
                        on_task(runs[-1])
                for name in [name for name in ready if name not in omitted][: max(0, parallelism - len(running))]:
                    pending.remove(name)
                    running[pool.submit(self.run_task, name, log_dir)] = name
                if not running:
                    if omitted:
                        continue  # tasks downstream of the omitted ones may be ready now
                    break
                finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    if future.exception() is not None:
                        failure = failure or future.exception()
                        continue
                    runs.append(future.result())
                    if on_task:
                        on_task(runs[-1])
        if failure is not None:
            raise failure
        return runs


def outcome_lines(runs: list[TaskRun]) -> list[str]:
    """What the run decided: the new-data check's line per model, each TFLite validation's summary (gates,
    baseline, verdict), then each Pusher's result, read from the tasks' output artifacts."""
    from components.new_data.spec import DECISION_FILE, DECISION_KEY
    from components.tflite import report as report_lib

    decisions, summaries, pushes = [], [], []
    for run in runs:
        decision_path = os.path.join(run.outputs.get(DECISION_KEY, {}).get("uri", ""), DECISION_FILE)
        if DECISION_KEY in run.outputs and os.path.exists(decision_path):
            with open(decision_path, encoding="utf-8") as handle:
                decisions += [entry["reason"] for entry in json.load(handle)["models"]]
        report_path = os.path.join(run.outputs.get("report", {}).get("uri", ""), REPORT_FILE)
        if "report" in run.outputs and os.path.exists(report_path):
            with open(report_path, encoding="utf-8") as handle:
                summaries.append(report_lib.summary(json.load(handle)))
        for artifact in run.outputs.values():
            metadata = artifact.get("metadata", {})
            if "pushed" in metadata:
                pushes.append(
                    f"{run.name}: pushed version {metadata.get('pushed_version')} to "
                    f"{metadata.get('pushed_destination')}"
                    if int(metadata["pushed"]) == 1
                    else f"{run.name}: held back, not pushed"
                )
    return decisions + summaries + pushes


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise LaunchError(f"--param {pair!r}: expected NAME=VALUE")
        params[name] = value
    return params


def main(argv: list[str] | None = None) -> int:
    """Command line: run a compiled package here in `kfp` or `vertex` mode and print each task's time."""
    parser = argparse.ArgumentParser(
        prog="python -m kubeflow.local_launcher",
        description="Run a compiled Kubeflow package on this machine, task by task, through the containers' real "
        "entrypoints, as Kubeflow Pipelines' v2 driver and launcher would. A test harness, not a "
        "scheduler.",
        epilog="modes: kfp = open-source Kubeflow Pipelines (input artifacts untyped, only container and importer "
        "executors, lifecycle hooks ignored); vertex = Vertex AI (typed inputs, the ExampleGen pre-cache "
        "driver runs first).",
    )
    parser.add_argument("package", help="compiled package: PipelineSpec .yaml or Vertex AI PipelineJob .json")
    parser.add_argument("--pipeline-root", required=True, metavar="DIR", help="local folder for the artifacts")
    parser.add_argument("--mode", choices=MODES, default="kfp", help="whose semantics to imitate (default kfp)")
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="runtime parameter, e.g. data_root=/data/images (repeatable)",
    )
    parser.add_argument("--no-cache", action="store_true", help="run every task even if an earlier run matches")
    parser.add_argument(
        "--parallelism",
        type=int,
        default=2,
        metavar="N",
        help="tasks run at once when their inputs are ready (default 2)",
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        launcher = LocalLauncher(
            load_spec(args.package),
            args.pipeline_root,
            mode=args.mode,
            parameters=_parse_params(args.params),
            cache=not args.no_cache,
        )
        out.write(f"run {launcher.run_id} ({args.mode} mode) under {launcher.run_root}\n")
        out.flush()

        def show(run: TaskRun) -> None:
            result = f"skipped: {run.skipped}" if run.skipped else "cached" if run.cached else f"{run.seconds:7.1f} s"
            if run.peak_rss_bytes:
                result += f", peak memory {run.peak_rss_bytes / 1e9:.2f} GB"
            pod = describe_resources(run.resources)
            out.write(f"> {run.name:<28} {result}{f' (pod: {pod})' if pod else ''}\n")
            out.flush()

        runs = launcher.run(on_task=show, parallelism=args.parallelism)
    except LaunchError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    out.write("\n".join(outcome_lines(runs)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
