"""Reproducibility of the data side, for real on Beam: the same folder gives the same train/eval split, the same
image bytes and the same label vocabulary on every run, wherever the folder lives and in whatever order its files
were written; and class counts that change do not reorder the labels."""

from __future__ import annotations

import functools
import hashlib
import random
import shutil
from pathlib import Path

import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata

from components.transform import preprocessing
from pipeline.config import DEFAULT_SCHEMA
from tests.helpers import read_split, run_example_gen, write_image_folder

CLASSES = {"cat": 14, "dog": 10, "ankle boot": 10, "猫": 6}


def _split_of_each_file(examples) -> dict[str, tuple[str, str, str]]:
    """filename -> (split, label, sha256 of the image bytes) of one ExampleGen output."""
    return {
        row["filename"].decode(): (split, row["label"].decode(), hashlib.sha256(row["image_raw"]).hexdigest())
        for split in ("train", "eval")
        for row in read_split(examples, split)
    }


def _label_vocabulary(examples, workdir: Path, shuffle_seed: int) -> bytes:
    """Run the real preprocessing_fn over the train split (as Transform does), rows in a shuffled order; return
    the `label_vocab` file."""
    rows = [
        {"image_raw": [row["image_raw"]], "label": [row["label"]], "filename": [row["filename"]]}
        for row in read_split(examples, "train")
    ]
    random.Random(shuffle_seed).shuffle(rows)
    schema = text_format.Parse(DEFAULT_SCHEMA.read_text(), schema_pb2.Schema())
    preprocessing_fn = functools.partial(preprocessing.preprocessing_fn, custom_config={"input_size": 32})
    with tft_beam.Context(temp_dir=str(workdir / "tmp")):
        transform_fn = (rows, dataset_metadata.DatasetMetadata(schema)) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(workdir / "transform_fn"))
    return (workdir / "transform_fn" / "transform_fn" / "assets" / preprocessing.LABEL_VOCAB).read_bytes()


def _copy_in_reverse_order(source: Path, target: Path) -> Path:
    for path in sorted((path for path in source.rglob("*") if path.is_file()), reverse=True):
        (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.relative_to(source))
    return target


def test_same_folder_gives_same_split_and_vocabulary(tmp_path):
    data = write_image_folder(tmp_path / "images", CLASSES)
    Image.new("CMYK", (9, 9), (0, 255, 255, 0)).save(data / "cat" / "cmyk.jpg")  # converted to PNG on ingestion
    Image.new("RGBA", (9, 9), (0, 0, 0, 100)).save(data / "dog" / "alpha.png")
    elsewhere = _copy_in_reverse_order(data, tmp_path / "somewhere" / "else" / "images")
    runs = [
        run_example_gen(data, tmp_path / "run1"),
        run_example_gen(data, tmp_path / "run2"),
        run_example_gen(elsewhere, tmp_path / "run3"),
    ]

    splits = [_split_of_each_file(examples) for examples in runs]
    assert len(splits[0]) == sum(CLASSES.values()) + 2
    assert splits[0] == splits[1] == splits[2]
    assert {split for split, _, _ in splits[0].values()} == {"train", "eval"}

    vocabularies = [
        _label_vocabulary(examples, tmp_path / f"vocab{i}", shuffle_seed=i) for i, examples in enumerate(runs)
    ]
    assert vocabularies[0] == vocabularies[1] == vocabularies[2]
    assert vocabularies[0].decode("utf-8").splitlines() == sorted(CLASSES)


def test_adding_files_never_moves_existing_files_between_splits(tmp_path):
    data = write_image_folder(tmp_path / "images", {"cat": 10, "dog": 10})
    before = _split_of_each_file(run_example_gen(data, tmp_path / "run1"))
    write_image_folder(tmp_path / "more", {"cat": 10, "dog": 10, "bird": 10}, seed=7)
    for path in (tmp_path / "more").rglob("*.png"):
        target = data / path.parent.name / f"new_{path.name}"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, target)
    after = _split_of_each_file(run_example_gen(data, tmp_path / "run2"))
    assert len(after) == 50
    assert {name: after[name] for name in before} == before


def test_class_counts_that_reverse_leave_the_label_order_unchanged(tmp_path):
    """Night 1 has more cats than dogs than birds, night 2 the reverse: the vocabulary (the model's output order
    and labels.txt) is the sorted class names both times, where a frequency order would have reversed it."""
    first = write_image_folder(tmp_path / "night1", {"cat": 12, "dog": 8, "bird": 4})
    second = write_image_folder(tmp_path / "night2", {"cat": 4, "dog": 8, "bird": 12}, seed=3)
    vocabularies = [
        _label_vocabulary(run_example_gen(data, tmp_path / f"examples{i}"), tmp_path / f"vocab{i}", i)
        for i, data in enumerate((first, second))
    ]
    assert vocabularies[0] == vocabularies[1]
    assert vocabularies[0].decode("utf-8").splitlines() == ["bird", "cat", "dog"]
