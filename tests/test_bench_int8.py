"""The bench's int8 step (issue #13): rows read from TFLite reports, the shipped int8's drop, its targets, its
Markdown, and the calibration study on a real SavedModel and the real converter."""

import numpy as np
import pytest

from bench import quantization, report, targets
from tests.helpers import NUM_CLASSES, sample_images, saved_classifier

TRAINING = {
    "epochs": 2,
    "fine_tune_seconds": 30.5,
    "save_seconds": 12.0,
    "validation_accuracy": {"float_kept": 0.81, "float_weights_after": 0.83, "quantization_aware": 0.825},
}


def _candidate(mode, accuracy, size, passed=True, quantization_aware=False, float_accuracy=0.80):
    return {
        "quantization": mode,
        "quantization_aware": quantization_aware,
        "tflite_accuracy": accuracy,
        "accuracy_drop": float_accuracy - accuracy,
        "size_bytes": size,
        "latency_ms": {"median": 1.5, "p90": 2.0},
        "passed": passed,
        "error": None,
    }


REPORT = {
    "float_accuracy": 0.80,
    "eval_examples": 200,
    "candidates": [
        _candidate("float32", 0.80, 1_000_000, passed=False),
        _candidate("int8", 0.78, 290_000, passed=False),
        _candidate("int8", 0.797, 291_000, quantization_aware=True),
    ],
}


def _int8_run(dataset="photos"):
    return {
        "dataset": dataset,
        "config": None,
        "overrides": ["train.quantization_aware_epochs=2"],
        "wall_seconds": 400.0,
        "models": {
            "mobilenet_v1": {
                "float_accuracy": 0.8,
                "eval_examples": 200,
                "trainer_seconds": 120.0,
                "tflite_seconds": 90.0,
                "candidates": quantization.candidate_rows(REPORT, TRAINING),
            }
        },
        "calibration": {"mobilenet_v1": [{"requested": 50, "drawn": 50, "tflite_accuracy": 0.77, "drop_points": 3.0}]},
    }


def test_candidate_rows_label_each_candidate_and_give_the_drop_in_points():
    rows = quantization.candidate_rows(REPORT, TRAINING)
    assert [row["candidate"] for row in rows] == ["float32", "int8", "int8 (quantization-aware)"]
    assert [row["drop_points"] for row in rows] == [0.0, 2.0, 0.3]
    assert rows[2]["training"] == TRAINING and "training" not in rows[1]
    assert rows[1]["latency_ms"] == 1.5 and rows[1]["size_bytes"] == 290_000


def test_a_candidate_that_did_not_convert_keeps_its_error():
    failed = {**_candidate("int8", 0.0, 0), "error": "conversion failed"}
    (row,) = quantization.candidate_rows({"candidates": [failed]}, None)
    assert row == {"candidate": "int8", "error": "conversion failed"}


def test_the_shipped_int8_is_the_more_accurate_passing_one_and_none_when_none_passed():
    rows = quantization.candidate_rows(REPORT, TRAINING)
    assert quantization.shipped_int8_drop(rows) == 0.3
    none_passed = [{**row, "passed": False} for row in rows]
    assert quantization.shipped_int8_drop(none_passed) is None
    only_post_training_passed = [{**row, "passed": row["candidate"] == "int8"} for row in rows]
    assert quantization.shipped_int8_drop(only_post_training_passed) == 2.0
    assert quantization.shipped_int8_drop(rows[:1]) is None
    better_on_validation = [
        {
            **row,
            "passed": row["candidate"] != "float32",
            "selection_accuracy": 0.9 if row["candidate"] == "int8" else 0.7,
        }
        for row in rows
    ]
    assert quantization.shipped_int8_drop(better_on_validation) == 2.0  # kept on validation, though worse on eval


def test_int8_step_targets_take_the_worst_dataset_and_model():
    runs = [_int8_run("fashion-mnist"), _int8_run("photos")]
    runs[0]["models"]["mobilenet_v1"]["candidates"][2]["drop_points"] = 0.9
    found, details = targets.compute_targets([], {}, [], None, runs)
    assert found["int8_drop_with_quantization_aware_points"] == {"measured": 0.9, "limit": 0.5, "met": False}
    assert details["int8_drop_with_quantization_aware_points"] == {
        "fashion-mnist/mobilenet_v1": 0.9,
        "photos/mobilenet_v1": 0.3,
    }
    assert found["int8_step_size_ratio"] == {"measured": 0.291, "limit": 0.30, "met": True}
    assert details["int8_step_size_ratio"]["photos/mobilenet_v1/int8"] == 0.29


def test_the_int8_section_shows_every_candidate_and_the_training_added():
    markdown = "\n".join(report._int8_section({"int8": [_int8_run()]}))
    assert (
        "| mobilenet_v1 | int8 (quantization-aware) | 0.7970 | 0.3 | 291.0 | 1.500 | True | 42.5 | 120.0 | 90.0 | "
        "0.8100 / 0.8300 / 0.8250 |"
    ) in markdown
    assert "| mobilenet_v1 | int8 | 0.7800 | 2.0 | 290.0 | 1.500 | False | - | 120.0 | 90.0 | - |" in markdown
    assert "| mobilenet_v1 | 50 | 50 | 0.7700 | 3.0 |" in markdown
    assert "Not measured (--skip-int8)." in "\n".join(report._int8_section({"int8": []}))


def test_the_calibration_study_draws_each_count_class_balanced_and_scores_the_int8_model(tmp_path_factory):
    images = sample_images(60, seed=4)
    labels = np.arange(60) % NUM_CLASSES
    eval_images, eval_labels = sample_images(30, seed=5), np.arange(30) % NUM_CLASSES
    batches = [(images[:30], labels[:30]), (images[30:], labels[30:])]
    rows = quantization.calibration_study(
        saved_classifier(tmp_path_factory), batches, NUM_CLASSES, eval_images, eval_labels, 0.5, [100, 9], threads=1
    )
    assert [(row["requested"], row["drawn"]) for row in rows] == [(9, 9), (100, 60)]
    for row in rows:
        assert 0.0 <= row["tflite_accuracy"] <= 1.0
        assert row["drop_points"] == pytest.approx(100 * (0.5 - row["tflite_accuracy"]), abs=0.01)
