"""The TFLite step's validation without TFX: min_accuracy judges the lower of the interpreter's accuracy and the
app path's, and the report keeps both."""

import numpy as np

from components.tflite import app_path, measurement, metadata, validation
from tests.helpers import sample_images, saved_classifier

LIMITS = {"min_accuracy": 0.9, "max_accuracy_drop": 1.0, "max_model_bytes": 10**9, "max_latency_ms": 1e9}


def _package(model_bytes: bytes, label: str) -> bytes:
    return metadata.add_metadata(model_bytes, ["0", "1", "2"], name="m", version="1", description=label)


def test_min_accuracy_judges_the_lower_of_the_interpreter_and_the_app_path(tmp_path_factory):
    """Labelled by the float model itself, the eval images score 1.0 on the interpreter; the originals carry the
    same labels on half of them and a wrong one on the rest, so the app path scores about half and holds the
    candidate back on min_accuracy alone, measured at the app path's figure."""
    saved_model = saved_classifier(tmp_path_factory)
    images = sample_images(12, seed=4)
    labels = np.argmax(measurement.saved_model_predictions(saved_model, images), axis=1)
    frames = np.rint((images + 1.0) * 127.5).astype(np.uint8)
    names = [str(label if index % 2 else (label + 1) % 3) for index, label in enumerate(labels)]
    data = validation.ValidationData(
        representative=images,
        eval_images=images,
        eval_labels=labels,
        selection=None,
        float_accuracy=1.0,
        originals=app_path.Originals.of(zip(frames, names), ["0", "1", "2"], 32, 32),
    )
    measuring = validation.Measuring(threads=1, latency_warmup=1, latency_runs=2, integer_io="", limits=LIMITS)
    (candidate,) = validation.validate_candidates(
        [validation.Source("float32", saved_model)], data, measuring, _package
    )
    entry = candidate.entry
    assert entry["tflite_accuracy"] == 1.0 and entry["app_path_accuracy"] <= 0.6
    assert entry["gated_accuracy"] == entry["app_path_accuracy"]
    assert [gate["name"] for gate in entry["gates"] if not gate["passed"]] == ["min_accuracy"]
    (gate,) = [gate for gate in entry["gates"] if gate["name"] == "min_accuracy"]
    assert gate["measured"] == entry["app_path_accuracy"]
    assert entry["accuracy_drop"] == 0.0  # the drop stays the interpreter's, on the float model's pixels
