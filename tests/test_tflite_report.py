"""The validation report: candidate entries, `report.json`'s keys and verdict, and the human summary."""

import json

from components.tflite import gates, report
from tests.helpers import png_picture

LIMITS = {"min_accuracy": 0.80, "max_accuracy_drop": 0.01, "max_model_bytes": 1_000_000, "max_latency_ms": 20.0}
IDENTITY = {
    "model_name": "mobilenet_v1",
    "architecture": "mobilenet_v1",
    "input_shape": [1, 32, 32, 3],
    "labels_count": 3,
    "eval_examples": 40,
    "source_examples": {"uri": "pipeline_root/ImportExampleGen/examples/1", "span": 0},
}
FLOAT_ACCURACY = 0.90
# Keys report.json must have (the shared contract).
REPORT_KEYS = {
    "model_name",
    "architecture",
    "quantization",
    "integer_io",
    "input_shape",
    "input_dtype",
    "labels_count",
    "size_bytes",
    "tflite_accuracy",
    "tflite_top5_accuracy",
    "float_accuracy",
    "accuracy_drop",
    "latency_ms",
    "peak_memory_bytes",
    "ops",
    "builtin_ops_only",
    "gates",
    "blessed",
    "candidates",
    "source_examples",
    "eval_examples",
}


def _measured(
    mode: str, size_bytes: int, accuracy: float, integer_io: str | None = None, validation_accuracy: float | None = None
) -> dict:
    return {
        "quantization": mode,
        "integer_io": integer_io,
        "size_bytes": size_bytes,
        "tflite_accuracy": accuracy,
        "selection_accuracy": accuracy if validation_accuracy is None else validation_accuracy,
        "tflite_top5_accuracy": None,
        "accuracy_drop": FLOAT_ACCURACY - accuracy,
        "latency_ms": {"median": 3.2, "p90": 4.1, "threads": 2, "runs": 50},
        "peak_memory_bytes": 2_400_000,
        "ops": ["CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"],
        "builtin_ops_only": True,
        "input_dtype": integer_io or "float32",
    }


def _entry(
    mode: str, size_bytes: int, accuracy: float, integer_io: str | None = None, validation_accuracy: float | None = None
) -> dict:
    measured = _measured(mode, size_bytes, accuracy, integer_io, validation_accuracy)
    results = gates.evaluate_gates(measured, LIMITS)
    return report.candidate_entry(measured, results)


def _error_entry(mode: str) -> dict:
    return report.candidate_entry(
        {"quantization": mode, "integer_io": None},
        [],
        f"{mode} conversion failed: op FlexMatrixDeterminant is not supported",
    )


def _build(candidates: list[dict]) -> dict:
    return report.build_report(IDENTITY, FLOAT_ACCURACY, candidates, gates.choose_candidate(candidates))


def test_candidate_entry_has_measurements_gate_results_and_verdict():
    entry = _entry("int8", 300_000, 0.895, "uint8")
    assert set(entry) == {*report.CANDIDATE_KEYS, "gates", "passed", "error"}
    assert entry["quantization"] == "int8" and entry["integer_io"] == "uint8" and entry["input_dtype"] == "uint8"
    assert [gate["name"] for gate in entry["gates"]] == list(gates.GATE_NAMES)
    assert all(set(gate) == {"name", "measured", "limit", "passed"} for gate in entry["gates"])
    assert entry["passed"] is True and entry["error"] is None


def test_candidate_entry_fails_when_one_gate_fails():
    entry = _entry("int8", 300_000, 0.85)
    assert entry["passed"] is False
    (failing,) = [gate for gate in entry["gates"] if not gate["passed"]]
    assert failing["name"] == "max_accuracy_drop" and failing["limit"] == 0.01
    assert failing["measured"] == entry["accuracy_drop"]


def test_conversion_error_entry_fails_without_measurements():
    entry = _error_entry("int8")
    assert entry["passed"] is False and entry["gates"] == []
    assert "FlexMatrixDeterminant" in entry["error"]
    assert entry["size_bytes"] is None and entry["quantization"] == "int8"


def test_blessed_report_shows_the_chosen_candidate():
    candidates = [_entry("float32", 900_000, 0.90), _entry("int8", 300_000, 0.895)]
    built = _build(candidates)
    assert REPORT_KEYS <= set(built)
    assert built["blessed"] is True
    assert built["quantization"] == "int8" and built["size_bytes"] == 300_000
    assert built["gates"] == candidates[1]["gates"]
    assert built["float_accuracy"] == FLOAT_ACCURACY and built["candidates"] == candidates
    assert built["model_name"] == "mobilenet_v1" and built["input_shape"] == [1, 32, 32, 3]
    text = report.summary(built)
    assert "mobilenet_v1: BLESSED" in text and "kept: int8" in text
    assert "failed" not in text


def test_held_back_report_shows_the_first_tried_mode_and_its_failing_gate():
    candidates = [_entry("int8", 300_000, 0.85), _entry("float32", 1_200_000, 0.90)]
    built = _build(candidates)
    assert REPORT_KEYS <= set(built)
    assert built["blessed"] is False
    assert built["quantization"] == "int8" and built["gates"] == candidates[0]["gates"]
    text = report.summary(built)
    assert "HELD BACK" in text and "kept:" not in text
    assert "no quantization mode passed every gate" in text
    drop = FLOAT_ACCURACY - 0.85
    assert f"gate max_accuracy_drop failed: measured {drop}, limit 0.01" in text
    assert "gate max_model_bytes failed: measured 1200000, limit 1000000" in text
    assert "5.00 pts" in text


def test_conversion_error_shows_in_summary_and_the_next_mode_is_reported():
    candidates = [_error_entry("int8"), _entry("float16", 1_500_000, 0.90)]
    built = _build(candidates)
    assert built["blessed"] is False
    assert built["quantization"] == "float16"  # the first mode that produced a model
    text = report.summary(built)
    assert "int8: failed: int8 conversion failed: op FlexMatrixDeterminant is not supported" in text
    assert "gate max_model_bytes failed: measured 1500000, limit 1000000" in text


def test_report_of_only_conversion_errors_is_held_back():
    built = _build([_error_entry("int8"), _error_entry("float32")])
    assert built["blessed"] is False and built["quantization"] == "int8" and built["gates"] == []
    text = report.summary(built)
    assert "int8: failed:" in text and "float32: failed:" in text and "HELD BACK" in text


def test_report_is_json_serializable():
    for candidates in ([_entry("int8", 300_000, 0.895, "int8")], [_error_entry("int8"), _entry("int8", 1, 0.5)]):
        built = _build(candidates)
        assert json.loads(json.dumps(built)) == built


def test_markdown_has_one_row_per_mode_and_names_each_failing_gate():
    candidates = [_entry("int8", 1_300_000, 0.85), _entry("float32", 900_000, 0.90), _error_entry("float16")]
    text = report.markdown(_build(candidates))
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| mode")]
    assert [row.split("|")[1].strip() for row in rows] == ["int8", "float32", "float16"]
    assert "| int8 | 1,300,000 | 0.8500 | - | - | 5.00 | 3.20 | 4.10 | 2,400,000 | yes |" in text
    assert rows[0].endswith("| failed: max_accuracy_drop, max_model_bytes |")
    assert rows[1].endswith("| passed |") and "error: float16 conversion failed" in rows[2]
    assert "- int8: max_model_bytes measured 1300000, limit 1000000" in text
    assert "verdict: blessed, kept `float32`" in text


def test_the_report_names_the_runtime_and_gives_latency_and_the_app_path_by_thread_count():
    """Every figure says which runtime and CPU it is from; each candidate's latency at 1, 2 and 4 threads, with
    int8 / float32 beside them; the app path's accuracy in its own column and in the summary."""

    def with_threads(mode: str, size_bytes: int, accuracy: float, medians: dict[str, float]) -> dict:
        measured = {
            **_measured(mode, size_bytes, accuracy),
            "app_path_accuracy": accuracy - 0.01,
            "latency_by_threads": {
                t: {"median": m, "p90": m + 1.0, "threads": int(t), "runs": 50} for t, m in medians.items()
            },
        }
        return report.candidate_entry(measured, gates.evaluate_gates(measured, LIMITS))

    identity = {
        **IDENTITY,
        "runtime": {
            "name": "ai-edge-litert",
            "version": "2.3.0",
            "delegate": "XNNPACK",
            "cpu": "Some CPU",
            "where": "the build machine's CPU, not a phone",
        },
        "app_path": {"preprocessing": "the app's resize", "examples": 20},
    }
    candidates = [
        with_threads("float32", 900_000, 0.90, {"1": 8.0, "2": 5.0, "4": 6.0}),
        with_threads("int8", 300_000, 0.895, {"1": 2.0, "2": 1.5, "4": 3.0}),
    ]
    built = report.build_report(identity, FLOAT_ACCURACY, candidates, gates.choose_candidate(candidates))
    text = report.markdown(built)
    assert "measured on ai-edge-litert 2.3.0 with XNNPACK, on Some CPU: the build machine's CPU, not a phone" in text
    assert "| threads | float32 median (p90) ms | int8 median (p90) ms | int8 / float32 |" in text
    assert "| 1 | 8.00 (9.00) | 2.00 (3.00) | 0.25 |" in text and "| 4 | 6.00 (7.00) | 3.00 (4.00) | 0.50 |" in text
    assert "| 2 (gated) | 5.00 (6.00) | 1.50 (2.50) | 0.30 |" in text
    assert "| int8 | 300,000 | 0.8950 | 0.8850 |" in text
    assert "app path: the 20 eval images' original files through the app's resize" in text
    summary = report.summary(built)
    assert "accuracy 0.8950, app path 0.8850" in summary and "(1 t 2.00 ms, 2 t 1.50 ms, 4 t 3.00 ms)" in summary
    assert built["latency_by_threads"]["4"]["median"] == 3.0 and built["app_path_accuracy"] == 0.885


def test_plot_writes_a_png_for_blessed_and_held_back_reports(tmp_path):
    from components.tflite import report_plot

    blessed = _build([_entry("float32", 900_000, 0.90), _entry("int8", 300_000, 0.895)])
    held_back = _build([_entry("int8", 1_300_000, 0.85), _error_entry("float16")])
    for name, built in (("blessed.png", blessed), ("held_back.png", held_back)):
        (tmp_path / name).write_bytes(report_plot.report_png(built))
        size, coloured = png_picture(tmp_path / name)
        assert size == (1100, 420) and coloured > 1000, (name, size, coloured)  # a bar and a point per candidate


def test_post_training_int8_failing_only_the_drop_names_the_quantization_aware_setting():
    candidates = [_entry("int8", 300_000, 0.85)]
    hint = "quantization-aware training usually wins that back: set train.quantization_aware_epochs=2"
    assert hint in report.summary(_build(candidates))
    assert hint in report.markdown(_build(candidates))
    assert hint not in report.summary(_build([_entry("int8", 300_000, 0.89)]))  # passed
    assert hint not in report.summary(_build([_entry("int8", 1_300_000, 0.85)]))  # also too large
    quantization_aware = {**_entry("int8", 300_000, 0.85), "quantization_aware": True}
    assert hint not in report.summary(_build([*candidates, quantization_aware]))  # already tried


def test_the_quantization_aware_candidate_is_named_kept_and_shown_beside_post_training():
    post_training = _entry("int8", 300_000, 0.85)
    quantization_aware = report.candidate_entry(
        {**_measured("int8", 301_000, 0.895), "quantization_aware": True},
        gates.evaluate_gates({**_measured("int8", 301_000, 0.895), "latency_ms": {"median": 3.2}}, LIMITS),
    )
    built = _build([post_training, quantization_aware])
    assert built["blessed"] and built["quantization_aware"] is True
    text = report.summary(built)
    assert "  int8: 300,000 bytes" in text and "  int8 (quantization-aware): 301,000 bytes" in text
    assert "kept: int8 (quantization-aware)" in text and "hint:" not in text
    assert "| int8 (quantization-aware) | 301,000 |" in report.markdown(built)


def test_the_validation_split_chooses_between_the_int8_candidates_and_eval_reports_the_choice():
    """Post-training int8 is the more accurate on eval, quantization-aware on validation: validation chooses, and
    the report's accuracy is the chosen one's on eval, not the best eval accuracy of the two."""
    post_training = _entry("int8", 300_000, 0.895, validation_accuracy=0.85)
    quantization_aware = report.candidate_entry(
        {**_measured("int8", 301_000, 0.893, validation_accuracy=0.87), "quantization_aware": True},
        gates.evaluate_gates({**_measured("int8", 301_000, 0.893), "latency_ms": {"median": 3.2}}, LIMITS),
    )
    built = report.build_report(
        {**IDENTITY, "selection_split": "validation", "selection_examples": 20},
        FLOAT_ACCURACY,
        [post_training, quantization_aware],
        gates.choose_candidate([post_training, quantization_aware]),
    )
    assert built["quantization_aware"] is True and built["tflite_accuracy"] == 0.893
    assert built["selection_accuracy"] == 0.87
    text = report.summary(built)
    assert "  candidates chosen on the validation split (20 examples); accuracies and gates on eval" in text
    assert "accuracy 0.8950 (float 0.9000, drop 0.50 pts)" in text and "(validation accuracy 0.8500)" in text
    assert "- candidates chosen on the validation split (20 examples)" in report.markdown(built)


def test_the_quantization_aware_training_record_says_what_the_extra_epochs_did():
    built = _build([_entry("int8", 300_000, 0.85)])
    assert report.quantization_aware_training(built) is None
    built["quantization_aware_training"] = {
        "epochs": 2,
        "fine_tune_seconds": 30.5,
        "save_seconds": 12.0,
        "validation_accuracy": {"float_kept": 0.81, "float_weights_after": 0.83, "quantization_aware": 0.825},
    }
    line = (
        "2 quantization-aware epoch(s): 30.5 s, saving 12.0 s; validation accuracy 0.8100 float, 0.8300 with "
        "the epochs' weights in float, 0.8250 fake-quantized"
    )
    assert line in report.summary(built) and line in report.markdown(built)


def test_the_report_files_are_rendered_once_and_written_alike_to_each_folder(tmp_path):
    from components.contracts import REPORT_FILE, REPORT_MARKDOWN_FILE, REPORT_PICTURE_FILE
    from components.tflite.executor import write_report_files

    built = _build([_entry("float32", 900_000, 0.90), _entry("int8", 300_000, 0.895)])
    folders = [tmp_path / "model", tmp_path / "report"]
    write_report_files(built, [str(folder) for folder in folders])
    for name in (REPORT_FILE, REPORT_MARKDOWN_FILE, REPORT_PICTURE_FILE):
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    assert json.loads((folders[1] / REPORT_FILE).read_text()) == built
    assert "verdict: blessed" in (folders[1] / REPORT_MARKDOWN_FILE).read_text()
