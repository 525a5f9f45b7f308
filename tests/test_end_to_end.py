"""One real pipeline run on tiny data (LocalDagRunner, Beam DirectRunner, sqlite ML Metadata, TFLite interpreter).

The first run pushes V1 and V2; a second run in the same home, with a size gate no model can meet, reuses the
cached upstream steps, compares each model with the version the first run pushed (the no-regression baseline),
holds both back and pushes nothing. The no-regression gate's verdicts are tested on the Kubeflow path
(tests/test_kubeflow_local_launcher.py), which runs the same TFLite step.

Both runs use a non-editable install (`pip install .` into a fresh venv) started from a folder outside the
checkout, so they also show that the installed package finds its schema, profiles and module files by itself.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.android_runtimes import eval_images
from tests.helpers import TINY_RUN, install_project, invoke_tflite, raw_pixel_scores, write_image_folder

pytestmark = pytest.mark.slow

EPOCHS = 10
"""Enough for both nets to learn the fixture's brightness classes (one epoch left V1 at 0.71, too close to its
decision boundaries for the runtimes' own resizing to give comparable accuracies); later epochs take about 1 s."""


def _run_installed(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`args` with the installed venv's executables, from `cwd`, with `cwd/tmp` as the temporary folder; bytecode
    is written (the venv is new, and without it every process would compile TensorFlow and TFX from source)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    (cwd / "tmp").mkdir(exist_ok=True)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", TMPDIR=str(cwd / "tmp"))
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=1500, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Install the project into a fresh venv, run the pipeline twice with it on the same tiny folder; return both
    results, where the installed modules are, and the paths."""
    root = tmp_path_factory.mktemp("e2e")
    bin_dir = install_project(root / "venv", root / "install")
    data = write_image_folder(root / "data", {"circle": 40, "square": 40, "ankle boot": 40}, size=24)
    common = [
        "run",
        "--data",
        str(data),
        "--home",
        str(root / "home"),
        "--registry",
        str(root / "registry"),
        *TINY_RUN,
        "--set",
        f"train.epochs={EPOCHS}",
    ]
    first = _run_installed(bin_dir, root, "mobilenet-pipeline", *common)
    second = _run_installed(
        bin_dir, root, "mobilenet-pipeline", *common, "--set", "gates.max_model_bytes=1000", "--fail-on-held-back"
    )
    where = _run_installed(
        bin_dir,
        root,
        "python",
        "-c",
        "import json, pipeline.config as c; print(json.dumps(["
        "c.__file__, str(c.DEFAULT_SCHEMA), c.DEFAULT_SCHEMA.is_file(), c.DEMO_PROFILE.is_file()]))",
    )
    return {"first": first, "second": second, "root": root, "venv": root / "venv", "where": where}


def _versions(registry: Path, name: str) -> list[str]:
    return sorted(p.name for p in (registry / name).iterdir() if p.name.isdigit())


def test_first_run_pushes_both_models(runs):
    first, registry = runs["first"], runs["root"] / "registry"
    assert first.returncode == 0, first.stdout + first.stderr
    terminal = first.stdout + first.stderr
    for noise in ("Unable to register cuFFT", "FutureWarning", "oneDNN custom operations"):
        assert noise not in terminal, f"library output on the terminal: {noise}"  # it belongs in the run's log
    for component in (
        "ImageExampleGen",
        "Transform",
        "Trainer_mobilenet_v1",
        "TFLite_mobilenet_v2",
        "Pusher_mobilenet_v2",
    ):
        assert f"> {component}" in first.stdout
    assert f"epoch {EPOCHS}/{EPOCHS}" in first.stdout
    assert "train img/s" in first.stdout
    rates = dict(re.findall(r"^(mobilenet_v[12]) +int8 +([0-9.]+) ", first.stdout, re.MULTILINE))
    assert set(rates) == {"mobilenet_v1", "mobilenet_v2"} and all(float(rate) > 0 for rate in rates.values())
    assert "beam: DirectRunner in_memory, 1 worker(s) (beam.direct_running_mode=auto" in first.stdout
    for name in ("mobilenet_v1", "mobilenet_v2"):
        version = registry / name / "1"
        assert str(version) in first.stdout
        manifest = json.loads((version / "manifest.json").read_text())
        assert manifest["model_name"] == name and manifest["version"] == 1
        assert manifest["quantization"] == "int8"
        assert manifest["size_bytes"] == (version / "model.tflite").stat().st_size
        labels = (version / "labels.txt").read_text().split("\n")
        assert sorted(label for label in labels if label) == ["ankle boot", "circle", "square"]
        assert invoke_tflite(version / "model.tflite") == ([1, 32, 32, 3], (1, 3))


def test_the_runs_used_a_non_editable_install_from_outside_the_checkout(runs):
    """The installed package, not the checkout, was imported, and the run read the schema installed with it."""
    from pipeline.reporting.metadata import open_store

    assert runs["where"].returncode == 0, runs["where"].stderr
    module, schema, schema_found, profile_found = json.loads(runs["where"].stdout)
    site_packages = str(runs["venv"] / "lib")
    assert module.startswith(site_packages) and schema.startswith(site_packages), (module, schema)
    assert schema_found and profile_found
    schema_files = {
        execution.custom_properties["schema_file"].string_value
        for execution in open_store(str(runs["root"] / "home" / "metadata.sqlite")).get_executions()
        if "schema_file" in execution.custom_properties
    }
    assert schema_files == {schema}


def test_no_beam_step_packaged_tfx_for_workers_the_local_run_does_not_have(runs):
    """Without `pipeline.LOCAL_WORKERS`, each of the five Beam steps of a run built an sdist of TFX and left it,
    50 MB, in the temporary folder."""
    logs = sorted((runs["root"] / "home" / "logs").glob("*.log"))
    assert len(logs) == 2
    for log in logs:
        assert "Attempting to infer TFX Python dependency" not in log.read_text(encoding="utf-8")
    assert not list((runs["root"] / "tmp").rglob("tfx_ephemeral*"))


def test_second_run_reuses_cache_and_holds_back_oversized_models(runs):
    """With --fail-on-held-back, a held-back model is exit code 3 (for a CI job); the first run, which pushed both,
    exited 0."""
    second, registry = runs["second"], runs["root"] / "registry"
    assert second.returncode == 3, second.stdout + second.stderr
    assert "exit code 3: a model was held back (--fail-on-held-back)" in second.stdout
    timings = second.stdout.split("component", 1)[1]
    for component in ("ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "Trainer_mobilenet_v2"):
        assert any(line.startswith(component) and line.rstrip().endswith("cached") for line in timings.splitlines())
    for name in ("mobilenet_v1", "mobilenet_v2"):
        assert f"{name} was held back and not pushed: max_model_bytes" in second.stdout
        assert str(registry / name / "2") not in second.stdout
        assert _versions(registry, name) == ["1"]
        assert (
            f"{name}: no-regression baseline: version 1 (latest version, channel production is not set): accuracy"
        ) in second.stdout


def test_the_three_signatures_agree_and_the_savedmodel_holds_the_network_once(runs):
    """The encoded-image signature the app's server path calls, the transformed-examples one TFMA reads and the
    preprocessed one the TFLite step converts give the same scores on the eval split; and each calls one traced
    function of the network, so the SavedModel holds its convolutions in one function (three, one per signature,
    before: tracing, saving and each load by the Evaluator and the TFLite step handled three copies)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    from bench.models import find_outputs, load_split
    from components.contracts import (
        IMAGE_KEY,
        PREPROCESSED_SIGNATURE,
        SERVING_SIGNATURE,
        TRANSFORMED_EXAMPLES_SIGNATURE,
    )

    home = runs["root"] / "home"
    outputs = find_outputs(str(home / "metadata.sqlite"), str(home / "pipeline_root"))
    examples = sorted((home / "pipeline_root" / "ImageExampleGen" / "examples").iterdir(), key=lambda p: int(p.name))
    raw = [
        tf.io.parse_single_example(record, {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)})[IMAGE_KEY]
        for record in tf.data.TFRecordDataset(
            [str(f) for f in sorted((examples[-1] / "Split-eval").iterdir())], compression_type="GZIP"
        )
    ]
    transformed = list(
        tf.data.TFRecordDataset(
            [str(f) for f in sorted(Path(outputs.transformed_examples, "Split-eval").iterdir())],
            compression_type="GZIP",
        )
    )
    images, _ = load_split(outputs, "eval")
    assert len(raw) == len(transformed) == len(images) > 0
    for name, saved_model in outputs.saved_models.items():
        signatures = tf.saved_model.load(saved_model).signatures
        scores = [
            signatures[SERVING_SIGNATURE](image_bytes=tf.stack(raw))["probabilities"].numpy(),
            signatures[TRANSFORMED_EXAMPLES_SIGNATURE](examples=tf.stack(transformed))["probabilities"].numpy(),
            signatures[PREPROCESSED_SIGNATURE](image=tf.constant(images))["probabilities"].numpy(),
        ]
        for other in scores[1:]:  # the splits' files are not in one order: compare each model's sorted scores
            np.testing.assert_allclose(np.sort(other, axis=0), np.sort(scores[0], axis=0), atol=1e-4, err_msg=name)
        proto = saved_model_pb2.SavedModel.FromString(Path(saved_model, "saved_model.pb").read_bytes())
        holding = [
            function.signature.name
            for function in proto.meta_graphs[0].graph_def.library.function
            if any(node.op in ("Conv2D", "DepthwiseConv2dNative") for node in function.node_def)
        ]
        assert len(holding) == 1, f"{name}: the network's convolutions are in {holding}"


# The Android runtimes: each pushed file, and an integer-I/O conversion of the same model, loaded from
# its own metadata by MediaPipe Tasks and the TFLite Task Library.

STEP = 1 / 256 + 1e-6
"""One step of an int8 model's output quantization (softmax scale 1/256): what two runtimes executing the same
model on the same pixels may differ by."""


def _frames(images: list, size: int) -> tuple[list, list]:
    """Frames already at the model's input size: flat ones at the three brightness levels the fixture's classes are
    made of, and the eval images resized as the Transform resizes them."""
    from components.transform import image_codec

    flat = [np.full((size, size, 3), level, np.uint8) for level in (40, 100, 160)]
    return flat, [image_codec.resize_like_the_app(image, size, size).numpy() for image in images]


def _interpreter_scores(model_bytes: bytes, frames: list) -> np.ndarray:
    """The interpreter's probabilities: a float-input model gets the frames scaled as the Trainer's signature does,
    a uint8-input one the pixels themselves (what an app feeds it)."""
    import tensorflow as tf

    from components.tflite import measurement
    from components.transform import image_codec

    if tf.lite.Interpreter(model_content=model_bytes).get_input_details()[0]["dtype"] == np.uint8:
        return raw_pixel_scores(model_bytes, frames)
    inputs = np.stack([image_codec.scale_to_model_range(frame).numpy() for frame in frames])
    return measurement.tflite_predictions(model_bytes, inputs, threads=1)


def _input_ties(model_bytes: bytes) -> set[int]:
    """The pixel values whose normalized value, (p - 127.5) / 127.5, falls half-way between two steps of a
    float-input int8 model's input quantization (empty for a float32 or uint8-input model). Each runtime
    normalizes in its own float arithmetic, so at these values the last bit decides the rounding."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    source = interpreter.get_input_details()[0]
    if source["dtype"] != np.float32:
        return set()
    quantized = [
        d
        for d in interpreter.get_tensor_details()
        if d["dtype"] == np.int8 and list(d["shape"]) == list(source["shape"])
    ]
    if not quantized:
        return set()
    scale, _ = quantized[0]["quantization"]
    steps = (np.arange(256) - 127.5) / 127.5 / scale
    return set(np.flatnonzero(np.abs(steps - np.floor(steps) - 0.5) < 1e-3).tolist())


def _check_runtime(runtime: str, model: Path, labels: list[str], images: list, scratch: Path) -> None:
    """Labels from the metadata in output order, and the interpreter's scores on frames the runtime need not
    resize: flat frames, and the eval images resized to the input. MediaPipe gives the interpreter's scores on
    both. The Task Library normalizes in other float arithmetic, so its scores differ where a pixel's normalized
    value is an exact tie of the input quantization (`_input_ties`, e.g. pixels 39, 98, 157 and 216 at one scale
    this run produced), and only there: on the eval images with those pixels moved one level it gives the
    interpreter's scores too, and on the eval images as they are it differs only on frames that hold one."""
    from tests.android_runtimes import classify

    flat, resized = _frames(images, 32)
    ties = _input_ties(model.read_bytes())
    moved = [np.where(np.isin(f, list(ties)), np.where(f < 255, f + 1, f - 1), f).astype(np.uint8) for f in resized]
    checked = flat + (resized if runtime == "mediapipe" else moved)
    result = classify(runtime, model, checked, scratch)
    assert result["labels"] == labels, f"{runtime} read labels {result['labels']} from {model.name}'s metadata"
    difference = np.abs(np.array(result["scores"]) - _interpreter_scores(model.read_bytes(), checked))
    assert difference.max() <= STEP, f"{runtime}: scores differ from the interpreter's by {difference.max()}"
    if runtime != "mediapipe":
        as_they_are = np.array(classify(runtime, model, resized, scratch)["scores"])
        apart = np.abs(as_they_are - _interpreter_scores(model.read_bytes(), resized)).max(axis=1) > STEP
        assert all(np.isin(frame, list(ties)).any() for frame, differs in zip(resized, apart) if differs)
    assert len(classify(runtime, model, images, scratch)["scores"]) == len(images)  # the original files load


@pytest.mark.parametrize("runtime", ["mediapipe", "tflite-support"])
def test_android_runtimes_load_each_pushed_model_from_its_metadata(runs, runtime, tmp_path):
    images, _ = eval_images(runs["root"] / "home")
    for name in ("mobilenet_v1", "mobilenet_v2"):
        version = runs["root"] / "registry" / name / "1"
        assert len(images) == json.loads((version / "manifest.json").read_text())["eval_examples"]
        _check_runtime(
            runtime, version / "model.tflite", (version / "labels.txt").read_text().splitlines(), images, tmp_path
        )


ACCURACY_FLOOR = 0.8
"""Far above chance (1/3): a runtime that normalized the pixels differently from the metadata (e.g. to [0, 1]) or
read the labels in another order would not reach it."""
RESIZE_TOLERANCE = 3
"""Eval images (of 21) by which a runtime that resizes the original files itself may differ from the pipeline's
accuracy, measured on pixels the Transform resized (see the test below)."""


@pytest.mark.parametrize("runtime", ["mediapipe", "tflite-support"])
def test_android_runtimes_reach_the_pipelines_accuracy(runs, runtime, tmp_path):
    """What the app sees: each runtime classifies the eval images' original 24 px files (it resizes them to 32 px
    its own way, as it does a camera frame) and reaches the accuracy the pipeline measured with the interpreter
    (the manifest's `tflite_accuracy`, on the same images) to within `RESIZE_TOLERANCE` images. On the same pixels
    the runtimes give the interpreter's scores (MediaPipe exactly, the Task Library on all but a few frames, see
    `_check_runtime`); what is left is each one's own resize, and the fixture's small models are sensitive to it
    (`python -m tests.android_runtimes` on the test's home and registry shows each runtime's figure)."""
    from tests.android_runtimes import classify

    images, names = eval_images(runs["root"] / "home")
    for name in ("mobilenet_v1", "mobilenet_v2"):
        version = runs["root"] / "registry" / name / "1"
        labels = (version / "labels.txt").read_text().splitlines()
        truth = np.array([labels.index(label) for label in names])
        predicted = np.argmax(classify(runtime, version / "model.tflite", images, tmp_path)["scores"], axis=1)
        accuracy = float(np.mean(predicted == truth))
        manifest = json.loads((version / "manifest.json").read_text())
        assert manifest["eval_examples"] == len(images)
        pipeline = manifest["tflite_accuracy"]
        assert abs(accuracy - pipeline) <= RESIZE_TOLERANCE / len(images) + 1e-9, (
            f"{runtime} {name}: {accuracy:.3f} on {len(images)} images, the pipeline measured {pipeline:.3f}"
        )
        assert accuracy >= ACCURACY_FLOOR, f"{runtime} {name}: {accuracy:.3f}"


def test_litert_reaches_the_pipelines_accuracy_from_each_pushed_files_metadata(runs):
    """The app's runtime, LiteRT (`ai_edge_litert`), loads each pushed file; the labels and the input's
    normalization come from the file's metadata alone; the eval images' original files, resized as the app does,
    reach the pipeline's interpreter accuracy within `RESIZE_TOLERANCE` images, and equal the app-path accuracy
    the TFLite step reported (measured there on LiteRT too)."""
    import importlib.metadata

    from ai_edge_litert.interpreter import Interpreter

    from components.tflite import metadata
    from components.transform import image_codec

    images, names = eval_images(runs["root"] / "home")
    for name in ("mobilenet_v1", "mobilenet_v2"):
        version = runs["root"] / "registry" / name / "1"
        model_bytes = (version / "model.tflite").read_bytes()
        described = metadata.read_metadata(model_bytes)
        labels = described["labels"]
        assert labels == (version / "labels.txt").read_text().splitlines()
        (unit,) = described["metadata"]["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"]
        mean, std = unit["options"]["mean"][0], unit["options"]["std"][0]
        interpreter = Interpreter(model_content=model_bytes, num_threads=2)
        interpreter.allocate_tensors()
        (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
        _, height, width, _ = source["shape"]
        predicted = []
        for frame in images:
            pixels = image_codec.resize_like_the_app(frame, height, width).numpy()[None]
            fed = pixels if source["dtype"] == np.uint8 else ((pixels - np.float32(mean)) / np.float32(std))
            interpreter.set_tensor(source["index"], fed.astype(source["dtype"]))
            interpreter.invoke()
            predicted.append(int(np.argmax(interpreter.get_tensor(target["index"])[0])))
        accuracy = float(np.mean(np.array(predicted) == np.array([labels.index(label) for label in names])))
        manifest = json.loads((version / "manifest.json").read_text())
        assert abs(accuracy - manifest["tflite_accuracy"]) <= RESIZE_TOLERANCE / len(images) + 1e-9, (
            f"LiteRT {name}: {accuracy:.3f} on {len(images)} images, the pipeline: {manifest['tflite_accuracy']}"
        )
        assert accuracy == pytest.approx(manifest["app_path_accuracy"]) and accuracy >= ACCURACY_FLOOR
        assert manifest["runtime"]["name"] == "ai-edge-litert"
        assert manifest["runtime"]["version"] == importlib.metadata.version("ai-edge-litert")
        assert set(manifest["latency_by_threads"]) >= {"1", "2", "4"}


@pytest.mark.parametrize("runtime", ["mediapipe", "tflite-support"])
def test_android_runtimes_load_an_integer_io_model(runs, runtime, tmp_path):
    """`tflite.integer_io=uint8` (what NNAPI and Edge-TPU-style delegates want): the same V1 converted with uint8
    input and output and the project's metadata; the runtimes feed pixels and dequantize the scores themselves."""
    import tensorflow as tf

    from bench.models import find_outputs
    from components.tflite import conversion, metadata
    from components.transform import image_codec

    home = runs["root"] / "home"
    saved_model = find_outputs(str(home / "metadata.sqlite"), str(home / "pipeline_root")).saved_models["mobilenet_v1"]
    images, _ = eval_images(home)
    labels = (runs["root"] / "registry" / "mobilenet_v1" / "1" / "labels.txt").read_text().splitlines()
    representative = np.stack([image_codec.scale_to_model_range(frame).numpy() for frame in _frames(images, 32)[1]])
    model_bytes = metadata.add_metadata(
        conversion.convert(saved_model, "int8", representative, "uint8"),
        labels,
        name="mobilenet_v1",
        version="1",
        description="integer I/O",
    )
    model = tmp_path / "integer_io.tflite"
    model.write_bytes(model_bytes)
    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    assert interpreter.get_output_details()[0]["dtype"] == np.uint8
    _check_runtime(runtime, model, labels, images, tmp_path)
