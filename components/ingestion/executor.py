"""ExampleGen executor for a folder of class sub-folders of images, on Beam.

Files are matched and read by Beam (so the folder can be larger than memory and live on any filesystem Beam
reads), each one is checked and turned into a tf.Example, and files that cannot be used are written to
`bad_files.json` beside the splits, with the number of usable images per class. A run fails when the share of
bad files exceeds `max_bad_fraction` or when fewer than two classes have a usable image.
"""
from __future__ import annotations

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

from components import PROGRESS_LOGGER
from components.contracts import is_remote
from components.ingestion import image_files

BAD_FILES_REPORT = "bad_files.json"
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


def make_custom_config(max_bad_fraction: float) -> example_gen_pb2.CustomConfig:
    """Pack the ingestion settings into the ExampleGen's CustomConfig."""
    struct = struct_pb2.Struct()
    struct.update({"max_bad_fraction": max_bad_fraction})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(struct)
    return config


def output_split_config(eval_fraction: float, by_filename: bool,
                        validation_fraction: float = 0.0) -> example_gen_pb2.Output:
    """Hash-bucket train/(validation/)eval split (100 buckets); by the `filename` feature so a file keeps its split
    across runs. Eval takes the last buckets, so a file's eval membership does not depend on the validation share."""
    split_config = example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=count)
        for name, count in image_files.split_buckets(eval_fraction, validation_fraction).items()])
    if by_filename:
        split_config.partition_feature_name = image_files.FILENAME_KEY
    return example_gen_pb2.Output(split_config=split_config)


def read_file_to_result(readable: fileio.ReadableFile, input_base: str) -> dict[str, Any]:
    """Read one matched file: `{"filename", "label", "example"}` when usable, else `{"filename", "reason"}`."""
    path = readable.metadata.path
    filename = path[len(input_base):].lstrip("/") if is_remote(path) else os.path.relpath(path, input_base)
    try:
        label = image_files.label_of(filename)
        image = image_files.normalise_image(readable.read())
    except image_files.BadImage as error:
        return {"filename": filename, "reason": str(error)}
    except OSError as error:  # vanished since it was matched, no permission, I/O error
        return {"filename": filename, "reason": f"cannot read file ({type(error).__name__}: {error})"}
    return {"filename": filename, "label": label, "example": image_files.make_example(image, label, filename)}


def _write_report(bad: list[dict[str, str]], total: int, classes: dict[str, int], path: str) -> None:
    report = {"total_files": total, "bad_count": len(bad), "classes": dict(sorted(classes.items())),
              "bad_files": sorted(bad, key=lambda row: row["filename"])}
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImageFolderToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str,
                          report_path: str) -> beam.pvalue.PCollection:
    """Match `input_base/split_pattern`, read each file and emit tf.Examples; report the rest."""
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    results = (
        pipeline
        | "MatchImages" >> fileio.MatchFiles(os.path.join(input_base, split_pattern))
        | "SkipHidden" >> beam.Filter(lambda meta: not image_files.is_hidden_path(meta.path))
        | "ReadImages" >> fileio.ReadMatches()
        | "ToExample" >> beam.Map(read_file_to_result, input_base)
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
        | "WriteBadReport" >> beam.Map(_write_report, total=beam.pvalue.AsSingleton(total),
                                       classes=beam.pvalue.AsSingleton(classes), path=report_path)
    )
    return results | "KeepGood" >> beam.FlatMap(lambda row: [row["example"]] if "example" in row else [])


class ImageFolderExecutor(base_example_gen_executor.BaseExampleGenExecutor):
    """Ingests `ROOT/<label>/<image>` folders into tf.Examples; enforces the bad-file budget and two classes."""

    _report_path = ""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """The PTransform the base executor applies to the input split pattern."""
        report_path = self._report_path

        def transform(exec_properties: dict[str, Any], split_pattern: str) -> beam.PTransform:
            return _ImageFolderToExample(exec_properties, split_pattern, report_path)

        return transform

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        """Write the splits, then fail the run when too many files were unusable or fewer than 2 classes remain."""
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        self._report_path = os.path.join(examples.uri, BAD_FILES_REPORT)
        super().Do(input_dict, output_dict, exec_properties)
        with tf.io.gfile.GFile(self._report_path) as handle:
            report = json.load(handle)
        total, bad = report["total_files"], report["bad_count"]
        budget = float(custom_config_values(exec_properties).get("max_bad_fraction", 0.0))
        for row in report["bad_files"]:
            logging.warning("Skipped %s: %s", row["filename"], row["reason"])
        examples.set_int_custom_property("bad_files", bad)
        examples.set_int_custom_property("total_files", total)
        if total == 0:
            raise TooManyBadFiles(f"{exec_properties[standard_component_specs.INPUT_BASE_KEY]}: no image files found")
        if bad / total > budget:
            raise TooManyBadFiles(
                f"{bad} of {total} files ({bad / total:.1%}) could not be used, over the budget "
                f"data.max_bad_fraction={budget:.1%}; see {self._report_path}")
        classes = report["classes"]
        if len(classes) < 2:
            raise TooFewClasses(
                f"{exec_properties[standard_component_specs.INPUT_BASE_KEY]}: usable images in {len(classes)} class "
                f"folder(s) ({', '.join(classes) or 'none'}); a classifier needs at least 2; see {self._report_path}")
        progress.log(logging.WARNING if bad else logging.INFO,
                     "%d images in %d classes; %d unusable files skipped (%.1f%%, budget %.1f%%), listed in %s",
                     total - bad, len(classes), bad, 100 * bad / total, 100 * budget, self._report_path)
