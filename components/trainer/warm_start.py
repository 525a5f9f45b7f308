"""Warm start: the MobileNet's weights from ImageNet (Keras' own weight files) or from a `.h5` file of ours.

`model.weights` is `none`, `imagenet` or a path. `imagenet` is the Keras applications weight file for the
architecture, width and input size, by its standard name, looked up in the Keras cache
(`$KERAS_HOME/models`, default `~/.keras/models`) and downloaded there when the machine is online. Weights load
by layer name (the builders use the Keras reference's layer names); only layers whose every weight has the same
shape are loaded, the classifier head of another class count never is, and a file that matches no layer is an
error naming it.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import tensorflow as tf

from components import PROGRESS_LOGGER

NONE, IMAGENET = "none", "imagenet"
IMAGENET_SIZES = {"v1": (128, 160, 192, 224), "v2": (96, 128, 160, 192, 224)}
"""Input sizes with ImageNet weights; every allowed width has them (V1 0.25 to 1.0, V2 0.35 to 1.4)."""
IMAGENET_URLS = {"v1": "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/",
                 "v2": "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"}
_V1_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
progress = logging.getLogger(PROGRESS_LOGGER)


class WarmStartError(ValueError):
    """The weights asked for cannot be found or do not fit the network; the message names the file."""


def imagenet_file_name(architecture: str, alpha: float, size: int) -> str:
    """Keras' name of the ImageNet weight file without the classifier top, e.g. `mobilenet_1_0_224_tf_no_top.h5`."""
    if size not in IMAGENET_SIZES[architecture]:
        raise WarmStartError(f"model.weights=imagenet: MobileNet {architecture.upper()} has ImageNet weights for "
                             f"input sizes {', '.join(map(str, IMAGENET_SIZES[architecture]))}, not {size}")
    if architecture == "v1":
        return f"mobilenet_{_V1_ALPHA_TEXT[alpha]}_{size}_tf_no_top.h5"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}_no_top.h5"


def keras_cache() -> str:
    """Where Keras keeps downloaded weight files."""
    return os.path.join(os.environ.get("KERAS_HOME") or os.path.expanduser(os.path.join("~", ".keras")), "models")


def resolve(weights: str, architecture: str, alpha: float, size: int) -> str | None:
    """The weight file `model.weights` names (None for `none`): a path, or the ImageNet file from the Keras cache,
    downloaded when missing and the network allows."""
    if not weights or weights == NONE:
        return None
    if weights != IMAGENET:
        if not tf.io.gfile.exists(weights):
            raise WarmStartError(f"model.weights: {weights} does not exist")
        return weights
    name = imagenet_file_name(architecture, alpha, size)
    cached = os.path.join(keras_cache(), name)
    if os.path.exists(cached):
        return cached
    url = IMAGENET_URLS[architecture] + name
    try:
        return tf.keras.utils.get_file(name, url, cache_subdir="models")
    except Exception as error:  # noqa: BLE001 - any download failure means the same thing to the user
        raise WarmStartError(f"model.weights=imagenet: {name} is not in {keras_cache()} and could not be downloaded "
                             f"({type(error).__name__}); put Keras' file from {url} there, or give model.weights "
                             "a path") from None


def _stored_layers(handle: Any) -> Any:
    """The group holding per-layer weights (a `save_weights` file, or a whole-model `.h5`)."""
    return handle["model_weights"] if "model_weights" in handle else handle


def load_matching(model: tf.keras.Model, path: str) -> list[str]:
    """Load into `model` every layer of the `.h5` file at `path` with the same name and weight shapes; return the
    names of the layers loaded (the backbone a fine-tuning schedule freezes), and refuse a file that matches none."""
    import h5py

    loaded: list[str] = []
    try:
        with tf.io.gfile.GFile(path, "rb") as raw, h5py.File(raw, "r") as handle:
            stored = _stored_layers(handle)
            for layer in model.layers:
                if not layer.weights or layer.name not in stored:
                    continue
                group = stored[layer.name]
                names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
                values = [group[name][()] for name in names]
                if [v.shape for v in values] == [tuple(w.shape) for w in layer.weights]:
                    layer.set_weights(values)
                    loaded.append(layer.name)
    except OSError as error:
        raise WarmStartError(f"model.weights: {path} is not a Keras .h5 weight file ({error})") from None
    if not loaded:
        raise WarmStartError(f"model.weights: no layer of {model.name} matches a layer in {path} (by name and "
                             "weight shapes): wrong architecture, width or file")
    total = sum(1 for layer in model.layers if layer.weights)
    progress.info("%s: warm start from %s: loaded %d of %d layers", model.name, os.path.basename(path), len(loaded),
                  total)
    return loaded
