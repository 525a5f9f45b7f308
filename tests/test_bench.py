"""The benchmark's pure parts: the script's split and hyperparameters match the pipeline's, targets, Markdown,
plots, and the process-tree memory sampler. The benchmark run itself is not part of the tests."""

import json
import sys

import pytest
import tensorflow as tf

from bench import report, targets
from bench.command import build_parser as command_parser
from pipeline import process_memory
from tests.helpers import png_picture


@pytest.fixture(scope="module")
def baseline():
    from bench import baseline as script

    return script


@pytest.mark.parametrize("eval_fraction, validation_fraction", [(0.2, 0.0), (0.35, 0.0), (0.2, 0.1)])
def test_baseline_split_is_example_gens_split(baseline, eval_fraction, validation_fraction):
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn

    from components.ingestion.executor import output_split_config

    split_config = output_split_config(
        eval_fraction, by_filename=True, validation_fraction=validation_fraction
    ).split_config
    buckets = [sum(s.hash_buckets for s in split_config.splits[: i + 1]) for i in range(len(split_config.splits))]
    names = [f"{label}/img-{i:05d}.png" for label in ("ankle boot", "bag", "t-shirt top") for i in range(150)]
    for name in names:
        example = tf.train.Example()
        example.features.feature["filename"].bytes_list.value.append(name.encode())
        partition = _PartitionFn(example, len(buckets), buckets, split_config)
        assert baseline.split_of(name, eval_fraction, validation_fraction) == split_config.splits[partition].name
    for split, fraction in (("eval", eval_fraction), ("validation", validation_fraction)):
        share = sum(baseline.split_of(n, eval_fraction, validation_fraction) == split for n in names) / len(names)
        assert abs(share - fraction) < 0.1
        if not fraction:
            assert split not in [s.name for s in split_config.splits]


def test_baseline_lists_class_folder_files_only(baseline, image_folder):
    (image_folder / "stray.png").write_bytes(b"x")
    (image_folder / "cat" / ".DS_Store").write_bytes(b"x")
    listed = baseline.list_images(str(image_folder))
    assert len(listed) == 36 and listed[0] == "ankle boot/img_000.png"


def _row(model, mode, size, accuracy, latency_1t, latency_2t, float_accuracy=0.90):
    return {
        "variant": "a",
        "model": model,
        "architecture": model[-2:],
        "alpha": 0.25,
        "input_size": 32,
        "mode": mode,
        "size_bytes": size,
        "float_accuracy": float_accuracy,
        "tflite_accuracy": accuracy,
        "accuracy_drop_points": 100 * (float_accuracy - accuracy),
        "eval_examples": 200,
        "latency_ms": {
            "1": {"median": latency_1t, "p90": latency_1t * 1.2},
            "2": {"median": latency_2t, "p90": latency_2t * 1.2},
        },
        "peak_memory_bytes": 3_000_000,
    }


MODELS = [
    _row("mobilenet_v1", "float32", 1_000_000, 0.90, 1.0, 0.6),
    _row("mobilenet_v1", "int8", 280_000, 0.895, 0.5, 0.3),
    _row("mobilenet_v2", "float32", 2_000_000, 0.88, 2.0, 1.2, float_accuracy=0.88),
    _row("mobilenet_v2", "int8", 640_000, 0.86, 1.0, 0.9, float_accuracy=0.88),
]
APP_LATENCY = [
    {"architecture": a, "alpha": alpha, "input_size": 224, "runtime": runtime, "threads": t, "ratio": ratio}
    for a, alpha, runtime, t, ratio in [
        ("v1", 1.0, "ai-edge-litert", 1, 0.30),
        ("v1", 1.0, "ai-edge-litert", 2, 0.35),
        ("v2", 1.4, "ai-edge-litert", 1, 0.45),
        ("v2", 1.4, "ai-edge-litert", 2, 0.41),
        ("v2", 1.4, "tensorflow", 2, 0.95),
    ]
]
INGESTION = [
    {"images": 5000, "workers": 1, "images_per_second": 100.0, "peak_rss_bytes": 1_000_000_000},
    {"images": 5000, "workers": 2, "images_per_second": 150.0, "peak_rss_bytes": 1_500_000_000},
    {"images": 20000, "workers": 1, "images_per_second": 120.0, "peak_rss_bytes": 1_050_000_000},
    {"images": 20000, "workers": 2, "images_per_second": 200.0, "peak_rss_bytes": 1_800_000_000},
]


def test_targets_take_the_worst_case_and_say_whether_it_is_met():
    fixed_cost = {
        "wall_ratio": 1.6,
        "component_seconds": {
            "ImageExampleGen": 12.0,
            "Evaluator_mobilenet_v1": 31.5,
            "Trainer_mobilenet_v2": 80.0,
            "TFLite_mobilenet_v2": 60.0,
        },
    }
    trainer_epoch = [
        {"architecture": "v1", "alpha": 1.0, "size": 224, "trainer_epoch_ratio": 1.04},
        {"architecture": "v2", "alpha": 1.4, "size": 224, "trainer_epoch_ratio": 1.12},
    ]
    found, details = targets.compute_targets(
        MODELS, {"a": 1.2, "b": 2.1}, INGESTION, fixed_cost, None, APP_LATENCY, trainer_epoch
    )
    assert set(found) == set(targets.TARGETS)
    assert found["int8_size_ratio"] == {"measured": 0.32, "limit": 0.30, "met": False}
    assert details["int8_size_ratio"] == {"a/mobilenet_v1": 0.28, "a/mobilenet_v2": 0.32}
    assert found["int8_accuracy_drop_points"]["measured"] == pytest.approx(2.0)
    assert found["int8_accuracy_drop_points"]["met"] is False
    assert found["int8_latency_ratio"] == {"measured": 0.45, "limit": 0.4, "met": False}  # LiteRT's worst only
    assert details["int8_latency_ratio"] == {
        "v1a1.0-224px@1t": 0.30,
        "v1a1.0-224px@2t": 0.35,
        "v2a1.4-224px@1t": 0.45,
        "v2a1.4-224px@2t": 0.41,
    }
    assert found["trainer_epoch_ratio"] == {"measured": 1.12, "limit": 1.1, "met": False}
    assert details["trainer_epoch_ratio"] == {"v1a1.0-224px": 1.04, "v2a1.4-224px": 1.12}
    assert found["pipeline_wall_ratio"] == {"measured": 2.1, "limit": 1.3, "met": False}
    assert found["fixed_cost_wall_ratio"] == {"measured": 1.6, "limit": 1.5, "met": False}
    assert found["fixed_cost_slowest_other_component_seconds"] == {"measured": 31.5, "limit": 30.0, "met": False}
    assert details["fixed_cost_slowest_other_component_seconds"] == {
        "ImageExampleGen": 12.0,
        "Evaluator_mobilenet_v1": 31.5,
    }
    assert found["ingestion_speedup_2_workers"] == {
        "measured": pytest.approx(1.6667, abs=1e-4),
        "limit": 1.5,
        "met": True,
    }
    assert found["ingestion_peak_memory_growth"]["measured"] == pytest.approx(1.2)
    assert found["ingestion_peak_memory_growth"]["met"] is False


def test_targets_not_measured_are_none():
    found, _ = targets.compute_targets(MODELS[:2], {"a": 1.25}, [])
    assert found["ingestion_speedup_2_workers"] == {"measured": None, "limit": 1.5, "met": None}
    assert found["fixed_cost_wall_ratio"]["met"] is None
    assert found["fixed_cost_slowest_other_component_seconds"]["met"] is None
    assert found["int8_latency_ratio"]["met"] is None and found["trainer_epoch_ratio"]["met"] is None
    assert found["int8_size_ratio"]["met"] is True and found["pipeline_wall_ratio"]["met"] is True


def test_markdown_table_escapes_pipes_and_shows_missing_values():
    table = report.markdown_table(["a", "b"], [["x|y", None], [1, 2.5]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | - |", "| 1 | 2.5 |"]


def _results():
    found, details = targets.compute_targets(MODELS, {"a": 1.7}, INGESTION)
    baseline_run = {
        "wall_seconds": 100.0,
        "peak_rss_bytes": 2e9,
        "import_seconds": 9.5,
        "heavy_modules_imported": ["tfx"],
        "steps": {"load_seconds": 3.0, "train_seconds_v1": 40.0},
        "models": [
            {
                "model": "mobilenet_v1",
                "float_accuracy": 0.9,
                "modes": [
                    {"quantization": "float32", "tflite_accuracy": 0.9},
                    {"quantization": "int8", "tflite_accuracy": 0.89},
                ],
            }
        ],
    }
    pipeline_run = {
        "wall_seconds": 170.0,
        "peak_rss_bytes": 3e9,
        "component_seconds": {"ImageExampleGen": 20.0, "Trainer_mobilenet_v1": 60.0},
    }
    return {
        "created": "2026-11-25T10:00:00",
        "options": {"quick": True},
        "machine": {"cpus": 2, "processor": "test cpu", "tensorflow": "2.16.2"},
        "targets": found,
        "target_details": details,
        "models": MODELS,
        "variants": [{"variant": "a", "pipeline": pipeline_run, "baseline": baseline_run, "wall_ratio": 1.7}],
        "fixed_cost": {
            "images": 40,
            "wall_seconds": 90.0,
            "baseline": {"wall_seconds": 60.0},
            "wall_ratio": 1.5,
            "component_seconds": {"ImageExampleGen": 15.0, "Trainer_mobilenet_v1": 30.0},
        },
        "ingestion": [
            {**row, "example_gen_seconds": 10.0, "transform_seconds": 20.0, "process_seconds": 60.0}
            for row in INGESTION
        ],
        "ingestion_marginal_images_per_second": {"1": 130.0, "2": 220.0},
        "size_sweep": [
            {
                "architecture": "v1",
                "alpha": 0.25,
                "input_size": 32,
                "parameters": 218_000,
                "float32_bytes": 880_000,
                "int8_bytes": 302_000,
                "int8_ratio": 0.3432,
                "quantization_aware_int8_bytes": 303_000,
                "quantization_aware_full_integer": True,
                "quantization_aware_builtin_ops_only": True,
            }
        ],
    }


def test_outputs_are_written(tmp_path):
    results = _results()
    written = report.write_outputs(results, tmp_path / "out")
    assert {p.name for p in written} == {
        "results.json",
        "results.md",
        "accuracy_vs_size.png",
        "accuracy_vs_latency.png",
        "ingestion.png",
    }
    pictures = {path.name: png_picture(path) for path in written if path.suffix == ".png"}
    assert {name: size for name, (size, _) in pictures.items()} == {
        "accuracy_vs_size.png": (700, 500),
        "accuracy_vs_latency.png": (1200, 500),
        "ingestion.png": (1100, 400),
    }
    assert all(coloured > 300 for _, coloured in pictures.values()), pictures  # the plotted points and lines
    assert json.loads((tmp_path / "out" / "results.json").read_text())["targets"]["int8_size_ratio"]["met"] is False
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| int8_size_ratio | 0.32 | <= 0.3 | **no** |" in markdown
    assert "| Trainer_mobilenet_v1 | 60.0 | 30.0 |" in markdown
    assert "on 40 images (90.0 s wall; the plain script on them 60.0 s, ratio 1.50)." in markdown
    assert "Pipeline 90.0 s wall, the plain script 60.0 s, ratio 1.50." in markdown
    assert "| ImageExampleGen | 15.0 |" in markdown
    assert "| mobilenet_v1 a0.25 32px | int8 | 280.0 |" in markdown
    assert "![accuracy vs size](accuracy_vs_size.png)" in markdown
    assert "| v1 a0.25 | 218,000 | 880,000 | 302,000 | 0.343 | 303,000 | yes | yes |" in markdown


@pytest.mark.slow
def test_size_sweep_converts_each_width_in_float32_int8_and_quantization_aware_int8(tmp_path):
    """V2 (the inverted residuals with `Add`) only: V1 goes quantization-aware through the pipeline in
    tests/test_resume_after_kill.py. Slow: wrapping, saving and converting the quantization-aware V2 took 100 s
    here."""
    from bench import sizes

    rows = sizes.size_sweep(32, 3, str(tmp_path), alphas={"v1": [], "v2": [0.35]})
    assert [(r["architecture"], r["alpha"]) for r in rows] == [("v2", 0.35)]
    for row in rows:
        assert 0 < row["int8_bytes"] < row["float32_bytes"]
        assert row["int8_ratio"] == round(row["int8_bytes"] / row["float32_bytes"], 4)
        assert 0 < row["quantization_aware_int8_bytes"] < row["float32_bytes"]
        assert row["quantization_aware_full_integer"] and row["quantization_aware_builtin_ops_only"]


def test_peak_memory_covers_the_child_process_tree(tmp_path):
    grandchild = "import time; block = bytearray(150_000_000); time.sleep(1.5)"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)"
    measured = process_memory.run_measured([sys.executable, "-c", child], tmp_path / "log.txt", interval=0.1)
    assert measured.returncode == 0
    assert measured.peak_rss_bytes > 150_000_000
    assert measured.seconds >= 1.5


def test_the_recipe_benchmark_before_settings_are_valid_and_differ_from_the_photo_recipe():
    from bench import recipe
    from pipeline.config import PHOTO_PROFILE, load_config

    before = load_config(str(PHOTO_PROFILE), recipe.BEFORE)
    after = load_config(str(PHOTO_PROFILE))
    assert (before.data.validation_fraction, before.train.recalibrate_bn_batches, before.train.augment) == (0, 0, False)
    assert (after.data.validation_fraction > 0, after.train.recalibrate_bn_batches > 0, after.train.augment) == (
        True,
        True,
        True,
    )


def test_a_fixed_cost_only_bench_writes_its_markdown_without_models_or_plots(tmp_path):
    results = {**_results(), "models": [], "variants": [], "ingestion": [], "size_sweep": []}
    results["targets"], results["target_details"] = targets.compute_targets([], {}, [], results["fixed_cost"])
    written = report.write_outputs(results, tmp_path / "out")
    assert {p.name for p in written} == {"results.json", "results.md"}
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| fixed_cost_wall_ratio | 1.5 | <= 1.5 | yes |" in markdown
    assert "| pipeline_wall_ratio | - | <= 1.3 | not measured |" in markdown
    assert "| Trainer_mobilenet_v1 | 30.0 |" in markdown
    assert "Not measured (--skip-variants)." in markdown and "accuracy_vs_size.png" not in markdown


def test_the_fixed_cost_is_the_pair_of_the_median_ratio_with_every_pair_beside_it(tmp_path, monkeypatch):
    from bench import command, runs

    ran, pipeline_seconds, script_seconds = [], iter([100.0, 90.0, 130.0]), iter([50.0, 60.0, 50.0])

    def run(name, seconds):
        def measured(data, work, overrides):
            ran.append(name)
            return {"wall_seconds": next(seconds), "work": work.name}

        return measured

    monkeypatch.setattr(runs, "run_pipeline", run("pipeline", pipeline_seconds))
    monkeypatch.setattr(runs, "run_baseline", run("script", script_seconds))
    fixed_cost = command._fixed_cost_pairs("data", 40, tmp_path, [], 3)
    assert ran == ["pipeline", "script", "script", "pipeline", "pipeline", "script"]
    assert [pair["wall_ratio"] for pair in fixed_cost["pairs"]] == [2.0, 1.5, 2.6]
    assert fixed_cost["wall_ratio"] == 2.0 and fixed_cost["work"] == "pair-1"
    results = {
        **_results(),
        "models": [],
        "variants": [],
        "ingestion": [],
        "size_sweep": [],
        "fixed_cost": {**fixed_cost, "images": 40, "component_seconds": {"Transform": 4.0}},
    }
    results["targets"], results["target_details"] = targets.compute_targets([], {}, [], results["fixed_cost"])
    report.write_outputs(results, tmp_path / "out")
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| 2 | script | 90.0 | 60.0 | 1.50 |" in markdown and "ratio 2.00 (the pair of the median ratio)" in markdown


def test_the_fixed_cost_pairs_must_be_an_odd_count():
    assert command_parser().parse_args(["--fixed-cost-pairs", "5"]).fixed_cost_pairs == 5
    for wrong in ("2", "0", "-1"):
        with pytest.raises(SystemExit):
            command_parser().parse_args(["--fixed-cost-pairs", wrong])


def test_the_branch_study_reports_both_wall_times_and_each_latency_beside_the_other_branch(tmp_path):
    alone = {"component_seconds": {}, "latency_median_ms": {"mobilenet_v1": {"int8": 0.4, "dynamic": 12.0}}}
    beside = {"component_seconds": {}, "latency_median_ms": {"mobilenet_v1": {"int8": 0.5, "dynamic": 36.0}}}
    results = _results()
    results["fixed_cost"]["branches"] = {
        "sequential": {"wall_seconds": 200.0, **alone},
        "wall_ratio": 0.8,
        "concurrent": {
            "wall_seconds": 160.0,
            "upstream_seconds": 50.0,
            "branch_seconds": {"v1": 80.0, "v2": 110.0},
            **beside,
        },
    }
    report.write_outputs(results, tmp_path / "out")
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert (
        "One after the other 200.0 s; at once 160.0 s (upstream 50.0 s, then the branches together: v1 80.0 s, "
        "v2 110.0 s); ratio 0.80."
    ) in markdown
    assert "| mobilenet_v1 | dynamic | 12.0 | 36.0 | 3.00 |" in markdown
    assert "| mobilenet_v1 | int8 | 0.4 | 0.5 | 1.25 |" in markdown


def test_the_trainer_epoch_benchmark_times_each_loop_and_profiles_the_trainers_extras(tmp_path):
    """Two epochs of each loop on a tiny folder read back from transformed examples: every loop timed, the ratio
    is the Trainer's epoch over the plain fit's, and the profile times each extra on its own."""
    from bench import trainer_epoch
    from tests.helpers import write_image_folder

    data = write_image_folder(tmp_path / "data", {"a": 12, "b": 12}, size=24)
    (row,) = trainer_epoch.measure(
        str(data), ["v1"], 32, 2, None, ["model.v1_alpha=0.25", "train.batch_size=8", "data.validation_fraction=0.2"]
    )
    assert set(row["epoch_seconds"]) == set(trainer_epoch.LOOPS) and min(row["epoch_seconds"].values()) > 0
    assert row["trainer_epoch_ratio"] == round(row["epoch_seconds"]["trainer"] / row["epoch_seconds"]["plain"], 3)
    assert row["train_images"] + row["validation_images"] <= 24 and row["validation_images"] > 0
    assert set(row["profile_seconds"]) == {"input_pass", "recalibration", "validation"}
    assert set(row["validation_accuracy"]) == set(trainer_epoch.LOOPS[1:])
    assert all(0.0 <= value <= 1.0 for value in row["validation_accuracy"].values())
    assert "trainer / plain" in trainer_epoch.table([row])
    section = "\n".join(report._trainer_epoch_section({"trainer_epoch": [row]}))
    assert "against a plain model.fit" in section and f"{row['trainer_epoch_ratio']:.2f}" in section


def test_the_resize_gap_benchmarks_resizes_are_the_transforms_and_one_at_pixel_centres():
    """On a photo downscaled to 32 px the two grids give different pixels; "the app's" is the Transform's."""
    import numpy as np

    from bench import resize_gap
    from components.ingestion import demo_data
    from components.transform import image_codec

    photo = tf.constant(np.asarray(next(iter(demo_data.load_package_photos().values()))))
    app = resize_gap._resize("the app's")(photo, 32).numpy()
    np.testing.assert_array_equal(app, image_codec.resize_like_the_app(photo, 32, 32).numpy())
    assert (resize_gap._resize("pixel centres")(photo, 32).numpy() != app).mean() > 0.5
