"""The Trainer's epoch against a plain `model.fit` of the same network on the same images, and where the epoch's
time goes.

Per architecture, one after the other in one process, on the training split of one photo folder as the Transform
stores it (the Transform's resize and `data.example_jpeg_quality`, written as GZIP TFRecords of transformed
examples with tf.Transform's own metadata):

- `plain`: the network built by the pipeline's builder, compiled with Adam and sparse cross-entropy, fit on the
  decoded images as a NumPy array (no validation, no callbacks);
- `trainer`: `fitting.train_model` on `read_transformed` of those files, as the Trainer runs it (the validation
  split scored after each epoch, the best epoch kept), augmentation off: the BatchNorm statistics come from the
  epoch's last training steps;
- `trainer, augmented`: the same with `train.augment` on, whose BatchNorm recalibration makes extra forward passes
  over unaugmented batches.

An epoch's seconds are the median of the epochs after the first (the first traces the graph). The profile times,
apart, what an epoch can add to the plain fit: one pass of the input pipeline alone, one recalibration by extra
passes (what augmented training pays) and one validation pass. Each Trainer loop's kept validation accuracy is
beside its time.

    python -m bench.trainer_epoch DATA [--architectures v1 v2] [--size 224] [--epochs 4] [--config FILE]
        [--set KEY=VALUE ...] [--json OUT]
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

from bench import photo_study
from components.contracts import ARCHITECTURES
from pipeline.reporting.tables import text_table

log = logging.getLogger("mobilenet.bench")
LOOPS = ("plain", "trainer", "trainer, augmented")


def _write_transformed(path: str, encoded: list[bytes], labels: Any, size: int, jpeg_quality: int) -> list[bytes]:
    """The files as the Transform writes them (GZIP TFRecords of `image_xf` and `label_xf`) at `path`; returns each
    stored image (`image_xf`)."""
    import tensorflow as tf

    from components.transform import image_codec, preprocessing

    images: list[bytes] = []
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for start in range(0, len(encoded), 64):
            stored = image_codec.store_pixels(
                image_codec.decode_images(tf.constant(encoded[start : start + 64]), size), jpeg_quality
            )
            for value, label in zip(stored.numpy(), labels[start : start + 64]):
                feature = {
                    preprocessing.IMAGE_XF: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value])),
                    preprocessing.LABEL_XF: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
                }
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
            images += list(stored.numpy())
    return images


def _transform_output(directory: str) -> Any:
    """A `TFTransformOutput` over `directory` holding the transformed examples' metadata (tf.Transform's writer)."""
    import tensorflow as tf
    import tensorflow_transform as tft
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    from components.transform import preprocessing

    spec = {
        preprocessing.IMAGE_XF: tf.io.FixedLenFeature([], tf.string),
        preprocessing.LABEL_XF: tf.io.FixedLenFeature([], tf.int64),
    }
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec)),
        os.path.join(directory, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR),
    )
    return tft.TFTransformOutput(directory)


def _epoch_timer() -> tuple[Any, list[float]]:
    """A Keras callback and the list it appends each epoch's wall seconds to (callbacks before it included)."""
    import tensorflow as tf

    seconds: list[float] = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seconds.append(time.monotonic() - self.start)

    return Timer(), seconds


def _median_after_first(seconds: list[float]) -> float:
    return round(statistics.median(seconds[1:] if len(seconds) > 1 else seconds), 2)


def _timed(work: Callable[[], Any]) -> float:
    started = time.monotonic()
    work()
    return round(time.monotonic() - started, 2)


def _plain_epochs(builder: Any, images: Any, labels: Any, classes: int, hparams: Any) -> list[float]:
    """Seconds of each epoch of a plain `model.fit` on the arrays."""
    import tensorflow as tf

    from components.trainer import fitting

    tf.keras.utils.set_random_seed(hparams.seed)
    model = fitting.build_from(builder, classes, hparams)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(hparams.learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    timer, seconds = _epoch_timer()
    model.fit(images, labels, batch_size=hparams.batch_size, epochs=hparams.epochs, verbose=0, callbacks=[timer])
    return seconds


def _profile(model: Any, train: Any, watched: Any, batches: int) -> dict[str, float]:
    """Seconds of one pass of the input pipeline alone, one BatchNorm recalibration and one validation pass."""
    from components.trainer import fitting

    recalibration = fitting.RecalibrateBatchNorm(train, watched, batches)
    recalibration.set_model(model)
    recalibration.recalibrate()  # traces its graph function, as the first epoch does
    return {
        "input_pass": _timed(lambda: sum(1 for _ in train)),
        "recalibration": _timed(recalibration.recalibrate),
        "validation": _timed(lambda: model.evaluate(watched, verbose=0)),
    }


def measure(
    data: str, architectures: list[str], size: int, epochs: int, config_file: str, overrides: list[str]
) -> list[dict[str, Any]]:
    """One row per architecture: seconds per epoch of each loop, the ratios to the plain fit and the profile."""
    import tensorflow as tf

    from bench import baseline
    from components.trainer import fitting
    from components.transform import image_codec
    from components.transform.transformed_examples import read_transformed
    from pipeline.config import load_config

    common = [*overrides, f"model.input_size={size}", f"train.epochs={epochs}", f"data.root={os.path.abspath(data)}"]
    config = load_config(config_file, common)
    read = baseline.read_splits(
        config.data.root, config.data.eval_fraction, config.data.max_image_pixels, config.data.validation_fraction
    )
    watched_split = "validation" if "validation" in read["encoded"] else "eval"
    classes, labels = len(read["classes"]), read["labels"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        transform_output = _transform_output(scratch)
        files = {split: os.path.join(scratch, f"{split}.gz") for split in ("train", watched_split)}
        stored = {
            split: _write_transformed(
                path, read["encoded"][split], labels[split], size, config.data.example_jpeg_quality
            )
            for split, path in files.items()
        }
        train_images = image_codec.model_input(tf.constant(stored["train"])).numpy()
        for architecture in architectures:
            builder, seconds, accuracy = baseline.BUILDERS[architecture], {}, {}
            for loop in LOOPS:
                augmented = "true" if loop.endswith("augmented") else "false"
                hparams = load_config(config_file, [*common, f"train.augment={augmented}"]).trainer_hparams(
                    architecture
                )
                log.info("%s %s: %d epochs at %d px on %d images", architecture, loop, epochs, size, len(train_images))
                if loop == "plain":
                    seconds[loop] = _median_after_first(
                        _plain_epochs(builder, train_images, labels["train"], classes, hparams)
                    )
                    continue
                train = read_transformed([files["train"]], transform_output, hparams.batch_size, hparams.seed)
                watched = read_transformed([files[watched_split]], transform_output, hparams.batch_size)
                timer, epoch_seconds = _epoch_timer()
                trained = fitting.train_model(builder, train, watched, classes, hparams, callbacks=[timer])
                seconds[loop] = _median_after_first(epoch_seconds)
                accuracy[loop] = round(trained.validation_accuracy, 4)
                if loop == "trainer":
                    profile = _profile(trained.model, train, watched, hparams.recalibrate_bn_batches)
            rows.append(
                {
                    "architecture": architecture,
                    "alpha": hparams.alpha,
                    "size": size,
                    "train_images": int(len(train_images)),
                    "validation_images": int(len(labels[watched_split])),
                    "batch_size": hparams.batch_size,
                    "epochs": epochs,
                    "recalibrate_bn_batches": hparams.recalibrate_bn_batches,
                    "epoch_seconds": seconds,
                    "validation_accuracy": accuracy,
                    "trainer_epoch_ratio": round(seconds["trainer"] / seconds["plain"], 3),
                    "augmentation_ratio": round(seconds["trainer, augmented"] / seconds["trainer"], 3),
                    "profile_seconds": profile,
                }
            )
            log.info("%s: %s", architecture, rows[-1])
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Seconds per epoch of each loop, the two ratios and the profile, one line per network."""
    return text_table(
        [
            "model",
            *(f"{loop} (s/epoch)" for loop in LOOPS),
            "trainer / plain",
            "augmented / trainer",
            "input pass (s)",
            "recalibration (s)",
            "validation (s)",
            "kept val acc (trainer, augmented)",
        ],
        [
            [
                f"{row['architecture']} {row['alpha']} at {row['size']} px, {row['train_images']} images",
                *(f"{row['epoch_seconds'][loop]:.1f}" for loop in LOOPS),
                f"{row['trainer_epoch_ratio']:.2f}",
                f"{row['augmentation_ratio']:.2f}",
                *(f"{row['profile_seconds'][part]:.1f}" for part in ("input_pass", "recalibration", "validation")),
                ", ".join(f"{row['validation_accuracy'][loop]:.3f}" for loop in LOOPS[1:]),
            ]
            for row in rows
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = photo_study.parser(__doc__)
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES), choices=ARCHITECTURES)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per loop; the first is not counted")
    args = parser.parse_args(argv)
    photo_study.log_progress()
    rows = measure(args.data, args.architectures, args.size, args.epochs, args.config, args.overrides)
    return photo_study.report(rows, table(rows), args.json)


if __name__ == "__main__":
    sys.exit(main())
