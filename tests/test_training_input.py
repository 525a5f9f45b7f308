"""Span folders and the training input's fingerprint: TFX's span numbers and rolling window, the layouts a data
root may have, and one fingerprint whether the new-data check or ImageExampleGen computes it."""

import json
import os
import shutil

import pytest
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.input_resolution.strategies.span_range_strategy import SpanRangeStrategy
from tfx.proto import range_config_pb2
from tfx.types import standard_artifacts

from components.ingestion import image_files, training_input
from components.new_data import executor as new_data
from pipeline.config import ConfigError, load_config
from tests.helpers import run_example_gen, write_image_folder


def _resolve(root, selection: str) -> training_input.SpanSelection:
    return training_input.resolve(str(root), selection, os.listdir, os.path.isdir)


def test_span_numbers_are_tfx_own():
    assert training_input.span_of("span-7").number == 7
    assert training_input.span_of("2026-12-01").number == example_gen_utils.date_to_span_number(2026, 12, 1)
    assert training_input.span_of("2026-02-30") is None and training_input.span_of("cat") is None


@pytest.mark.parametrize("numbers, num_spans", [([1, 2, 3, 4], 2), ([1, 3, 7, 8], 3), ([5], 4), ([2, 9, 10], 1)])
def test_the_rolling_window_is_tfx_span_range_strategy(numbers, num_spans):
    """The same spans as TFX's SpanRangeStrategy with a RollingRange picks from Examples artifacts of those spans
    (by number, so a gap shortens the window)."""
    artifacts = []
    for number in numbers:
        artifact = standard_artifacts.Examples()
        artifact.set_int_custom_property("span", number)
        artifacts.append(artifact)
    strategy = SpanRangeStrategy(
        range_config_pb2.RangeConfig(rolling_range=range_config_pb2.RollingRange(num_spans=num_spans))
    )
    expected = sorted(
        artifact.get_int_custom_property("span")
        for artifact in strategy._resolve(  # noqa: SLF001
            {"examples": artifacts}
        )["examples"]
    )
    spans = [training_input.Span(number, f"span-{number}") for number in numbers]
    assert [span.number for span in training_input.rolling_window(spans, num_spans)] == expected


def test_all_latest_and_n_pick_spans_and_a_plain_root_is_one_span(tmp_path):
    for name in ("2026-12-01", "2026-12-02", "2026-12-04", ".hidden"):
        write_image_folder(tmp_path / "dated" / name, {"cat": 1, "dog": 1})
    assert _resolve(tmp_path / "dated", "all").names == ["2026-12-01", "2026-12-02", "2026-12-04"]
    assert _resolve(tmp_path / "dated", "latest").names == ["2026-12-04"]
    assert _resolve(tmp_path / "dated", "3").names == ["2026-12-02", "2026-12-04"]  # the 3 days to Dec 4
    assert _resolve(tmp_path / "dated", "3").patterns == ["2026-12-02/*/*", "2026-12-04/*/*"]
    plain = _resolve(write_image_folder(tmp_path / "plain", {"cat": 1, "dog": 1}), "all")
    assert plain.spans == () and plain.patterns == ["*/*"]


@pytest.mark.parametrize(
    "folders, selection, message",
    [
        (["span-1", "cat"], "all", "has span folders \\(span-1\\) and other folders \\(cat\\)"),
        (["span-1", "2026-12-01"], "all", "mixes dated span folders and span-N folders"),
        (["cat", "dog"], "latest", "asks for span folders, but .* has none"),
        (["span-1"], "yesterday", "expected all, latest or a positive number"),
    ],
)
def test_a_root_that_is_neither_layout_is_refused_naming_its_folders(tmp_path, folders, selection, message):
    for name in folders:
        (tmp_path / name).mkdir()
    with pytest.raises(training_input.SpanError, match=message):
        _resolve(tmp_path, selection)


def test_the_config_checks_data_spans():
    assert load_config(None, ["data.spans=7"]).data.spans == "7"
    with pytest.raises(ConfigError, match="data.spans: '0' is invalid"):
        load_config(None, ["data.spans=0"])
    with pytest.raises(ConfigError, match="data.spans: 'latest' is invalid.*for data.format=images"):
        load_config(None, ["data.format=tfrecord", "data.spans=latest"])


def test_the_fingerprint_is_order_independent_and_sees_names_sizes_and_contents():
    files = [("a/1.png", 3, "x"), ("b/2.png", 4, "y")]
    assert training_input.fingerprint(files) == training_input.fingerprint(files[::-1])
    for changed in (
        [("a/1.png", 3, "z"), files[1]],
        [("a/9.png", 3, "x"), files[1]],
        [("a/1.png", 5, "x"), files[1]],
        files[:1],
    ):
        assert training_input.fingerprint(changed) != training_input.fingerprint(files)


def test_the_check_and_image_example_gen_fingerprint_the_same_files_alike(tmp_path):
    """The check reads the files with tf.io.gfile before the run, ImageExampleGen with Beam during it: the same
    spans, files and fingerprint, hidden files and folders left out by both, a bad file counted by both."""
    data = tmp_path / "data"
    write_image_folder(data / "span-1", {"cat": 4, "dog": 4})
    write_image_folder(data / "span-2", {"cat": 3, "dog": 3}, seed=2)
    write_image_folder(data / "span-3", {"cat": 2, "dog": 2}, seed=3)
    (data / "span-3" / "cat" / "broken.png").write_bytes(b"not an image")
    (data / "span-3" / "dog" / ".DS_Store").write_bytes(b"x")
    shutil.copytree(data / "span-1" / "cat", data / "span-3" / ".thumbnails")
    examples = run_example_gen(data, tmp_path / "examples", max_bad_fraction=0.5, spans="2")
    ingested = json.loads((tmp_path / "examples" / training_input.TRAINING_INPUT_FILE).read_text())
    checked = new_data.current_input(str(data), "images", "2")
    assert ingested == checked.to_json()
    assert checked.spans == ("span-2", "span-3") and checked.files == 11
    assert examples.span == 3 and examples.get_int_custom_property("bad_files") == 1
    assert image_files.is_hidden_path(str(data / "span-3" / ".thumbnails" / "img_000.png"))
