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
from components.ingestion import image_files, training_input
from components.registry.names import NAME_RULE, InvalidName, validate_name
from components.trainer import weight_sources
from components.trainer.hyperparameters import Hyperparameters

INTEGER_IO = ("", "uint8")
"""`tflite.integer_io`: float, or the one integer input MediaPipe Tasks and the TFLite Task Library take."""
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


def setting(default: Any, meaning: str, allowed: str = "") -> Any:
    """A config field with its default, its meaning and (when it is not plain from the type) its allowed values:
    the one place each setting is documented; `docs/configuration.md` and `show-config --keys` are generated
    from it (`pipeline.config_reference`)."""
    metadata = {"meaning": meaning, "allowed": allowed}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class PipelineConfig:
    """Pipeline identity and where its runs keep their artifacts and ML Metadata."""

    name: str = setting(
        "mobilenet-pipeline",
        "pipeline name in ML Metadata and on Kubeflow",
        f"1 to {MAX_PIPELINE_NAME_LENGTH} characters (Kubeflow: lowercase letters, digits and -)",
    )
    home: str = setting(
        "runs", "run home of local runs: `pipeline_root/`, `metadata.sqlite` (ML Metadata), `logs/`, `reports/`"
    )
    enable_cache: bool = setting(
        True, "reuse the outputs of steps whose inputs and settings did not change (TFX's step cache)"
    )
    skip_unchanged: bool = setting(
        True,
        "end a run after the new-data check for each model whose data and "
        "settings equal those of the last model judged (docs/continuous-training.md)",
    )


@dataclasses.dataclass
class DataConfig:
    """Where the images come from and how they are split."""

    root: str = setting(
        "data/fashion-mnist",
        "the images: `ROOT/<label>/<file>`, or span folders of those "
        "(`ROOT/<YYYY-MM-DD or span-N>/<label>/<file>`); a path or a URL",
    )
    format: str = setting(
        "images",
        "`images` (JPEG/PNG in class folders), or `tfrecord` for GZIP TFRecords of tf.Examples with the same features",
        "images, tfrecord",
    )
    spans: str = setting(
        "all",
        "which span folders a run trains on: all, the newest, or TFX's rolling window of the newest N spans",
        "all, latest, or a positive number N",
    )
    eval_fraction: float = setting(
        0.2,
        "share of images in the eval split, by a hash of the file name (a file "
        "keeps its split); only the Evaluator and the TFLite step read it",
        "between 0 and 1",
    )
    validation_fraction: float = setting(
        0.1,
        "share in the validation split, on which the Trainer picks its epoch (0: the Trainer watches eval)",
        "0 or more, at most 0.9 with data.eval_fraction",
    )
    max_bad_fraction: float = setting(
        0.05,
        "share of unusable files (not images, unreadable, bad names) above "
        "which ingestion fails; below it they are listed and skipped",
        "between 0 and 1",
    )
    max_image_pixels: int = setting(
        60_000_000,
        "larger images are unusable files, refused from their header: above "
        "the 48 to 50 MP of phone cameras' full-resolution modes, below PIL's "
        "decompression-bomb limit, where PIL only warns and decodes it all; "
        "decoding and resizing one costs a Beam worker about 15 bytes a pixel",
        "1 to 89,478,485",
    )
    schema_path: str = setting(str(DEFAULT_SCHEMA), "the curated schema of the raw examples (schemas/schema.pbtxt)")
    example_jpeg_quality: int = setting(
        95,
        "how the Transform stores each resized image: a JPEG at this quality "
        "(smaller, slightly lossy), or 0 for the exact uint8 pixels",
        "0, or 1 to 100",
    )


@dataclasses.dataclass
class ModelConfig:
    """Which MobileNets to build and at what size."""

    architectures: list[str] = setting(
        list(ARCHITECTURES),
        "which MobileNets to train (one branch each)",
        f"a comma-separated list of {', '.join(ARCHITECTURES)}",
    )
    v1_alpha: float = setting(1.0, "MobileNet V1's width multiplier", ", ".join(map(str, V1_ALPHAS)))
    v2_alpha: float = setting(1.4, "MobileNet V2's width multiplier", ", ".join(map(str, V2_ALPHAS)))
    input_size: int = setting(224, "square input size in pixels (224 is the MobileNet standard)", "32 to 512")
    dropout: float = setting(0.1, "dropout before the classifier", "0 to below 1")
    bn_momentum: float = setting(0.9, "BatchNorm moving-average momentum", "between 0 and 1")
    weights: str = setting(
        "none",
        "where the weights start: random, Keras' ImageNet weights (from the Keras "
        "cache), a .h5 file, or a registry version of the same model",
        "none, imagenet, a path, production, channel:NAME, version:N",
    )


@dataclasses.dataclass
class TrainConfig:
    """The training recipe. The defaults are the recipe measured for photos at 224 px (augmentation, warm-up and
    cosine decay, label smoothing); `pipeline/profiles/demo.yaml` has the demo dataset's."""

    epochs: int = setting(15, "training epochs; the epoch with the best validation accuracy is kept", "1 or more")
    batch_size: int = setting(32, "images per training step", "1 or more")
    learning_rate: float = setting(0.001, "Adam's learning rate (the peak, with warm-up)", "positive")
    seed: int = setting(42, "seed of the initial weights, the shuffling and the augmentation")
    max_train_steps: int = setting(0, "cap on training batches per epoch (0: no cap)", "0 or more")
    warmup_epochs: int = setting(
        1, "epochs of linear learning-rate warm-up, then cosine decay to 0 (0: a constant rate)", "0 to train.epochs"
    )
    label_smoothing: float = setting(0.1, "label smoothing of the cross-entropy", "0 to below 1")
    augment: bool = setting(
        True,
        "training-only augmentation: random resized crop, flip, brightness and contrast (never in the served model)",
    )
    flip: bool = setting(True, "with train.augment: random horizontal flips (off when left and right carry the class)")
    frozen_epochs: int = setting(
        0,
        "with model.weights: the first N epochs train only the new head, the loaded "
        "backbone frozen; the rest fine-tune every layer",
        "0, or 1 to train.epochs - 1 with model.weights set",
    )
    fine_tune_rate: float = setting(
        0.1,
        "the learning rate after the frozen epochs and of the quantization-aware "
        "epochs, as a fraction of train.learning_rate",
        "above 0, at most 1",
    )
    recalibrate_bn_batches: int = setting(
        8,
        "after every epoch, before it is scored, set BatchNorm's statistics to "
        "the average of this many training batches': the epoch's last steps "
        "(no extra cost), or with train.augment extra passes over unaugmented "
        "batches (0: Keras' moving averages; docs/training.md)",
        "0 or more",
    )
    quantization_aware_epochs: int = setting(
        0,
        "fine-tune a copy of the kept model this many epochs with fake "
        "quantization; its int8 is tried beside post-training int8",
        "0, or more with int8 in tflite.quantization",
    )
    mixed_precision: bool = setting(
        False,
        "compute in float16 while fitting (for GPUs with float16 units); "
        "variables, the export and every .tflite stay float32",
    )


@dataclasses.dataclass
class GatesConfig:
    """What a model must reach before it is pushed."""

    min_accuracy: float = setting(0.5, "accuracy floor of the Evaluator and of the .tflite", "0 to 1")
    max_accuracy_drop: float = setting(0.01, "largest accuracy drop of the .tflite against the float model", "0 to 1")
    max_model_bytes: int = setting(8_000_000, "largest .tflite, in bytes", "positive")
    max_latency_ms: float = setting(
        100.0,
        "largest median latency of one invoke on this machine's CPU at tflite.threads threads (not a phone's)",
        "positive",
    )
    max_regression: float = setting(
        0.0,
        "how far the .tflite's accuracy may fall below the version the app "
        "ships, on the same eval images, classes matched by name",
        "0 to 1",
    )
    baseline_channel: str = setting(
        "production",
        "the registry channel whose version is the no-regression "
        "baseline and what model.weights=production starts from (the "
        "latest version when the channel is not set)",
        f"a channel name of {NAME_RULE}",
    )
    block_on_anomalies: bool = setting(
        True,
        "ExampleValidator's anomalies (the data against data.schema_path) hold "
        "the push back, each named; false pushes anyway and logs them",
    )


@dataclasses.dataclass
class TFLiteConfig:
    """Conversion to TFLite and its measurements on this machine's CPU (a proxy for a phone's)."""

    quantization: list[str] = setting(
        ["int8"],
        "modes to convert to; the smallest that passes every gate is kept",
        f"a comma-separated list of {', '.join(QUANTIZATION_MODES)}",
    )
    representative_examples: int = setting(
        200, "training examples that calibrate int8, as even across the classes as the data allows", "1 or more"
    )
    integer_io: str = setting(
        "",
        "empty for float input and output, or uint8 input and output for integer-only "
        "accelerators (input scale 1/127.5, zero point 127 or 128, so the app feeds raw "
        "pixels; int8 is refused: MediaPipe Tasks and the Task Library do not take it)",
        "empty or uint8",
    )
    threads: int = setting(2, "interpreter threads of the latency measurement (and of the latency gate)", "1 or more")
    latency_warmup: int = setting(5, "invokes before the latency measurement", "0 or more")
    latency_runs: int = setting(50, "invokes of the latency measurement", "1 or more")
    max_eval_examples: int = setting(0, "cap on the eval examples the .tflite is scored on (0: all)", "0 or more")


@dataclasses.dataclass
class BeamConfig:
    """How Beam work (ingestion, statistics, Transform, the Evaluators) runs: DirectRunner locally, or a
    distributed runner (docs/beyond-one-machine.md)."""

    runner: str = setting("DirectRunner", "the Beam runner", ", ".join(BEAM_RUNNERS))
    direct_num_workers: int = setting(2, "DirectRunner worker processes or threads", "1 or more")
    direct_running_mode: str = setting(
        "auto",
        "`auto`: one process (in_memory) for a local folder of at most "
        "beam.in_memory_max_examples files, else multi_processing",
        ", ".join(DIRECT_RUNNING_MODES),
    )
    in_memory_max_examples: int = setting(
        5000, "the largest local image folder `auto` runs in one process", "0 or more"
    )
    local_services: bool = setting(
        False,
        "with PortableRunner: start Beam's job service and an SDK worker pool on "
        "this machine for the run (pipeline/profiles/portable.yaml)",
    )
    extra_args: list[str] = setting([], "more Beam pipeline options, comma-separated (e.g. --job_endpoint=...)")

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

    root: str = setting("registry", "the model registry: a local folder, gs://... or s3://... (docs/registry.md)")
    model_prefix: str = setting(
        "mobilenet", "registry model names are <prefix>_<architecture>", f"a prefix that keeps the names {NAME_RULE}"
    )


@dataclasses.dataclass
class KubeflowConfig:
    """The pods of the compiled package's steps: the CPU (cores) and memory each container asks for and is limited
    to, and the Trainers' GPUs (kubeflow/README.md)."""

    step_cpu: float = setting(
        1.0, "CPU cores of a plain step (the check, schema import, validation, Pushers)", "positive"
    )
    step_memory: str = setting("4G", "memory of a plain step", "a size such as 16G, 16Gi or 512Mi")
    beam_cpu: float = setting(
        2.0,
        "CPU cores of a step that runs Beam on the DirectRunner in its pod (ingestion, "
        "statistics, Transform, Evaluators) and of the TFLite steps",
        "positive",
    )
    beam_memory: str = setting(
        "8G", "memory of the Beam steps and of the TFLite steps", "a size such as 16G, 16Gi or 512Mi"
    )
    trainer_cpu: float = setting(8.0, "CPU cores of a Trainer", "positive")
    trainer_memory: str = setting(
        "16G",
        "memory of a Trainer (grows with train.batch_size and model.input_size)",
        "a size such as 16G, 16Gi or 512Mi",
    )
    trainer_gpus: int = setting(
        0, "GPUs of each Trainer (needs the GPU image: make image ACCELERATOR=gpu)", "0 or more"
    )
    gpu_type: str = setting(
        "nvidia.com/gpu",
        "the GPU resource: on Kubeflow Pipelines the Kubernetes resource "
        "name, on Vertex AI the accelerator name (e.g. NVIDIA_TESLA_T4)",
    )


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
            name=self.model_name(architecture),
            architecture=architecture,
            alpha=self.model.v1_alpha if architecture == "v1" else self.model.v2_alpha,
            input_size=self.model.input_size,
            dropout=self.model.dropout,
            bn_momentum=self.model.bn_momentum,
            weights=self.model.weights,
            **dataclasses.asdict(self.train),
        )


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
    unit = value[len(number) :]
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
        (
            "data.spans",
            _valid_spans(config.data.spans)
            and (config.data.format == "images" or config.data.spans == training_input.ALL_SPANS),
            "all, latest or a positive number of the newest spans (span folders are for data.format=images)",
        ),
        ("data.eval_fraction", 0.0 < config.data.eval_fraction < 1.0, "between 0 and 1 (exclusive)"),
        (
            "data.validation_fraction",
            0.0 <= config.data.validation_fraction
            and config.data.eval_fraction + config.data.validation_fraction <= 0.9,
            "0 (the Trainer then watches eval) or more, with data.eval_fraction at most 0.9 together",
        ),
        ("data.max_bad_fraction", 0.0 <= config.data.max_bad_fraction <= 1.0, "between 0 and 1"),
        (
            "data.max_image_pixels",
            1 <= config.data.max_image_pixels <= image_files.PIL_PIXEL_LIMIT,
            f"1 to {image_files.PIL_PIXEL_LIMIT:,} (PIL's decompression-bomb limit, above which it decodes what it "
            "only warns about)",
        ),
        (
            "data.example_jpeg_quality",
            0 <= config.data.example_jpeg_quality <= 100,
            "0 (exact uint8 pixels) or a JPEG quality from 1 to 100",
        ),
        (
            "model.architectures",
            bool(config.model.architectures)
            and all(a in ARCHITECTURES for a in config.model.architectures)
            and len(set(config.model.architectures)) == len(config.model.architectures),
            f"a non-empty list of distinct values from {', '.join(ARCHITECTURES)}",
        ),
        ("model.v1_alpha", config.model.v1_alpha in V1_ALPHAS, f"one of {', '.join(map(str, V1_ALPHAS))}"),
        ("model.v2_alpha", config.model.v2_alpha in V2_ALPHAS, f"one of {', '.join(map(str, V2_ALPHAS))}"),
        ("model.input_size", 32 <= config.model.input_size <= 512, "an integer from 32 to 512"),
        ("model.dropout", 0.0 <= config.model.dropout < 1.0, "in [0, 1)"),
        (
            "model.weights",
            _imagenet_pairs_exist(config),
            "none, a path, production, channel:NAME, version:N, or imagenet with an input size that has ImageNet "
            "weights (V1: 128, 160, 192, 224; V2: 96, 128, 160, 192, 224)",
        ),
        ("model.bn_momentum", 0.0 < config.model.bn_momentum < 1.0, "in (0, 1)"),
        ("train.epochs", config.train.epochs >= 1, "at least 1"),
        ("train.batch_size", config.train.batch_size >= 1, "at least 1"),
        ("train.learning_rate", 0 < config.train.learning_rate < math.inf, "positive and finite"),
        ("train.max_train_steps", config.train.max_train_steps >= 0, "0 (no cap) or positive"),
        (
            "train.warmup_epochs",
            0 <= config.train.warmup_epochs <= config.train.epochs,
            "0 (constant learning rate) to train.epochs",
        ),
        ("train.label_smoothing", 0.0 <= config.train.label_smoothing < 1.0, "in [0, 1)"),
        (
            "train.frozen_epochs",
            config.train.frozen_epochs == 0
            or (config.model.weights not in ("", "none") and 0 < config.train.frozen_epochs < config.train.epochs),
            "0, or with model.weights set, 1 to train.epochs - 1 (a frozen backbone needs warm-started weights)",
        ),
        ("train.fine_tune_rate", 0.0 < config.train.fine_tune_rate <= 1.0, "in (0, 1]"),
        (
            "train.recalibrate_bn_batches",
            config.train.recalibrate_bn_batches >= 0,
            "0 (BatchNorm's moving averages) or more",
        ),
        (
            "train.quantization_aware_epochs",
            config.train.quantization_aware_epochs == 0
            or (config.train.quantization_aware_epochs > 0 and "int8" in config.tflite.quantization),
            "0 (post-training int8 only), or more with int8 in tflite.quantization",
        ),
        ("gates.min_accuracy", 0.0 <= config.gates.min_accuracy <= 1.0, "a fraction from 0 to 1"),
        ("gates.max_accuracy_drop", 0.0 <= config.gates.max_accuracy_drop <= 1.0, "a fraction from 0 to 1"),
        ("gates.max_model_bytes", config.gates.max_model_bytes > 0, "positive"),
        ("gates.max_latency_ms", 0 < config.gates.max_latency_ms < math.inf, "positive and finite"),
        ("gates.max_regression", 0.0 <= config.gates.max_regression <= 1.0, "a fraction from 0 to 1"),
        (
            "gates.baseline_channel",
            _is_valid_name(config.gates.baseline_channel, "channel"),
            f"a registry channel name of {NAME_RULE}",
        ),
        (
            "tflite.quantization",
            bool(config.tflite.quantization) and all(m in QUANTIZATION_MODES for m in config.tflite.quantization),
            f"a non-empty list from {', '.join(QUANTIZATION_MODES)}",
        ),
        ("tflite.representative_examples", config.tflite.representative_examples >= 1, "at least 1"),
        (
            "tflite.integer_io",
            config.tflite.integer_io in INTEGER_IO,
            "empty (float I/O) or uint8 (MediaPipe Tasks and the TFLite Task Library refuse an int8 input tensor)",
        ),
        ("tflite.threads", config.tflite.threads >= 1, "at least 1"),
        ("tflite.latency_warmup", config.tflite.latency_warmup >= 0, "0 or more"),
        ("tflite.latency_runs", config.tflite.latency_runs >= 1, "at least 1"),
        ("tflite.max_eval_examples", config.tflite.max_eval_examples >= 0, "0 (all) or positive"),
        ("beam.runner", config.beam.runner in BEAM_RUNNERS, f"one of {', '.join(BEAM_RUNNERS)}"),
        ("beam.direct_num_workers", config.beam.direct_num_workers >= 1, "at least 1"),
        (
            "beam.direct_running_mode",
            config.beam.direct_running_mode in DIRECT_RUNNING_MODES,
            f"one of {', '.join(DIRECT_RUNNING_MODES)}",
        ),
        ("beam.in_memory_max_examples", config.beam.in_memory_max_examples >= 0, "0 or more"),
        (
            "beam.local_services",
            not config.beam.local_services or config.beam.runner == "PortableRunner",
            "false unless beam.runner is PortableRunner",
        ),
        (
            "beam.extra_args",
            config.beam.runner != "PortableRunner"
            or config.beam.local_services
            or any(arg.startswith("--job_endpoint=") for arg in config.beam.extra_args),
            "--job_endpoint=HOST:PORT (with --environment_type and --environment_config) for beam.runner "
            "PortableRunner, or beam.local_services: true to start a job service and worker pool for the run",
        ),
        ("registry.root", bool(config.registry.root), "a path"),
        (
            "registry.model_prefix",
            _makes_valid_model_names(config.registry.model_prefix),
            f"a prefix that makes model names <prefix>_v1 / <prefix>_v2 of {NAME_RULE}",
        ),
        (
            "pipeline.name",
            0 < len(config.pipeline.name) <= MAX_PIPELINE_NAME_LENGTH,
            f"1 to {MAX_PIPELINE_NAME_LENGTH} characters",
        ),
        ("pipeline.home", bool(config.pipeline.home), "a path"),
        *(
            (f"kubeflow.{kind}_cpu", getattr(config.kubeflow, f"{kind}_cpu") > 0, "a positive number of CPU cores")
            for kind in ("step", "beam", "trainer")
        ),
        *(
            (
                f"kubeflow.{kind}_memory",
                memory_gigabytes(getattr(config.kubeflow, f"{kind}_memory")) is not None,
                "a memory size such as 16G, 16Gi or 512Mi",
            )
            for kind in ("step", "beam", "trainer")
        ),
        ("kubeflow.trainer_gpus", config.kubeflow.trainer_gpus >= 0, "0 (no GPU) or more"),
        (
            "kubeflow.gpu_type",
            bool(config.kubeflow.gpu_type.strip()),
            "a GPU resource (Kubernetes: nvidia.com/gpu) or a Vertex AI accelerator name (e.g. NVIDIA_TESLA_T4)",
        ),
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
