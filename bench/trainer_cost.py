"""The Trainer's fixed cost on a tiny model: the first and second epoch with and without AutoGraph converting
legacy Keras, and saving and reloading the SavedModel with and without Keras' per-layer call traces.

Each AutoGraph setting runs in a fresh Python process (AutoGraph's rules and its conversion cache are per
process): MobileNet V1 or V2, built by the pipeline's own builder and fit by `fitting.train_model` on random
images, then saved with the serving signature the TFLite step reads.

    python -m bench.trainer_cost [--architecture v1] [--size 32] [--examples 96] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench import runs
from pipeline.reporting.tables import text_table

ALPHAS = {"v1": 0.25, "v2": 0.35}


def _measure_here(architecture: str, size: int, examples: int, batch_size: int, exempt: bool) -> dict[str, Any]:
    """In this (child) process: seconds of 2 epochs, then of saving and loading with and without call traces."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    from components import keras_autograph
    from components.trainer import export, fitting, mobilenet_v1, mobilenet_v2
    from pipeline.config import Config

    if not exempt:  # TensorFlow's default: train_model's exemption switched off in this child process
        keras_autograph.exempt_tf_keras = lambda: None
    builder = {"v1": mobilenet_v1, "v2": mobilenet_v2}[architecture].build_network
    images = tf.random.stateless_uniform((examples, size, size, 3), (1, 2), -1.0, 1.0)
    labels = tf.random.stateless_uniform((examples,), (3, 4), 0, 3, tf.int64)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    seconds: list[float] = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seconds.append(round(time.monotonic() - self.start, 1))

    hparams = dataclasses.replace(
        Config().trainer_hparams(architecture), input_size=size, alpha=ALPHAS[architecture], epochs=2
    )
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        model = fitting.train_model(builder, data, data, 3, hparams, log_dir=scratch, callbacks=[Timer()]).model
        result.update(epoch_1_s=seconds[0], epoch_2_s=seconds[1])
        for traces in (True, False):
            path = os.path.join(scratch, f"traces_{traces}")
            start = time.monotonic()
            export.save_for_conversion(model, path, size, save_traces=traces)
            saved = time.monotonic()
            tf.saved_model.load(path)
            result[f"save_traces_{traces}"] = (round(saved - start, 1), round(time.monotonic() - saved, 1))
    return result


def measure(architecture: str, size: int, examples: int, batch_size: int) -> list[dict[str, Any]]:
    """One fresh process per AutoGraph setting: converting tf_keras (TensorFlow's default), then exempted."""
    rows = []
    for exempt in (False, True):
        command = [
            sys.executable,
            "-m",
            "bench.trainer_cost",
            "--child",
            "--architecture",
            architecture,
            "--size",
            str(size),
            "--examples",
            str(examples),
            "--batch-size",
            str(batch_size),
        ]
        if exempt:
            command.append("--exempt")
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=runs.child_env()).stdout
        rows.append(
            {
                "autograph": "skips tf_keras" if exempt else "converts tf_keras (TF default)",
                **json.loads(out.strip().splitlines()[-1]),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print the epoch seconds and the save / load seconds of each setting as tables (JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architecture", choices=sorted(ALPHAS), default="v1")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--examples", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--exempt", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure_here(args.architecture, args.size, args.examples, args.batch_size, args.exempt)))
        return
    rows = measure(args.architecture, args.size, args.examples, args.batch_size)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        text_table(
            ["autograph", "epoch 1 s", "epoch 2 s"],
            [[row["autograph"], str(row["epoch_1_s"]), str(row["epoch_2_s"])] for row in rows],
        )
    )
    print()
    print(
        text_table(
            ["autograph", "call traces", "save s", "tf.saved_model.load s"],
            [
                [
                    row["autograph"],
                    "saved" if traces else "not saved",
                    str(row[f"save_traces_{traces}"][0]),
                    str(row[f"save_traces_{traces}"][1]),
                ]
                for row in rows
                for traces in (True, False)
            ],
        )
    )


if __name__ == "__main__":
    main()
