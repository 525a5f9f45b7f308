"""Bad data in the input folder, ingested for real on Beam: every image the Transform's decoder reads is used as
RGB, every other file (also one PIL reads but TensorFlow does not, one over `data.max_image_pixels`, one in a folder
whose name is not UTF-8) is listed with its reason, and the bad-file budget and the two-class minimum fail the run
with a clear message."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from apache_beam.io import fileio
from apache_beam.io.filesystem import FileMetadata
from PIL import Image

from components import PROGRESS_LOGGER
from components.ingestion import data_files, image_files
from components.ingestion import executor as ingestion
from components.registry.store import Registry
from components.transform import image_codec
from pipeline import cli
from pipeline import config as config_lib
from pipeline.commands import local
from tests.helpers import TINY_RUN, read_split, run_example_gen, write_image_folder


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _palette_image(transparent: bool) -> Image.Image:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([10, 200, 30] + [0, 0, 0] * 255)
    if transparent:
        image.info["transparency"] = 0
    return image


def _noise(mode: str, size: int = 64) -> Image.Image:
    channels = {"L": (), "RGB": (3,)}[mode]
    pixels = np.random.default_rng(1).integers(0, 256, (size, size, *channels), dtype=np.uint8)
    return Image.fromarray(pixels, mode=mode)


# File name -> (encoded bytes, RGB colour TensorFlow must decode it to, tolerance).
DECODABLE = {
    "grey.png": (_encoded(Image.new("L", (10, 10), 100), "PNG"), (100, 100, 100), 0),
    "grey.jpg": (_encoded(Image.new("L", (10, 10), 100), "JPEG", quality=95), (100, 100, 100), 3),
    "rgb.jpg": (_encoded(Image.new("RGB", (10, 10), (200, 30, 60)), "JPEG", quality=95), (200, 30, 60), 6),
    "cmyk.jpg": (_encoded(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG", quality=95), (255, 0, 0), 6),
    "sixteen_bit_grey.png": (
        _encoded(Image.fromarray(np.full((10, 10), 32896, np.uint16), mode="I;16"), "PNG"),
        (128, 128, 128),
        1,
    ),
    "sixteen_bit_rgb.png": (
        tf.io.encode_png(np.tile(np.array([40000, 10000, 65535], np.uint16), (10, 10, 1))).numpy(),
        (156, 39, 255),
        1,
    ),
    "transparent_rgba.png": (_encoded(Image.new("RGBA", (10, 10), (10, 20, 30, 0)), "PNG"), (255, 255, 255), 0),
    "half_alpha_rgba.png": (_encoded(Image.new("RGBA", (10, 10), (0, 0, 0, 128)), "PNG"), (127, 127, 127), 1),
    "grey_alpha_la.png": (_encoded(Image.new("LA", (10, 10), (50, 255)), "PNG"), (50, 50, 50), 0),
    "palette.png": (_encoded(_palette_image(transparent=False), "PNG"), (10, 200, 30), 0),
    "palette_transparent.png": (_encoded(_palette_image(transparent=True), "PNG"), (255, 255, 255), 0),
    "bilevel.png": (_encoded(Image.new("1", (10, 10), 1), "PNG"), (255, 255, 255), 0),
    "palette.gif": (_encoded(_palette_image(transparent=False), "GIF"), (10, 200, 30), 0),
}


def _png_with_a_wrong_idat_checksum() -> bytes:
    """A real PNG whose IDAT chunk's CRC is flipped: PIL decodes it, TensorFlow's decoder refuses it."""
    data = _encoded(_noise("RGB", 16), "PNG")
    start = data.index(b"IDAT")
    crc_at = start + 4 + struct.unpack(">I", data[start - 4 : start])[0]
    return data[:crc_at] + bytes(byte ^ 0xFF for byte in data[crc_at : crc_at + 4]) + data[crc_at + 4 :]


TRUNCATED = "not a decodable image (OSError: image file is truncated"
TENSORFLOW_REFUSES = "TensorFlow cannot decode it (Invalid PNG data, size "
UNUSABLE = {
    "cat/zero_bytes.png": (b"", "empty file (0 bytes)"),
    "cat/truncated.png": (_encoded(_noise("L"), "PNG")[:600], TRUNCATED),
    "dog/truncated.jpg": (_encoded(_noise("RGB"), "JPEG")[:700], TRUNCATED),
    "dog/notes.txt": (b"these are not pixels\n", "not a decodable image (unknown image format)"),
    "dog/photo.jpg": (bytes(range(256)) * 4, "not a decodable image (unknown image format)"),
    "bad\nname/grey.png": (DECODABLE["grey.png"][0], "class folder name 'bad\\nname' contains a line break"),
    "cat/wrong_checksum.png": (_png_with_a_wrong_idat_checksum(), TENSORFLOW_REFUSES),
    "dog/no_end_chunk.png": (_encoded(_noise("RGB", 16), "PNG")[:-12], TENSORFLOW_REFUSES),
    "dog/huge.png": (
        _encoded(Image.new("L", (8000, 8000)), "PNG"),
        "8000x8000 is 64,000,000 pixels, over data.max_image_pixels=60,000,000",
    ),
    os.fsdecode(b"caf\xe9 (Latin-1)/grey.png"): (DECODABLE["grey.png"][0], "path is not UTF-8"),
}
"""Relative path (as `os` names it) -> bytes, and the start of the reason the report must give."""


@pytest.fixture
def messy_folder(tmp_path: Path) -> Path:
    """Good greyscale PNGs in `cat`, `dog` and `café ☕`, every decodable kind in `ankle boot`, the UNUSABLE files,
    an empty class folder, a dot-file, a dot-folder, a stray file beside the class folders and an image one level
    too deep."""
    root = write_image_folder(tmp_path / "images", {"cat": 6, "dog": 6, "café ☕": 6})
    (root / "ankle boot").mkdir()
    for name, (data, _, _) in DECODABLE.items():
        (root / "ankle boot" / name).write_bytes(data)
    for relative, (data, _) in UNUSABLE.items():
        (root / relative).parent.mkdir(exist_ok=True)
        (root / relative).write_bytes(data)
    (root / "empty class").mkdir()
    (root / "cat" / ".DS_Store").write_bytes(b"\0\0")
    write_image_folder(root, {".thumbnails": 2})  # a dot-folder: not a class, not read
    (root / "README.txt").write_text("stray file, not in a class folder")
    write_image_folder(root / "cat", {"too deep": 1})  # cat/too deep/img_000.png: not read, not counted
    return root


def test_decodable_images_are_used_as_rgb_and_the_rest_reported(messy_folder, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        examples = run_example_gen(messy_folder, tmp_path / "out", max_bad_fraction=0.5)

    rows = read_split(examples, "train") + read_split(examples, "eval")
    by_name = {row["filename"].decode(): row for row in rows}
    assert len(rows) == 18 + len(DECODABLE)
    assert {row["label"].decode() for row in rows} == {"cat", "dog", "café ☕", "ankle boot"}
    for name, (_, colour, tolerance) in DECODABLE.items():
        row = by_name[f"ankle boot/{name}"]
        pixels = tf.io.decode_image(row["image_raw"], channels=3, expand_animations=False).numpy()
        assert pixels.shape == (10, 10, 3), name
        np.testing.assert_allclose(pixels[5, 5], colour, atol=tolerance, err_msg=name)
    images = image_codec.decode_images(tf.constant([row["image_raw"] for row in rows]), 32).numpy()
    assert images.shape == (len(rows), 32, 32, 3) and images.dtype == np.uint8

    report = json.loads((tmp_path / "out" / ingestion.BAD_FILES_REPORT).read_text(encoding="utf-8"))
    assert report["total_files"] == len(rows) + len(UNUSABLE) and report["bad_count"] == len(UNUSABLE)
    assert report["classes"] == {"ankle boot": len(DECODABLE), "cat": 6, "café ☕": 6, "dog": 6}
    reasons = {row["filename"]: row["reason"] for row in report["bad_files"]}
    assert sorted(reasons) == sorted(data_files.readable_name(relative) for relative in UNUSABLE)
    assert "caf\\xe9 (Latin-1)/grey.png" in reasons
    for relative, (_, reason) in UNUSABLE.items():
        shown = data_files.readable_name(relative)
        assert reasons[shown].startswith(reason), (shown, reasons[shown])
    assert (examples.get_int_custom_property("bad_files"), examples.get_int_custom_property("total_files")) == (
        len(UNUSABLE),
        report["total_files"],
    )
    bad, share = len(UNUSABLE), len(UNUSABLE) / report["total_files"]
    assert (
        f"{len(rows)} images in 4 classes; {bad} unusable files skipped ({share:.1%}, budget 50.0%), "
        f"listed in {tmp_path / 'out' / ingestion.BAD_FILES_REPORT}"
    ) in caplog.messages


def test_the_new_data_check_and_ingestion_fingerprint_the_folder_alike(messy_folder, tmp_path):
    """Both list the file in the folder whose name is not UTF-8 (tf.io.gfile's listing raised on it), and both
    count it by the name the bad-file report gives it, so an unchanged folder is seen as unchanged."""
    from components.ingestion import training_input
    from components.ingestion.driver import input_fingerprint
    from components.new_data.executor import current_input

    examples = run_example_gen(messy_folder, tmp_path / "out", max_bad_fraction=0.5)
    ingested = json.loads((Path(examples.uri) / training_input.TRAINING_INPUT_FILE).read_text(encoding="utf-8"))
    checked = current_input(str(messy_folder), "images", training_input.ALL_SPANS)
    assert checked.fingerprint == ingested["fingerprint"] and checked.files == ingested["files"]
    # ImageExampleGen's driver lists it too: the 41 files, and `cat/too deep`, a folder (dot-files do not match).
    assert "num_files:42," in input_fingerprint("images", str(messy_folder / "*" / "*"))


def test_over_the_budget_fails_naming_counts_budget_and_report(messy_folder, tmp_path):
    with pytest.raises(ingestion.TooManyBadFiles) as failure:
        run_example_gen(messy_folder, tmp_path / "out", max_bad_fraction=0.1)
    total = 18 + len(DECODABLE) + len(UNUSABLE)
    report_path = tmp_path / "out" / ingestion.BAD_FILES_REPORT
    bad = len(UNUSABLE)
    assert str(failure.value) == (
        f"{bad} of {total} files ({bad / total:.1%}) could not be used, over the budget "
        f"data.max_bad_fraction=10.0%; see {report_path}"
    )
    assert len(json.loads(report_path.read_text(encoding="utf-8"))["bad_files"]) == bad


@pytest.mark.parametrize("layout", ["one class", "second class has only bad files"])
def test_fewer_than_two_usable_classes_fail(tmp_path, layout):
    root = write_image_folder(tmp_path / "images", {"cat": 4})
    if layout == "second class has only bad files":
        (root / "dog").mkdir()
        (root / "dog" / "broken.png").write_bytes(b"")
    with pytest.raises(
        ingestion.TooFewClasses,
        match=re.escape(f"{root}: usable images in 1 class folder(s) (cat); a classifier needs at least 2"),
    ):
        run_example_gen(root, tmp_path / "out", max_bad_fraction=1.0)


def test_a_file_that_cannot_be_read_is_reported_not_fatal(tmp_path):
    gone = tmp_path / "images" / "cat" / "gone.png"
    result = ingestion.read_file_to_result(
        fileio.ReadableFile(FileMetadata(str(gone), 10)),
        str(tmp_path / "images"),
        config_lib.Config().data.max_image_pixels,
    )
    assert result["filename"] == "cat/gone.png"
    assert result["reason"].startswith("cannot read file (FileNotFoundError") and "example" not in result


@pytest.mark.parametrize(
    "relative, reason",
    [
        ("loose.png", "not inside a class folder"),
        ("  /a.png", "is blank"),
        ("a\rb/a.png", "contains a line break"),
        ("a\u2028b/a.png", "contains a line break"),
    ],
)
def test_unusable_class_folder_names(relative, reason):
    with pytest.raises(image_files.BadImage, match=reason):
        image_files.label_of(relative)
    assert image_files.label_of("ankle boot/x.png") == "ankle boot" and image_files.label_of("猫/x.png") == "猫"


def _config_for(root: Path) -> config_lib.Config:
    return config_lib.load_config(None, [f"data.root={root}"])


def test_the_cli_warns_about_empty_class_folders_and_stray_files(messy_folder):
    out = io.StringIO()
    local._check_data(_config_for(messy_folder), out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("data: ") and "in 6 classes" in lines[0]
    assert "warning: class folder 'empty class' is empty and is ignored" in lines
    assert (
        "warning: 1 file(s) directly under the data folder are ignored (e.g. README.txt); "
        "images must be inside class folders"
    ) in lines


def test_a_single_class_folder_stops_the_run_before_anything_runs(tmp_path, capsys):
    data = write_image_folder(tmp_path / "images", {"cat": 3})
    (data / "empty").mkdir()
    home, registry = tmp_path / "home", tmp_path / "registry"
    code = cli.main(["run", "--data", str(data), "--home", str(home), "--registry", str(registry)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {data}: found 1 class folder(s) with files (cat); a classifier needs at least 2\n"
    )
    assert not home.exists() and not registry.exists()


def test_a_failed_run_says_why_and_pushes_nothing(messy_folder, tmp_path):
    """A real `pipeline run` over the messy folder with a 10% budget: ImageExampleGen fails, nothing after it runs."""
    home, registry = tmp_path / "home", tmp_path / "registry"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--data",
            str(messy_folder),
            "--home",
            str(home),
            "--registry",
            str(registry),
            "--models",
            "v1",
            "--set",
            "data.max_bad_fraction=0.1",
            "--set",
            "beam.direct_running_mode=in_memory",
            "--set",
            "beam.direct_num_workers=1",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=600,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(
        r"^error: ImageExampleGen failed: TooManyBadFiles: 10 of \d+ files \(\d+\.\d%\) could not be "
        r"used, over the budget data\.max_bad_fraction=10\.0%; see .*bad_files\.json$",
        run.stdout,
        re.MULTILINE,
    ), run.stdout
    assert "Nothing was pushed by the failed step." in run.stdout
    assert "> Transform" not in run.stdout and "> Trainer_mobilenet_v1" not in run.stdout
    assert not registry.exists()


# A class the curated schema does not know, through the real components: ExampleValidator's anomaly holds the
# push back (with the Evaluator's blessing withheld too), then `gates.block_on_anomalies=false` lets it through.

KNOWN_LABELS_SCHEMA = """
feature { name: "image_raw" type: BYTES presence { min_fraction: 1.0 min_count: 1 } shape { dim { size: 1 } } }
feature { name: "label" type: BYTES domain: "label" presence { min_fraction: 1.0 min_count: 1 }
          shape { dim { size: 1 } } }
feature { name: "filename" type: BYTES presence { min_fraction: 1.0 min_count: 1 } shape { dim { size: 1 } } }
string_domain { name: "label" value: "circle" value: "square" }
"""
"""The project's schema (schemas/schema.pbtxt) with the labels a curator knows: a new class folder is an anomaly."""


def _run_pipeline(root: Path, *settings: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--data",
            str(root / "data"),
            "--home",
            str(root / "home"),
            "--registry",
            str(root / "registry"),
            "--models",
            "v1",
            *TINY_RUN,
            "--set",
            f"data.schema_path={root / 'schema.pbtxt'}",
            *settings,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def unknown_class_runs(tmp_path_factory) -> dict:
    """Circles, squares and triangles that look like circles (so no model tells them apart: accuracy about 2/3),
    against a schema that knows circles and squares. Run 1 asks for 0.95 accuracy; run 2, in the same home,
    neither blocks on anomalies nor asks for accuracy."""
    root = tmp_path_factory.mktemp("unknown_class")
    write_image_folder(root / "data", {"circle": 30, "square": 30}, size=24)
    write_image_folder(root / "data", {"triangle": 30}, size=24, seed=5)  # the first class's brightness: circles'
    (root / "schema.pbtxt").write_text(KNOWN_LABELS_SCHEMA)
    first = _run_pipeline(root, "--set", "gates.min_accuracy=0.95")
    second = _run_pipeline(root, "--set", "gates.block_on_anomalies=false")
    return {"root": root, "first": first, "second": second}


ANOMALY = (
    "split train: feature 'label': Unexpected string values (Examples contain values missing from the schema: triangle"
)


@pytest.mark.slow
def test_an_anomaly_and_the_evaluator_each_hold_the_push_back_and_say_why(unknown_class_runs):
    first, registry = unknown_class_runs["first"], Registry(str(unknown_class_runs["root"] / "registry"))
    assert first.returncode == 0, first.stdout + first.stderr
    (line,) = [line for line in first.stdout.splitlines() if line.startswith("mobilenet_v1 was held back")]
    assert f"data anomaly: {ANOMALY}" in line
    assert re.search(r"sparse_categorical_accuracy 0\.\d+ \(limit 0\.95\)", line), line
    assert "min_accuracy" in line  # the TFLite step's own accuracy gate
    assert str(unknown_class_runs["root"] / "registry" / "mobilenet_v1" / "1") not in first.stdout
    (record,) = registry.held_back("mobilenet_v1")
    assert [reason.split(" ", 1)[0] for reason in record["reasons"]] == [
        "model_blessing",
        "tflite_blessing",
        "anomalies:",
    ]
    assert ANOMALY in record["reasons"][-1] and "is not blessed by the Evaluator" in record["reasons"][0]


@pytest.mark.slow
def test_with_block_on_anomalies_off_the_same_data_is_pushed_and_the_anomaly_logged(unknown_class_runs):
    second, root = unknown_class_runs["second"], unknown_class_runs["root"]
    assert second.returncode == 0, second.stdout + second.stderr
    (version,) = Registry(str(root / "registry")).versions("mobilenet_v1")
    assert str(version.path) in second.stdout
    first_log, second_log = sorted((root / "home" / "logs").glob("*.log"))  # run-<date>-<time>.log
    assert (
        "mobilenet_v1: ExampleValidator found anomalies, not blocking (gates.block_on_anomalies=false): " + ANOMALY
    ) in second_log.read_text(encoding="utf-8")
