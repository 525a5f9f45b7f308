"""The training recipe: the best validation epoch is kept, warm-up then cosine decay, label smoothing,
augmentation only in training, and the split wiring that keeps eval away from the Trainer."""

import json

import numpy as np
import pytest
import tensorflow as tf

from components.contracts import PREPROCESSED_SIGNATURE
from components.ingestion import image_files
from components.trainer import export, fitting, mobilenet_v1
from pipeline.config import ConfigError, load_config
from tests.helpers import hyperparameters

AUGMENTATION_OPS = {
    "SampleDistortedBoundingBoxV2",
    "RandomUniform",
    "RandomUniformInt",
    "AdjustContrastv2",
    "StatelessRandomUniformV2",
    "StatelessRandomGetKeyCounter",
    "RandomShuffle",
}


def _tiny_data(seed: int = 0, count: int = 48, size: int = 32) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = np.where(labels[:, None, None, None] == 1, 0.6, -0.6) + rng.normal(0, 0.2, (count, size, size, 3))
    return tf.data.Dataset.from_tensor_slices((images.astype(np.float32), labels.astype(np.int64))).batch(16)


def test_the_best_validation_epoch_is_restored():
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    keep = fitting.KeepBestEpoch()
    keep.set_model(model)
    for epoch, accuracy in enumerate([0.5, 0.8, 0.8, 0.6]):
        model.set_weights([np.full((2, 1), epoch, np.float32), np.zeros(1, np.float32)])
        keep.on_epoch_end(epoch, {"val_accuracy": accuracy})
    keep.on_train_end()
    assert (keep.best_epoch, keep.best_accuracy) == (2, 0.8)
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 1), 1.0))


def test_a_tied_validation_accuracy_goes_to_the_lower_validation_loss():
    """With a small validation split several epochs score the same; the better-fitting one is kept, and without a
    logged loss the first."""
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    with_loss, without_loss = [(0.5, 1.0), (1.0, 0.8), (1.0, 0.3), (1.0, 0.5)], [(0.5, None), (1.0, None), (1.0, None)]
    for logs, kept in ((with_loss, 3), (without_loss, 2)):
        keep = fitting.KeepBestEpoch()
        keep.set_model(model)
        for epoch, (accuracy, loss) in enumerate(logs):
            model.set_weights([np.full((2, 1), epoch, np.float32), np.zeros(1, np.float32)])
            keep.on_epoch_end(epoch, {"val_accuracy": accuracy, **({"val_loss": loss} if loss is not None else {})})
        keep.on_train_end()
        assert keep.best_epoch == kept
        np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 1), kept - 1.0))


def test_batchnorm_statistics_are_recomputed_from_training_batches_before_the_epoch_is_scored():
    """The moving mean and variance become the average of the batches' own statistics, whatever they were."""
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.BatchNormalization(momentum=0.99, name="bn")])
    model.compile(loss="mse", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc, 2.0, (64, 3)).astype(np.float32) for loc in (1.0, 3.0)]
    data = tf.data.Dataset.from_tensor_slices((np.concatenate(batches), np.zeros(128, np.float32))).batch(64)
    scoring = fitting.RecalibrateBatchNorm(data, data, batches=2)
    scoring.set_model(model)
    logs = {}
    scoring.on_epoch_end(0, logs)
    layer = model.get_layer("bn")
    np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(
        layer.moving_variance.numpy(), np.mean([b.var(axis=0) for b in batches], axis=0), rtol=0.05
    )  # Keras keeps the unbiased (n - 1) variance
    assert layer.momentum == 0.99 and set(logs) == {"val_loss", "val_accuracy"}


def test_without_augmentation_the_statistics_are_the_average_of_the_epochs_last_training_steps():
    """With `steps_per_epoch`, no extra pass: the moving statistics after an epoch are the plain average of its
    last `batches` training batches (the earlier ones left out), and each momentum is its number again after fit."""
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.BatchNormalization(momentum=0.99, name="bn")])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    batches = [
        rng.normal(loc, scale, (64, 3)).astype(np.float32) for loc, scale in ((9.0, 5.0), (1.0, 1.0), (3.0, 2.0))
    ]
    data = tf.data.Dataset.from_tensor_slices((np.concatenate(batches), np.zeros(192, np.float32))).batch(64)
    scoring = fitting.RecalibrateBatchNorm(data, data, batches=2, steps_per_epoch=3)
    history = model.fit(data, epochs=2, callbacks=[scoring], verbose=0)
    layer = model.get_layer("bn")
    last_two = batches[1:]
    np.testing.assert_allclose(
        layer.moving_mean.numpy(), np.mean([b.mean(axis=0) for b in last_two], axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        layer.moving_variance.numpy(), np.mean([b.var(axis=0) for b in last_two], axis=0), rtol=0.05
    )
    assert layer.momentum == 0.99 and isinstance(layer.momentum, float)
    assert len(model.weights) == 4  # the momentum's variable was never one of the layer's weights
    assert {"val_loss", "val_accuracy"} <= set(history.history)


def test_warm_up_then_cosine_decay():
    schedule = fitting.learning_rate(0.01, warmup_epochs=1, epochs=3, steps_per_epoch=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 20, 30)]
    assert values[0] == 0.0 and values[1] == pytest.approx(0.005)
    assert values[2] == pytest.approx(0.01) and values[3] == pytest.approx(0.005) and values[4] == pytest.approx(0.0)
    assert fitting.learning_rate(0.01, 0, 3, 10) == 0.01


def test_label_smoothing_moves_the_target_towards_uniform():
    loss = fitting.SmoothedSparseCrossentropy(num_classes=4, label_smoothing=0.2)
    prediction = tf.constant([[0.85, 0.05, 0.05, 0.05]])
    expected = -(0.85 * np.log(0.85) + 3 * 0.05 * np.log(0.05))
    assert float(loss(tf.constant([0]), prediction)) == pytest.approx(expected, rel=1e-4)


def test_augmentation_changes_training_images_only_and_stays_in_range():
    images = tf.constant(np.linspace(-1, 1, 2 * 16 * 16 * 3, dtype=np.float32).reshape(2, 16, 16, 3))
    augmented = fitting.augment(images, seed=3).numpy()
    assert augmented.shape == (2, 16, 16, 3) and augmented.min() >= -1.0 and augmented.max() <= 1.0
    assert not np.allclose(augmented, images.numpy())


def test_a_frozen_backbone_learns_only_its_head_then_fine_tunes_every_layer(tmp_path):
    """model.weights + train.frozen_epochs=1 of 2: epoch 1 leaves every warm-started layer (weights and BatchNorm
    statistics) as loaded and trains the new head; epoch 2 trains them all."""
    source = mobilenet_v1.build_network((32, 32, 3), num_classes=5, alpha=0.25)
    path = tmp_path / "backbone.h5"
    source.save_weights(str(path))
    snapshots = []

    class Snapshot(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if not snapshots:
                self.on_epoch_end(-1)

        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(
                {layer.name: [w.copy() for w in layer.get_weights()] for layer in self.model.layers if layer.weights}
            )

    hparams = hyperparameters(
        alpha=0.25,
        input_size=32,
        weights=str(path),
        epochs=2,
        frozen_epochs=1,
        fine_tune_rate=0.5,
        learning_rate=0.01,
        dropout=0.0,
    )
    model = fitting.train_model(
        mobilenet_v1.build_network, _tiny_data(), _tiny_data(1), 2, hparams, callbacks=[Snapshot()]
    ).model
    head = "conv_preds"  # 5 classes in the file, 2 here: not loaded
    loaded = {layer.name: layer.get_weights() for layer in source.layers if layer.weights and layer.name != head}
    initial, after_frozen, after_fine_tuning = snapshots
    assert set(initial) == {*loaded, head}
    for name, weights in loaded.items():
        for before, after in zip(weights, after_frozen[name]):
            np.testing.assert_array_equal(before, after, err_msg=name)
    assert not np.allclose(initial[head][1], after_frozen[head][1])  # the head's bias learned
    assert all(layer.trainable for layer in model.layers)
    assert not np.allclose(after_fine_tuning["conv1"][0], loaded["conv1"][0])
    assert not np.allclose(after_fine_tuning["conv1_bn"][2], loaded["conv1_bn"][2])  # moving mean


def test_frozen_epochs_need_warm_start_weights():
    with pytest.raises(ConfigError, match="train.frozen_epochs: 2 is invalid; expected 0, or with model.weights"):
        load_config(None, ["train.frozen_epochs=2"])
    config = load_config(None, ["train.frozen_epochs=2", "model.weights=/tmp/w.h5", "train.epochs=6"])
    assert config.trainer_hparams("v1").frozen_epochs == 2


@pytest.mark.slow
def test_recipe_trains_keeps_an_epoch_and_no_augmentation_reaches_the_serving_graph(tmp_path):
    hparams = hyperparameters(
        name="tiny",
        alpha=0.25,
        input_size=32,
        epochs=3,
        learning_rate=0.003,
        warmup_epochs=1,
        label_smoothing=0.1,
        augment=True,
        flip=True,
        seed=1,
    )
    result = fitting.train_model(
        mobilenet_v1.build_network, _tiny_data(0), _tiny_data(1), num_classes=2, hparams=hparams
    )
    model = result.model
    assert 1 <= result.kept_epoch <= 3
    export.save_for_conversion(model, str(tmp_path / "saved"), 32)
    signature = tf.saved_model.load(str(tmp_path / "saved")).signatures[PREPROCESSED_SIGNATURE]
    graph = signature.graph.as_graph_def()
    ops = {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def
    }
    assert not ops & AUGMENTATION_OPS, ops & AUGMENTATION_OPS
    assert "Conv2D" in ops


@pytest.mark.parametrize("validation_fraction, watched", [(0.1, "validation"), (0.0, "eval")])
def test_the_trainer_never_reads_the_eval_split_when_there_is_a_validation_split(
    tmp_path, validation_fraction, watched
):
    from pipeline.pipeline import create_pipeline

    config = load_config(None, ["model.architectures=v1", f"data.validation_fraction={validation_fraction}"])
    pipeline = create_pipeline(config, str(tmp_path))
    nodes = {node.id: node for node in pipeline.components}
    trainer = nodes["Trainer_mobilenet_v1"].exec_properties
    assert json.loads(trainer["train_args"])["splits"] == [image_files.TRAIN_SPLIT]
    assert json.loads(trainer["eval_args"])["splits"] == [watched]
    assert json.loads(nodes["Evaluator_mobilenet_v1"].exec_properties["example_splits"]) == [image_files.EVAL_SPLIT]
    example_gen = json.loads(nodes["ImageExampleGen"].exec_properties["output_config"])
    assert [split["name"] for split in example_gen["split_config"]["splits"]][-1] == image_files.EVAL_SPLIT
