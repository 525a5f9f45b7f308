"""Warm start: the MobileNet's weights from the registry, from ImageNet (Keras' own weight files) or a `.h5` file.

`model.weights` names one of them (`weight_sources`). `imagenet` is the Keras applications weight file for the
architecture, width and input size, by its standard name, looked up in the Keras cache (`$KERAS_HOME/models`,
default `~/.keras/models`) and downloaded there when the machine is online. A registry version's float weights are
found and verified by the new-data check, which hands them to the Trainer as its base model (`RegistryWeights`);
with nothing in the registry yet, the run starts from scratch and says so.

Weights load by layer name (the builders use the Keras reference's layer names); only layers whose every weight has
the same shape are loaded, and a file that matches no layer is an error naming it. The classifier head (the
network's last layer with weights, whose last axis is the classes) of a registry version loads only when it was
trained on the same set of classes, its outputs matched to this model's classes by name; when the class set changed
it is re-initialised, and the result says so.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from components import PROGRESS_LOGGER, json_files
from components.contracts import WEIGHTS_FILE
from components.trainer.weight_sources import IMAGENET, NONE, WarmStartError

REGISTRY_WEIGHTS_RECORD = "registry_weights.json"
"""In the folder the new-data check writes for a Trainer: which registry version's weights and labels are there,
or why there are none."""
WARM_START_RECORD = "warm_start.json"
"""Beside a trained model's SavedModel: what its weights started from (`WarmStart.to_json`)."""
IMAGENET_SIZES = {"v1": (128, 160, 192, 224), "v2": (96, 128, 160, 192, 224)}
"""Input sizes with ImageNet weights; every allowed width has them (V1 0.25 to 1.0, V2 0.35 to 1.4)."""
IMAGENET_URLS = {
    "v1": "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/",
    "v2": "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/",
}
_V1_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
progress = logging.getLogger(PROGRESS_LOGGER)


@dataclasses.dataclass(frozen=True)
class RegistryWeights:
    """A registry version's float weights and the labels of its outputs, as the new-data check copied them."""

    path: str
    labels: tuple[str, ...]
    description: str


def read_registry_weights(folder: str) -> tuple[RegistryWeights | None, str]:
    """What the new-data check left in `folder` (its record and files): the weights, or None with the reason."""
    record_path = os.path.join(folder, REGISTRY_WEIGHTS_RECORD)
    record = json_files.read_optional(record_path)
    if record is None:
        raise WarmStartError(
            f"model.weights: {record_path} is missing: the Trainer was not given the new-data check's base model"
        )
    if record.get("version") is None:
        return None, record.get("reason", "no registry version to start from")
    description = f"{record['model_name']} version {record['version']} ({record['source']})"
    return RegistryWeights(os.path.join(folder, WEIGHTS_FILE), tuple(record["labels"]), description), ""


def imagenet_file_name(architecture: str, alpha: float, size: int) -> str:
    """Keras' name of the ImageNet weight file without the classifier top, e.g. `mobilenet_1_0_224_tf_no_top.h5`."""
    if size not in IMAGENET_SIZES[architecture]:
        raise WarmStartError(
            f"model.weights=imagenet: MobileNet {architecture.upper()} has ImageNet weights for "
            f"input sizes {', '.join(map(str, IMAGENET_SIZES[architecture]))}, not {size}"
        )
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
        raise WarmStartError(
            f"model.weights=imagenet: {name} is not in {keras_cache()} and could not be downloaded "
            f"({type(error).__name__}); put Keras' file from {url} there, or give model.weights "
            "a path"
        ) from None


def _stored_layers(handle: Any) -> Any:
    """The group holding per-layer weights (a `save_weights` file, or a whole-model `.h5`)."""
    return handle["model_weights"] if "model_weights" in handle else handle


@dataclasses.dataclass(frozen=True)
class WarmStart:
    """What a warm start loaded: from where, the layers (the backbone a fine-tuning schedule freezes), and what
    happened to the classifier head."""

    source: str
    layers: tuple[str, ...]
    total_layers: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "layers_loaded": len(self.layers),
            "layers": self.total_layers,
            "head": self.head,
        }


def read_warm_start_record(model_dir: str) -> dict[str, Any] | None:
    """What the trained model in the artifact folder `model_dir` started from; None when it started from scratch."""
    return json_files.read_optional(os.path.join(model_dir, WARM_START_RECORD))


def head_of(model: tf.keras.Model) -> str:
    """The classifier head's layer name: the network's last layer with weights (its outputs are the classes)."""
    return [layer.name for layer in model.layers if layer.weights][-1]


def head_order(source_labels: Sequence[str], labels: Sequence[str]) -> list[int] | None:
    """For each of `labels`, the index of the same class in `source_labels`; None when the class sets differ."""
    if set(source_labels) != set(labels) or len(source_labels) != len(labels):
        return None
    position = {name: index for index, name in enumerate(source_labels)}
    return [position[name] for name in labels]


def _class_changes(source_labels: Sequence[str], labels: Sequence[str]) -> str:
    added, removed = sorted(set(labels) - set(source_labels)), sorted(set(source_labels) - set(labels))
    return "; ".join(
        part
        for part in (f"added {', '.join(added)}" if added else "", f"removed {', '.join(removed)}" if removed else "")
        if part
    )


def load_matching(
    model: tf.keras.Model,
    path: str,
    source: str = "",
    source_labels: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> WarmStart:
    """Load into `model` every layer of the `.h5` file at `path` with the same name and weight shapes, and refuse
    a file that matches none. With `source_labels` (the classes of the file's head, in order) and `labels` (this
    model's), the head loads only for the same class set, reordered to `labels`; otherwise it is left as built."""
    import h5py

    order = head_order(source_labels, labels) if source_labels is not None and labels is not None else None
    head_layer = head_of(model)
    loaded: list[str] = []
    try:
        with tf.io.gfile.GFile(path, "rb") as raw, h5py.File(raw, "r") as handle:
            stored = _stored_layers(handle)
            for layer in model.layers:
                if not layer.weights or layer.name not in stored:
                    continue
                if layer.name == head_layer and source_labels is not None and order is None:
                    continue
                group = stored[layer.name]
                names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
                values = [group[name][()] for name in names]
                if layer.name == head_layer and order is not None:
                    values = [np.take(value, order, axis=-1) for value in values]
                if [v.shape for v in values] == [tuple(w.shape) for w in layer.weights]:
                    layer.set_weights(values)
                    loaded.append(layer.name)
    except OSError as error:
        raise WarmStartError(f"model.weights: {path} is not a Keras .h5 weight file ({error})") from None
    if not loaded:
        raise WarmStartError(
            f"model.weights: no layer of {model.name} matches a layer in {path} (by name and "
            "weight shapes): wrong architecture, width or file"
        )
    total = sum(1 for layer in model.layers if layer.weights)
    if source_labels is None:
        head = "loaded (same shape)" if head_layer in loaded else "new (the file has none of this shape)"
    elif order is not None:
        head = "kept (same classes, matched by name)"
    else:
        head = f"re-initialised: the classes changed ({_class_changes(source_labels, labels or [])})"
    result = WarmStart(source or os.path.basename(path), tuple(loaded), total, head)
    progress.info(
        "%s: warm start from %s: loaded %d of %d layers; classifier head %s",
        model.name,
        result.source,
        len(loaded),
        total,
        head,
    )
    return result
