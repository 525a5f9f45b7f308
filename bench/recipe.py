"""A plain training recipe against the photo recipe, on one image folder at several input sizes.

Each (size, recipe) trains in a fresh Python process, so the first epoch's cost is measured as a run pays it:

- `before`: a plain recipe. No validation split (the Trainer watched the eval split),
  BatchNorm momentum 0.999 (Keras' default) and no recalibration of its statistics, a constant learning rate, no
  augmentation or label smoothing, AutoGraph converting legacy Keras (no `keras_autograph` exemption), the last
  epoch's model pushed, and float32 pixels in the transformed examples.
- `after`: the `--config` recipe (default `pipeline/profiles/photos.yaml`): a validation split picks the epoch,
  the eval split is only scored, pixels stored as `data.example_jpeg_quality` says (a q95 JPEG by default).

Both read the folder as the pipeline does (`bench/baseline.py`: the image checks, the hash split on the file name,
the Transform's resize) and train with the Trainer's `train_model` and network builders; accuracy is the kept
(after) or last (before) model's top-1 on the eval split. Bytes per transformed example come from
`bench.example_bytes` on up to 200 of the images.

    python -m bench.recipe DATA --sizes 96 224 [--config FILE] [--set model.architectures=v2]
        [--recipes before after] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench import runs
from pipeline.config import PHOTO_PROFILE
from pipeline.reporting.tables import text_table

RECIPES = ("before", "after")
BEFORE = [
    "data.validation_fraction=0",
    "data.example_jpeg_quality=0",
    "model.bn_momentum=0.999",
    "train.warmup_epochs=0",
    "train.label_smoothing=0",
    "train.augment=false",
    "train.recalibrate_bn_batches=0",
]
"""What the `before` recipe sets on top of the same config file (its batch size, epochs and learning rate)."""


def _train_here(data: str, size: int, recipe: str, config_file: str, overrides: list[str]) -> dict[str, Any]:
    """In this (child) process: load the folder at `size`, train with `recipe`, score on eval."""
    import numpy as np
    import tensorflow as tf

    from bench import baseline
    from components import keras_autograph
    from components.trainer import fitting
    from pipeline.config import load_config

    config = load_config(
        config_file,
        [
            *(BEFORE if recipe == "before" else []),
            *overrides,
            f"model.input_size={size}",
            f"data.root={os.path.abspath(data)}",
        ],
    )
    if recipe == "before":
        keras_autograph.exempt_tf_keras = lambda: None
    architecture = config.model.architectures[0]
    hparams = config.trainer_hparams(architecture)
    loaded = baseline.load_splits(
        config.data.root,
        size,
        config.data.eval_fraction,
        config.data.max_image_pixels,
        config.data.validation_fraction,
        config.data.example_jpeg_quality,
    )
    splits = loaded["splits"]
    (train_x, train_y), (eval_x, eval_y) = splits["train"], splits["eval"]
    watched = splits.get("validation", splits["eval"])
    train_data = (
        tf.data.Dataset.from_tensor_slices((train_x, train_y))
        .shuffle(4096, seed=hparams.seed, reshuffle_each_iteration=True)
        .batch(hparams.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    epochs: list[dict[str, float]] = []

    class EpochLog(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epochs.append(
                {
                    "seconds": round(time.monotonic() - self.start, 1),
                    "watched_accuracy": round(float((logs or {}).get("val_accuracy", float("nan"))), 4),
                }
            )

    trained = fitting.train_model(
        baseline.BUILDERS[architecture],
        train_data,
        tf.data.Dataset.from_tensor_slices(watched).batch(hparams.batch_size),
        len(loaded["classes"]),
        hparams,
        callbacks=[EpochLog()],
    )
    if recipe == "before":  # the last epoch was pushed and the eval split was what it watched
        accuracy, kept = epochs[-1]["watched_accuracy"], len(epochs)
    else:
        probabilities = trained.model.predict(eval_x, batch_size=hparams.batch_size, verbose=0)
        accuracy, kept = round(float(np.mean(probabilities.argmax(axis=1) == eval_y)), 4), trained.kept_epoch
    return {
        "architecture": architecture,
        "alpha": hparams.alpha,
        "classes": len(loaded["classes"]),
        "images": {name: int(len(labels)) for name, (_, labels) in splits.items()},
        "eval_accuracy": accuracy,
        "kept_epoch": kept,
        "epochs": epochs,
    }


def _bytes(data: str, sizes: list[int], jpeg_quality: int) -> dict[int, dict[str, Any]]:
    """Bytes per example on disk at each size (raw, uint8 and JPEG now, float32 before), on up to 200 images."""
    from bench import example_bytes

    files = example_bytes.image_list(data, 200)
    with tempfile.TemporaryDirectory() as scratch:
        return {size: example_bytes.measure(files, size, scratch, jpeg_quality or 95) for size in sizes}


def measure(
    data: str, sizes: list[int], config_file: str, overrides: list[str], recipes: tuple[str, ...] = RECIPES
) -> list[dict[str, Any]]:
    """One fresh process per (size, recipe); rows with accuracy, kept epoch, epoch seconds and bytes."""
    from pipeline.config import load_config

    jpeg_quality = load_config(config_file, overrides).data.example_jpeg_quality
    rows, example_bytes = [], _bytes(data, sizes, jpeg_quality)
    for size in sizes:
        for recipe in recipes:
            command = [
                sys.executable,
                "-m",
                "bench.recipe",
                data,
                "--child",
                recipe,
                "--sizes",
                str(size),
                "--config",
                config_file,
                *[arg for item in overrides for arg in ("--set", item)],
            ]
            started = time.monotonic()
            out = subprocess.run(command, capture_output=True, text=True, check=False, env=runs.child_env())
            if out.returncode != 0:
                raise RuntimeError(f"recipe {recipe} at {size} px failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            encoding = "float32" if recipe == "before" else "jpeg" if jpeg_quality else "uint8"
            measured = example_bytes[size]
            rows.append(
                {
                    "size": size,
                    "recipe": recipe,
                    **result,
                    "transformed_bytes_per_example": round(measured[f"{encoding}_bytes_per_example"]),
                    "process_seconds": round(time.monotonic() - started, 1),
                    "raw_bytes_per_example": round(measured["raw_bytes_per_example"]),
                    "uint8_pixel_bytes": measured["uint8_pixel_bytes"],
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as the README's table (`watched`: the split the epoch was scored on, eval before, validation after)."""
    header = [
        "size",
        "recipe",
        "eval accuracy",
        "kept epoch",
        "epoch 1 s",
        "later epochs s (median)",
        "bytes / transformed example",
        "bytes / raw example",
        "watched accuracy by epoch",
    ]
    return text_table(
        header,
        [
            [
                str(row["size"]),
                row["recipe"],
                f"{row['eval_accuracy']:.3f}",
                f"{row['kept_epoch']} of {len(row['epochs'])}",
                f"{row['epochs'][0]['seconds']:.1f}",
                f"{statistics.median(e['seconds'] for e in row['epochs'][1:]):.1f}",
                f"{row['transformed_bytes_per_example']:,}",
                f"{row['raw_bytes_per_example']:,}",
                " ".join(f"{e['watched_accuracy']:.2f}" for e in row["epochs"]),
            ]
            for row in rows
        ],
    )


def main(argv: list[str] | None = None) -> None:
    """Print the before/after table (and write the rows as JSON with --json)."""
    parser = argparse.ArgumentParser(prog="python -m bench.recipe", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="folder of class sub-folders of images")
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224])
    parser.add_argument("--config", default=str(PHOTO_PROFILE), help="the `after` recipe (default: %(default)s)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key in both recipes, e.g. model.architectures=v2 (repeatable)",
    )
    parser.add_argument(
        "--recipes", nargs="+", choices=RECIPES, default=list(RECIPES), help="which recipes to train (default: both)"
    )
    parser.add_argument("--json", metavar="OUT", help="also write the rows here")
    parser.add_argument("--child", choices=RECIPES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        print(json.dumps(_train_here(args.data, args.sizes[0], args.child, args.config, args.overrides)))
        return
    rows = measure(args.data, args.sizes, args.config, args.overrides, tuple(args.recipes))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)
    splits = ", ".join(
        f"{recipe} {next(row for row in rows if row['recipe'] == recipe)['images']}" for recipe in args.recipes
    )
    print(
        f"{args.data}: {rows[0]['classes']} classes, MobileNet {rows[0]['architecture'].upper()} alpha "
        f"{rows[0]['alpha']}; images per split: {splits}"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
