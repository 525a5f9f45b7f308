"""The plain-script baseline of the pipeline: no TFX, Beam or ML Metadata, just Keras and the TFLite converter.

    python -m bench.baseline --data DIR [--arch v1,v2] [--config FILE] [--set KEY=VALUE ...] [--json OUT]

It reads the same configuration as `mobilenet-pipeline run` (defaults, `--config`, `--set`) and does the same
work on the same data: the files of `DIR/<label>/<image>` with the pipeline's image checks, the same hash split on
the file name, the Transform's decoding (resize, scale to [-1, 1]), the Trainer's network builders and training
function, a SavedModel with the `serving_preprocessed` signature, then per quantization mode the TFLite
conversion, accuracy on the eval split and interpreter latency (the TFLite component's functions), and the peak
memory of the smallest `.tflite`. It writes its wall time, the time of each step and the accuracies as JSON.
"""

from __future__ import annotations

import time

from components.contracts import FLOAT_ACCURACY_FIELD, TFLITE_ACCURACY_FIELD

STARTED = time.monotonic()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

from pipeline import config as config_lib  # noqa: E402  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from components.ingestion import image_files  # noqa: E402
from components.tflite import conversion, measurement  # noqa: E402
from components.trainer import export, fitting, mobilenet_v1, mobilenet_v2  # noqa: E402
from components.transform import image_codec  # noqa: E402

IMPORT_SECONDS = time.monotonic() - STARTED
BUILDERS = {"v1": mobilenet_v1.build_network, "v2": mobilenet_v2.build_network}
DECODE_BATCH = 256
log = logging.getLogger("baseline")


def split_of(filename: str, eval_fraction: float, validation_fraction: float = 0.0) -> str:
    """The split ExampleGen puts the file `filename` (relative to the data root) in.

    ExampleGen hashes the serialized `filename` feature: sha256 modulo the bucket count, splits in order.
    """
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[filename.encode("utf-8")]))
    digest = hashlib.sha256(feature.SerializeToString(deterministic=True)).hexdigest()
    bucket = int(digest, 16) % image_files.HASH_BUCKETS
    for name, count in image_files.split_buckets(eval_fraction, validation_fraction).items():
        if bucket < count:
            return name
        bucket -= count
    raise AssertionError("split buckets do not cover 100")


def list_images(root: str) -> list[str]:
    """Paths relative to `root` of the files in its class folders (`<label>/<file>`, no dot-files), sorted."""
    found = []
    for folder in sorted(os.scandir(root), key=lambda entry: entry.name):
        if folder.is_dir() and not image_files.is_hidden(folder.name):
            found += [
                f"{folder.name}/{entry.name}"
                for entry in os.scandir(folder.path)
                if entry.is_file() and not image_files.is_hidden(entry.name)
            ]
    return sorted(found)


def decode(encoded: list[bytes], size: int, jpeg_quality: int = 0) -> np.ndarray:
    """Encoded images to float32 [N, size, size, 3] in [-1, 1], with the Transform's decoding and storage
    (`jpeg_quality`: `data.example_jpeg_quality`) and the Trainer's reading."""
    batches = [
        image_codec.model_input(
            image_codec.store_pixels(
                image_codec.decode_images(tf.constant(encoded[i : i + DECODE_BATCH]), size), jpeg_quality
            )
        ).numpy()
        for i in range(0, len(encoded), DECODE_BATCH)
    ]
    return np.concatenate(batches) if batches else np.zeros((0, size, size, 3), np.float32)


def read_splits(root: str, eval_fraction: float, max_pixels: int, validation_fraction: float = 0.0) -> dict[str, Any]:
    """Read and check (`max_pixels`: `data.max_image_pixels`) every image and split it like ExampleGen: the
    encoded files and their labels per split, the classes (sorted label order) and the count of bad files."""
    names = image_files.split_buckets(eval_fraction, validation_fraction)
    encoded: dict[str, list[bytes]] = {split: [] for split in names}
    labels: dict[str, list[str]] = {split: [] for split in names}
    bad = 0
    for filename in list_images(root):
        with open(os.path.join(root, filename), "rb") as handle:
            data = handle.read()
        try:
            image = image_files.normalise_image(data, max_pixels)
        except image_files.BadImage:
            bad += 1
            continue
        split = split_of(filename, eval_fraction, validation_fraction)
        encoded[split].append(image)
        labels[split].append(image_files.label_of(filename))
    classes = sorted(set().union(*labels.values()))
    index = {name: i for i, name in enumerate(classes)}
    indices = {split: np.array([index[n] for n in labels[split]], np.int64) for split in names}
    return {"encoded": encoded, "labels": indices, "classes": classes, "bad": bad}


def load_splits(
    root: str, size: int, eval_fraction: float, max_pixels: int, validation_fraction: float = 0.0, jpeg_quality: int = 0
) -> dict[str, Any]:
    """`read_splits`, each split decoded as the Transform and the Trainer do: (images, class indices)."""
    read = read_splits(root, eval_fraction, max_pixels, validation_fraction)
    splits = {
        split: (decode(encoded, size, jpeg_quality), read["labels"][split])
        for split, encoded in read["encoded"].items()
    }
    return {"splits": splits, "classes": read["classes"], "bad": read["bad"]}


def convert_and_measure(
    saved_model_dir: str,
    config: config_lib.Config,
    representative: np.ndarray,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    scratch: str,
) -> dict[str, Any]:
    """Float accuracy, then per mode: size, eval accuracy and latency; peak memory of the smallest `.tflite`."""
    tflite = config.tflite
    modes, flatbuffers = [], {}
    loaded = conversion.load(saved_model_dir)
    float_accuracy = measurement.float_accuracy(loaded, eval_images, eval_labels)
    for mode in tflite.quantization:
        io_type = tflite.integer_io if mode == "int8" and tflite.integer_io else None
        model_bytes = conversion.convert(loaded, mode, representative, io_type)
        modes.append(
            {
                "quantization": mode,
                **measurement.measure_flatbuffer(
                    model_bytes, eval_images, eval_labels, tflite.threads, tflite.latency_warmup, tflite.latency_runs
                ),
            }
        )
        flatbuffers[mode] = model_bytes
    smallest = min(modes, key=lambda entry: entry["size_bytes"])["quantization"]
    path = os.path.join(scratch, f"{smallest}.tflite")
    with open(path, "wb") as handle:
        handle.write(flatbuffers[smallest])
    return {
        FLOAT_ACCURACY_FIELD: float_accuracy,
        "modes": modes,
        "peak_memory_mode": smallest,
        "peak_memory_bytes": measurement.measure_peak_memory(path, tflite.threads),
    }


def run(config: config_lib.Config, scratch: str) -> dict[str, Any]:
    """Load, then per architecture train, export, convert and measure; returns the timings and measurements."""
    size = config.model.input_size
    started = time.monotonic()
    data = load_splits(
        config.data.root,
        size,
        config.data.eval_fraction,
        config.data.max_image_pixels,
        config.data.validation_fraction,
        config.data.example_jpeg_quality,
    )
    (train_images, train_labels), (eval_images, eval_labels) = data["splits"]["train"], data["splits"]["eval"]
    watched = data["splits"].get("validation", data["splits"]["eval"])
    steps: dict[str, Any] = {"load_seconds": time.monotonic() - started}
    log.info(
        "loaded %d train and %d eval images (%d bad) in %.1f s",
        len(train_labels),
        len(eval_labels),
        data["bad"],
        steps["load_seconds"],
    )
    models = []
    for architecture in config.model.architectures:
        hparams = config.trainer_hparams(architecture)
        train_data = (
            tf.data.Dataset.from_tensor_slices((train_images, train_labels))
            .shuffle(4096, seed=hparams.seed, reshuffle_each_iteration=True)
            .batch(hparams.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        validation_data = tf.data.Dataset.from_tensor_slices(watched).batch(hparams.batch_size)
        timer = time.monotonic()
        model = fitting.train_model(
            BUILDERS[architecture], train_data, validation_data, len(data["classes"]), hparams
        ).model
        steps[f"train_seconds_{architecture}"] = time.monotonic() - timer
        timer = time.monotonic()
        saved_model_dir = os.path.join(scratch, architecture)
        export.save_for_conversion(model, saved_model_dir, size)
        steps[f"export_seconds_{architecture}"] = time.monotonic() - timer
        timer = time.monotonic()
        measured = convert_and_measure(
            saved_model_dir,
            config,
            train_images[: config.tflite.representative_examples],
            eval_images,
            eval_labels,
            scratch,
        )
        steps[f"convert_measure_seconds_{architecture}"] = time.monotonic() - timer
        models.append(
            {
                "model": hparams.name,
                "architecture": architecture,
                "alpha": hparams.alpha,
                "input_size": size,
                **measured,
            }
        )
        log.info(
            "%s: float accuracy %.3f, %s",
            hparams.name,
            measured[FLOAT_ACCURACY_FIELD],
            ", ".join(f"{m['quantization']} {m[TFLITE_ACCURACY_FIELD]:.3f}" for m in measured["modes"]),
        )
    return {
        "images": {"train": int(len(train_labels)), "eval": int(len(eval_labels)), "bad": data["bad"]},
        "classes": len(data["classes"]),
        "steps": steps,
        "models": models,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of class sub-folders of images")
    parser.add_argument("--arch", help="architectures, e.g. v1 or v1,v2 (default: model.architectures)")
    parser.add_argument("--config", metavar="FILE", help="YAML file overriding the defaults, as for `run`")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, as for `run` (repeatable)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the results here (default: standard output)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the baseline and write its JSON; the wall time counts from the start of this script's imports."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s baseline: %(message)s")
    logging.getLogger("mobilenet.progress").setLevel(logging.INFO)
    args = parse_args(argv)
    overrides = [*args.overrides, f"data.root={os.path.abspath(args.data)}"]
    if args.arch:
        overrides.append(f"model.architectures={args.arch}")
    config = config_lib.load_config(args.config, overrides)
    scratch = tempfile.mkdtemp(prefix="baseline-")
    try:
        result = run(config, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.update(
        {
            "wall_seconds": time.monotonic() - STARTED,
            "import_seconds": IMPORT_SECONDS,
            "heavy_modules_imported": sorted(
                name for name in ("tfx", "tensorflow_transform", "apache_beam", "ml_metadata") if name in sys.modules
            ),
            "config": config.to_dict(),
        }
    )
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
