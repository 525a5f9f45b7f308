"""What several test modules share: small image folders, ImageExampleGen on a folder, a small classifier
SavedModel and its flatbuffers, registry files and a kill at a registry commit, and the tiny pipeline settings.

Fixtures stay in `conftest.py`; these are plain functions and constants that tests import.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from components.registry import store
from components.registry.store import Registry
from components.trainer.hyperparameters import Hyperparameters
from pipeline.config import DEMO_PROFILE, Config, load_config

if TYPE_CHECKING:
    import tensorflow as tf

# Images and the TFLite interpreter, and training settings


def hyperparameters(architecture: str = "v1", **changes: object) -> Hyperparameters:
    """The demo profile's training settings (a short recipe without augmentation) for `architecture` with `changes`
    (e.g. alpha=0.25, input_size=32)."""
    return dataclasses.replace(load_config(str(DEMO_PROFILE)).trainer_hparams(architecture), **changes)


def png_picture(path: Path) -> tuple[tuple[int, int], int]:
    """A PNG file's (width, height) and how many of its pixels are coloured (channels more than 60 apart): the
    plotted marks, where axes, grid and text are grey. It must decode as a PNG."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG", path
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return image.size, int(np.count_nonzero(pixels.max(axis=2) - pixels.min(axis=2) > 60))


def write_image_folder(root: Path, classes: dict[str, int], size: int = 20, seed: int = 0) -> Path:
    """Write `count` small PNGs per class under `root/<class>/`; class k is a distinct brightness pattern."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k, (name, count) in enumerate(sorted(classes.items())):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            base = np.full((size, size), 40 + 60 * k, dtype=np.float64)
            pixels = np.clip(base + rng.normal(0, 10, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / f"img_{i:03d}.png")
    return root


def invoke_tflite(path: Path) -> tuple[list[int], tuple[int, ...]]:
    """Load a `.tflite` file in the TFLite interpreter, run it once on zeros; (input shape, output shape)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    output = interpreter.get_output_details()[0]
    return list(detail["shape"]), interpreter.get_tensor(output["index"]).shape


def raw_pixel_scores(model_bytes: bytes, frames) -> np.ndarray:
    """Probabilities of a uint8-input `.tflite` fed each frame's pixels as they are (what the app's runtimes feed
    it), its output dequantized with the output tensor's own parameters."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=model_bytes, num_threads=1)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = target["quantization"]
    scores = []
    for frame in frames:
        interpreter.set_tensor(source["index"], frame[None])
        interpreter.invoke()
        scores.append((interpreter.get_tensor(target["index"])[0].astype(np.float32) - zero_point) * scale)
    return np.array(scores)


# The end-to-end pipeline runs

TINY_RUN = [
    "--config",
    str(DEMO_PROFILE),
    "--set",
    "model.input_size=32",
    "--set",
    "model.v1_alpha=0.25",
    "--set",
    "model.v2_alpha=0.35",
    "--set",
    "train.epochs=1",
    "--set",
    "train.batch_size=16",
    "--set",
    "gates.min_accuracy=0",
    "--set",
    "gates.max_accuracy_drop=1",
    "--set",
    "gates.max_regression=1",
    "--set",
    "tflite.representative_examples=8",
    "--set",
    "tflite.latency_runs=3",
    # `make test` runs two test files at once on 2 cores, so a latency measured here is not the model's.
    "--set",
    "gates.max_latency_ms=100000",
]
"""`mobilenet-pipeline run` settings for tiny data: the demo profile's short recipe, small nets at 32 px, 1 epoch,
gates open but the size gate."""


def tiny_config(*overrides: str) -> Config:
    """The config `TINY_RUN` gives a run, with further `key=value` overrides."""
    return load_config(TINY_RUN[1], [*TINY_RUN[3::2], *overrides])


# ImageExampleGen


def run_example_gen(input_base, output_uri, max_bad_fraction=0.2, spans="all", max_image_pixels=None):
    """ImageExampleGen's executor on `input_base` (a quarter of the files to eval, by file name) into `output_uri`,
    on the spans `spans` (`data.spans`) picks; `max_image_pixels` None is the config's default."""
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts, standard_component_specs
    from tfx.utils import proto_utils

    from components.ingestion import executor as ingestion

    examples = standard_artifacts.Examples()
    examples.uri = str(output_uri)
    input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="images", pattern="*/*")])
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(input_base),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
            ingestion.output_split_config(0.25, by_filename=True)
        ),
        standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            ingestion.make_custom_config(max_bad_fraction, max_image_pixels or Config().data.max_image_pixels, spans)
        ),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    ingestion.ImageFolderExecutor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return examples


def read_split(examples, split):
    """filename, label and image_raw of every example in one split of an Examples artifact."""
    import tensorflow as tf
    from tfx.types import artifact_utils

    uri = artifact_utils.get_split_uri([examples], split)
    rows = []
    for record in tf.data.TFRecordDataset(tf.io.gfile.glob(f"{uri}/*.gz"), compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        feature = example.features.feature
        rows.append({key: feature[key].bytes_list.value[0] for key in ("filename", "label", "image_raw")})
    return rows


# A small classifier SavedModel (`serving_preprocessed`) and its flatbuffers, built once per test session

IMAGE_SIZE = 32
NUM_CLASSES = 3


def sample_images(count: int, seed: int) -> np.ndarray:
    """Preprocessed images [count, 32, 32, 3] in [-1, 1]: one random colour per image plus pixel noise."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(-0.7, 0.7, (count, 1, 1, 3))
    noise = rng.normal(0.0, 0.2, (count, IMAGE_SIZE, IMAGE_SIZE, 3))
    return np.clip(colour + noise, -1.0, 1.0).astype(np.float32)


def _classifier() -> tf.keras.Model:
    """A MobileNet-style net (conv, depthwise-separable block, BN, ReLU6, pooling, softmax `probabilities`),
    big enough that weights dominate the flatbuffer. Untrained, so it is calibrated on sample images: each batch
    norm gets its input's statistics and the logits are centred and scaled, which makes its predictions depend on
    the image and spread over the classes like a trained model's instead of collapsing onto one class."""
    import tensorflow as tf

    from components.trainer.blocks import conv_bn

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = conv_bn(
        inputs, tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False), "bn_1", "relu_1", 0.9, 1e-3
    )
    x = conv_bn(
        x, tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False), "bn_2", "relu_2", 0.9, 1e-3
    )
    x = conv_bn(x, tf.keras.layers.Conv2D(96, 1, use_bias=False), "bn_3", "relu_3", 0.9, 1e-3)
    x = conv_bn(x, tf.keras.layers.Conv2D(384, 1, use_bias=False), "bn_4", "relu_4", 0.9, 1e-3)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Softmax(name="probabilities")(x))

    x = tf.constant(sample_images(64, seed=1))
    for layer in model.layers[1:]:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        elif isinstance(layer, tf.keras.layers.Dense):
            logits = layer(x)
            scale = 3.0 / float(tf.math.reduce_std(logits))
            layer.kernel.assign(layer.kernel * scale)
            layer.bias.assign(-tf.reduce_mean(logits, axis=0) * scale)
        x = layer(x, training=False)
    return model


def save_with_signature(
    directory: str, serve: tf.types.experimental.GenericFunction, variables: list[tf.Variable]
) -> None:
    """Save `serve` as the `serving_preprocessed` signature (what the Trainer exports and conversion reads)."""
    import tensorflow as tf

    from components.contracts import PREPROCESSED_SIGNATURE

    module = tf.Module()
    module.model_variables = variables
    tf.saved_model.save(module, directory, signatures={PREPROCESSED_SIGNATURE: serve.get_concrete_function()})


def saved_classifier(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The classifier SavedModel, written once per test session: `image` [None, 32, 32, 3] -> `probabilities`."""
    import tensorflow as tf

    path = tmp_path_factory.getbasetemp() / "tflite_classifier"
    if not path.exists():
        model = _classifier()

        @tf.function(input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name="image")])
        def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"probabilities": model(image, training=False)}

        staging = path.with_name(path.name + ".partial")
        save_with_signature(str(staging), serve, model.variables)
        staging.rename(path)
    return str(path)


def converted(tmp_path_factory: pytest.TempPathFactory, mode: str, integer_io: str | None = None) -> bytes:
    """The classifier converted in `mode`, converted once per test session."""
    from components.tflite import conversion

    path = tmp_path_factory.getbasetemp() / f"tflite_classifier_{mode}_{integer_io or 'float'}.tflite"
    if not path.exists():
        representative = sample_images(16, seed=2) if mode == "int8" else None
        path.write_bytes(conversion.convert(saved_classifier(tmp_path_factory), mode, representative, integer_io))
    return path.read_bytes()


# Registry files, and a process killed at its registry commit

TFLITE_HEADER = b"\x1c\x00\x00\x00TFL3"
LABELS = ["ankle boot", "bag", "coat"]
SPAWN = multiprocessing.get_context("spawn")


def tflite_report(model_name: str = "mobilenet_v1", **changes) -> dict:
    """A report.json as the TFLite component writes it (see the shared contract)."""
    report = {
        "model_name": model_name,
        "architecture": "mobilenet_v1",
        "quantization": "int8",
        "integer_io": "uint8",
        "input_shape": [1, 32, 32, 3],
        "input_dtype": "uint8",
        "labels_count": len(LABELS),
        "size_bytes": 0,
        "tflite_accuracy": 0.81,
        "tflite_top5_accuracy": None,
        "float_accuracy": 0.82,
        "accuracy_drop": 0.01,
        "latency_ms": {"median": 4.2, "p90": 5.0, "threads": 2, "runs": 50},
        "peak_memory_bytes": None,
        "ops": ["CONV_2D", "SOFTMAX"],
        "builtin_ops_only": True,
        "gates": [{"name": "max_model_bytes", "measured": 3485000, "limit": 5000000, "passed": True}],
        "blessed": True,
        "candidates": [],
        "source_examples": "/pipeline/Transform/transformed_examples/7",
        "eval_examples": 30,
    }
    report.update(changes)
    return report


def write_model_files(folder: Path, payload: bytes = b"weights") -> tuple[Path, Path]:
    """model.tflite (a TFLite file identifier + `payload`) and labels.txt in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(TFLITE_HEADER + payload)
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    return folder / "model.tflite", folder / "labels.txt"


def publish_files(
    registry: Registry, folder: Path, payload: bytes, name: str = "mobilenet_v1", run_id: str | None = "run-1"
) -> store.RegistryVersion:
    """Publish model files with `payload` from `folder` to `registry` as `name`."""
    tflite, labels = write_model_files(folder, payload)
    return registry.publish(name, str(tflite), str(labels), tflite_report(name), pipeline_run_id=run_id)


def signal_and_hang(started, staged_folder: str) -> None:
    """A registry commit hook (in a spawned child): say the commit is reached, then wait to be killed."""
    started.set()
    time.sleep(120)


def kill_at_commit(target, args: tuple, timeout: float = 120) -> None:
    """Run `target(*args, started)` in a spawned process, SIGKILL it once it sets `started` (at its commit) and
    check that the kill is what ended it."""
    started = SPAWN.Event()
    process = SPAWN.Process(target=target, args=(*args, started))
    process.start()
    try:
        assert started.wait(timeout=timeout), f"{target.__name__} never reached its commit"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.join(timeout=30)
    assert process.exitcode == -signal.SIGKILL


def run_registry_cli(registry: Registry, capsys, *argv: str) -> tuple[int, str, str]:
    """`mobilenet-pipeline registry ARGV` on `registry`: exit code, stdout, stderr."""
    from pipeline.commands.registry import add_registry_subparser, run_registry_command

    parser = argparse.ArgumentParser()
    add_registry_subparser(parser.add_subparsers(dest="command"), default_root=registry.root)
    code = run_registry_command(parser.parse_args(["registry", *argv]))
    out, err = capsys.readouterr()
    return code, out, err


# The Pusher's input artifacts


def blessing_artifact(uri: Path, blessed: int):
    """A ModelBlessing as the Evaluator and the TFLite step write it: the file and the `blessed` property."""
    from tfx.types import standard_artifacts

    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(uri)
    uri.mkdir(parents=True)
    (uri / ("BLESSED" if blessed else "NOT_BLESSED")).touch()
    blessing.set_int_custom_property("blessed", blessed)
    return blessing


def anomalies_artifact(uri: Path, found: dict | None = None):
    """An ExampleAnomalies artifact as ExampleValidator writes it: `found` (feature -> AnomalyInfo) in the train
    split, none in eval."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    from tfx.types import artifact_utils, standard_artifacts

    from components.registry.data_anomalies import ANOMALIES_FILE

    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(uri)
    artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split, anomalies in (
        ("train", anomalies_pb2.Anomalies(anomaly_info=found or {})),
        ("eval", anomalies_pb2.Anomalies()),
    ):
        folder = uri / f"Split-{split}"
        folder.mkdir(parents=True)
        (folder / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
    return artifact


# Processes


def alive(pid: int) -> bool:
    """Whether process `pid` is running (a zombie, or a process gone meanwhile, is not)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# A non-editable install of the project

PROJECT_PACKAGES = ("pipeline", "components", "kubeflow", "schemas", "bench")


def install_project(venv: Path, scratch: Path) -> Path:
    """A fresh venv at `venv` with the locked dependencies (from uv's cache) and a non-editable install of the
    project, built from a copy of its sources under `scratch` so that the checkout gets no build files; the venv's
    bin folder."""
    repo = Path(__file__).resolve().parent.parent
    source = scratch / "source"
    source.mkdir(parents=True)
    shutil.copy2(repo / "setup.py", source / "setup.py")
    for package in PROJECT_PACKAGES:
        shutil.copytree(repo / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "results"))
    uv, python = str(Path(sys.executable).parent / "uv"), str(venv / "bin" / "python")
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", python, "-r", str(repo / "requirements.lock")], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", python, "--no-deps", "--no-build-isolation", str(source)], check=True
    )
    return venv / "bin"
