"""Warm start: ImageNet file names, the Keras cache, loading by layer name and shape, refusals naming the file."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import fitting, mobilenet_v1, mobilenet_v2, warm_start, weight_sources
from pipeline.config import ConfigError, load_config
from tests.helpers import hyperparameters


def test_imagenet_file_names_are_keras_own():
    assert warm_start.imagenet_file_name("v1", 1.0, 224) == "mobilenet_1_0_224_tf_no_top.h5"
    assert warm_start.imagenet_file_name("v1", 0.25, 128) == "mobilenet_2_5_128_tf_no_top.h5"
    assert (
        warm_start.imagenet_file_name("v2", 1.4, 224)
        == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224_no_top.h5"
    )
    with pytest.raises(warm_start.WarmStartError, match="input sizes 128, 160, 192, 224, not 96"):
        warm_start.imagenet_file_name("v1", 1.0, 96)


def test_config_refuses_imagenet_at_a_size_without_weights():
    with pytest.raises(ConfigError, match="model.weights: 'imagenet' is invalid"):
        load_config(None, ["model.weights=imagenet", "model.input_size=32"])
    assert load_config(None, ["model.weights=imagenet", "model.input_size=224"]).model.weights == "imagenet"


def test_offline_imagenet_is_a_clear_error_naming_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline(*_args, **_kwargs):
        raise OSError("no network")

    monkeypatch.setattr(tf.keras.utils, "get_file", offline)
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    with pytest.raises(warm_start.WarmStartError, match=f"{name} is not in {tmp_path / 'keras' / 'models'}"):
        warm_start.resolve("imagenet", "v2", 0.35, 96)


def test_weights_in_the_keras_cache_load_by_name_except_the_head(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    source = mobilenet_v2.build_network((96, 96, 3), num_classes=1000, alpha=0.35)
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    path = cache / warm_start.imagenet_file_name("v2", 0.35, 96)
    source.save_weights(str(path))
    assert warm_start.resolve("imagenet", "v2", 0.35, 96) == str(path)
    target = mobilenet_v2.build_network((96, 96, 3), num_classes=5, alpha=0.35)
    loaded = warm_start.load_matching(target, str(path))
    with_weights = [layer for layer in target.layers if layer.weights]
    assert list(loaded.layers) == [layer.name for layer in with_weights][:-1]  # all but the 5-class head
    assert loaded.head.startswith("new")
    np.testing.assert_array_equal(
        target.get_layer("Conv1").get_weights()[0], source.get_layer("Conv1").get_weights()[0]
    )


def test_a_file_that_matches_no_layer_is_refused_naming_it(tmp_path):
    other = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, name="unrelated")])
    path = tmp_path / "other.h5"
    other.save_weights(str(path))
    model = mobilenet_v1.build_network((32, 32, 3), num_classes=3, alpha=0.25)
    with pytest.raises(warm_start.WarmStartError, match=f"no layer of .* matches a layer in {path}"):
        warm_start.load_matching(model, str(path))
    with pytest.raises(warm_start.WarmStartError, match="does not exist"):
        fitting.train_model(
            mobilenet_v1.build_network,
            None,
            None,
            3,
            hyperparameters(alpha=0.25, input_size=32, weights=str(tmp_path / "missing.h5")),
        )


def _fashion(classes: range, per_class: int, offset: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    from components.ingestion import demo_data

    images, labels, _ = demo_data.load_fashion_mnist()
    chosen = np.concatenate([np.flatnonzero(labels == k)[offset : offset + per_class] for k in classes])
    rgb = np.repeat(images[chosen][..., None], 3, axis=-1).astype(np.float32)
    x = (tf.image.resize(rgb, [size, size]) / 127.5 - 1.0).numpy()
    return x, (labels[chosen] - classes.start).astype(np.int64)


def _dataset(x: np.ndarray, y: np.ndarray, shuffle: bool) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    return (dataset.shuffle(len(y), seed=1) if shuffle else dataset).batch(32)


@pytest.mark.slow
def test_warm_start_from_an_earlier_run_beats_training_from_scratch(tmp_path):
    """Weights of a run on five Fashion-MNIST classes help a short run on the other five: same budget, same seed."""
    hparams = hyperparameters(alpha=0.25, input_size=32, learning_rate=0.003, seed=3)
    first = _fashion(range(0, 5), per_class=150, offset=0)
    model = fitting.train_model(
        mobilenet_v1.build_network,
        _dataset(*first, True),
        _dataset(*first, False),
        5,
        dataclasses.replace(hparams, epochs=4),
    ).model
    path = tmp_path / "first_run.h5"
    model.save_weights(str(path))
    train, held_out = _fashion(range(5, 10), per_class=20, offset=0), _fashion(range(5, 10), per_class=60, offset=20)
    accuracy = {}
    for weights in ("none", str(path)):
        second = fitting.train_model(
            mobilenet_v1.build_network,
            _dataset(*train, True),
            _dataset(*held_out, False),
            5,
            dataclasses.replace(hparams, epochs=3, weights=weights),
        ).model
        accuracy[weights] = second.evaluate(_dataset(*held_out, False), verbose=0)[1]
    assert accuracy[str(path)] > accuracy["none"], accuracy


@pytest.mark.parametrize(
    "weights, source",
    [
        ("production", ("channel", "")),
        ("channel:beta", ("channel", "beta")),
        ("version:3", ("version", 3)),
        ("none", None),
        ("imagenet", None),
        ("/tmp/w.h5", None),
    ],
)
def test_registry_sources_are_named_in_model_weights(weights, source):
    assert weight_sources.registry_source(weights) == source


@pytest.mark.parametrize("weights", ["version:0", "version:x", "channel:"])
def test_a_malformed_registry_source_is_refused_naming_it(weights):
    with pytest.raises(warm_start.WarmStartError, match=f"model.weights: {weights!r}"):
        weight_sources.registry_source(weights)


def _head(model: tf.keras.Model) -> list[np.ndarray]:
    return model.get_layer(warm_start.head_of(model)).get_weights()


def test_a_registry_head_of_the_same_classes_loads_matched_by_name(tmp_path):
    """The registry version's labels were in another order (an older frequency-ordered vocabulary): each output
    of the new head is the same class's output of the old one."""
    source = mobilenet_v1.build_network((32, 32, 3), num_classes=3, alpha=0.25)
    path = tmp_path / "weights.h5"
    source.save_weights(str(path))
    target = mobilenet_v1.build_network((32, 32, 3), num_classes=3, alpha=0.25)
    loaded = warm_start.load_matching(target, str(path), "v1", ["dog", "cat", "bird"], ["bird", "cat", "dog"])
    assert loaded.head == "kept (same classes, matched by name)"
    assert warm_start.head_of(target) == "conv_preds" and "conv_preds" in loaded.layers
    for old, new in zip(_head(source), _head(target)):
        np.testing.assert_array_equal(new, np.take(old, [2, 1, 0], axis=-1))


def test_a_registry_head_of_other_classes_is_re_initialised_and_said_so(tmp_path):
    """Same class count, one class replaced: loading the head by shape would give the new class the old one's
    output; it is left as built and the rest of the network loads."""
    source = mobilenet_v1.build_network((32, 32, 3), num_classes=3, alpha=0.25)
    path = tmp_path / "weights.h5"
    source.save_weights(str(path))
    target = mobilenet_v1.build_network((32, 32, 3), num_classes=3, alpha=0.25)
    built = _head(target)
    loaded = warm_start.load_matching(target, str(path), "v1", ["bird", "cat", "dog"], ["bird", "cat", "eel"])
    assert loaded.head == "re-initialised: the classes changed (added eel; removed dog)"
    assert "conv_preds" not in loaded.layers and len(loaded.layers) == loaded.total_layers - 1
    for old, new in zip(built, _head(target)):
        np.testing.assert_array_equal(new, old)


def test_a_registry_source_with_nothing_in_the_registry_trains_from_scratch(tmp_path):
    (tmp_path / warm_start.REGISTRY_WEIGHTS_RECORD).write_text(
        '{"version": null, "reason": "nothing in the registry yet"}'
    )
    assert warm_start.read_registry_weights(str(tmp_path)) == (None, "nothing in the registry yet")
    model, started = fitting.build_and_warm_start(
        mobilenet_v1.build_network, 3, hyperparameters(alpha=0.25, input_size=32, weights="production")
    )
    assert started is None and model.name.startswith("mobilenet_v1")
