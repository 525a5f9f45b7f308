"""The training loop shared by the TFX Trainer (`training.run`) and the plain-script benchmark: build the network
from its `Hyperparameters`, fit it with per-epoch progress, warm start, warm-up and decay, BatchNorm
recalibration, and keep the best epoch. Keras only: no TFX or tf.Transform, so the plain script can use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from typing import Any, Callable, Iterator, Sequence

import tensorflow as tf

from components import PROGRESS_LOGGER, keras_autograph
from components.trainer import quantization_aware, warm_start, weight_sources
from components.trainer.hyperparameters import Hyperparameters

NetworkBuilder = Callable[..., tf.keras.Model]
progress = logging.getLogger(PROGRESS_LOGGER)


def augment(images: tf.Tensor, seed: int, flip: bool = True) -> tf.Tensor:
    """Training-only augmentation of a batch of [-1, 1] images: a random resized crop (8 % to 100 % of the area,
    aspect 3:4 to 4:3), an optional horizontal flip, and brightness and contrast jitter. Never in a serving graph:
    `read_transformed` does not call it, only `train_model`'s input pipeline."""
    size = tf.shape(images)[1:3]

    def crop_one(image: tf.Tensor) -> tf.Tensor:
        begin, extent, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image),
            tf.zeros([1, 0, 4]),
            min_object_covered=0.0,
            aspect_ratio_range=(0.75, 1.33),
            area_range=(0.08, 1.0),
            use_image_if_no_bounding_boxes=True,
            seed=seed,
        )
        return tf.image.resize(tf.slice(image, begin, extent), size, method="bilinear")

    images = tf.map_fn(crop_one, images)
    if flip:
        images = tf.image.random_flip_left_right(images, seed=seed)
    images = tf.image.random_brightness(images, 0.2, seed=seed)
    images = tf.image.random_contrast(images, 0.8, 1.2, seed=seed)
    return tf.clip_by_value(images, -1.0, 1.0)


class SmoothedSparseCrossentropy(tf.keras.losses.Loss):
    """Cross-entropy of integer labels smoothed towards the uniform distribution by `label_smoothing`."""

    def __init__(self, num_classes: int, label_smoothing: float, name: str = "smoothed_sparse_crossentropy"):
        super().__init__(name=name)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        one_hot = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), self.num_classes)
        return tf.keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "label_smoothing": self.label_smoothing, "name": self.name}


def learning_rate(base: float, warmup_epochs: int, epochs: int, steps_per_epoch: int, decay: bool = False) -> Any:
    """`base`, or with `warmup_epochs` > 0: linear warm-up from 0 over those epochs, then cosine decay to 0 (with
    `decay` and no warm-up: cosine decay from `base`)."""
    if (warmup_epochs <= 0 and not decay) or steps_per_epoch <= 0:
        return base
    warmup_steps = min(warmup_epochs, epochs) * steps_per_epoch
    decay_steps = max(1, epochs * steps_per_epoch - warmup_steps)
    return tf.keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=base, warmup_steps=warmup_steps)


class KeepBestEpoch(tf.keras.callbacks.Callback):
    """Remembers the weights of the epoch with the best validation accuracy and restores them when training ends;
    `best_epoch` (1-based) and `best_accuracy` say which was kept.

    Ties go to the lower validation loss (the first epoch when the loss is not logged): a small validation split
    ties often (with 8 images, epochs at 0.69 and 0.90 train accuracy both scored 1.000 in the end-to-end test),
    and the loss still tells how well each epoch fits it."""

    def __init__(self, monitor: str = "val_accuracy", tie_break: str = "val_loss"):
        super().__init__()
        self.monitor, self.tie_break = monitor, tie_break
        self.best_epoch, self.best_accuracy, self._weights = 0, -1.0, None
        self._best_loss = math.inf

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        value, loss = logs.get(self.monitor), logs.get(self.tie_break, math.inf)
        if value is None:
            return
        if value > self.best_accuracy or (value == self.best_accuracy and loss < self._best_loss):
            self.best_epoch, self.best_accuracy, self._weights = epoch + 1, float(value), self.model.get_weights()
            self._best_loss = float(loss)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._weights is not None:
            self.model.set_weights(self._weights)


class RecalibrateBatchNorm(tf.keras.callbacks.Callback):
    """After every epoch, before it is scored: set the moving mean and variance of every trainable BatchNorm layer
    (also inside a quantization-aware wrapper) to the plain average of `batches` training batches' own statistics,
    then score `validation_data` into the epoch's `val_*` logs.

    With `steps_per_epoch` (training without augmentation), those batches are the epoch's last `batches` training
    steps: their forward pass is the training step's own, so the statistics cost nothing extra (each layer's
    momentum is a variable the callback sets to average them, and back to its value for the rest of the epoch).
    Without it (augmented training, whose batches are not what the model sees at inference), `batches` extra
    forward passes over `train_data`, unaugmented, under the epoch's final weights (`recalibrate`).

    Why: the moving averages trail the weights. In a short run with few steps per epoch (14 at 430 images and
    batch 32) the weights move faster than a 0.9-momentum average follows, and a deep network compounds the lag
    layer by layer, so the validation score sat at chance for the first epochs while the network was learning
    (`docs/training.md`). With `batches` = 0, validation uses the moving averages as Keras keeps them."""

    def __init__(
        self,
        train_data: tf.data.Dataset,
        validation_data: tf.data.Dataset,
        batches: int,
        steps_per_epoch: int | None = None,
    ):
        super().__init__()
        self.train_data, self.validation_data, self.batches = train_data, validation_data, batches
        self.steps_per_epoch = steps_per_epoch
        self._step: tuple[tuple[int, ...], Callable[[tf.Tensor], Any]] | None = None
        self._momenta: list[tuple[list[tf.keras.layers.BatchNormalization], float, tf.Variable]] = []

    def _layers(self) -> list[tf.keras.layers.BatchNormalization]:
        return [
            inner
            for inner in (getattr(layer, "layer", layer) for layer in self.model.layers)
            if isinstance(inner, tf.keras.layers.BatchNormalization) and inner.trainable
        ]

    def _in_training_steps(self) -> bool:
        return bool(self.batches and self.steps_per_epoch)

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """With `steps_per_epoch`: give the layers of each momentum one variable in its place (before `fit` traces
        its training step, which then reads the variable)."""
        if not self._in_training_steps():
            return
        groups: dict[float, list[tf.keras.layers.BatchNormalization]] = {}
        for layer in self._layers():
            groups.setdefault(float(layer.momentum), []).append(layer)
        self._momenta = [
            (layers, momentum, tf.Variable(momentum, trainable=False, dtype=tf.float32))
            for momentum, layers in groups.items()
        ]
        for layers, _, variable in self._momenta:
            for layer in layers:
                object.__setattr__(layer, "momentum", variable)  # not tracked: no weight of the layer

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """In the epoch's last `batches` steps, the n-th of them weighs its statistics 1/n: a running plain
        average."""
        if not self._momenta:
            return
        first = self.steps_per_epoch - min(self.batches, self.steps_per_epoch)
        if batch >= first:
            n = batch - first + 1
            for _, _, variable in self._momenta:
                variable.assign((n - 1) / n)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """Each layer's momentum is its plain number again (what the model's config and a copy of it carry)."""
        for layers, momentum, _ in self._momenta:
            for layer in layers:
                object.__setattr__(layer, "momentum", momentum)
        self._momenta = []

    def _batch_statistics(self, layers: list[tf.keras.layers.BatchNormalization]) -> Callable[[tf.Tensor], Any]:
        """A graph function of one forward pass in training mode that returns each layer's batch mean and variance
        (its moving statistics, updated with the momentum at 0). Traced once per set of trainable layers."""
        key = tuple(id(layer) for layer in layers)
        if self._step is None or self._step[0] != key:

            @tf.function(reduce_retracing=True)
            def step(images: tf.Tensor) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
                self.model(images, training=True)
                return [layer.moving_mean.read_value() for layer in layers], [
                    layer.moving_variance.read_value() for layer in layers
                ]

            self._step = (key, step)
        return self._step[1]

    def recalibrate(self) -> None:
        """Set the BatchNorm statistics to the average of `batches` batches' statistics."""
        layers = self._layers()
        step = self._batch_statistics(layers)
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.momentum = 0.0
        means: list[tf.Tensor] = []
        variances: list[tf.Tensor] = []
        count = 0
        try:
            for images, _ in self.train_data.take(self.batches):
                batch_means, batch_variances = step(images)
                means = [a + b for a, b in zip(means, batch_means)] if count else batch_means
                variances = [a + b for a, b in zip(variances, batch_variances)] if count else batch_variances
                count += 1
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum
        for layer, mean, variance in zip(layers, means, variances):
            layer.moving_mean.assign(mean / count)
            layer.moving_variance.assign(variance / count)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        for _, momentum, variable in self._momenta:
            variable.assign(momentum)
        if self.batches and not self._in_training_steps():
            self.recalibrate()
        scores = self.model.evaluate(self.validation_data, verbose=0, return_dict=True)
        if logs is not None:
            logs.update({f"val_{name}": float(value) for name, value in scores.items()})


STEPS_PER_AVERAGED_BATCH = 4
"""The training steps' own statistics are averaged only when an epoch has at least this many steps per batch
averaged, so that the oldest of them is from the epoch's last quarter; with fewer steps the weights moved too far
since (a 3-class end-to-end run of 6 steps per epoch lost V2's accuracy), and the extra passes run instead."""


def recalibration(
    unaugmented: tf.data.Dataset, validation_data: tf.data.Dataset, hparams: Hyperparameters, steps_per_epoch: int = 0
) -> RecalibrateBatchNorm:
    """The BatchNorm recalibration and scoring callback of a fit on `unaugmented` (or its augmented copy): from the
    training steps' own statistics when the training batches are not augmented and `steps_per_epoch` (the batches
    in `unaugmented`, counted for the warm-up; 0 when not counted) is long enough. Counting here would start the
    shuffle's epochs one iteration later and change the run's batch order."""
    batches = hparams.recalibrate_bn_batches
    in_steps = batches and not hparams.augment and steps_per_epoch >= STEPS_PER_AVERAGED_BATCH * batches
    return RecalibrateBatchNorm(unaugmented, validation_data, batches, steps_per_epoch if in_steps else None)


def counted(dataset: tf.data.Dataset) -> tuple[tf.data.Dataset, tf.Variable]:
    """`dataset` of (images, labels) batches, and a counter of the images it has handed out."""
    counter = tf.Variable(0, dtype=tf.int64, trainable=False)

    def count(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.control_dependencies([counter.assign_add(tf.cast(tf.shape(images)[0], tf.int64))]):
            return tf.identity(images), labels

    return dataset.map(count), counter


class EpochProgress(tf.keras.callbacks.Callback):
    """Logs one line per epoch (loss, train and eval accuracy, time, and with an image `counter` (`counted`) the
    training images per second of the epoch's wall time, its validation and recalibration included)."""

    def __init__(self, name: str, epochs: int, counter: tf.Variable | None = None):
        super().__init__()
        self._name, self._epochs, self._counter = name, epochs, counter
        self._start, self._first_image = 0.0, 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._start = time.monotonic()
        self._first_image = int(self._counter.numpy()) if self._counter is not None else 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        seconds = time.monotonic() - self._start
        rate = ""
        if self._counter is not None:
            images = int(self._counter.numpy()) - self._first_image
            rate = f", {images / seconds:.1f} images/s" if seconds > 0 else ""
        progress.info(
            "%s epoch %d/%d: loss %.3f, train accuracy %.3f, validation accuracy %.3f (%.1f s%s)",
            self._name,
            epoch + 1,
            self._epochs,
            logs.get("loss", float("nan")),
            logs.get("accuracy", float("nan")),
            logs.get("val_accuracy", float("nan")),
            seconds,
            rate,
        )


def count_batches(dataset: tf.data.Dataset) -> int:
    """Batches in one pass of `dataset` (a TFRecord dataset's length is unknown until it is read)."""
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def _fit_phase(
    model: tf.keras.Model,
    train_data: tf.data.Dataset,
    rate: Any,
    loss: tf.keras.losses.Loss,
    first_epoch: int,
    last_epoch: int,
    callbacks: list[tf.keras.callbacks.Callback],
) -> None:
    """Compile `model` (so a change of trainable layers takes effect) and fit epochs `first_epoch`+1 to `last_epoch`
    (the first callback scores each epoch on the validation data)."""
    model.compile(optimizer=tf.keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])
    model.fit(train_data, initial_epoch=first_epoch, epochs=last_epoch, callbacks=callbacks, verbose=0)


def _accuracy(model: tf.keras.Model, loss: tf.keras.losses.Loss, data: tf.data.Dataset) -> float:
    """Top-1 accuracy of `model` on `data`."""
    model.compile(loss=loss, metrics=["accuracy"])
    return float(model.evaluate(data, verbose=0, return_dict=True)["accuracy"])


@dataclasses.dataclass
class TrainResult:
    """What training produced: the model with the weights of the kept epoch, which epoch that was, where its
    weights started from, the quantization-aware fine-tune when one ran, and how many training images the epochs
    handed out in how many wall seconds (validation and recalibration included)."""

    model: tf.keras.Model
    kept_epoch: int
    validation_accuracy: float
    warm_start: warm_start.WarmStart | None = None
    quantization_aware: quantization_aware.FineTuned | None = None
    images: int = 0
    seconds: float = 0.0

    def speed(self, epochs: int) -> dict[str, Any]:
        """The epochs' throughput as `TRAINING_SPEED_FILE` records it."""
        rate = self.images / self.seconds if self.seconds > 0 else None
        return {
            "epochs": epochs,
            "images": self.images,
            "seconds": round(self.seconds, 1),
            "images_per_second": None if rate is None else round(rate, 1),
        }


def build_from(build_network: NetworkBuilder, num_classes: int, hparams: Hyperparameters) -> tf.keras.Model:
    """The network `hparams` describe (input size, width, dropout, BatchNorm momentum), freshly initialised."""
    size = hparams.input_size
    return build_network(
        input_shape=(size, size, 3),
        num_classes=num_classes,
        alpha=hparams.alpha,
        dropout=hparams.dropout,
        bn_momentum=hparams.bn_momentum,
    )


def build_and_warm_start(
    build_network: NetworkBuilder,
    num_classes: int,
    hparams: Hyperparameters,
    registry_weights: warm_start.RegistryWeights | None = None,
    labels: Sequence[str] | None = None,
) -> tuple[tf.keras.Model, warm_start.WarmStart | None]:
    """The network `hparams` describe, with the weights `hparams.weights` names loaded by layer name: a registry
    version's (`registry_weights`, its head matched to `labels` by class name), ImageNet's or a file's."""
    model = build_from(build_network, num_classes, hparams)
    weights = hparams.weights or weight_sources.NONE
    if weight_sources.registry_source(weights) is not None:
        if registry_weights is None:
            return model, None
        return model, warm_start.load_matching(
            model, registry_weights.path, registry_weights.description, registry_weights.labels, labels
        )
    path = warm_start.resolve(weights, hparams.architecture, hparams.alpha, hparams.input_size)
    return model, (warm_start.load_matching(model, path) if path else None)


def _fit(
    model: tf.keras.Model,
    train_data: tf.data.Dataset,
    unaugmented: tf.data.Dataset,
    validation_data: tf.data.Dataset,
    loss: tf.keras.losses.Loss,
    hparams: Hyperparameters,
    backbone: Sequence[str],
    callbacks: list[tf.keras.callbacks.Callback],
    steps: int,
    counter: tf.Variable | None = None,
) -> KeepBestEpoch:
    """Fit `hparams.epochs` epochs (the first `frozen_epochs` with the warm-started `backbone` frozen), scoring
    each on `validation_data`; the model ends with the best epoch's weights, which the returned callback names.
    `steps`: the batches per epoch, counted for the warm-up (0 without one)."""
    epochs, name = hparams.epochs, hparams.name
    frozen_epochs = min(hparams.frozen_epochs, epochs) if backbone else 0
    warmup_epochs = hparams.warmup_epochs
    base_rate = hparams.learning_rate
    keep_best = KeepBestEpoch()
    fit_callbacks = [
        recalibration(unaugmented, validation_data, hparams, steps),
        EpochProgress(name, epochs, counter),
        keep_best,
        *callbacks,
    ]
    if frozen_epochs:
        for layer_name in backbone:
            model.get_layer(layer_name).trainable = False
        progress.info(
            "%s: the first %d epoch(s) train the head, the %d warm-started layers frozen",
            name,
            frozen_epochs,
            len(backbone),
        )
        rate = learning_rate(base_rate, min(warmup_epochs, frozen_epochs), frozen_epochs, steps)
        _fit_phase(model, train_data, rate, loss, 0, frozen_epochs, fit_callbacks)
        for layer_name in backbone:
            model.get_layer(layer_name).trainable = True
        base_rate *= hparams.fine_tune_rate
        if frozen_epochs < epochs:
            progress.info(
                "%s: the other %d epoch(s) fine-tune every layer from learning rate %g",
                name,
                epochs - frozen_epochs,
                base_rate,
            )
    if frozen_epochs < epochs:
        remaining = epochs - frozen_epochs
        _fit_phase(
            model,
            train_data,
            learning_rate(
                base_rate, 0 if frozen_epochs else warmup_epochs, remaining, steps, decay=bool(warmup_epochs)
            ),
            loss,
            frozen_epochs,
            epochs,
            fit_callbacks,
        )
    progress.info(
        "%s: kept epoch %d of %d (validation accuracy %.3f)",
        name,
        keep_best.best_epoch,
        epochs,
        keep_best.best_accuracy,
    )
    return keep_best


def _quantization_aware_fine_tune(
    model: tf.keras.Model,
    train_data: tf.data.Dataset,
    unaugmented: tf.data.Dataset,
    validation_data: tf.data.Dataset,
    loss: tf.keras.losses.Loss,
    hparams: Hyperparameters,
    kept_accuracy: float,
    steps: int,
    counter: tf.Variable | None = None,
) -> quantization_aware.FineTuned:
    """The kept model fine-tuned `quantization_aware_epochs` more epochs with fake quantization, with what that took
    and did on the validation data; `steps`: the batches per epoch when counted (0 when not)."""
    name, epochs = hparams.name, hparams.quantization_aware_epochs
    rate = hparams.learning_rate * hparams.fine_tune_rate
    progress.info("%s: %d quantization-aware epoch(s) at learning rate %g", name, epochs, rate)
    started = time.monotonic()
    quantized = quantization_aware.fine_tune(
        model,
        train_data,
        [
            recalibration(unaugmented, validation_data, hparams, steps),
            EpochProgress(f"{name} (quantization-aware)", epochs, counter),
        ],
        epochs,
        rate,
        loss,
    )
    seconds = time.monotonic() - started
    validation = {
        "float_kept": kept_accuracy,
        "float_weights_after": _accuracy(quantization_aware.float_weights(model, quantized), loss, validation_data),
        "quantization_aware": _accuracy(quantized, loss, validation_data),
    }
    progress.info(
        "%s: validation accuracy %.3f float, %.3f with the quantization-aware epochs' weights in "
        "float, %.3f fake-quantized",
        name,
        *validation.values(),
    )
    return quantization_aware.FineTuned(quantized, epochs, seconds, validation)


@contextlib.contextmanager
def compute_precision(mixed: bool) -> Iterator[None]:
    """Keras' `mixed_float16` policy for the block (float16 compute, float32 variables; a model built in it keeps
    its float32 softmax), when `mixed`; the policy is float32 again afterwards."""
    if not mixed:
        yield
        return
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def float32_copy(
    build_network: NetworkBuilder, model: tf.keras.Model, num_classes: int, hparams: Hyperparameters
) -> tf.keras.Model:
    """The same network built in float32 with `model`'s weights (a mixed-precision model's variables are float32
    already): what is exported, converted and fine-tuned quantization-aware, float32 at every boundary."""
    copy = build_from(build_network, num_classes, hparams)
    copy.set_weights(model.get_weights())
    return copy


def train_model(
    build_network: NetworkBuilder,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset,
    num_classes: int,
    hparams: Hyperparameters,
    log_dir: str | None = None,
    callbacks: Sequence[tf.keras.callbacks.Callback] = (),
    registry_weights: warm_start.RegistryWeights | None = None,
    labels: Sequence[str] | None = None,
) -> TrainResult:
    """Build the network with `hparams` (warm-started as `hparams.weights` says; a registry version's weights come
    as `registry_weights`, matched to `labels` by class name) and fit it on `train_data`, logging each epoch (and
    calling `callbacks`); the result holds the model with the weights of the epoch that scored best on
    `validation_data`. AutoGraph is kept out of legacy Keras first (`keras_autograph`).

    With a warm start and `frozen_epochs` > 0, the layers loaded from the weight file (the backbone) are frozen for
    that many epochs, so only the new head learns, then all layers train on at `fine_tune_rate` times the rate.
    With `quantization_aware_epochs` > 0, the kept model is fine-tuned that many more epochs with fake
    quantization (`TrainResult.quantization_aware`). With `mixed_precision`, the epochs compute in float16 (for GPUs
    with float16 units); the model returned is a float32 copy of the kept weights."""
    keras_autograph.exempt_tf_keras()
    tf.keras.utils.set_random_seed(hparams.seed)
    with compute_precision(hparams.mixed_precision):
        return _train(
            build_network,
            train_data,
            validation_data,
            num_classes,
            hparams,
            log_dir,
            callbacks,
            registry_weights,
            labels,
        )


def _train(
    build_network: NetworkBuilder,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset,
    num_classes: int,
    hparams: Hyperparameters,
    log_dir: str | None,
    callbacks: Sequence[tf.keras.callbacks.Callback],
    registry_weights: warm_start.RegistryWeights | None,
    labels: Sequence[str] | None,
) -> TrainResult:
    """`train_model` inside its compute precision; the model it returns is float32."""
    model, started_from = build_and_warm_start(build_network, num_classes, hparams, registry_weights, labels)
    if hparams.max_train_steps:
        train_data = train_data.take(hparams.max_train_steps)
    unaugmented = train_data
    if hparams.augment:
        train_data = train_data.map(
            lambda images, labels: (augment(images, hparams.seed, hparams.flip), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    train_data, counter = counted(train_data)
    loss = (
        SmoothedSparseCrossentropy(num_classes, hparams.label_smoothing)
        if hparams.label_smoothing
        else tf.keras.losses.SparseCategoricalCrossentropy()
    )
    fit_callbacks = list(callbacks)
    if log_dir:
        fit_callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    backbone = started_from.layers if started_from else ()
    started = time.monotonic()
    steps = count_batches(unaugmented) if hparams.warmup_epochs else 0
    keep_best = _fit(
        model, train_data, unaugmented, validation_data, loss, hparams, backbone, fit_callbacks, steps, counter
    )
    seconds = time.monotonic() - started
    if hparams.mixed_precision:
        tf.keras.mixed_precision.set_global_policy("float32")
        model = float32_copy(build_network, model, num_classes, hparams)
    result = TrainResult(
        model, keep_best.best_epoch, keep_best.best_accuracy, started_from, images=int(counter.numpy()), seconds=seconds
    )
    if hparams.quantization_aware_epochs:
        result.quantization_aware = _quantization_aware_fine_tune(
            model, train_data, unaugmented, validation_data, loss, hparams, keep_best.best_accuracy, steps, counter
        )
    return result
