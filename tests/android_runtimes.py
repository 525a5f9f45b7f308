"""The Android runtimes an app loads a pushed model with, from Python: MediaPipe Tasks' `ImageClassifier` and the
TFLite Task Library's (tflite-support). Each pins its own protobuf, so each lives in its own venv,
`.venv-runtimes/<runtime>/`, installed from `tests/runtimes/<runtime>.lock` by `make setup` (or here, on first use,
when the venv is missing) and driven through `tests/runtimes/classify.py`.

What the app sees, next to the pipeline's own measurement, for the models a run pushed:

    .venv/bin/python -m tests.android_runtimes --home runs --registry registry
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = ("mediapipe", "tflite-support")
RUNTIMES_DIR = REPO_ROOT / ".venv-runtimes"
LOCKS_DIR = REPO_ROOT / "tests" / "runtimes"


def runtime_python(runtime: str) -> Path:
    """The Python of `runtime`'s venv, created from its lock file when missing (as `make setup` does)."""
    venv = RUNTIMES_DIR / runtime
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        uv = Path(sys.executable).parent / "uv"
        subprocess.run([str(uv), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "-q", "--python", str(python), "-r", str(LOCKS_DIR / f"{runtime}.lock")],
            check=True,
        )
        (venv / ".installed").touch()
    return python


def classify(runtime: str, model: Path, images: Sequence[np.ndarray], scratch: Path) -> dict[str, Any]:
    """Classify RGB uint8 `images` (original sizes) with `runtime` from `model`'s metadata: {"labels": category
    names by output index, "scores": one list per image}."""
    archive = scratch / f"{runtime}-images.npz"
    np.savez(archive, **{str(index): image for index, image in enumerate(images)})
    out = subprocess.run(
        [str(runtime_python(runtime)), str(LOCKS_DIR / "classify.py"), runtime, str(model), str(archive)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{runtime} could not classify with {model}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def eval_images(home: Path) -> tuple[list[np.ndarray], list[str]]:
    """The eval split of the newest ImageExampleGen output in the pipeline home `home`, as an app's bitmap has each
    image (decoded from the original file's bytes to RGB uint8, original size), and the labels."""
    from components.ingestion import original_images

    outputs = sorted((home / "pipeline_root" / "ImageExampleGen" / "examples").iterdir(), key=lambda p: int(p.name))
    pairs = list(original_images.read_split(str(outputs[-1] / "Split-eval")))
    return [frame for frame, _ in pairs], [label for _, label in pairs]


def main(argv: list[str] | None = None) -> None:
    """Print, per model the registry's production channel (else latest version) serves, the accuracy the pipeline
    measured, the app path's on LiteRT (the TFLite step's own) and each runtime's on the eval images' original
    files."""
    from components.contracts import LABELS_FILE, MODEL_FILE
    from components.registry.pull import DEFAULT_CHANNEL
    from components.registry.store import Registry
    from components.tflite import app_path, measurement

    parser = argparse.ArgumentParser(prog="python -m tests.android_runtimes", description=main.__doc__)
    parser.add_argument("--home", default="runs", help="pipeline home of the run (default runs)")
    parser.add_argument("--registry", default="registry", help="registry root (default registry)")
    args = parser.parse_args(argv)
    images, names = eval_images(Path(args.home))
    registry = Registry(args.registry)
    print(f"{len(images)} eval images from {args.home}, decoded to RGB from their files")
    print(
        "model         version  pipeline (interpreter)  app path (LiteRT)  "
        + "  ".join(f"{runtime:>14}" for runtime in RUNTIMES)
    )
    with tempfile.TemporaryDirectory() as scratch:
        for summary in registry.list_models():
            version = registry.show(summary.name, summary.channels.get(DEFAULT_CHANNEL))
            model = Path(version.path) / MODEL_FILE
            labels = (Path(version.path) / LABELS_FILE).read_text(encoding="utf-8").splitlines()
            truth = np.array([labels.index(name) for name in names])
            _, height, width, _ = version.manifest["input_shape"]
            pixels = app_path.Originals.of(zip(images, names), labels, height, width).pixels
            app = float(np.mean(np.argmax(measurement.app_path_predictions(model.read_bytes(), pixels), 1) == truth))
            accuracies = [
                float(np.mean(np.argmax(classify(runtime, model, images, Path(scratch))["scores"], axis=1) == truth))
                for runtime in RUNTIMES
            ]
            print(
                f"{summary.name:<13} {version.version:<8} {version.manifest['tflite_accuracy']:>22.4f}  {app:>17.4f}  "
                + "  ".join(f"{accuracy:>14.4f}" for accuracy in accuracies)
            )


if __name__ == "__main__":
    main()
