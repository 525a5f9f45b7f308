"""The per-run report: Markdown with the run's tables, a PNG, and JSON that reads back to the same results."""

from pipeline.reporting import run_report
from pipeline.reporting.progress import ComponentTiming
from pipeline.reporting.run_summary import ModelResult
from tests.helpers import png_picture

RESULTS = [
    ModelResult("mobilenet_v1", "int8", 0.81, 0.80, 310_000, 0.4, True, True, "/registry/mobilenet_v1/3"),
    ModelResult("mobilenet_v2", "int8", 0.78, 0.70, 650_000, 0.9, True, False, None, ["max_accuracy_drop"]),
]
TIMINGS = [
    ComponentTiming("ImageExampleGen", 12.5),
    ComponentTiming("Transform", 20.0, cached=True),
    ComponentTiming("Trainer_mobilenet_v1", 61.0),
]


def test_report_is_written_and_reads_back(tmp_path):
    out = run_report.report_dir(tmp_path / "home", "run-20261125-101500")
    markdown_path = run_report.write_run_report(out, RESULTS, TIMINGS, title="run-20261125-101500")
    assert out == tmp_path / "home" / "reports" / "run-20261125-101500"
    markdown = markdown_path.read_text()
    assert markdown.startswith("# run-20261125-101500")
    assert "![accuracy vs size and component timings](report.png)" in markdown
    assert "/registry/mobilenet_v1/3" in markdown and "max_accuracy_drop" in markdown
    assert "Trainer_mobilenet_v1  61.0" in markdown and "total" in markdown
    size, coloured = png_picture(out / "report.png")
    assert size == (1200, 400) and coloured > 10_000, (size, coloured)  # the models' points and the timing bars
    assert run_report.read_run_report(out) == (RESULTS, TIMINGS)


def test_report_of_a_run_without_measured_models(tmp_path):
    run_report.write_run_report(tmp_path, [ModelResult("mobilenet_v1")], TIMINGS[:1])
    size, coloured = png_picture(tmp_path / "report.png")
    assert size == (1200, 400) and coloured > 10_000, (size, coloured)  # the timing bar
    assert "mobilenet_v1" in (tmp_path / "report.md").read_text()


def test_class_changes_are_named_only_when_the_no_regression_gate_compared_a_baseline():
    """A baseline of another input shape is not compared (the TFLite step says so); the run's end then does not
    claim that the gate compared the classes both models know."""
    from pipeline.reporting import run_summary
    from tests.helpers import tflite_report

    changed = {"classes_added": ["cat"], "classes_removed": ["bag"]}
    compared = ModelResult("mobilenet_v1")
    run_summary._fill_from_report(compared, tflite_report(baseline={"version": 1, "accuracy": 0.8, **changed}))
    assert compared.class_changes == "class added: cat; class removed: bag"
    other_shape = ModelResult("mobilenet_v1")
    reason = "version 1 takes input [1, 32, 32, 3], this model [1, 224, 224, 3]"
    run_summary._fill_from_report(other_shape, tflite_report(baseline={"version": 1, "reason": reason, **changed}))
    assert other_shape.class_changes == ""
