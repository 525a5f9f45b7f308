"""One split of ImageExampleGen's output as an app's bitmap holds each image: the original file's bytes decoded to
RGB uint8 at its own size (PIL, libjpeg-turbo's accurate IDCT as Android's decoder), with its class name."""

from __future__ import annotations

import io
import os
from typing import Iterator

import numpy as np
import tensorflow as tf
from PIL import Image

from components.contracts import IMAGE_KEY, LABEL_KEY


def read_split(split_uri: str, limit: int = 0) -> Iterator[tuple[np.ndarray, str]]:
    """Each image of the GZIP TFRecords in `split_uri` in file order, with its label (`limit` 0: all, else the
    first), decoded one at a time."""
    files = sorted(tf.io.gfile.glob(os.path.join(split_uri, "*")))
    spec = {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string), LABEL_KEY: tf.io.FixedLenFeature([], tf.string)}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for record in dataset.take(limit) if limit else dataset:
        example = tf.io.parse_single_example(record, spec)
        with Image.open(io.BytesIO(example[IMAGE_KEY].numpy())) as image:
            frame = np.asarray(image.convert("RGB"))
        yield frame, example[LABEL_KEY].numpy().decode("utf-8")
