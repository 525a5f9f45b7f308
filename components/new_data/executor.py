"""Executor of the new-data check: resolve and fingerprint the training input, decide per model against the
registry, and copy the registry weights each training model warm-starts from."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import PROGRESS_LOGGER, json_files
from components.contracts import LABELS_FILE, TRAINING_INPUT_FIELD, WEIGHTS_FILE
from components.ingestion import data_files, image_files, training_input
from components.new_data import decision as decision_lib
from components.new_data import spec
from components.registry import store
from components.registry.shipped import shipped_version
from components.trainer import warm_start, weight_sources

progress = logging.getLogger(PROGRESS_LOGGER)


def current_input(data_root: str, data_format: str, spans: str) -> training_input.TrainingInput:
    """The training input of `data_root` now: the spans `spans` picks and the fingerprint of their files (every
    file for TFRecords), as ImageExampleGen will ingest them."""
    if not data_files.isdir(data_root):
        raise FileNotFoundError(f"{data_root}: data root does not exist or is not a folder")
    if data_format == "images":
        selection, patterns = training_input.resolve(data_root, spans, data_files.listdir, data_files.isdir), None
    else:
        selection, patterns = training_input.SpanSelection(data_root, (), 0), ["*"]
    return training_input.scan(
        selection, data_files.glob, data_files.isdir, data_files.read, image_files.is_hidden_path, patterns
    )


def last_judged(registry: store.Registry, model_name: str) -> decision_lib.Judged | None:
    """The newest version or held-back candidate of `model_name` in `registry`; None when it has neither."""
    if not registry.exists():
        return None
    return decision_lib.last_judged(
        [entry.manifest for entry in registry.versions(model_name)], registry.held_back(model_name)
    )


def registry_weights_record(
    registry: store.Registry, model_name: str, weights: str, baseline_channel: str, folder: str
) -> dict[str, Any]:
    """Copy into `folder` the float weights and labels of the registry version `weights` names, checked against
    its manifest; the record the Trainer reads (`warm_start.read_registry_weights`), with the reason when there
    is nothing to start from."""
    source = weight_sources.registry_source(weights)
    if source is None:
        return {"version": None, "reason": f"model.weights={weights} is not a registry version"}
    if not registry.exists() or not registry.versions(model_name):
        return {"version": None, "reason": f"nothing in the registry for {model_name} yet"}
    kind, value = source
    if kind == "version":
        entry, where = registry.verify(model_name, int(value)), f"version {value}"
    elif value:
        pointer = registry.channels(model_name).get(str(value))
        if pointer is None:
            raise warm_start.WarmStartError(
                f"model.weights={weights}: channel '{value}' of {model_name} is not set "
                f"(channels: {', '.join(registry.channels(model_name)) or 'none'})"
            )
        entry, where = registry.verify(model_name, pointer.version), f"channel {value}"
    else:
        entry, where = shipped_version(registry, model_name, baseline_channel)
    path = registry.file_path(entry, "weights")
    if path is None:
        return {
            "version": None,
            "reason": f"{model_name} version {entry.version} has no float weights (pushed before versions kept them)",
        }
    tf.io.gfile.makedirs(folder)
    tf.io.gfile.copy(path, os.path.join(folder, WEIGHTS_FILE), overwrite=True)
    labels = data_files.read(os.path.join(entry.path, LABELS_FILE)).decode("utf-8").splitlines()
    return {
        "model_name": model_name,
        "version": entry.version,
        "source": where,
        "weights_sha256": entry.manifest["file_sha256"][os.path.basename(path)],
        "labels": [label for label in labels if label.strip()],
    }


class Executor(base_executor.BaseExecutor):
    """Writes the decision (`decision.json`, `train` and `train_<model>` properties) and the base models."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Decide for every model; log one line each (`no new data since ...` for a model that skips)."""
        data_root = exec_properties[spec.DATA_ROOT_KEY].rstrip("/")
        current = current_input(data_root, exec_properties[spec.DATA_FORMAT_KEY], exec_properties[spec.SPANS_KEY])
        progress.info(
            "training input: %s (%d files, fingerprint %s)",
            decision_lib.describe_input(current),
            current.files,
            current.fingerprint[:12],
        )
        registry = store.Registry(exec_properties[spec.REGISTRY_ROOT_KEY])
        skip_unchanged = bool(int(exec_properties[spec.SKIP_UNCHANGED_KEY]))
        base_dir = path_utils.serving_model_dir(
            artifact_utils.get_single_instance(output_dict[spec.BASE_MODELS_KEY]).uri
        )
        decisions, records = [], {}
        for name, model in sorted(json.loads(exec_properties[spec.MODELS_KEY]).items()):
            try:
                last = last_judged(registry, name)
            except store.RegistryError as error:
                logging.warning("%s: cannot read the registry's versions (%s); training", name, error)
                last = None
            decided = decision_lib.decide(name, current, model["settings"], last, skip_unchanged)
            progress.info("%s", decided.reason)
            record = {"version": None, "reason": "not training"}
            if decided.train:
                record = registry_weights_record(
                    registry,
                    name,
                    model["weights"],
                    exec_properties[spec.BASELINE_CHANNEL_KEY],
                    os.path.join(base_dir, name),
                )
            json_files.write(os.path.join(base_dir, name, warm_start.REGISTRY_WEIGHTS_RECORD), record)
            decisions.append(decided)
            records[name] = record
        content = hashlib.sha256(json.dumps(records, sort_keys=True).encode("utf-8")).hexdigest()
        artifact_utils.get_single_instance(output_dict[spec.BASE_MODELS_KEY]).set_string_custom_property(
            spec.CONTENT_PROPERTY, content
        )
        output = artifact_utils.get_single_instance(output_dict[spec.DECISION_KEY])
        json_files.write(
            os.path.join(output.uri, spec.DECISION_FILE),
            {TRAINING_INPUT_FIELD: current.to_json(), "models": [d.to_json() for d in decisions]},
        )
        for decided in decisions:
            output.set_int_custom_property(spec.train_property(decided.model_name), int(decided.train))
        output.set_int_custom_property(spec.TRAIN_PROPERTY, int(any(d.train for d in decisions)))
