"""The built-in datasets written as image folders."""

import pytest
from PIL import Image

from components.ingestion import demo_data


def test_writes_class_folders_of_pngs_and_scales_them_when_asked(tmp_path):
    counts = demo_data.write_dataset(tmp_path / "digits", dataset="digits", per_class=2)
    assert len(counts) == 10 and set(counts.values()) == {2} and "three" in counts
    scaled = demo_data.write_dataset(tmp_path / "digits-40px", dataset="digits", per_class=1, image_size=40)
    assert sum(scaled.values()) == 10
    original = sorted((tmp_path / "digits" / "three").iterdir())[0]
    (bigger,) = list((tmp_path / "digits-40px" / "three").iterdir())
    assert Image.open(original).size == (8, 8) and Image.open(bigger).size == (40, 40)


def test_refuses_a_non_empty_folder_and_bad_sizes(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        demo_data.write_dataset(tmp_path / "taken", dataset="digits", per_class=1)
    with pytest.raises(ValueError, match="image_size must be at least 1"):
        demo_data.write_dataset(tmp_path / "new", dataset="digits", per_class=1, image_size=0)
    assert not (tmp_path / "new").exists()


def test_photos_are_jittered_views_of_the_package_photos_six_classes_of_jpegs(tmp_path):
    counts = demo_data.write_dataset(tmp_path / "photos", dataset="photos", per_class=3)
    assert counts == {
        f"{photo}-{half}": 3 for photo in ("china", "flower", "grace_hopper") for half in ("left", "right")
    }
    files = sorted((tmp_path / "photos").glob("*/*"))
    sizes = {Image.open(path).size for path in files}
    assert all(path.suffix == ".jpg" and Image.open(path).format == "JPEG" for path in files)
    assert all(width == height and 154 <= width <= 320 for width, height in sizes) and len(sizes) > 1
    again = demo_data.write_dataset(tmp_path / "again", dataset="photos", per_class=3)
    assert again == counts and all(
        (tmp_path / "again" / path.relative_to(tmp_path / "photos")).read_bytes() == path.read_bytes() for path in files
    )
