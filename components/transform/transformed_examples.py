"""Reading the Transform's output: batches or arrays of (image in [-1, 1], label) from its GZIP TFRecords, for the
Trainer, the TFLite step and the benchmark."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components.transform import image_codec, preprocessing


def read_transformed(
    file_patterns: list[str] | str,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of (image [B,H,W,3] float32 in [-1, 1], label [B]) from GZIP TFRecords of transformed examples."""
    spec = tf_transform_output.transformed_feature_spec()
    files = (
        tf.io.gfile.glob(file_patterns)
        if isinstance(file_patterns, str)
        else [path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]
    )
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    dataset = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
    if shuffle_seed is not None:
        dataset = dataset.shuffle(4096, seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda records: tf.io.parse_example(records, spec), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.map(
        lambda f: (image_codec.model_input(f[preprocessing.IMAGE_XF]), f[preprocessing.LABEL_XF]),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)


def load_transformed(
    file_patterns: list[str] | str, tf_transform_output: tft.TFTransformOutput, limit: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, H, W, 3] and labels [N] of transformed examples, as arrays (`limit` 0 = all, else the first)."""
    images, labels, count = [], [], 0
    for batch_images, batch_labels in read_transformed(file_patterns, tf_transform_output, batch_size=256):
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
        count += len(batch_labels)
        if limit and count >= limit:
            break
    images_array, labels_array = np.concatenate(images), np.concatenate(labels)
    return (images_array[:limit], labels_array[:limit]) if limit else (images_array, labels_array)
