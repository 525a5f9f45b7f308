"""TFLite metadata: written by `add_metadata`, read back through tflite_support's MetadataDisplayer."""

import io
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from components import contracts
from components.tflite import measurement, metadata
from tests.helpers import converted, sample_images

LABELS = ["ankle boot", "crème brûlée", "dog"]


def _package(model_bytes: bytes) -> bytes:
    return metadata.add_metadata(
        model_bytes,
        LABELS,
        name="mobilenet_v1",
        version="7",
        description="mobilenet_v1 image classifier, int8 TFLite, 3 labels",
    )


@pytest.mark.parametrize("mode, integer_io", [("float32", None), ("int8", "uint8")])
def test_metadata_round_trip(tmp_path_factory, mode, integer_io):
    found = metadata.read_metadata(_package(converted(tmp_path_factory, mode, integer_io)))
    assert found["labels"] == LABELS
    assert found["associated_files"] == [contracts.LABELS_FILE]
    model = found["metadata"]
    assert model["name"] == "mobilenet_v1" and model["version"] == "7"
    assert model["description"] == "mobilenet_v1 image classifier, int8 TFLite, 3 labels"
    (subgraph,) = model["subgraph_metadata"]
    (image,) = subgraph["input_tensor_metadata"]
    assert image["content"]["content_properties"]["color_space"] == "RGB"
    (normalization,) = image["process_units"]
    assert normalization["options_type"] == "NormalizationOptions"
    assert normalization["options"] == {"mean": [127.5], "std": [127.5]}
    (probabilities,) = subgraph["output_tensor_metadata"]
    (labels_file,) = probabilities["associated_files"]
    assert labels_file["name"] == "labels.txt" and labels_file["type"] == "TENSOR_AXIS_LABELS"


def test_normalization_maps_pixels_to_the_training_range():
    assert (0 - metadata.NORM_MEAN) / metadata.NORM_STD == -1.0
    assert (255 - metadata.NORM_MEAN) / metadata.NORM_STD == 1.0


def test_packaged_model_predicts_like_the_bare_model(tmp_path_factory):
    bare = converted(tmp_path_factory, "int8", "uint8")
    packaged = _package(bare)
    assert len(packaged) > len(bare)
    images = sample_images(4, seed=5)
    np.testing.assert_array_equal(
        measurement.tflite_predictions(packaged, images, threads=1),
        measurement.tflite_predictions(bare, images, threads=1),
    )


def test_no_local_path_is_packaged(tmp_path_factory):
    packaged = _package(converted(tmp_path_factory, "float32"))
    metadata_json = json.dumps(metadata.read_metadata(packaged)["metadata"])
    local_paths = {
        "/tmp",
        "/work",
        "/home",
        str(Path.home()),
        tempfile.gettempdir(),
        os.getcwd(),
        str(tmp_path_factory.getbasetemp()),
    }
    for path in local_paths:
        assert path not in metadata_json
        assert path.encode() not in packaged
    assert b"labels.txt" in packaged


def test_packing_the_same_model_twice_gives_the_same_bytes(tmp_path_factory, monkeypatch):
    model_bytes = converted(tmp_path_factory, "int8", None)
    first = _package(model_bytes)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 86_400)  # tflite_support stamps entries with now
    second = _package(model_bytes)
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as packed:
        assert [(entry.filename, entry.date_time) for entry in packed.infolist()] == [
            (contracts.LABELS_FILE, metadata.FIXED_ZIP_TIME)
        ]
    assert measurement.tflite_predictions(first, sample_images(2, seed=0), 1).shape == (2, 3)
