"""Conversion of the Trainer's SavedModel to TFLite in one of four quantization modes, and the op check.

The model is converted from its `serving_preprocessed` signature with a fixed input shape [1, H, W, 3] (batch 1)
and builtin TFLite ops only (no Flex / Select TF ops), which is what the Android app and its delegates run.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from components.contracts import PREPROCESSED_SIGNATURE, QUANTIZATION_MODES

INTEGER_IO_TYPES = {"uint8": tf.uint8, "int8": tf.int8}
_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


class ConversionError(RuntimeError):
    """The model could not be converted to an Android-ready TFLite flatbuffer."""


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A SavedModel loaded once for several conversions (loading it is a large part of each one): the loaded
    object and its preprocessed-image signature at batch 1."""

    trackable: Any
    function: Any


def load(saved_model_dir: str) -> LoadedModel:
    """Load the Trainer's SavedModel for `convert`."""
    loaded = tf.saved_model.load(saved_model_dir)
    signature = loaded.signatures[PREPROCESSED_SIGNATURE]
    ((name, spec),) = signature.structured_input_signature[1].items()
    shape = [1, *spec.shape[1:].as_list()]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name=name)])
    def fixed_batch(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return signature(**{name: image})

    return LoadedModel(loaded, fixed_batch.get_concrete_function())


def convert(model: str | LoadedModel, mode: str, representative_images: np.ndarray | None = None,
            integer_io: str | None = None) -> bytes:
    """Convert a SavedModel (its folder, or `load`ed once for several modes) to a `.tflite` flatbuffer. `int8` needs
    `representative_images` [N, H, W, 3] float32 in [-1, 1]; `integer_io` ("uint8"/"int8") makes an int8 model's
    input and output integer too."""
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"unknown quantization mode {mode!r}; choose from {', '.join(QUANTIZATION_MODES)}")
    if integer_io and mode != "int8":
        raise ValueError(f"integer input/output ({integer_io}) needs the int8 mode, not {mode}")
    source = load(model) if isinstance(model, str) else model
    converter = tf.lite.TFLiteConverter.from_concrete_functions([source.function], source.trackable)
    # Given the loaded object, the converter first saves all of it (every signature, the Transform graph) to a
    # temporary SavedModel and loads that back, for each conversion, which was most of a conversion's time. Its
    # frozen-graph route gives the same ops and scores in every mode
    # (`tests/test_tflite_conversion.py`); the file then carries no SignatureDef, which neither the metadata, the
    # Task Library nor MediaPipe reads.
    converter.experimental_lower_to_saved_model = False
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if representative_images is None or len(representative_images) == 0:
            raise ValueError("int8 quantization needs representative images")

        def representative() -> Iterator[list[np.ndarray]]:
            for image in representative_images:
                yield [image[None].astype(np.float32)]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if integer_io:
            converter.inference_input_type = INTEGER_IO_TYPES[integer_io]
            converter.inference_output_type = INTEGER_IO_TYPES[integer_io]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError and others with the op details
        raise ConversionError(f"{mode} conversion failed: {error}") from error


def model_ops(model_bytes: bytes) -> list[str]:
    """Names of the operators a `.tflite` uses: builtin names, or `CUSTOM:<name>` (Flex ops are `CUSTOM:Flex...`)."""
    model = schema.Model.GetRootAs(model_bytes, 0)
    names = set()
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.add(f"CUSTOM:{(code.CustomCode() or b'').decode()}")
        else:
            names.add(_BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(names)


def non_builtin_ops(ops: list[str]) -> list[str]:
    """The ops Android's builtin TFLite runtime cannot run (custom and Flex / Select TF ops)."""
    return [op for op in ops if op.startswith("CUSTOM:")]


def float_tensors_inside(model_bytes: bytes) -> list[str]:
    """Names of the float32 tensors of a `.tflite` other than its inputs and outputs: empty for a full-integer
    model (float I/O kept)."""
    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    ends = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    return [d["name"] for d in interpreter.get_tensor_details()
            if d["dtype"] == np.float32 and d["index"] not in ends]
