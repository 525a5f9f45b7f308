"""RegistryPusher executor: publish the TFLite model as the next registry version when every gate says so: the
TFLite step's blessing, the Evaluator's, and (with `block_on_anomalies`) no ExampleValidator anomalies."""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.components.util import model_utils
from tfx.types import artifact_utils

from components.artifact_locations import portable_examples_reference
from components.contracts import (
    APP_PATH_ACCURACY_FIELD,
    FLOAT_ACCURACY_FIELD,
    LABELS_FILE,
    LATENCY_BY_THREADS_FIELD,
    LATENCY_FIELD,
    MODEL_FILE,
    REPORT_FILE,
    REPORT_MARKDOWN_FILE,
    REPORT_PICTURE_FILE,
    SETTINGS_FIELD,
    TFLITE_ACCURACY_FIELD,
    TRAINING_INPUT_FIELD,
    WEIGHTS_FILE,
)
from components.registry import data_anomalies, store
from components.registry.filesystems import filesystem_for
from components.registry.spec import (
    ANOMALIES_KEY,
    BLOCK_ON_ANOMALIES_KEY,
    BLOCKING_ANOMALIES_PROPERTY,
    MODEL_BLESSING_KEY,
    MODEL_KEY,
    MODEL_NAME_KEY,
    PUSHED_MODEL_KEY,
    REGISTRY_ROOT_KEY,
    TFLITE_BLESSING_KEY,
)

VERSION_FILES = {"report": REPORT_MARKDOWN_FILE, "report_picture": REPORT_PICTURE_FILE, "weights": WEIGHTS_FILE}
"""The files a version carries beside the model and labels, by role, when the TFLite step wrote them."""
BLESSING_SOURCES = {
    MODEL_BLESSING_KEY: "the Evaluator (TFMA accuracy thresholds)",
    TFLITE_BLESSING_KEY: "the TFLite validation gates",
}
MANIFEST_REPORT_FIELDS = (
    "architecture",
    "quantization",
    "quantization_aware",
    "integer_io",
    "input_shape",
    "input_dtype",
    "labels_count",
    TFLITE_ACCURACY_FIELD,
    "tflite_top5_accuracy",
    APP_PATH_ACCURACY_FIELD,
    FLOAT_ACCURACY_FIELD,
    "accuracy_drop",
    LATENCY_FIELD,
    LATENCY_BY_THREADS_FIELD,
    "runtime",
    "peak_memory_bytes",
    "builtin_ops_only",
    "ops",
    "gates",
    "source_examples",
    "eval_examples",
    "baseline",
    "warm_start",
    TRAINING_INPUT_FIELD,
    SETTINGS_FIELD,
)
HELD_BACK_FIELDS = (
    TFLITE_ACCURACY_FIELD,
    FLOAT_ACCURACY_FIELD,
    "gates",
    "baseline",
    "warm_start",
    TRAINING_INPUT_FIELD,
    SETTINGS_FIELD,
)
"""What a held-back candidate's registry record keeps of its report: enough to tell a later run it was judged."""


def read_report(model_uri: str) -> dict[str, Any] | None:
    """The TFLite component's report.json in `model_uri`, None when there is none."""
    path = os.path.join(model_uri, REPORT_FILE)
    filesystem = filesystem_for(path)
    if not filesystem.exists(path):
        return None
    with filesystem.open(path, "rb") as handle:
        return json.loads(handle.read())


def version_files(model_uri: str) -> dict[str, str]:
    """The files in `model_uri` that a version carries beside the model and labels: the validation report
    (Markdown, PNG) and the float weights, where the TFLite step wrote them."""
    paths = {role: os.path.join(model_uri, name) for role, name in VERSION_FILES.items()}
    return {role: path for role, path in paths.items() if filesystem_for(path).exists(path)}


def manifest_fields(report: dict[str, Any]) -> dict[str, Any]:
    """The report fields the manifest keeps; `source_examples` without local absolute paths (a report written by an
    older, cached TFLite execution may still hold one)."""
    fields = {key: report[key] for key in MANIFEST_REPORT_FIELDS if key in report}
    if "source_examples" in fields:
        fields["source_examples"] = portable_examples_reference(fields["source_examples"])
    return fields


def failing_gates(report: dict[str, Any] | None) -> list[str]:
    """The gates of a TFLite report that did not pass, as 'name: measured X, limit Y'."""
    return [
        f"{gate['name']}: measured {gate.get('measured')}, limit {gate.get('limit')}"
        for gate in (report or {}).get("gates", [])
        if not gate.get("passed")
    ]


def hold_back_reasons(
    input_dict: dict[str, list[types.Artifact]], report: dict[str, Any] | None, anomalies: list[str]
) -> list[str]:
    """Why the model must not be pushed: one line per blessing that is missing or not `blessed` == 1, and one for
    `anomalies` (ExampleValidator's that block: see `blocking_anomalies`)."""
    reasons = []
    for key, source in BLESSING_SOURCES.items():
        if not input_dict.get(key):
            reasons.append(f"{key}: no blessing from {source}")
            continue
        blessing = artifact_utils.get_single_instance(input_dict[key])
        if model_utils.is_model_blessed(blessing):
            continue
        reason = f"{key} ({blessing.uri}) is not blessed by {source}"
        if key == TFLITE_BLESSING_KEY and failing_gates(report):
            reason += "; failing gates: " + "; ".join(failing_gates(report))
        reasons.append(reason)
    if anomalies:
        reasons.append(
            f"{ANOMALIES_KEY}: ExampleValidator found anomalies against the schema: "
            f"{'; '.join(anomalies)} (fix the data or the schema, or set "
            "gates.block_on_anomalies=false)"
        )
    return reasons


def blocking_anomalies(input_dict: dict[str, list[types.Artifact]], model_name: str, block: bool) -> list[str]:
    """ExampleValidator's anomalies when they hold the model back (`block`); otherwise they are only logged."""
    found = data_anomalies.found(artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY]))
    if found and not block:
        logging.warning(
            "%s: ExampleValidator found anomalies, not blocking (gates.block_on_anomalies=false): %s",
            model_name,
            " | ".join(found),
        )
    return found if block else []


def _copy(source: str, destination: str) -> None:
    """Copy one file between any two places the registry reads (a local folder, gs://, s3://, tf.io.gfile URLs),
    each through its own store's client."""
    target = filesystem_for(destination)
    target.makedirs(os.path.dirname(destination))
    with filesystem_for(source).open(source, "rb") as reader, target.open(destination, "wb") as writer:
        writer.write(reader.read())


class Executor(pusher_executor.Executor):
    """Pushes `model` (model.tflite, labels.txt, report.json) to the registry at `registry_root` as `model_name`."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Publish a new version if every gate passed, and record where on `pushed_model`."""
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(output_dict[PUSHED_MODEL_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        model_name = exec_properties[MODEL_NAME_KEY]
        report = read_report(model.uri)
        anomalies = blocking_anomalies(input_dict, model_name, bool(int(exec_properties[BLOCK_ON_ANOMALIES_KEY])))
        reasons = hold_back_reasons(input_dict, report, anomalies)
        registry = store.Registry(exec_properties[REGISTRY_ROOT_KEY])
        if reasons:
            logging.warning("%s was held back and not pushed: %s", model_name, " | ".join(reasons))
            if anomalies:
                pushed_model.set_string_custom_property(BLOCKING_ANOMALIES_PROPERTY, "\n".join(anomalies))
            if report is not None:
                registry.record_held_back(
                    model_name, {"reasons": reasons, **{key: report[key] for key in HELD_BACK_FIELDS if key in report}}
                )
            self._MarkNotPushed(pushed_model)
            return
        if report is None:
            raise RuntimeError(f"{model.uri} has no {REPORT_FILE}: cannot write the registry manifest")
        tflite_path = os.path.join(model.uri, MODEL_FILE)
        run_id = self._context.pipeline_run_id if self._context else None
        version = self._published_copy(registry, model_name, tflite_path) or registry.publish(
            model_name,
            tflite_path,
            os.path.join(model.uri, LABELS_FILE),
            manifest_fields(report),
            pipeline_run_id=run_id,
            extra_files=version_files(model.uri),
        )
        for file_name in (MODEL_FILE, LABELS_FILE, store.MANIFEST_FILE):
            _copy(os.path.join(version.path, file_name), os.path.join(pushed_model.uri, file_name))
        self._MarkPushed(pushed_model, pushed_destination=version.path, pushed_version=str(version.version))
        logging.info("%s pushed as version %d: %s", model_name, version.version, version.path)

    @staticmethod
    def _published_copy(registry: store.Registry, model_name: str, tflite_path: str) -> store.RegistryVersion | None:
        """The version that already holds exactly this file (same sha256), so the same model is never published
        twice: a Pusher retried after a crash, or a later run that converted the same trained model again (the
        `.tflite` bytes are deterministic, see components/tflite/metadata.py)."""
        sha256 = store.file_sha256(tflite_path)
        for version in registry.versions(model_name):
            if version.sha256 == sha256:
                logging.info(
                    "%s version %d already holds this model (sha256 %s); no new version",
                    model_name,
                    version.version,
                    sha256,
                )
                return version
        return None
