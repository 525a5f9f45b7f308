"""What training on the app's resize is worth: the photo recipe trained twice on one folder, once on images resized
at pixel centres (`tf.image.resize`, bilinear, no antialiasing: what the Transform did before, and the TFLite Task
Library's downscaling) and once on the Transform's resize (MediaPipe Tasks' CPU path, bit for bit). Each model is
converted to int8 and scored on LiteRT on the eval split's files resized both ways (exact pixels), so the table
shows what a model loses when the app resizes differently from its training.

    python -m bench.resize_gap DATA [--architecture v1] [--size 224] [--seeds 42] [--config FILE]
        [--set KEY=VALUE ...] [--json OUT]

It reads the folder as the pipeline does (`bench/baseline.py`: the image checks, the hash split, the Transform's
storage) and trains with the Trainer's `train_model` and network builders.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from typing import Any, Callable

from bench import photo_study
from components.contracts import ARCHITECTURES
from pipeline.reporting.tables import text_table

log = logging.getLogger("mobilenet.bench")
RESIZES = ("pixel centres", "the app's")
"""The two resizes, in the table's order: `tf.image.resize` at pixel centres, and `image_codec.resize_like_the_app`."""


def _resize(name: str) -> Callable[[Any, int], Any]:
    """The named resize of one uint8 image [H, W, 3] to uint8 [size, size, 3]."""
    import tensorflow as tf

    from components.transform import image_codec

    if name == "the app's":
        return lambda image, size: image_codec.resize_like_the_app(image, size, size)

    def at_pixel_centres(image: tf.Tensor, size: int) -> tf.Tensor:
        resized = tf.image.resize(tf.cast(image, tf.float32), [size, size], method="bilinear", antialias=False)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)

    return at_pixel_centres


def _decode(encoded: list[bytes], size: int, resize: str, jpeg_quality: int) -> Any:
    """Encoded files as the model's float32 input [N, size, size, 3]: decoded, resized by `resize`, stored as the
    Transform stores them (`jpeg_quality` 0: exact pixels) and scaled to [-1, 1]."""
    import numpy as np
    import tensorflow as tf

    from components.transform import image_codec

    resized = _resize(resize)
    batches = []
    for start in range(0, len(encoded), 256):
        pixels = tf.stack([resized(image_codec.decode_rgb(tf.constant(e)), size) for e in encoded[start : start + 256]])
        batches.append(image_codec.model_input(image_codec.store_pixels(pixels, jpeg_quality)).numpy())
    return np.concatenate(batches) if batches else np.zeros((0, size, size, 3), np.float32)


def measure(
    data: str, architecture: str, size: int, seeds: list[int], config_file: str, overrides: list[str]
) -> list[dict[str, Any]]:
    """One row per seed and training resize: int8 top-1 on the eval files resized each way, and what the resize the
    model was not trained on costs it."""
    import tensorflow as tf

    from bench import baseline
    from components.tflite import conversion, measurement
    from components.trainer import export, fitting
    from pipeline.config import load_config

    common = [
        *overrides,
        f"model.architectures={architecture}",
        f"model.input_size={size}",
        f"data.root={os.path.abspath(data)}",
    ]
    config = load_config(config_file, common)
    read = baseline.read_splits(
        config.data.root, config.data.eval_fraction, config.data.max_image_pixels, config.data.validation_fraction
    )
    labels, quality = read["labels"], config.data.example_jpeg_quality
    evals = {resize: _decode(read["encoded"]["eval"], size, resize, 0) for resize in RESIZES}
    rows = []
    for seed in seeds:
        hparams = load_config(config_file, [*common, f"train.seed={seed}"]).trainer_hparams(architecture)
        for trained_on, other in zip(RESIZES, reversed(RESIZES)):
            train_x = _decode(read["encoded"]["train"], size, trained_on, quality)
            watched_split = "validation" if "validation" in read["encoded"] else "eval"
            watched = (_decode(read["encoded"][watched_split], size, trained_on, quality), labels[watched_split])
            train = (
                tf.data.Dataset.from_tensor_slices((train_x, labels["train"]))
                .shuffle(4096, seed=seed, reshuffle_each_iteration=True)
                .batch(hparams.batch_size)
                .prefetch(tf.data.AUTOTUNE)
            )
            model = fitting.train_model(
                baseline.BUILDERS[architecture],
                train,
                tf.data.Dataset.from_tensor_slices(watched).batch(hparams.batch_size),
                len(read["classes"]),
                hparams,
            ).model
            with tempfile.TemporaryDirectory() as scratch:
                export.save_for_conversion(model, scratch, size)
                model_bytes = conversion.convert(
                    conversion.load(scratch), "int8", train_x[: config.tflite.representative_examples]
                )
            scored = {
                resize: measurement.accuracy(
                    measurement.tflite_predictions(model_bytes, images, config.tflite.threads), labels["eval"]
                )["top1"]
                for resize, images in evals.items()
            }
            rows.append(
                {
                    "architecture": architecture,
                    "alpha": hparams.alpha,
                    "size": size,
                    "seed": seed,
                    "trained_on": trained_on,
                    "int8_accuracy": scored,
                    "other_resize_loses_points": round(100 * (scored[trained_on] - scored[other]), 2),
                    "eval_images": int(len(labels["eval"])),
                }
            )
            log.info("%s seed %d trained on %s resize: %s", architecture, seed, trained_on, scored)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table: int8 accuracy on each eval resize, and the points the resize a model was not
    trained on costs it."""
    return text_table(
        [
            "model",
            "seed",
            "trained on",
            *(f"int8, eval {resize}" for resize in RESIZES),
            "the other resize loses (points)",
        ],
        [
            [
                f"{row['architecture']} {row['alpha']} at {row['size']} px",
                row["seed"],
                row["trained_on"],
                *(f"{row['int8_accuracy'][resize]:.3f}" for resize in RESIZES),
                f"{row['other_resize_loses_points']:+.1f}",
            ]
            for row in rows
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = photo_study.parser(__doc__)
    parser.add_argument("--architecture", default="v1", choices=ARCHITECTURES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    args = parser.parse_args(argv)
    photo_study.log_progress()
    rows = measure(args.data, args.architecture, args.size, args.seeds, args.config, args.overrides)
    return photo_study.report(rows, table(rows), args.json)


if __name__ == "__main__":
    sys.exit(main())
