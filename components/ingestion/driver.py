"""ImageExampleGen's driver on local runs: TFX's file-based ExampleGen driver, with the input fingerprint (which
decides whether the cached output is reused) taken over `data_files`.

TFX's driver lists the input through tf.io.gfile, which raises UnicodeDecodeError on a file name that is not UTF-8,
so one such folder failed the run before ingestion could list it as a bad file. The fingerprint is TFX's own: the
number, bytes and modification times (to the second) of the files each split's pattern matches. On Kubeflow the
ExampleGen runs TFX's driver over an object store, whose names are UTF-8.
"""

from __future__ import annotations

import os
from typing import Iterable

from tfx.components.example_gen import driver, input_processor
from tfx.proto import example_gen_pb2, range_config_pb2

from components.ingestion import data_files


def input_fingerprint(split_name: str, pattern: str) -> str:
    """TFX's fingerprint (`io_utils.generate_fingerprint`) of the files `pattern` matches, listed by `data_files`."""
    files = data_files.glob(pattern)
    total_bytes = xor_checksum = sum_checksum = 0
    for path in files:
        size, mtime = data_files.stat(path)
        total_bytes += size
        xor_checksum ^= mtime
        sum_checksum += mtime
    return (
        f"split:{split_name},num_files:{len(files)},total_bytes:{total_bytes},xor_checksum:{xor_checksum},"
        f"sum_checksum:{sum_checksum}"
    )


class _InputProcessor(input_processor.FileBasedInputProcessor):
    """Span 0 and no version (ingestion resolves span folders itself, `training_input`), and the fingerprint."""

    def resolve_span_and_version(self) -> tuple[int, None]:
        if self._is_match_span or self._is_match_date or self._is_match_version:
            raise ValueError(
                "ImageExampleGen's input patterns take no {SPAN}, date or {VERSION} spec; "
                "span folders are chosen by data.spans"
            )
        self._fingerprint = "\n".join(
            input_fingerprint(split.name, os.path.join(self._input_base_uri, split.pattern)) for split in self._splits
        )
        return 0, None


class ImageFolderDriver(driver.FileBasedDriver):
    """The file-based ExampleGen driver with `_InputProcessor`."""

    def get_input_processor(
        self,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: range_config_pb2.RangeConfig | None = None,
        input_base_uri: str | None = None,
    ) -> input_processor.InputProcessor:
        """The input processor of `input_base_uri`'s `splits` (no range config: see `_InputProcessor`)."""
        return _InputProcessor(input_base_uri, splits, range_config)
