"""Nothing of the machine that ran the pipeline leaves it in a pushed model: the real TFLite and RegistryPusher
executors on tiny real artifacts write no local absolute path (run folders, home, temp folder, working directory)
into report.json, the manifest or the `.tflite` (metadata included), and the manifest holds only the listed fields."""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata
from tfx.dsl.components.base.base_executor import BaseExecutor
from tfx.types import artifact_utils, standard_artifacts

from components import contracts
from components.artifact_locations import portable_examples_reference, portable_uri
from components.registry import executor as registry_executor
from components.registry import store
from components.tflite import executor as tflite_executor
from components.tflite import metadata
from components.tflite.spec import TFLiteValidationReport
from components.transform import preprocessing
from pipeline.config import DEFAULT_SCHEMA
from tests.helpers import anomalies_artifact, blessing_artifact

SIZE = 32
REGISTRY_FIELDS = {
    "format_version",
    "model_name",
    "pipeline_run_id",
    "version",
    "size_bytes",
    "sha256",
    "labels_sha256",
    "files",
    "file_sha256",
    "created_at",
}


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((12, 12), value, np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _transform(transform_uri: Path) -> list[dict[str, Any]]:
    """Run the real preprocessing_fn over 12 images of two classes whose names have a space and non-ASCII letters;
    write the transform graph; return the rows."""
    schema = text_format.Parse(DEFAULT_SCHEMA.read_text(), schema_pb2.Schema())
    raw = [
        {
            "image_raw": [_png(40 if i % 2 else 200)],
            "label": ["ankle boot".encode() if i % 2 else "猫".encode()],
            "filename": [f"x/{i}.png".encode()],
        }
        for i in range(12)
    ]
    preprocessing_fn = functools.partial(preprocessing.preprocessing_fn, custom_config={"input_size": SIZE})
    with tft_beam.Context(temp_dir=tempfile.mkdtemp(dir=transform_uri.parent)):
        (rows, _), transform_fn = (raw, dataset_metadata.DatasetMetadata(schema)) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(transform_uri))
    return rows


def _write_transformed_examples(uri: Path, rows: list[dict[str, Any]]) -> None:
    for split, part in (("train", rows[:6]), ("validation", rows[6:9]), ("eval", rows[9:])):
        (uri / f"Split-{split}").mkdir(parents=True)
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        with tf.io.TFRecordWriter(
            str(uri / f"Split-{split}" / "transformed_examples-00000-of-00001.gz"), options
        ) as writer:
            for row in part:
                writer.write(
                    tf.train.Example(
                        features=tf.train.Features(
                            feature={
                                preprocessing.IMAGE_XF: tf.train.Feature(
                                    bytes_list=tf.train.BytesList(value=[row[preprocessing.IMAGE_XF]])
                                ),
                                preprocessing.LABEL_XF: tf.train.Feature(
                                    int64_list=tf.train.Int64List(value=[int(row[preprocessing.LABEL_XF])])
                                ),
                            }
                        )
                    ).SerializeToString()
                )


class _TinyClassifier(tf.Module):
    """Mean colour -> 2-class softmax, with the Trainer's `serving_preprocessed` signature."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = tf.Variable([[-4.0, 4.0], [0.0, 0.0], [0.0, 0.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="image")])
    def serve(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": tf.nn.softmax(tf.reduce_mean(image, axis=[1, 2]) @ self.weights)}


def _artifact(artifact_type: type, uri: Path, artifact_id: int):
    artifact = artifact_type()
    artifact.uri = str(uri)
    artifact.id = artifact_id
    return artifact


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture(scope="module")
def pushed(tmp_path_factory) -> dict[str, Any]:
    """Transform -> tiny model -> real TFLite executor -> real RegistryPusher executor, under a local pipeline root."""
    tmp_path = tmp_path_factory.mktemp("no_local_paths")
    root = tmp_path / "pipeline_root"
    transform_uri = root / "Transform" / "transform_graph" / "7"
    transform_uri.parent.mkdir(parents=True)
    examples = _artifact(standard_artifacts.Examples, root / "Transform" / "transformed_examples" / "7", 11)
    examples.split_names = artifact_utils.encode_split_names(["train", "validation", "eval"])
    _write_transformed_examples(Path(examples.uri), _transform(transform_uri))
    model = _artifact(standard_artifacts.Model, root / "Trainer_mobilenet_v1" / "model" / "8", 12)
    module = _TinyClassifier()
    tf.saved_model.save(
        module, os.path.join(model.uri, "Format-Serving"), signatures={"serving_preprocessed": module.serve}
    )

    tflite_model = _artifact(standard_artifacts.Model, root / "TFLite_mobilenet_v1" / "tflite_model" / "9", 13)
    blessing = _artifact(standard_artifacts.ModelBlessing, root / "TFLite_mobilenet_v1" / "blessing" / "9", 14)
    report = _artifact(TFLiteValidationReport, root / "TFLite_mobilenet_v1" / "report" / "9", 15)
    tflite_executor.Executor().Do(
        {
            "model": [model],
            "examples": [examples],
            "transform_graph": [_artifact(standard_artifacts.TransformGraph, transform_uri, 10)],
        },
        {"tflite_model": [tflite_model], "blessing": [blessing], "report": [report]},
        {
            "model_name": "mobilenet_v1",
            "architecture": "mobilenet_v1",
            "quantization": json.dumps(["int8"]),
            "representative_examples": 4,
            "integer_io": "",
            "threads": 1,
            "latency_warmup": 0,
            "latency_runs": 1,
            "max_eval_examples": 0,
            "gates": json.dumps(
                {"min_accuracy": 0, "max_accuracy_drop": 1, "max_model_bytes": 10_000_000, "max_latency_ms": 10_000}
            ),
        },
    )

    pushed_model = _artifact(standard_artifacts.PushedModel, root / "Pusher_mobilenet_v1" / "pushed_model" / "10", 16)
    registry_root = tmp_path / "registry"
    registry_executor.Executor(BaseExecutor.Context(pipeline_run_id="20261125-101500.123456")).Do(
        {
            "model": [tflite_model],
            "tflite_blessing": [blessing],
            "anomalies": [anomalies_artifact(root / "anomalies")],
            "model_blessing": [blessing_artifact(root / "model_blessing", 1)],
        },
        {"pushed_model": [pushed_model]},
        {"registry_root": str(registry_root), "model_name": "mobilenet_v1", "block_on_anomalies": 1},
    )
    version_dir = registry_root / "mobilenet_v1" / "1"
    return {
        "tmp_path": tmp_path,
        "pipeline_root": root,
        "version_dir": version_dir,
        "report": json.loads((Path(tflite_model.uri) / "report.json").read_text()),
        "manifest": json.loads((version_dir / store.MANIFEST_FILE).read_text()),
        "tflite": (version_dir / contracts.MODEL_FILE).read_bytes(),
    }


def test_the_candidates_are_chosen_on_the_validation_split_and_judged_on_eval(pushed):
    report = pushed["report"]
    assert (report["selection_split"], report["selection_examples"], report["eval_examples"]) == ("validation", 3, 3)
    (candidate,) = report["candidates"]
    assert 0 <= candidate["selection_accuracy"] <= 1 and report["selection_accuracy"] == candidate["selection_accuracy"]


def test_without_a_validation_split_the_eval_split_chooses_and_the_log_says_so(caplog):
    from components import PROGRESS_LOGGER

    examples = standard_artifacts.Examples()
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    with caplog.at_level(logging.WARNING, logger=PROGRESS_LOGGER):
        assert tflite_executor.read_selection_split([examples], None, 0, "mobilenet_v1") == ("eval", None)
    assert (
        "mobilenet_v1: no validation split (data.validation_fraction is 0): the candidates are chosen on the "
        "eval split, which also judges them"
    ) in caplog.messages


def _local_folders(tmp_path: Path) -> list[str]:
    """Absolute folders of this machine that must not appear in anything pushed."""
    return [str(tmp_path), os.path.expanduser("~") + "/", tempfile.gettempdir() + "/", os.getcwd() + "/"]


def test_report_and_manifest_hold_no_local_absolute_path(pushed):
    assert pushed["report"]["source_examples"] == {"uri": "Transform/transformed_examples/7", "span": 0}
    assert pushed["manifest"]["source_examples"] == pushed["report"]["source_examples"]
    for document in ("report", "manifest"):
        for text in _strings(pushed[document]):
            assert not text.startswith(("/", "~", "file:")), (document, text)
            assert not any(folder in text for folder in _local_folders(pushed["tmp_path"])), (document, text)


def test_the_manifest_holds_only_the_listed_fields(pushed):
    report_fields = set(registry_executor.MANIFEST_REPORT_FIELDS) & set(pushed["report"])
    assert set(pushed["manifest"]) == report_fields | REGISTRY_FIELDS
    assert pushed["manifest"]["files"] == {
        "model": contracts.MODEL_FILE,
        "labels": contracts.LABELS_FILE,
        "report": "report.md",
        "report_picture": "report.png",
    }
    assert (pushed["version_dir"] / "report.png").read_bytes().startswith(b"\x89PNG")
    assert pushed["manifest"]["pipeline_run_id"] == "20261125-101500.123456"


def test_the_tflite_file_and_its_metadata_hold_no_local_path(pushed):
    model_bytes = pushed["tflite"]
    for folder in _local_folders(pushed["tmp_path"]):
        assert folder.encode() not in model_bytes, folder
    assert b"pipeline_root" not in model_bytes and b"Format-Serving" not in model_bytes
    packed = metadata.read_metadata(model_bytes)
    assert packed["associated_files"] == ["labels.txt"] and packed["labels"] == ["ankle boot", "猫"]
    assert (pushed["version_dir"] / contracts.LABELS_FILE).read_text(encoding="utf-8") == "ankle boot\n猫\n"
    assert (packed["metadata"]["name"], packed["metadata"]["version"]) == ("mobilenet_v1", "12")
    for text in _strings(packed["metadata"]):
        assert not text.startswith("/") and not any(folder in text for folder in _local_folders(pushed["tmp_path"]))


@pytest.mark.parametrize(
    "uri, portable",
    [
        ("/home/me/runs/pipeline_root/Transform/transformed_examples/7", "Transform/transformed_examples/7"),
        ("/home/me/runs/pipeline_root/Transform/transformed_examples/7/", "Transform/transformed_examples/7"),
        ("gs://bucket/root/Transform/transformed_examples/7", "gs://bucket/root/Transform/transformed_examples/7"),
        ("s3://bucket/root/ImportExampleGen/examples/3", "s3://bucket/root/ImportExampleGen/examples/3"),
    ],
)
def test_portable_uri_keeps_urls_and_drops_local_folders(uri, portable):
    assert portable_uri(uri) == portable
    assert portable_examples_reference({"uri": uri, "span": 4}) == {"uri": portable, "span": 4}
    assert portable_examples_reference(uri) == portable
