"""A real `pipeline run` killed (SIGKILL of its whole process group) as the Trainer starts, then run again: the
second run reuses the cached ExampleGen / StatisticsGen / Transform outputs from ML Metadata, trains, and pushes.

The one full-pipeline test of the reliability cases (V1 only, tiny data, 1 epoch); it takes a few minutes. The run
also fine-tunes quantization-aware for one epoch (issue #13), so the pipeline's quantization-aware path is checked
here, once, rather than in every pipeline test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import TINY_RUN, write_image_folder

pytestmark = pytest.mark.slow

KILL_AT = "> Trainer_mobilenet_v1"
CHEAP = [
    "--models",
    "v1",
    "--set",
    "train.quantization_aware_epochs=1",
    "--set",
    "tflite.latency_warmup=0",
    "--set",
    "tflite.latency_runs=1",
    "--set",
    "beam.direct_running_mode=in_memory",
    "--set",
    "beam.direct_num_workers=1",
]
TIMEOUT_SECONDS = 1200


def _env() -> dict[str, str]:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _run_until_killed(args: list[str], stderr_path: Path) -> tuple[str, int]:
    """Start the CLI in its own session, SIGKILL its process group when KILL_AT appears; return stdout and code."""
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_env(),
            start_new_session=True,
        )
        watchdog = threading.Timer(TIMEOUT_SECONDS, os.killpg, (process.pid, signal.SIGKILL))
        watchdog.start()
        lines = []
        try:
            for line in process.stdout:
                lines.append(line)
                if line.startswith(KILL_AT):
                    os.killpg(process.pid, signal.SIGKILL)
                    break
        finally:
            watchdog.cancel()
            process.stdout.close()
            code = process.wait(timeout=60)
    return "".join(lines), code


def _timings(stdout: str) -> dict[str, str]:
    """component -> status ("ran", "cached", "failed") from the timing table the CLI prints."""
    table = stdout.split("\ncomponent", 1)[1].split("\ntotal", 1)[0]
    return {fields[0]: fields[-1] for fields in (line.split() for line in table.splitlines()[2:]) if len(fields) == 3}


def _execution_folders(pipeline_root: Path, component: str, output: str) -> list[str]:
    return sorted(path.name for path in (pipeline_root / component / output).iterdir())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    data = write_image_folder(root / "data", {"circle": 12, "square": 12}, size=24)
    args = [
        "run",
        "--data",
        str(data),
        "--home",
        str(root / "home"),
        "--registry",
        str(root / "registry"),
        *TINY_RUN,
        *CHEAP,
    ]
    killed_stdout, killed_code = _run_until_killed(args, root / "killed.stderr")
    killed_registry_existed = (root / "registry").exists()
    second = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    return {
        "root": root,
        "killed_stdout": killed_stdout,
        "killed_code": killed_code,
        "killed_registry_existed": killed_registry_existed,
        "second": second,
    }


def test_the_first_run_was_killed_in_the_trainer_before_any_push(runs):
    assert runs["killed_code"] == -signal.SIGKILL, runs["killed_stdout"]
    assert "Transform done in" in runs["killed_stdout"] and KILL_AT in runs["killed_stdout"]
    assert "Trainer_mobilenet_v1 done" not in runs["killed_stdout"]
    assert not runs["killed_registry_existed"]


def test_the_rerun_reuses_cached_upstream_outputs_and_pushes(runs):
    second, root = runs["second"], runs["root"]
    assert second.returncode == 0, second.stdout + second.stderr
    status = _timings(second.stdout)
    for component in ("ImageExampleGen", "StatisticsGen", "Transform"):
        assert status[component] == "cached", second.stdout
    for component in ("Trainer_mobilenet_v1", "TFLite_mobilenet_v1", "Pusher_mobilenet_v1"):
        assert status[component] == "ran", second.stdout
    pipeline_root = root / "home" / "pipeline_root"
    assert len(_execution_folders(pipeline_root, "ImageExampleGen", "examples")) == 1  # computed once, by run 1
    assert len(_execution_folders(pipeline_root, "Transform", "transformed_examples")) == 1

    version = root / "registry" / "mobilenet_v1" / "1"
    assert str(version) in second.stdout
    manifest_text = (version / "manifest.json").read_text()
    manifest = json.loads(manifest_text)
    assert manifest["version"] == 1 and manifest["labels_count"] == 2
    examples = _execution_folders(pipeline_root, "Transform", "transformed_examples")[0]
    assert manifest["source_examples"] == {"uri": f"Transform/transformed_examples/{examples}", "span": 0}
    for local in (str(root), os.path.expanduser("~") + "/", os.getcwd() + "/"):
        assert local not in manifest_text
        assert local.encode() not in (version / "model.tflite").read_bytes()


def test_quantization_aware_int8_is_tried_and_what_is_pushed_is_full_integer_with_builtin_ops(runs):
    """Issue #13, through the pipeline: a quantization-aware int8 candidate beside post-training int8, both measured
    against the float model, with the Trainer's record of the extra epochs; the pushed model is the more accurate
    int8, full-integer inside, builtin ops only, every gate passed."""
    import numpy as np
    import tensorflow as tf

    version = runs["root"] / "registry" / "mobilenet_v1" / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["quantization"] == "int8" and manifest["builtin_ops_only"] is True
    assert manifest["gates"] and all(gate["passed"] for gate in manifest["gates"])
    report = (version / "report.md").read_text()
    assert "| int8 | " in report and "| int8 (quantization-aware) | " in report
    interpreter = tf.lite.Interpreter(model_path=str(version / "model.tflite"))
    ends = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    assert not [
        d["name"] for d in interpreter.get_tensor_details() if d["dtype"] == np.float32 and d["index"] not in ends
    ]
    (report_json,) = (runs["root"] / "home").glob("pipeline_root/TFLite_mobilenet_v1/report/*/report.json")
    full_report = json.loads(report_json.read_text())
    candidates = full_report["candidates"]
    assert [c["quantization_aware"] for c in candidates] == [False, True]
    training = full_report["quantization_aware_training"]
    assert training["epochs"] == 1 and training["fine_tune_seconds"] > 0 and training["save_seconds"] > 0
    assert set(training["validation_accuracy"]) == {"float_kept", "float_weights_after", "quantization_aware"}
    assert "1 quantization-aware epoch(s): " in report
    best = max(candidates, key=lambda c: (c["selection_accuracy"], bool(c["quantization_aware"])))
    assert (manifest["quantization_aware"], manifest["tflite_accuracy"]) == (
        best["quantization_aware"],
        best["tflite_accuracy"],
    )
