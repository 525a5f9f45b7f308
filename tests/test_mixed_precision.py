"""`train.mixed_precision` on this CPU: the epochs compute in float16 with float32 variables, and what leaves the
Trainer (the Keras model, its SavedModel, every `.tflite`) is float32 at its boundaries, as accurate as float32
training within noise."""

import numpy as np
import pytest
import tensorflow as tf

from components.tflite import conversion, measurement
from components.trainer import export, fitting, mobilenet_v1
from tests.helpers import hyperparameters

pytestmark = pytest.mark.slow


def _data(seed: int, count: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = np.where(labels[:, None, None, None] == 1, 0.6, -0.6) + rng.normal(0, 0.3, (count, 32, 32, 3))
    return images.astype(np.float32), labels.astype(np.int64)


def _dataset(images: np.ndarray, labels: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)


class _Dtypes(tf.keras.callbacks.Callback):
    """The compute and variable dtypes of the first convolution while the epochs run."""

    seen: list

    def on_epoch_end(self, epoch, logs=None):
        layer = self.model.get_layer("conv1")
        self.seen.append((layer.compute_dtype, layer.kernel.dtype.name, self.model.output.dtype.name))


@pytest.fixture(scope="module")
def trained():
    train, held_out = _data(0), _data(1)
    results = {}
    for mixed in (False, True):
        watcher = _Dtypes()
        watcher.seen = []
        hparams = hyperparameters(
            alpha=0.25, input_size=32, epochs=6, batch_size=16, learning_rate=0.005, mixed_precision=mixed
        )
        results[mixed] = (
            fitting.train_model(
                mobilenet_v1.build_network, _dataset(*train), _dataset(*held_out), 2, hparams, callbacks=[watcher]
            ),
            watcher.seen,
        )
    return results, held_out


def test_the_epochs_compute_in_float16_with_float32_variables_and_output(trained):
    results, _ = trained
    _, seen = results[True]
    assert seen and all(dtypes == ("float16", "float32", "float32") for dtypes in seen)
    assert all(dtypes == ("float32", "float32", "float32") for dtypes in results[False][1])
    assert tf.keras.mixed_precision.global_policy().name == "float32"


def test_the_returned_model_and_its_tflite_files_are_float32_at_their_boundaries(trained, tmp_path):
    results, (images, labels) = trained
    model = results[True][0].model
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    export.save_for_conversion(model, str(tmp_path / "saved"), 32)
    for mode in ("float32", "int8"):
        flatbuffer = conversion.convert(str(tmp_path / "saved"), mode, images[:16] if mode == "int8" else None)
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
        assert interpreter.get_input_details()[0]["dtype"] == np.float32, mode
        assert interpreter.get_output_details()[0]["dtype"] == np.float32, mode
        assert "CAST" not in conversion.model_ops(flatbuffer), mode


def test_mixed_precision_is_as_accurate_as_float32_within_noise(trained):
    results, (images, labels) = trained
    accuracy = {
        mixed: measurement.accuracy(result.model.predict(images, verbose=0), labels)["top1"]
        for mixed, (result, _) in results.items()
    }
    assert accuracy[False] > 0.9 and abs(accuracy[True] - accuracy[False]) <= 0.05, accuracy
