"""`create_pipeline(config)`: the one place the components are wired. Every runner calls it.

The components come from their own modules, not `tfx.v1`: `tfx.v1` imports `tfx.v1.extensions` and with it the
Vertex AI client (`google.cloud.aiplatform`), seconds of every run's start that a local run never uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import wrappers_pb2
from tfx.components.evaluator.component import Evaluator
from tfx.components.example_gen.import_example_gen.component import ImportExampleGen
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.trainer.component import Trainer
from tfx.components.transform.component import Transform
from tfx.dsl.experimental.conditionals.conditional import Cond
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, trainer_pb2, transform_pb2

from components.contracts import TRANSFORMED_EXAMPLES_SIGNATURE
from components.ingestion import image_files
from components.ingestion.component import ImageFolderExampleGen
from components.ingestion.executor import make_custom_config, output_split_config
from components.new_data import spec as new_data_spec
from components.new_data.component import NewDataCheck
from components.registry.component import RegistryPusher
from components.tflite import spec as tflite_spec
from components.tflite.component import TFLiteQuantizeValidate
from components.transform import preprocessing
from pipeline.component_ids import EVALUATOR, EXAMPLE_GEN, NEW_DATA_CHECK, PUSHER, TFLITE, TRAINER, component_id
from pipeline.config import Config

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FNS = {"v1": "components.trainer.mobilenet_v1.run_fn", "v2": "components.trainer.mobilenet_v2.run_fn"}


# The Beam options by which TFX's Beam executors know where the workers' code comes from
# (tfx/utils/dependency_utils.py). Without one, every Beam step copies TFX's install to a new temporary folder and
# builds it into an sdist for remote workers, left behind in the temporary folder.
WORKER_CODE_FLAGS = (
    "--extra_package",
    "--setup_file",
    "--requirements_file",
    "--worker_harness_container_image",
    "--sdk_container_image",
)
LOCAL_WORKERS = "--sdk_container_image=none"
"""Said for runs whose Beam workers run in this environment (the DirectRunner, in this process or its children,
and the local portable path's worker pool): they need no package. Neither starts a container, so the image is
never read."""


PICKLE_FLAG = "--pickle_library"
DIRECT_PICKLER = f"{PICKLE_FLAG}=cloudpickle"
"""Said for DirectRunner runs in one process on one thread (`in_memory` with one worker, the `auto` mode of a small
folder) unless `beam.extra_args` name a pickler or the DirectRunner's mode or workers: cloudpickle pickles and
unpickles a run's many DoFns faster than Beam's default, dill (`python -m bench.calls` times both).

Not said where bundles run on several threads (`in_memory` with more than one worker, `multi_threading`): there
TFMA's Keras-metric combiner was set up on one copy and compacted on another it never set up ('NoneType' object is
not subscriptable in `tf_metric_wrapper._process_batch`), every run with cloudpickle and none with dill
(`tests/test_portable_runner.py`'s in-memory run with two workers). Nor with `multi_processing`, whose worker
processes run bundles on threads too."""
DIRECT_MODE_FLAGS = ("--direct_running_mode", "--direct_num_workers")


def beam_pipeline_args(config: Config, example_count: int | None = None) -> list[str]:
    """Beam options for every Beam-based component, from `beam.*` (and `example_count` for `auto` mode)."""
    args = [f"--runner={config.beam.runner}"]
    if config.beam.runner == "DirectRunner":
        mode, workers = config.beam.direct_mode(example_count)
        args += [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
        one_thread = (mode, workers) == ("in_memory", 1) and not any(
            arg.startswith(DIRECT_MODE_FLAGS) for arg in config.beam.extra_args
        )
        if one_thread and not any(arg.startswith(PICKLE_FLAG) for arg in config.beam.extra_args):
            args.append(DIRECT_PICKLER)
    args += config.beam.extra_args
    local = config.beam.runner == "DirectRunner" or config.beam.local_services
    if local and not any(arg.startswith(WORKER_CODE_FLAGS) for arg in args):
        args.append(LOCAL_WORKERS)
    return args


def _example_gen(config: Config, data_root: Any) -> Any:
    """ImageFolder ingestion (class sub-folders of JPEG/PNG), or import of existing tf.Example TFRecords."""
    if config.data.format == "tfrecord":
        return ImportExampleGen(
            input_base=data_root,
            output_config=output_split_config(
                config.data.eval_fraction, by_filename=False, validation_fraction=config.data.validation_fraction
            ),
        )
    return ImageFolderExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="images", pattern="*/*")]),
        output_config=output_split_config(
            config.data.eval_fraction, by_filename=True, validation_fraction=config.data.validation_fraction
        ),
        custom_config=make_custom_config(config.data.max_bad_fraction, config.data.max_image_pixels, config.data.spans),
    ).with_id(EXAMPLE_GEN)


def eval_config(config: Config) -> tfma.EvalConfig:
    """TFMA config: accuracy and top-5 overall and per class, and an absolute accuracy floor on the overall slice.

    No baseline: the no-regression gate compares with the model the app ships (the registry's current version) in
    the TFLite step, on the TFLite interpreter. The same pipeline then compiles for Kubeflow without resolver nodes,
    which open-source Kubeflow Pipelines cannot run.

    The model is read as a plain SavedModel (`tf_generic`) through its transformed-examples signature, and the
    metrics Keras compiled into it are left out: with TFMA's defaults, telling the model type and computing those
    metrics rebuilt the Keras model eight times per Evaluator, most of its time; the metrics above are identical
    either way.
    """
    accuracy_floor = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": config.gates.min_accuracy})
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=TRANSFORMED_EXAMPLES_SIGNATURE,
                label_key=preprocessing.LABEL_XF,
                preprocessing_function_names=[],
                model_type=tfma.TF_GENERIC,
            )
        ],
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)),
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[preprocessing.LABEL_XF])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(
                        class_name="SparseCategoricalAccuracy",
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_floor)
                        ],
                    ),
                    tfma.MetricConfig(
                        class_name="SparseTopKCategoricalAccuracy",
                        config=json.dumps({"k": 5, "name": "top_5_accuracy"}),
                    ),
                ]
            )
        ],
    )


def _watched_split(config: Config) -> str:
    """The split the Trainer picks its epoch on: validation, or eval when `data.validation_fraction` is 0."""
    return image_files.VALIDATION_SPLIT if config.data.validation_fraction > 0 else image_files.EVAL_SPLIT


def schema_sha256(path: str) -> str:
    """SHA-256 of the schema file at `path`."""
    with tf.io.gfile.GFile(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def settings_fingerprint(config: Config, architecture: str, schema_digest: str | None = None) -> str:
    """SHA-256 of every setting that shapes one architecture's model and its verdict: its training settings, the
    data split and checks, the schema's content (an anomaly it finds holds the model back), the TFLite conversion
    and the gates (not where the data, the registry or the runs live). A model whose data and settings
    fingerprints equal the last judged one's is not trained again. `schema_digest` is the schema's `schema_sha256`
    (read from `data.schema_path` when None)."""
    data = {key: value for key, value in dataclasses.asdict(config.data).items() if key != "root"}
    data["schema_sha256"] = schema_digest or schema_sha256(config.data.schema_path)
    shaping = {
        "hparams": config.trainer_hparams(architecture).to_custom_config(),
        "data": data,
        "tflite": dataclasses.asdict(config.tflite),
        "gates": dataclasses.asdict(config.gates),
    }
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode("utf-8")).hexdigest()


def _new_data_check(config: Config, data_root: Any, registry_root: Any, settings: dict[str, str]) -> NewDataCheck:
    """The check, given each architecture's `settings_fingerprint`."""
    models = {
        config.model_name(architecture): {"settings": settings[architecture], "weights": config.model.weights}
        for architecture in config.model.architectures
    }
    return NewDataCheck(
        data_root=data_root,
        registry_root=registry_root,
        models=models,
        spans=config.data.spans,
        data_format=config.data.format,
        baseline_channel=config.gates.baseline_channel,
        skip_unchanged=config.pipeline.skip_unchanged,
    ).with_id(NEW_DATA_CHECK)


def _trains(check: NewDataCheck, model_name: str | None = None) -> Any:
    """The condition that `check` decided to train `model_name` (any model when None)."""
    key = new_data_spec.train_property(model_name) if model_name else new_data_spec.TRAIN_PROPERTY
    return check.outputs[new_data_spec.DECISION_KEY].future()[0].custom_property(key) == 1


def _model_branch(
    config: Config,
    architecture: str,
    example_gen: Any,
    transform: Any,
    schema: Any,
    validator: ExampleValidator,
    check: NewDataCheck,
    registry_root: Any,
    settings: str,
) -> list[Any]:
    """Trainer (warm-started from the check's base model when `model.weights` names a registry version) ->
    Evaluator -> TFLite quantize-and-validate (with the registry's current model as baseline) -> registry Pusher
    for one model, which also reads the validator's anomalies."""
    name = config.model_name(architecture)
    trainer = Trainer(
        run_fn=RUN_FNS[architecture],
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema.outputs["schema"],
        base_model=check.outputs[new_data_spec.BASE_MODELS_KEY],
        custom_config=config.trainer_hparams(architecture).to_custom_config(),
        train_args=trainer_pb2.TrainArgs(splits=[image_files.TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[_watched_split(config)]),
    ).with_id(component_id(TRAINER, name))
    evaluator = Evaluator(
        examples=transform.outputs["transformed_examples"],
        model=trainer.outputs["model"],
        example_splits=[image_files.EVAL_SPLIT],
        eval_config=eval_config(config),
    ).with_id(component_id(EVALUATOR, name))
    tflite = TFLiteQuantizeValidate(
        model=trainer.outputs["model"],
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        model_name=name,
        architecture=f"mobilenet_{architecture}",
        quantization=config.tflite.quantization,
        representative_examples=config.tflite.representative_examples,
        integer_io=config.tflite.integer_io,
        threads=config.tflite.threads,
        latency_warmup=config.tflite.latency_warmup,
        latency_runs=config.tflite.latency_runs,
        max_eval_examples=config.tflite.max_eval_examples,
        gates={
            "min_accuracy": config.gates.min_accuracy,
            "max_accuracy_drop": config.gates.max_accuracy_drop,
            "max_model_bytes": config.gates.max_model_bytes,
            "max_latency_ms": config.gates.max_latency_ms,
            "max_regression": config.gates.max_regression,
        },
        registry_root=registry_root,
        baseline_channel=config.gates.baseline_channel,
        ingested_examples=example_gen.outputs["examples"],
        settings=settings,
    ).with_id(component_id(TFLITE, name))
    pusher = RegistryPusher(
        model=tflite.outputs[tflite_spec.TFLITE_MODEL_KEY],
        model_blessing=evaluator.outputs["blessing"],
        tflite_blessing=tflite.outputs[tflite_spec.BLESSING_KEY],
        anomalies=validator.outputs["anomalies"],
        registry_root=registry_root,
        model_name=name,
        block_on_anomalies=config.gates.block_on_anomalies,
    ).with_id(component_id(PUSHER, name))
    return [trainer, evaluator, tflite, pusher]


def create_pipeline(
    config: Config,
    pipeline_root: str,
    metadata_connection_config: Any = None,
    data_root: Any = None,
    registry_root: Any = None,
    example_count: int | None = None,
    schema_source: str | None = None,
) -> Pipeline:
    """Wire the new-data check, then ingestion, validation and Transform where any model trains, and one
    Trainer/Evaluator/TFLite/Pusher branch per architecture where that model trains.

    `data_root` and `registry_root` default to `data.root` and `registry.root`; Kubeflow passes runtime parameters.
    `example_count`, when known, picks the DirectRunner's mode in `auto` (`direct_running_mode`). `schema_source`
    is where this machine reads the schema the settings fingerprint hashes, when `data.schema_path` is where the
    steps read it and this machine cannot (a path inside the container image).
    """
    data_root, registry_root = data_root or config.data.root, registry_root or config.registry.root
    schema_digest = schema_sha256(schema_source or config.data.schema_path)
    settings = {
        architecture: settings_fingerprint(config, architecture, schema_digest)
        for architecture in config.model.architectures
    }
    check = _new_data_check(config, data_root, registry_root, settings)
    components: list[Any] = [check]
    with Cond(_trains(check)):
        example_gen = _example_gen(config, data_root)
        splits = list(image_files.split_buckets(config.data.eval_fraction, config.data.validation_fraction))
        statistics = StatisticsGen(examples=example_gen.outputs["examples"])
        schema = ImportSchemaGen(schema_file=config.data.schema_path)
        validator = ExampleValidator(statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"])
        transform = Transform(
            examples=example_gen.outputs["examples"],
            schema=schema.outputs["schema"],
            preprocessing_fn=PREPROCESSING_FN,
            custom_config={"input_size": config.model.input_size, "jpeg_quality": config.data.example_jpeg_quality},
            splits_config=transform_pb2.SplitsConfig(analyze=splits, transform=splits),
            # Nothing reads Transform's own pre/post-transform statistics (StatisticsGen has the raw data's) or
            # its analyzer cache (each run analyzes its spans whole).
            disable_statistics=True,
            disable_analyzer_cache=True,
        )
        components += [example_gen, statistics, schema, validator, transform]
        for architecture in config.model.architectures:
            with Cond(_trains(check, config.model_name(architecture))):
                components += _model_branch(
                    config,
                    architecture,
                    example_gen,
                    transform,
                    schema,
                    validator,
                    check,
                    registry_root,
                    settings[architecture],
                )
    return Pipeline(
        pipeline_name=config.pipeline.name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=config.pipeline.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args(config, example_count),
    )
