"""Terminal progress: component lines, cached marks, the progress logger, and output capture to the log file."""

import io
import logging
import os

from components import PROGRESS_LOGGER
from pipeline.reporting import progress, run_summary


def _record(message: str, name: str = "absl") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)


def test_reporter_prints_components_epochs_and_timings():
    stream = io.StringIO()
    reporter = progress.ProgressReporter(stream)
    for message in (
        "Component Transform is running.",
        "A cached execution 3 is used.",
        "Component Transform is finished.",
        "Component Trainer_x is running.",
    ):
        reporter.emit(_record(message))
    reporter.emit(_record("x epoch 1/2: loss 1.0", name=PROGRESS_LOGGER))
    reporter.emit(_record("Some other TFX chatter"))
    assert reporter.mark_failed() == "Trainer_x"
    text = stream.getvalue()
    assert "> Transform ..." in text and "(cached)" in text and "    x epoch 1/2" in text
    assert "chatter" not in text
    assert [(t.component, t.cached, t.failed) for t in reporter.timings] == [
        ("Transform", True, False),
        ("Trainer_x", False, True),
    ]
    table = run_summary.timings_table(reporter.timings)
    assert "cached" in table and "failed" in table and "total" in table


def test_capture_output_sends_fds_to_log_and_keeps_terminal(tmp_path, capfd):
    log = tmp_path / "logs" / "run.log"
    with progress.capture_output(str(log)) as terminal:
        os.write(1, b"noise on stdout\n")
        os.write(2, b"noise on stderr\n")
        terminal.write("progress line\n")
    out, err = capfd.readouterr()
    assert "progress line" in out and "noise" not in out + err
    assert "noise on stdout" in log.read_text() and "noise on stderr" in log.read_text()


def test_results_table_says_why_a_model_was_held_back():
    results = [
        run_summary.ModelResult("m_v1", "int8", 0.9, 0.89, 400_000, 1.5, True, True, "/r/m_v1/3"),
        run_summary.ModelResult("m_v2", "int8", 0.9, 0.7, 400_000, 1.5, True, False, None, ["max_accuracy_drop"]),
    ]
    table = run_summary.results_table(results)
    assert "/r/m_v1/3" in table
    assert "held back: max_accuracy_drop" in table
