"""Classify images with an Android runtime's image classifier, reading the model's own metadata, as an app does.

Runs inside that runtime's venv (`tests/android_runtimes.py`), so it imports nothing of the project:

    python classify.py mediapipe|tflite-support MODEL.tflite IMAGES.npz

IMAGES.npz holds RGB uint8 arrays [H, W, 3] named 0, 1, ... at their original size: the runtime resizes and
normalizes them from the model's metadata. Prints one JSON object: `labels` (every category name by output
index, from the metadata) and `scores` (one list per image, by output index).
"""

import json
import sys

import numpy as np


def _mediapipe(model: str, images: list[np.ndarray]) -> list[list[tuple[int, str, float]]]:
    import mediapipe as mp
    from mediapipe.tasks import python as tasks
    from mediapipe.tasks.python import vision

    options = vision.ImageClassifierOptions(base_options=tasks.BaseOptions(model_asset_path=model), max_results=-1)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        return [
            [
                (c.index, c.category_name, c.score)
                for c in classifier.classify(
                    mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
                )
                .classifications[0]
                .categories
            ]
            for image in images
        ]


def _task_library(model: str, images: list[np.ndarray]) -> list[list[tuple[int, str, float]]]:
    from tflite_support.task import core, processor, vision

    options = vision.ImageClassifierOptions(
        base_options=core.BaseOptions(file_name=model),
        classification_options=processor.ClassificationOptions(max_results=-1),
    )
    classifier = vision.ImageClassifier.create_from_options(options)
    return [
        [
            (c.index, c.category_name, c.score)
            for c in classifier.classify(vision.TensorImage.create_from_array(np.ascontiguousarray(image)))
            .classifications[0]
            .categories
        ]
        for image in images
    ]


def main() -> None:
    runtime, model, images_path = sys.argv[1:4]
    with np.load(images_path) as archive:
        images = [archive[str(index)] for index in range(len(archive.files))]
    classify = {"mediapipe": _mediapipe, "tflite-support": _task_library}[runtime]
    results = classify(model, images)
    count = len(results[0])
    labels = [""] * count
    scores = []
    for categories in results:
        row = [0.0] * count
        for index, name, score in categories:
            labels[index], row[index] = name, float(score)
        scores.append(row)
    print(json.dumps({"labels": labels, "scores": scores}))


if __name__ == "__main__":
    main()
