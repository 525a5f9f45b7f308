"""Ingestion of a folder of class sub-folders on Beam: labels, a deterministic split, bad files and the budget."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from components.ingestion import executor as ingestion
from components.ingestion import image_files
from pipeline.config import Config
from tests.helpers import read_split, run_example_gen

MAX_PIXELS = Config().data.max_image_pixels


def test_folder_to_examples_with_deterministic_split(image_folder, tmp_path):
    (image_folder / "dog" / "notes.txt").write_text("not an image")
    (image_folder / "dog" / ".DS_Store").write_bytes(b"\0")
    first = run_example_gen(image_folder, tmp_path / "run1")
    second = run_example_gen(image_folder, tmp_path / "run2")
    train, evaluation = read_split(first, "train"), read_split(first, "eval")
    assert len(train) + len(evaluation) == 36
    assert 0 < len(evaluation) < len(train)
    for row in train + evaluation:
        assert row["label"].decode() == row["filename"].decode().split("/")[0]
        assert Image.open(io.BytesIO(row["image_raw"])).size == (20, 20)
    assert {r["label"] for r in train} == {b"cat", b"dog", b"ankle boot"}
    assert sorted(r["filename"] for r in evaluation) == sorted(r["filename"] for r in read_split(second, "eval"))
    report = json.loads((tmp_path / "run1" / ingestion.BAD_FILES_REPORT).read_text())
    assert report["total_files"] == 37
    assert [row["filename"] for row in report["bad_files"]] == ["dog/notes.txt"]
    assert "not a decodable image" in report["bad_files"][0]["reason"]
    assert first.get_int_custom_property("bad_files") == 1


def test_bad_file_budget_fails_with_clear_message(image_folder, tmp_path):
    for i in range(3):
        (image_folder / "cat" / f"broken_{i}.png").write_bytes(b"")
    with pytest.raises(ingestion.TooManyBadFiles, match=r"3 of 39 files .* data.max_bad_fraction"):
        run_example_gen(image_folder, tmp_path / "out", max_bad_fraction=0.05)


def _encode(array, mode, fmt, **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_normalise_keeps_plain_images_and_converts_the_rest():
    grey = np.full((8, 8), 100, np.uint8)
    plain_png = _encode(grey, "L", "PNG")
    assert image_files.normalise_image(plain_png, MAX_PIXELS) == plain_png
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = 0
    converted = Image.open(io.BytesIO(image_files.normalise_image(_encode(rgba, "RGBA", "PNG"), MAX_PIXELS)))
    assert converted.mode == "RGB" and converted.getpixel((0, 0)) == (255, 255, 255)
    sixteen = np.full((8, 8), 65535 // 2, np.uint16)
    converted = Image.open(io.BytesIO(image_files.normalise_image(_encode(sixteen, "I;16", "PNG"), MAX_PIXELS)))
    assert converted.mode == "RGB" and abs(converted.getpixel((0, 0))[0] - 128) <= 1
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    buffer = io.BytesIO()
    cmyk.save(buffer, format="JPEG")
    converted = Image.open(io.BytesIO(image_files.normalise_image(buffer.getvalue(), MAX_PIXELS)))
    assert converted.mode == "RGB" and converted.getpixel((0, 0))[0] > 200


def _phone_photo(orientation: int) -> tuple[bytes, np.ndarray]:
    """A JPEG as a phone camera writes it, with an EXIF orientation tag, and the upright picture it shows: 20 wide,
    40 tall, red over blue. Orientation 6 means "turn the stored pixels 90 degrees clockwise to show them", 8
    counter-clockwise, so the stored pixels are the picture turned the other way (and 40 wide, 20 tall)."""
    from PIL import ExifTags

    picture = np.zeros((40, 20, 3), np.uint8)
    picture[:20] = (220, 30, 30)
    picture[20:] = (30, 30, 220)
    stored = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 1: None}[orientation]
    image = Image.fromarray(picture, mode="RGB")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    buffer = io.BytesIO()
    (image.transpose(stored) if stored is not None else image).save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue(), picture


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_photo_stored_sideways_is_ingested_upright_at_the_cameras_quality(orientation):
    """TensorFlow's decoder, which the Transform uses, ignores the EXIF tag: the stored image must be upright."""
    import tensorflow as tf

    from components.transform import image_codec

    photo, picture = _phone_photo(orientation)
    assert tf.io.decode_jpeg(photo).shape == (20, 40, 3)  # what the Transform would see without the fix
    stored = image_files.normalise_image(photo, MAX_PIXELS)
    pixels = image_codec.decode_rgb(tf.constant(stored)).numpy()
    assert pixels.shape == picture.shape
    np.testing.assert_allclose(pixels[[5, 34], 10], picture[[5, 34], 10], atol=12)
    with Image.open(io.BytesIO(stored)) as upright, Image.open(io.BytesIO(photo)) as source:
        assert upright.format == "JPEG" and upright.quantization == source.quantization
        assert "exif" not in upright.info  # no orientation left for a viewer to apply twice


def test_a_photo_tagged_upright_is_kept_byte_for_byte():
    photo, _ = _phone_photo(1)
    assert image_files.normalise_image(photo, MAX_PIXELS) == photo


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"hello", "not a decodable image"),
        (_encode(np.zeros((32, 32, 3), np.uint8), "RGB", "JPEG")[:40], "not a decodable image"),
    ],
)
def test_unusable_files_say_why(data, reason):
    with pytest.raises(image_files.BadImage, match=reason):
        image_files.normalise_image(data, MAX_PIXELS)


def test_an_image_over_the_pixel_limit_is_refused_from_its_header():
    image = _encode(np.zeros((100, 100), np.uint8), "L", "PNG")
    assert image_files.normalise_image(image, 10_000) == image
    with pytest.raises(image_files.BadImage, match=r"^100x100 is 10,000 pixels, over data.max_image_pixels=9,999$"):
        image_files.normalise_image(image, 9_999)


def test_the_drivers_fingerprint_is_tfxs_for_a_folder_tfx_can_list(image_folder):
    """ImageExampleGen's driver lists the folder with Python's functions, not tf.io.gfile; the cache key is the same."""
    from tfx.utils import io_utils

    from components.ingestion.driver import input_fingerprint

    pattern = str(image_folder / "*" / "*")
    assert input_fingerprint("images", pattern) == io_utils.generate_fingerprint("images", pattern)


def test_scan_folder_counts_classes_and_strays(image_folder):
    (image_folder / "empty").mkdir()
    (image_folder / "README.txt").write_text("x")
    summary = image_files.scan_folder(image_folder)
    assert summary.classes == {"ankle boot": 12, "cat": 12, "dog": 12}
    assert summary.empty_classes == ["empty"]
    assert summary.stray_files == ["README.txt"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_files.scan_folder(image_folder / "nope")


def test_the_cli_notes_when_small_images_meet_the_large_default_input(tmp_path):
    """The default input is 224 px; 28 px images get a note pointing at a smaller size, 300 px photos do not."""
    from pipeline.commands import local
    from pipeline.config import REPO_ROOT, load_config

    for side in (28, 300):
        for label in ("a", "b"):
            (tmp_path / str(side) / label).mkdir(parents=True)
            Image.new("RGB", (side + 10, side)).save(tmp_path / str(side) / label / "0.png")
    assert image_files.typical_side(tmp_path / "28", ["a", "b"]) == 28
    for side, config_file, noted in (
        (28, None, True),
        (300, None, False),
        (28, str(REPO_ROOT / "pipeline" / "profiles" / "demo.yaml"), False),
    ):
        out = io.StringIO()
        assert local._check_data(load_config(config_file, [f"data.root={tmp_path / str(side)}"]), out) == 2
        assert ("note: the images are about 28 px, upscaled to model.input_size=224" in out.getvalue()) == noted
