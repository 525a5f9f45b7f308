"""The label vocabulary in a stable order: the class names sorted, whatever their counts.

`tft.compute_and_apply_vocabulary` orders by frequency, so a few more photos of one class can swap two labels,
and every model, labels.txt and registry comparison downstream would follow. Here the order is a function of the
set of class names only (sorted by Unicode code point): a tf.Transform analyzer (`tft.experimental.
ptransform_analyzer`) collects the distinct labels on Beam and writes them, sorted, as the `label_vocab` asset
that `tft.apply_vocabulary` maps with and `TFTransformOutput.vocabulary_file_by_name` finds.
"""

from __future__ import annotations

import os
from typing import Iterable

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam


def sorted_names(tokens: Iterable[bytes]) -> list[str]:
    """The distinct class names, sorted (labels never hold a line break: ingestion refuses them)."""
    return sorted({token.decode("utf-8") for token in tokens})


class SortedVocabulary(tft_beam.experimental.PTransformAnalyzer):
    """Beam analyzer: the distinct values of a string tensor, one per line in sorted order, in a file named
    `file_name` under the analysis's temporary folder; outputs that file's path."""

    def __init__(self, file_name: str):
        super().__init__()
        self.file_name = file_name

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        path = os.path.join(self.base_temp_dir, self.file_name)

        def write(tokens: list[bytes]) -> np.ndarray:
            tf.io.gfile.makedirs(os.path.dirname(path))
            with tf.io.gfile.GFile(path, "w") as handle:
                handle.write("".join(f"{name}\n" for name in sorted_names(tokens)))
            return np.array(path.encode("utf-8"))

        return (
            batches
            | "Values" >> beam.FlatMap(lambda batch: batch[0].reshape(-1).tolist())
            | "Distinct" >> beam.Distinct()
            | "Collect" >> beam.combiners.ToList()
            | "WriteSorted" >> beam.Map(write)
        )


def apply_sorted_vocabulary(labels: tf.Tensor, vocab_filename: str) -> tf.Tensor:
    """`labels` [batch] (strings) as their index in the sorted vocabulary `vocab_filename` (an asset)."""
    (path,) = tft.experimental.ptransform_analyzer(
        [labels],
        SortedVocabulary(vocab_filename),
        output_dtypes=[tf.string],
        output_shapes=[[]],
        output_asset_default_values=[vocab_filename.encode("utf-8")],
        name="sorted_vocabulary",
    )
    return tft.apply_vocabulary(labels, path, default_value=-1)
