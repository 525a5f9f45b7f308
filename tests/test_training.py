"""The shared training path generalizes in a short from-scratch run (eval accuracy, not train accuracy)."""

import numpy as np
import pytest
import tensorflow as tf

from components.ingestion import demo_data
from components.trainer import fitting, mobilenet_v1, mobilenet_v2
from components.transform import image_codec, preprocessing, transformed_examples
from tests.helpers import hyperparameters


def _split(per_class_train: int, per_class_eval: int, size: int):
    images, labels, _ = demo_data.load_fashion_mnist()
    chosen = demo_data.pick_per_class(labels, per_class_train + per_class_eval)
    rng = np.random.default_rng(0)
    rng.shuffle(chosen)
    rgb = np.repeat(images[chosen][..., None], 3, axis=-1)
    x = (tf.image.resize(rgb.astype(np.float32), [size, size]) / 127.5 - 1.0).numpy()
    y = labels[chosen].astype(np.int64)
    cut = len(chosen) * per_class_train // (per_class_train + per_class_eval)
    return (
        tf.data.Dataset.from_tensor_slices((x[:cut], y[:cut])).shuffle(4096, seed=1).batch(64),
        tf.data.Dataset.from_tensor_slices((x[cut:], y[cut:])).batch(256),
    )


@pytest.mark.slow
@pytest.mark.parametrize("module, alpha", [(mobilenet_v1, 0.25), (mobilenet_v2, 0.35)])
def test_short_from_scratch_run_generalizes(module, alpha):
    train_data, eval_data = _split(per_class_train=150, per_class_eval=40, size=32)
    hparams = hyperparameters(
        module.ARCHITECTURE[-2:], alpha=alpha, input_size=32, epochs=4, learning_rate=0.003, seed=7
    )
    model = fitting.train_model(module.build_network, train_data, eval_data, num_classes=10, hparams=hparams).model
    _, eval_accuracy = model.evaluate(eval_data, verbose=0)
    assert eval_accuracy > 0.4, f"{module.ARCHITECTURE} eval accuracy {eval_accuracy:.3f} (chance is 0.1)"


def test_read_transformed_parses_images_and_labels(tmp_path):
    import tensorflow_transform as tft
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    spec = {
        preprocessing.IMAGE_XF: tf.io.FixedLenFeature([], tf.string),
        preprocessing.LABEL_XF: tf.io.FixedLenFeature([], tf.int64),
    }
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec)),
        str(tmp_path / "transform" / tft.TFTransformOutput.TRANSFORMED_METADATA_DIR),
    )
    path = tmp_path / "data.gz"
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for label in range(5):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        preprocessing.IMAGE_XF: tf.train.Feature(
                            bytes_list=tf.train.BytesList(
                                value=[
                                    image_codec.encode_pixels(tf.fill([1, 4, 4, 3], tf.constant(label * 50, tf.uint8)))[
                                        0
                                    ].numpy()
                                ]
                            )
                        ),
                        preprocessing.LABEL_XF: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                    }
                )
            )
            writer.write(example.SerializeToString())
    transform_output = tft.TFTransformOutput(str(tmp_path / "transform"))
    batches = list(transformed_examples.read_transformed([str(tmp_path / "*.gz")], transform_output, batch_size=2))
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.shape == (5, 4, 4, 3) and list(labels) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(images[3], 150 / 127.5 - 1.0, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="no transformed examples"):
        transformed_examples.read_transformed(
            [str(tmp_path / "none-*.gz")], tft.TFTransformOutput(str(tmp_path / "transform")), 2
        )


def test_training_keeps_autograph_out_of_legacy_keras():
    from tensorflow.python.autograph.core import config
    from tensorflow.python.autograph.impl import conversion

    from components import keras_autograph

    keras_autograph.exempt_tf_keras()
    keras_autograph.exempt_tf_keras()
    for package in keras_autograph.PACKAGES:
        rules = [rule for rule in config.CONVERSION_RULES if rule.matches(package)]
        assert len(rules) == 1 and isinstance(rules[0], config.DoNotConvert)
    assert tf.keras.layers.Dense.__module__.startswith("tf_keras.")
    assert conversion.is_allowlisted(tf.keras.layers.Dense(1).call)


def test_each_epoch_line_gives_the_training_images_per_second(caplog):
    """100 training images a batch of 32 at a time (the last batch short), two epochs: the counter sees exactly
    100 per epoch, and each epoch's line gives images per second of its wall time."""
    import logging
    import re

    from components import PROGRESS_LOGGER

    rng = np.random.default_rng(0)
    images, labels = rng.uniform(-1, 1, (100, 32, 32, 3)).astype(np.float32), rng.integers(0, 3, 100)
    data, counter = fitting.counted(tf.data.Dataset.from_tensor_slices((images, labels)).batch(32))
    assert sum(1 for _ in data) == 4 and int(counter.numpy()) == 100
    hparams = hyperparameters("v1", alpha=0.25, input_size=32, epochs=2, recalibrate_bn_batches=0)
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        fitting.train_model(mobilenet_v1.build_network, data.unbatch().batch(32), data, num_classes=3, hparams=hparams)
    lines = [record.getMessage() for record in caplog.records if " epoch " in record.getMessage()]
    lines = [line for line in lines if "kept epoch" not in line]
    assert len(lines) == 2
    for line in lines:
        seconds, rate = re.search(r"\((\d+\.\d) s, (\d+\.\d) images/s\)", line).groups()
        # 100 images over the epoch's seconds, which the line rounds to 0.1 s
        assert abs(float(rate) * float(seconds) - 100) <= float(rate) * 0.05 + 1
