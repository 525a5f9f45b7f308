"""ExampleGen executor for a folder of class sub-folders of images, or of span folders of them, on Beam.

The spans `data.spans` picks are resolved here, when the step runs (`training_input.resolve`), so every runner
ingests the same files. Files are matched and read by Beam (so the folder can be larger than memory and live on
any filesystem Beam reads), each one is checked and turned into a tf.Example, and files that cannot be used are
written to `bad_files.json` beside the splits, with the number of usable images per class (a file whose path is
not UTF-8 is one, named with its undecodable bytes as `\\xNN`). `training_input.json` beside them records the spans
and the fingerprint of every file read. A run fails when the share of bad files
exceeds `max_bad_fraction` or when fewer than two classes have a usable image.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from apache_beam.io import fileio
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from components import PROGRESS_LOGGER, json_files
from components.contracts import is_remote
from components.ingestion import data_files, image_files, training_input

BAD_FILES_REPORT = "bad_files.json"
SPANS_KEY = "spans"
"""The custom config key of `data.spans`."""
MAX_BAD_FRACTION_KEY = "max_bad_fraction"
MAX_IMAGE_PIXELS_KEY = "max_image_pixels"
"""The custom config keys of `data.max_bad_fraction` and `data.max_image_pixels`."""
progress = logging.getLogger(PROGRESS_LOGGER)


class TooManyBadFiles(RuntimeError):
    """More files than the configured budget could not be used."""


class TooFewClasses(RuntimeError):
    """Fewer than two classes have a usable image: no classifier can be trained."""


def custom_config_values(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The plain values packed in the ExampleGen's CustomConfig (a Struct inside an Any)."""
    text = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not text:
        return {}
    config = example_gen_pb2.CustomConfig()
    json_format.Parse(text, config)
    struct = struct_pb2.Struct()
    if config.custom_config.Unpack(struct):
        return json_format.MessageToDict(struct)
    return {}


def make_custom_config(
    max_bad_fraction: float, max_image_pixels: int, spans: str = training_input.ALL_SPANS
) -> example_gen_pb2.CustomConfig:
    """Pack the ingestion settings (`data.max_bad_fraction`, `data.max_image_pixels`, `data.spans`) into the
    ExampleGen's CustomConfig."""
    struct = struct_pb2.Struct()
    struct.update({MAX_BAD_FRACTION_KEY: max_bad_fraction, MAX_IMAGE_PIXELS_KEY: max_image_pixels, SPANS_KEY: spans})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(struct)
    return config


def output_split_config(
    eval_fraction: float, by_filename: bool, validation_fraction: float = 0.0
) -> example_gen_pb2.Output:
    """Hash-bucket train/(validation/)eval split (100 buckets); by the `filename` feature so a file keeps its split
    across runs. Eval takes the last buckets, so a file's eval membership does not depend on the validation share."""
    split_config = example_gen_pb2.SplitConfig(
        splits=[
            example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=count)
            for name, count in image_files.split_buckets(eval_fraction, validation_fraction).items()
        ]
    )
    if by_filename:
        split_config.partition_feature_name = image_files.FILENAME_KEY
    return example_gen_pb2.Output(split_config=split_config)


def read_file_to_result(readable: fileio.ReadableFile, input_base: str, max_pixels: int) -> dict[str, Any]:
    """Read one matched file: `{"filename", "label", "example"}` when usable, else `{"filename", "reason"}`; both
    with the file's `size` and content `sha256` (-1 and "" when it could not be read). `max_pixels` is
    `data.max_image_pixels`."""
    path = readable.metadata.path
    relative = path[len(input_base) :].lstrip("/") if is_remote(path) else os.path.relpath(path, input_base)
    filename = data_files.readable_name(relative)
    try:
        data = readable.read()
    except OSError as error:  # vanished since it was matched, no permission, I/O error
        return {
            "filename": filename,
            "size": -1,
            "sha256": "",
            "reason": f"cannot read file ({type(error).__name__}: {error})",
        }
    read = {"filename": filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if not data_files.is_utf8(relative):
        return {
            **read,
            "reason": "path is not UTF-8 (labels, labels.txt and the examples' file names are UTF-8 "
            "text); rename the folder or file",
        }
    try:
        label = image_files.label_of(filename)
        image = image_files.normalise_image(data, max_pixels)
    except image_files.BadImage as error:
        return {**read, "reason": str(error)}
    return {**read, "label": label, "example": image_files.make_example(image, label, filename)}


def _write_report(bad: list[dict[str, str]], total: int, classes: dict[str, int], path: str) -> None:
    report = {
        "total_files": total,
        "bad_count": len(bad),
        "classes": dict(sorted(classes.items())),
        "bad_files": sorted(
            ({"filename": row["filename"], "reason": row["reason"]} for row in bad), key=lambda row: row["filename"]
        ),
    }
    json_files.write(path, report)


def _write_training_input(files: list[tuple[str, int, str]], spans: list[str], path: str) -> None:
    record = training_input.TrainingInput(tuple(spans), training_input.fingerprint(files), len(files))
    json_files.write(path, record.to_json())


def resolve_spans(exec_properties: dict[str, Any]) -> training_input.SpanSelection:
    """The spans of the data root that `data.spans` picks, resolved now."""
    spans = str(custom_config_values(exec_properties).get(SPANS_KEY, training_input.ALL_SPANS))
    return training_input.resolve(
        exec_properties[standard_component_specs.INPUT_BASE_KEY].rstrip("/"),
        spans,
        data_files.listdir,
        data_files.isdir,
    )


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImageFolderToExample(
    pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str, output_uri: str
) -> beam.pvalue.PCollection:
    """Match `split_pattern` in each chosen span folder (or in `input_base`), read each file and emit tf.Examples;
    report the rest, and record the spans and the fingerprint of every file read."""
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    selection = resolve_spans(exec_properties)
    max_pixels = int(custom_config_values(exec_properties)[MAX_IMAGE_PIXELS_KEY])
    folders = [os.path.join(input_base, name) for name in selection.names] or [input_base]
    matched = [
        pipeline | f"MatchImages[{index}]" >> fileio.MatchFiles(os.path.join(folder, split_pattern))
        for index, folder in enumerate(folders)
    ]
    results = (
        matched
        | "AllSpans" >> beam.Flatten()
        | "SkipHidden" >> beam.Filter(lambda meta: not image_files.is_hidden_path(meta.path))
        | "ReadImages" >> fileio.ReadMatches()
        | "ToExample" >> beam.Map(read_file_to_result, input_base, max_pixels)
    )
    _ = (
        results
        | "FileIdentity" >> beam.Map(lambda row: (row["filename"], row["size"], row["sha256"]))
        | "ListFiles" >> beam.combiners.ToList()
        | "WriteTrainingInput"
        >> beam.Map(
            _write_training_input,
            spans=selection.names,
            path=os.path.join(output_uri, training_input.TRAINING_INPUT_FILE),
        )
    )
    total = results | "CountFiles" >> beam.combiners.Count.Globally()
    classes = (
        results
        | "GoodLabels" >> beam.FlatMap(lambda row: [row["label"]] if "example" in row else [])
        | "CountPerClass" >> beam.combiners.Count.PerElement()
        | "ClassCounts" >> beam.combiners.ToDict()
    )
    _ = (
        results
        | "KeepBad" >> beam.Filter(lambda row: "reason" in row)
        | "ListBad" >> beam.combiners.ToList()
        | "WriteBadReport"
        >> beam.Map(
            _write_report,
            total=beam.pvalue.AsSingleton(total),
            classes=beam.pvalue.AsSingleton(classes),
            path=os.path.join(output_uri, BAD_FILES_REPORT),
        )
    )
    return results | "KeepGood" >> beam.FlatMap(lambda row: [row["example"]] if "example" in row else [])


class ImageFolderExecutor(base_example_gen_executor.BaseExampleGenExecutor):
    """Ingests `ROOT/<label>/<image>` (or `ROOT/<span>/<label>/<image>`) folders into tf.Examples; enforces the
    bad-file budget and two classes; sets the examples' span to the newest span ingested."""

    _output_uri = ""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """The PTransform the base executor applies to the input split pattern."""
        output_uri = self._output_uri

        def transform(exec_properties: dict[str, Any], split_pattern: str) -> beam.PTransform:
            return _ImageFolderToExample(exec_properties, split_pattern, output_uri)

        return transform

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        """Write the splits, then fail the run when too many files were unusable or fewer than 2 classes remain."""
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        self._output_uri = examples.uri
        report_path = os.path.join(examples.uri, BAD_FILES_REPORT)
        super().Do(input_dict, output_dict, exec_properties)
        with tf.io.gfile.GFile(report_path) as handle:
            report = json.load(handle)
        with tf.io.gfile.GFile(os.path.join(examples.uri, training_input.TRAINING_INPUT_FILE)) as handle:
            ingested = training_input.TrainingInput.from_json(json.load(handle))
        examples.span = ingested.latest_span_number
        total, bad = report["total_files"], report["bad_count"]
        budget = float(custom_config_values(exec_properties).get(MAX_BAD_FRACTION_KEY, 0.0))
        for row in report["bad_files"]:
            logging.warning("Skipped %s: %s", row["filename"], row["reason"])
        examples.set_int_custom_property("bad_files", bad)
        examples.set_int_custom_property("total_files", total)
        if total == 0:
            raise TooManyBadFiles(f"{exec_properties[standard_component_specs.INPUT_BASE_KEY]}: no image files found")
        if bad / total > budget:
            raise TooManyBadFiles(
                f"{bad} of {total} files ({bad / total:.1%}) could not be used, over the budget "
                f"data.max_bad_fraction={budget:.1%}; see {report_path}"
            )
        classes = report["classes"]
        if len(classes) < 2:
            raise TooFewClasses(
                f"{exec_properties[standard_component_specs.INPUT_BASE_KEY]}: usable images in {len(classes)} class "
                f"folder(s) ({', '.join(classes) or 'none'}); a classifier needs at least 2; see {report_path}"
            )
        progress.log(
            logging.WARNING if bad else logging.INFO,
            "%d images in %d classes%s; %d unusable files skipped (%.1f%%, budget %.1f%%), listed in %s",
            total - bad,
            len(classes),
            f" from {ingested.describe()}" if ingested.spans else "",
            bad,
            100 * bad / total,
            100 * budget,
            report_path,
        )
