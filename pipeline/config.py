"""One typed configuration: defaults, a YAML file to override them, and `--set key=value` overrides.

Keys are dotted by section (`data.eval_fraction`, `model.v1_alpha`, `train.epochs`, ...). Unknown keys,
values of the wrong type and impossible values are errors that name the key, raised before anything runs.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import Any

import yaml

from components.contracts import ARCHITECTURES, QUANTIZATION_MODES, V1_ALPHAS, V2_ALPHAS
from components.ingestion import training_input
from components.registry.names import NAME_RULE, InvalidName, validate_name
from components.trainer import weight_sources
from components.trainer.hyperparameters import Hyperparameters

INTEGER_IO = ("", "uint8", "int8")
MAX_PIPELINE_NAME_LENGTH = 63  # TFX refuses longer pipeline names
BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner", "PortableRunner")
DIRECT_RUNNING_MODES = ("auto", "in_memory", "multi_threading", "multi_processing")
REPO_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the project's packages: the repository in a checkout or an editable install, site-packages
in a `pip install .` (the schema and the profiles are package data, so both are found from here)."""
DEFAULT_SCHEMA = REPO_ROOT / "schemas" / "schema.pbtxt"
DEMO_PROFILE = REPO_ROOT / "pipeline" / "profiles" / "demo.yaml"
"""The config of the built-in demo dataset behind `make run` and `make bench` (a small input for 28 px images)."""
PHOTO_PROFILE = REPO_ROOT / "pipeline" / "profiles" / "photos.yaml"
"""The training recipe for photos (augmentation, warm-up and cosine decay, label smoothing) at 224 px."""


RENAMED_KEYS = {"model.alpha": "model.v1_alpha (the V1 width; model.v2_alpha is V2's)"}


class ConfigError(ValueError):
    """A configuration key is unknown or its value is invalid; the message names the key."""


@dataclasses.dataclass
class DataConfig:
    """Where the images come from and how they are split."""

    root: str = "data/fashion-mnist"
    format: str = "images"
    spans: str = "all"
    eval_fraction: float = 0.2
    validation_fraction: float = 0.1
    max_bad_fraction: float = 0.05
    schema_path: str = str(DEFAULT_SCHEMA)
    example_jpeg_quality: int = 95


@dataclasses.dataclass
class ModelConfig:
    """Which MobileNets to build and at what size."""

    architectures: list[str] = dataclasses.field(default_factory=lambda: list(ARCHITECTURES))
    v1_alpha: float = 1.0
    v2_alpha: float = 1.4
    input_size: int = 224
    dropout: float = 0.1
    bn_momentum: float = 0.9
    weights: str = "none"


@dataclasses.dataclass
class TrainConfig:
    """Training loop settings."""

    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 0.002
    seed: int = 42
    max_train_steps: int = 0
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    augment: bool = False
    flip: bool = True
    frozen_epochs: int = 0
    fine_tune_rate: float = 0.1
    recalibrate_bn_batches: int = 8
    quantization_aware_epochs: int = 0
    mixed_precision: bool = False


@dataclasses.dataclass
class GatesConfig:
    """What a model must reach before it is pushed."""

    min_accuracy: float = 0.5
    max_accuracy_drop: float = 0.01
    max_model_bytes: int = 8_000_000
    max_latency_ms: float = 100.0
    max_regression: float = 0.0
    baseline_channel: str = "production"


@dataclasses.dataclass
class TFLiteConfig:
    """Conversion to TFLite and its on-device proxy measurements."""

    quantization: list[str] = dataclasses.field(default_factory=lambda: ["int8"])
    representative_examples: int = 200
    integer_io: str = ""
    threads: int = 2
    latency_warmup: int = 5
    latency_runs: int = 50
    max_eval_examples: int = 0


@dataclasses.dataclass
class BeamConfig:
    """How Beam work runs: DirectRunner locally, or a distributed runner.

    `direct_running_mode: auto` runs the DirectRunner in one process (`in_memory`) when the local image folder holds
    at most `in_memory_max_examples` files, where starting `direct_num_workers` worker processes (each importing
    TensorFlow and TFX) costs more than it gains; otherwise, and whenever the size is unknown (Kubeflow, TFRecords),
    `multi_processing`.

    `runner: PortableRunner` sends the Beam steps to a job service and an external SDK worker pool: with
    `local_services: true` the local run starts both as child processes for the run (pipeline/portable_services.py);
    otherwise `extra_args` point at running ones (`--job_endpoint`, `--environment_type=EXTERNAL`,
    `--environment_config`).
    """

    runner: str = "DirectRunner"
    direct_num_workers: int = 2
    direct_running_mode: str = "auto"
    in_memory_max_examples: int = 5000
    local_services: bool = False
    extra_args: list[str] = dataclasses.field(default_factory=list)

    def direct_mode(self, example_count: int | None) -> tuple[str, int]:
        """The DirectRunner's (running mode, workers), with `auto` resolved by the number of examples (None: not
        known, as on Kubeflow)."""
        if self.direct_running_mode != "auto":
            return self.direct_running_mode, self.direct_num_workers
        if example_count is not None and example_count <= self.in_memory_max_examples:
            return "in_memory", 1
        return "multi_processing", self.direct_num_workers


@dataclasses.dataclass
class RegistryConfig:
    """Where blessed models are pushed."""

    root: str = "registry"
    model_prefix: str = "mobilenet"


@dataclasses.dataclass
class PipelineConfig:
    """Pipeline identity and where its runs keep their artifacts and ML Metadata."""

    name: str = "mobilenet-pipeline"
    home: str = "runs"
    enable_cache: bool = True
    skip_unchanged: bool = True


@dataclasses.dataclass
class KubeflowConfig:
    """The pods of the compiled package's steps: CPU (cores) and memory (e.g. `16G`) each step's container asks for
    and is limited to, and the GPUs of the Trainers. `beam_*` size the steps that run Beam (ingestion, statistics,
    Transform, the Evaluators) on the DirectRunner inside their pod; `trainer_*` the Trainers."""

    step_cpu: float = 1.0
    step_memory: str = "4G"
    beam_cpu: float = 2.0
    beam_memory: str = "8G"
    trainer_cpu: float = 8.0
    trainer_memory: str = "16G"
    trainer_gpus: int = 0
    gpu_type: str = "nvidia.com/gpu"


@dataclasses.dataclass
class Config:
    """The whole configuration."""

    pipeline: PipelineConfig = dataclasses.field(default_factory=PipelineConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    gates: GatesConfig = dataclasses.field(default_factory=GatesConfig)
    tflite: TFLiteConfig = dataclasses.field(default_factory=TFLiteConfig)
    beam: BeamConfig = dataclasses.field(default_factory=BeamConfig)
    registry: RegistryConfig = dataclasses.field(default_factory=RegistryConfig)
    kubeflow: KubeflowConfig = dataclasses.field(default_factory=KubeflowConfig)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as nested plain values (for logs, YAML and Kubeflow)."""
        return dataclasses.asdict(self)

    def model_name(self, architecture: str) -> str:
        """Registry name of one architecture's model, e.g. `mobilenet_v1`."""
        return f"{self.registry.model_prefix}_{architecture}"

    def trainer_hparams(self, architecture: str) -> Hyperparameters:
        """One architecture's training settings: the Trainer's custom_config (`to_custom_config()`), and what the
        benchmark's plain script trains with."""
        return Hyperparameters(
            name=self.model_name(architecture), architecture=architecture,
            alpha=self.model.v1_alpha if architecture == "v1" else self.model.v2_alpha,
            input_size=self.model.input_size, dropout=self.model.dropout, bn_momentum=self.model.bn_momentum,
            weights=self.model.weights, **dataclasses.asdict(self.train))


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Return `value` converted to the field's type, or raise ConfigError naming `key`."""
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(key, item, item_type) for item in value]
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return "" if value is None else str(value)
    raise ConfigError(f"{key}: unsupported type {annotation!r}")


def _field_types(section: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(type(section))
    return {field.name: hints[field.name] for field in dataclasses.fields(section)}


def set_value(config: Config, dotted_key: str, value: Any) -> None:
    """Set one `section.key` to `value`, converting it to the key's type."""
    section_name, _, key = dotted_key.partition(".")
    sections = {field.name for field in dataclasses.fields(config)}
    if section_name not in sections or not key:
        raise ConfigError(f"{dotted_key}: unknown key (sections: {', '.join(sorted(sections))})")
    section = getattr(config, section_name)
    types = _field_types(section)
    if dotted_key in RENAMED_KEYS:
        raise ConfigError(f"{dotted_key}: renamed {RENAMED_KEYS[dotted_key]}")
    if key not in types:
        raise ConfigError(f"{dotted_key}: unknown key (known in {section_name}: {', '.join(sorted(types))})")
    setattr(section, key, _coerce(dotted_key, value, types[key]))


def apply_mapping(config: Config, mapping: dict[str, Any], source: str = "config") -> None:
    """Apply a nested {section: {key: value}} mapping, as read from YAML."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(mapping).__name__}")
    for section_name, values in mapping.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{section_name}: expected a mapping of keys in {source}, got {values!r}")
        for key, value in values.items():
            set_value(config, f"{section_name}.{key}", value)


def parse_override(text: str) -> tuple[str, str]:
    """Split a `key=value` command-line override."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. train.epochs=3")
    return key.strip(), value.strip()


def _is_valid_name(name: str, what: str) -> bool:
    try:
        validate_name(name, what)
    except InvalidName:
        return False
    return True


MEMORY_UNITS = {"": 1.0, "G": 1.0, "Gi": 2**30 / 1e9, "M": 1e-3, "Mi": 2**20 / 1e9, "T": 1e3, "Ti": 2**40 / 1e9}
"""Kubernetes memory suffixes, as gigabytes (10^9 bytes): the unit of the PipelineSpec's memory fields."""


def memory_gigabytes(text: str) -> float | None:
    """`16G`, `16Gi`, `512Mi` or a plain number of gigabytes, in gigabytes; None when it is none of those."""
    value = str(text).strip()
    number = value.rstrip("GMTi")
    unit = value[len(number):]
    try:
        amount = float(number)
    except ValueError:
        return None
    return amount * MEMORY_UNITS[unit] if unit in MEMORY_UNITS and amount > 0 else None


def _valid_spans(text: str) -> bool:
    try:
        training_input.parse_selection(text)
    except training_input.SpanError:
        return False
    return True


def _imagenet_pairs_exist(config: Config) -> bool:
    """Whether `model.weights` is well-formed and, when imagenet, every architecture has ImageNet weights at
    `model.input_size`."""
    try:
        weight_sources.registry_source(config.model.weights)
    except weight_sources.WarmStartError:
        return False
    if config.model.weights != weight_sources.IMAGENET:
        return bool(config.model.weights)
    sizes = {"v1": (128, 160, 192, 224), "v2": (96, 128, 160, 192, 224)}
    return all(config.model.input_size in sizes[architecture] for architecture in config.model.architectures)


def _makes_valid_model_names(prefix: str) -> bool:
    """Whether `<prefix>_v1` and `<prefix>_v2` are safe registry model names."""
    try:
        for architecture in ARCHITECTURES:
            validate_name(f"{prefix}_{architecture}", "model name")
    except InvalidName:
        return False
    return True


def validate(config: Config) -> None:
    """Raise ConfigError naming the first key whose value is impossible."""
    checks: list[tuple[str, bool, str]] = [
        ("data.format", config.data.format in ("images", "tfrecord"), "one of images, tfrecord"),
        ("data.spans", _valid_spans(config.data.spans)
         and (config.data.format == "images" or config.data.spans == training_input.ALL_SPANS),
         "all, latest or a positive number of the newest spans (span folders are for data.format=images)"),
        ("data.eval_fraction", 0.0 < config.data.eval_fraction < 1.0, "between 0 and 1 (exclusive)"),
        ("data.validation_fraction", 0.0 <= config.data.validation_fraction
         and config.data.eval_fraction + config.data.validation_fraction <= 0.9,
         "0 (the Trainer then watches eval) or more, with data.eval_fraction at most 0.9 together"),
        ("data.max_bad_fraction", 0.0 <= config.data.max_bad_fraction <= 1.0, "between 0 and 1"),
        ("data.example_jpeg_quality", 0 <= config.data.example_jpeg_quality <= 100,
         "0 (exact uint8 pixels) or a JPEG quality from 1 to 100"),
        ("model.architectures", bool(config.model.architectures)
         and all(a in ARCHITECTURES for a in config.model.architectures)
         and len(set(config.model.architectures)) == len(config.model.architectures),
         f"a non-empty list of distinct values from {', '.join(ARCHITECTURES)}"),
        ("model.v1_alpha", config.model.v1_alpha in V1_ALPHAS, f"one of {', '.join(map(str, V1_ALPHAS))}"),
        ("model.v2_alpha", config.model.v2_alpha in V2_ALPHAS, f"one of {', '.join(map(str, V2_ALPHAS))}"),
        ("model.input_size", 32 <= config.model.input_size <= 512, "an integer from 32 to 512"),
        ("model.dropout", 0.0 <= config.model.dropout < 1.0, "in [0, 1)"),
        ("model.weights", _imagenet_pairs_exist(config),
         "none, a path, production, channel:NAME, version:N, or imagenet with an input size that has ImageNet "
         "weights (V1: 128, 160, 192, 224; V2: 96, 128, 160, 192, 224)"),
        ("model.bn_momentum", 0.0 < config.model.bn_momentum < 1.0, "in (0, 1)"),
        ("train.epochs", config.train.epochs >= 1, "at least 1"),
        ("train.batch_size", config.train.batch_size >= 1, "at least 1"),
        ("train.learning_rate", 0 < config.train.learning_rate < math.inf, "positive and finite"),
        ("train.max_train_steps", config.train.max_train_steps >= 0, "0 (no cap) or positive"),
        ("train.warmup_epochs", 0 <= config.train.warmup_epochs <= config.train.epochs,
         "0 (constant learning rate) to train.epochs"),
        ("train.label_smoothing", 0.0 <= config.train.label_smoothing < 1.0, "in [0, 1)"),
        ("train.frozen_epochs", config.train.frozen_epochs == 0 or (
            config.model.weights not in ("", "none") and 0 < config.train.frozen_epochs < config.train.epochs),
         "0, or with model.weights set, 1 to train.epochs - 1 (a frozen backbone needs warm-started weights)"),
        ("train.fine_tune_rate", 0.0 < config.train.fine_tune_rate <= 1.0, "in (0, 1]"),
        ("train.recalibrate_bn_batches", config.train.recalibrate_bn_batches >= 0,
         "0 (BatchNorm's moving averages) or more"),
        ("train.quantization_aware_epochs", config.train.quantization_aware_epochs == 0 or (
            config.train.quantization_aware_epochs > 0 and "int8" in config.tflite.quantization),
         "0 (post-training int8 only), or more with int8 in tflite.quantization"),
        ("gates.min_accuracy", 0.0 <= config.gates.min_accuracy <= 1.0, "a fraction from 0 to 1"),
        ("gates.max_accuracy_drop", 0.0 <= config.gates.max_accuracy_drop <= 1.0, "a fraction from 0 to 1"),
        ("gates.max_model_bytes", config.gates.max_model_bytes > 0, "positive"),
        ("gates.max_latency_ms", 0 < config.gates.max_latency_ms < math.inf, "positive and finite"),
        ("gates.max_regression", 0.0 <= config.gates.max_regression <= 1.0, "a fraction from 0 to 1"),
        ("gates.baseline_channel", _is_valid_name(config.gates.baseline_channel, "channel"),
         f"a registry channel name of {NAME_RULE}"),
        ("tflite.quantization", bool(config.tflite.quantization)
         and all(m in QUANTIZATION_MODES for m in config.tflite.quantization),
         f"a non-empty list from {', '.join(QUANTIZATION_MODES)}"),
        ("tflite.representative_examples", config.tflite.representative_examples >= 1, "at least 1"),
        ("tflite.integer_io", config.tflite.integer_io in INTEGER_IO, "empty (float I/O), uint8 or int8"),
        ("tflite.threads", config.tflite.threads >= 1, "at least 1"),
        ("tflite.latency_warmup", config.tflite.latency_warmup >= 0, "0 or more"),
        ("tflite.latency_runs", config.tflite.latency_runs >= 1, "at least 1"),
        ("tflite.max_eval_examples", config.tflite.max_eval_examples >= 0, "0 (all) or positive"),
        ("beam.runner", config.beam.runner in BEAM_RUNNERS, f"one of {', '.join(BEAM_RUNNERS)}"),
        ("beam.direct_num_workers", config.beam.direct_num_workers >= 1, "at least 1"),
        ("beam.direct_running_mode", config.beam.direct_running_mode in DIRECT_RUNNING_MODES,
         f"one of {', '.join(DIRECT_RUNNING_MODES)}"),
        ("beam.in_memory_max_examples", config.beam.in_memory_max_examples >= 0, "0 or more"),
        ("beam.local_services", not config.beam.local_services or config.beam.runner == "PortableRunner",
         "false unless beam.runner is PortableRunner"),
        ("beam.extra_args", config.beam.runner != "PortableRunner" or config.beam.local_services
         or any(arg.startswith("--job_endpoint=") for arg in config.beam.extra_args),
         "--job_endpoint=HOST:PORT (with --environment_type and --environment_config) for beam.runner "
         "PortableRunner, or beam.local_services: true to start a job service and worker pool for the run"),
        ("registry.root", bool(config.registry.root), "a path"),
        ("registry.model_prefix", _makes_valid_model_names(config.registry.model_prefix),
         f"a prefix that makes model names <prefix>_v1 / <prefix>_v2 of {NAME_RULE}"),
        ("pipeline.name", 0 < len(config.pipeline.name) <= MAX_PIPELINE_NAME_LENGTH,
         f"1 to {MAX_PIPELINE_NAME_LENGTH} characters"),
        ("pipeline.home", bool(config.pipeline.home), "a path"),
        *((f"kubeflow.{kind}_cpu", getattr(config.kubeflow, f"{kind}_cpu") > 0, "a positive number of CPU cores")
          for kind in ("step", "beam", "trainer")),
        *((f"kubeflow.{kind}_memory", memory_gigabytes(getattr(config.kubeflow, f"{kind}_memory")) is not None,
           "a memory size such as 16G, 16Gi or 512Mi") for kind in ("step", "beam", "trainer")),
        ("kubeflow.trainer_gpus", config.kubeflow.trainer_gpus >= 0, "0 (no GPU) or more"),
        ("kubeflow.gpu_type", bool(config.kubeflow.gpu_type.strip()),
         "a GPU resource (Kubernetes: nvidia.com/gpu) or a Vertex AI accelerator name (e.g. NVIDIA_TESLA_T4)"),
        ("data.root", bool(config.data.root), "a path"),
    ]
    for key, ok, expected in checks:
        if not ok:
            section, _, name = key.partition(".")
            value = getattr(getattr(config, section), name)
            raise ConfigError(f"{key}: {value!r} is invalid; expected {expected}")


def load_config(path: str | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file at `path`, then `key=value` overrides; validated."""
    config = Config()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from error
        try:
            mapping = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from error
        apply_mapping(config, mapping, source=path)
    for override in overrides or []:
        set_value(config, *parse_override(override))
    validate(config)
    return config
