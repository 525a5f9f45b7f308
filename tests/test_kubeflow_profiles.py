"""Beam profiles for Dataflow, Flink and Spark: loaded as configs, they reach every Beam step's arguments."""
import pytest
from apache_beam.options import pipeline_options

from pipeline.config import REPO_ROOT, load_config
from pipeline.pipeline import beam_pipeline_args

PROFILES = REPO_ROOT / "pipeline" / "profiles"


@pytest.mark.parametrize("profile, runner, options_class, option, expected", [
    ("dataflow", "DataflowRunner", pipeline_options.GoogleCloudOptions, "temp_location", "gs://my-bucket/beam/tmp"),
    ("flink", "FlinkRunner", pipeline_options.FlinkRunnerOptions, "flink_master",
     "http://flink-jobmanager.flink.svc.cluster.local:8081"),
    ("spark", "SparkRunner", pipeline_options.SparkRunnerOptions, "spark_master_url",
     "spark://spark-master.spark.svc.cluster.local:7077"),
])
def test_profile_gives_beam_args_of_its_runner(profile, runner, options_class, option, expected):
    config = load_config(str(PROFILES / f"{profile}.yaml"))
    args = beam_pipeline_args(config)
    assert args[0] == f"--runner={runner}"
    assert not any(arg.startswith("--direct_") for arg in args)
    options = pipeline_options.PipelineOptions(args)
    assert options.view_as(pipeline_options.StandardOptions).runner == runner
    assert getattr(options.view_as(options_class), option) == expected
    if profile != "dataflow":
        assert options.view_as(pipeline_options.PortableOptions).environment_type == "EXTERNAL"


def test_local_default_of_unknown_size_stays_direct_runner_multi_processing():
    assert beam_pipeline_args(load_config()) == [
        "--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def test_flink_profile_reaches_every_beam_step_of_the_compiled_pipeline(tmp_path):
    from kubeflow.compile import compile_pipeline

    config = load_config(str(PROFILES / "flink.yaml"), ["model.architectures=v1"])
    job = compile_pipeline(config, str(tmp_path / "pipeline.yaml"))
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    for step in ("ImageExampleGen", "StatisticsGen", "Transform", "Evaluator_mobilenet_v1"):
        args = executors[f"{step}_executor"]["container"]["args"]
        assert "--runner=FlinkRunner" in args, step
        assert "--environment_type=EXTERNAL" in args, step


def test_the_photo_profile_loads_and_reaches_the_trainer():
    config = load_config(str(PROFILES / "photos.yaml"))
    hparams = config.trainer_hparams("v2")
    assert (hparams["input_size"], hparams["augment"], hparams["warmup_epochs"]) == (224, True, 1)
    assert hparams["label_smoothing"] == 0.1


def test_local_default_runs_a_small_folder_in_memory():
    assert beam_pipeline_args(load_config(), example_count=120) == [
        "--runner=DirectRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
