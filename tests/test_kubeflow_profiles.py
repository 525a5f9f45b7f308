"""Beam profiles for Dataflow, Flink, Spark and the portable path: loaded as configs, they reach every Beam step's
arguments; the portable runner's settings are checked."""

import pytest
from apache_beam.options import pipeline_options

from pipeline.config import REPO_ROOT, ConfigError, load_config
from pipeline.pipeline import DIRECT_PICKLER, LOCAL_WORKERS, beam_pipeline_args

PROFILES = REPO_ROOT / "pipeline" / "profiles"


@pytest.mark.parametrize(
    "profile, runner, options_class, option, expected",
    [
        ("dataflow", "DataflowRunner", pipeline_options.GoogleCloudOptions, "temp_location", "gs://my-bucket/beam/tmp"),
        (
            "flink",
            "FlinkRunner",
            pipeline_options.FlinkRunnerOptions,
            "flink_master",
            "http://flink-jobmanager.flink.svc.cluster.local:8081",
        ),
        (
            "spark",
            "SparkRunner",
            pipeline_options.SparkRunnerOptions,
            "spark_master_url",
            "spark://spark-master.spark.svc.cluster.local:7077",
        ),
    ],
)
def test_profile_gives_beam_args_of_its_runner(profile, runner, options_class, option, expected):
    config = load_config(str(PROFILES / f"{profile}.yaml"))
    args = beam_pipeline_args(config)
    assert args[0] == f"--runner={runner}"
    assert not any(arg.startswith("--direct_") for arg in args) and LOCAL_WORKERS not in args
    assert DIRECT_PICKLER not in args
    options = pipeline_options.PipelineOptions(args)
    assert options.view_as(pipeline_options.StandardOptions).runner == runner
    assert getattr(options.view_as(options_class), option) == expected
    if profile != "dataflow":
        assert options.view_as(pipeline_options.PortableOptions).environment_type == "EXTERNAL"
        assert options.view_as(pipeline_options.PortableOptions).job_server_timeout == 600


def test_local_default_of_unknown_size_stays_direct_runner_multi_processing():
    assert beam_pipeline_args(load_config()) == [
        "--runner=DirectRunner",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=2",
        LOCAL_WORKERS,
    ]


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
    assert (hparams.input_size, hparams.augment, hparams.warmup_epochs) == (224, True, 1)
    assert hparams.label_smoothing == 0.1


def test_local_runs_tell_tfx_their_workers_need_no_package():
    """TFX's own check (`make_beam_dependency_flags`) finds the local runs' workers provided for, so it builds no
    sdist of TFX per Beam step; a package the user names is kept instead."""
    from tfx.utils.dependency_utils import make_beam_dependency_flags

    for config in (load_config(), load_config(str(PROFILES / "portable.yaml"))):
        args = beam_pipeline_args(config, example_count=120)
        assert LOCAL_WORKERS in args and make_beam_dependency_flags(args) == args
    named = beam_pipeline_args(load_config(None, ["beam.extra_args=--extra_package=/pkgs/extra.tar.gz"]))
    assert LOCAL_WORKERS not in named and named[-1] == "--extra_package=/pkgs/extra.tar.gz"


def test_local_default_runs_a_small_folder_in_memory():
    assert beam_pipeline_args(load_config(), example_count=120) == [
        "--runner=DirectRunner",
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
        DIRECT_PICKLER,
        LOCAL_WORKERS,
    ]


def test_the_portable_profile_starts_local_services_and_needs_no_endpoint():
    config = load_config(str(PROFILES / "portable.yaml"))
    assert config.beam.runner == "PortableRunner" and config.beam.local_services
    assert beam_pipeline_args(config) == ["--runner=PortableRunner", LOCAL_WORKERS]


def test_the_portable_runner_without_local_services_needs_a_job_endpoint():
    with pytest.raises(ConfigError, match="beam.extra_args: .* --job_endpoint=HOST:PORT"):
        load_config(str(PROFILES / "portable.yaml"), ["beam.local_services=false"])
    config = load_config(
        str(PROFILES / "portable.yaml"),
        [
            "beam.local_services=false",
            "beam.extra_args=--job_endpoint=localhost:8099,--environment_type=EXTERNAL,--environment_config=localhost:5",
        ],
    )
    assert beam_pipeline_args(config)[1] == "--job_endpoint=localhost:8099"


def test_local_services_go_with_the_portable_runner_only():
    with pytest.raises(ConfigError, match="beam.local_services: True is invalid; expected false unless beam.runner"):
        load_config(None, ["beam.local_services=true"])


def test_an_unknown_runner_is_refused_with_the_list():
    with pytest.raises(
        ConfigError,
        match="beam.runner: 'DaskRunner' is invalid; expected one of DirectRunner, "
        "DataflowRunner, FlinkRunner, SparkRunner, PortableRunner",
    ):
        load_config(None, ["beam.runner=DaskRunner"])


def test_kubeflow_refuses_services_started_on_this_machine(tmp_path):
    from kubeflow.compile import compile_pipeline

    with pytest.raises(ValueError, match="beam.local_services starts a job service and worker pool on this machine"):
        compile_pipeline(load_config(str(PROFILES / "portable.yaml")), str(tmp_path / "pipeline.yaml"))
