"""TFLite metadata for the Android Task Library and MediaPipe: name, description, version, input normalization,
and the labels as an associated file; and reading it back.

`import tflite_support` fails in this stack (a pybind name clash with TensorFlow), so the metadata modules are
imported from `tensorflow_lite_support` directly; they are the same code.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from typing import Any

from tensorflow_lite_support.metadata import metadata_schema_py_generated as metadata_fb
from tensorflow_lite_support.metadata.python import metadata as tflite_metadata
from tensorflow_lite_support.metadata.python.metadata_writers import image_classifier, metadata_info, writer_utils

from components.contracts import LABELS_FILE
from components.transform.image_codec import PIXEL_SCALE

NORM_MEAN = NORM_STD = PIXEL_SCALE
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def add_metadata(model_bytes: bytes, labels: list[str], name: str, version: str, description: str) -> bytes:
    """Return `model_bytes` with image-classifier metadata and `labels.txt` packed in.

    Normalization (pixel - 127.5) / 127.5 maps 0..255 to [-1, 1], the range the model was trained on. Only the
    file name `labels.txt` is recorded, never a local path.
    """
    with tempfile.TemporaryDirectory() as folder:
        labels_path = os.path.join(folder, LABELS_FILE)
        with open(labels_path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(labels) + "\n")
        writer = image_classifier.MetadataWriter.create_from_metadata_info(
            bytearray(model_bytes),
            general_md=metadata_info.GeneralMd(name=name, version=version, description=description),
            input_md=metadata_info.InputImageTensorMd(
                name="image",
                description="RGB image, any size is resized to the model input by the app",
                norm_mean=[NORM_MEAN],
                norm_std=[NORM_STD],
                color_space_type=metadata_fb.ColorSpaceType.RGB,
                tensor_type=writer_utils.get_input_tensor_types(bytearray(model_bytes))[0],
            ),
            output_md=metadata_info.ClassificationTensorMd(
                name="probabilities",
                description="Probability of each label in labels.txt",
                label_files=[metadata_info.LabelFileMd(file_path=labels_path)],
                tensor_type=writer_utils.get_output_tensor_types(bytearray(model_bytes))[0],
            ),
        )
        return with_fixed_file_times(bytes(writer.populate()))


def with_fixed_file_times(model_bytes: bytes) -> bytes:
    """`model_bytes` with its packed associated files re-packed under a fixed timestamp.

    tflite_support appends them as a zip whose entries carry the time of packing, so the same model packed twice
    would get a different sha256; with a fixed time the bytes depend on the model, metadata and labels only.
    """
    with zipfile.ZipFile(io.BytesIO(model_bytes)) as packed:
        entries = packed.infolist()
        files = [(entry.filename, packed.read(entry)) for entry in entries]
    buffer = io.BytesIO(model_bytes[: min(entry.header_offset for entry in entries)])
    buffer.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buffer, "a") as repacked:
        for name, data in files:
            repacked.writestr(zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME), data)
    return buffer.getvalue()


def read_metadata(model_bytes: bytes) -> dict[str, Any]:
    """The metadata as a dict: `metadata` (the displayer's JSON), `associated_files`, and `labels`."""
    displayer = tflite_metadata.MetadataDisplayer.with_model_buffer(bytearray(model_bytes))
    files = displayer.get_packed_associated_file_list()
    labels: list[str] = []
    if LABELS_FILE in files:
        labels = [
            line for line in displayer.get_associated_file_buffer(LABELS_FILE).decode("utf-8").splitlines() if line
        ]
    return {"metadata": json.loads(displayer.get_metadata_json()), "associated_files": files, "labels": labels}
