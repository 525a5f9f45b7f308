"""The int8 calibration set: drawn from the training split, as even across the classes as the data allows."""

import numpy as np

from components.tflite.executor import class_balanced


def _batches(labels: list[int], batch_size: int = 4):
    images = np.arange(len(labels), dtype=np.float32)[:, None]  # each image is its position in the split
    for start in range(0, len(labels), batch_size):
        yield images[start : start + batch_size], np.array(labels[start : start + batch_size])


def test_a_split_sorted_by_class_still_calibrates_on_every_class():
    """ExampleGen writes class folder after class folder, so the first N training examples can all be one class."""
    labels = [0] * 50 + [1] * 50 + [2] * 50
    images, chosen = class_balanced(_batches(labels), 9, 3)
    assert sorted(chosen.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert images[:, 0].tolist() == [0, 1, 2, 50, 51, 52, 100, 101, 102]


def test_the_remainder_goes_to_the_first_classes_and_a_short_class_leaves_its_places_to_the_others():
    _, chosen = class_balanced(_batches([0, 1, 2] * 10), 8, 3)
    assert np.bincount(chosen).tolist() == [3, 3, 2]
    _, chosen = class_balanced(_batches([0] * 20 + [1] * 2 + [2] * 20), 12, 3)
    assert len(chosen) == 12 and np.bincount(chosen).tolist()[1] == 2


def test_fewer_examples_than_asked_gives_them_all():
    images, chosen = class_balanced(_batches([0, 1, 1]), 200, 2)
    assert len(images) == 3 and sorted(chosen.tolist()) == [0, 1, 1]
