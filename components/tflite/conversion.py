"""Conversion of the Trainer's SavedModel to TFLite in one of four quantization modes, and the op check.

The model is converted from its `serving_preprocessed` signature with a fixed input shape [1, H, W, 3] (batch 1)
and builtin TFLite ops only (no Flex / Select TF ops), which is what the Android app and its delegates run.

int8 with uint8 input and output (`tflite.integer_io=uint8`): the input's quantization comes from the model's input
contract, [-1, 1] (`image_codec.MODEL_INPUT_RANGE`), not from the range the calibration images happen to span.
MediaPipe Tasks and the Task Library feed a uint8 input the camera's raw 0..255 pixels, so it must read them as
(pixel - 127.5) / 127.5: scale 1/127.5, zero point 127 or 128. Calibrated on low-contrast photos, the converter's
own choice gives that input a narrower range, and a phone's frame would reach the network squeezed and clipped. So
the model is calibrated (the converter's calibrate-only mode), its input tensor's recorded range is set to [-1, 1],
and it is quantized by the converter's own MLIR quantizer (`mlir_quantize`, the pairing TensorFlow's
QuantizationDebugger uses); every other tensor keeps its calibrated range. `tests/test_tflite_conversion.py`
checks that this gives the converter's own model where the calibration already spans [-1, 1]; every uint8-input
model is checked (`check_app_input`).

int8 with float input and output: the app normalizes the frame and the model's first op quantizes it, so the
input's range is `FLOAT_INPUT_RANGE` (the same calibrate, set, quantize route), whatever the calibration spanned:
all of [-1, 1], so a full-range frame is not clipped, and no normalized pixel on a rounding tie.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterator

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert as lite_convert
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from components.contracts import PREPROCESSED_SIGNATURE, QUANTIZATION_MODES
from components.transform.image_codec import MODEL_INPUT_RANGE, PIXEL_SCALE

INTEGER_IO_TYPES = {"uint8": tf.uint8}
"""Integer input and output the app's runtimes take: MediaPipe Tasks and the TFLite Task Library refuse an int8
input tensor ("Requested one of these types: uint8/float32")."""
FLOAT_INPUT_RANGE = (-256 / 255, 256 / 255)
"""The float input's quantization range. [-1, 1] itself (what full-range calibration photos give) has steps of
exactly 2/255, which puts every normalized pixel, (p - 127.5) / 127.5, half way between two int8 steps: each runtime
then rounds it by the last bit of its own float arithmetic, and MediaPipe Tasks, the Task Library and the
interpreter disagreed. With this range a pixel falls (2p - 255) * 255 / 512 steps from zero, an odd number of
512ths, never a half."""
UINT8_INPUT_ZERO_POINTS = (127, 128)
"""127.5, the zero point that maps 0..255 onto [-1, 1] exactly, cannot be stored: either neighbour is one half
step off at each end."""
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


def convert(
    model: str | LoadedModel, mode: str, representative_images: np.ndarray | None = None, integer_io: str | None = None
) -> bytes:
    """Convert a SavedModel (its folder, or `load`ed once for several modes) to a `.tflite` flatbuffer. `int8` needs
    `representative_images` [N, H, W, 3] float32 in [-1, 1]; `integer_io` ("uint8") makes an int8 model's input
    and output integer too."""
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"unknown quantization mode {mode!r}; choose from {', '.join(QUANTIZATION_MODES)}")
    if integer_io and integer_io not in INTEGER_IO_TYPES:
        raise ValueError(
            f"integer input/output {integer_io!r} is not one the app's runtimes take ({', '.join(INTEGER_IO_TYPES)})"
        )
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
        converter._experimental_calibrate_only = True  # pylint: disable=protected-access
    try:
        converted = converter.convert()
        if mode != "int8":
            return converted
        io_type = INTEGER_IO_TYPES[integer_io] if integer_io else tf.float32
        bounds = MODEL_INPUT_RANGE if integer_io else FLOAT_INPUT_RANGE
        quantized = lite_convert.mlir_quantize(
            with_model_input_range(converted, bounds), input_data_type=io_type, output_data_type=io_type
        )
        model_bytes = lite_convert.deduplicate_readonly_buffers(quantized)
    except Exception as error:  # the converter raises ConverterError and others with the op details
        raise ConversionError(f"{mode} conversion failed: {error}") from error
    check_app_input(model_bytes)
    return model_bytes


def with_model_input_range(calibrated: bytes, bounds: tuple[float, float] = MODEL_INPUT_RANGE) -> bytes:
    """A calibrated flatbuffer (float, each tensor's min and max recorded) with its input's range set to `bounds`
    (the model input's, `MODEL_INPUT_RANGE`, by default), whatever the calibration images spanned."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    subgraph = model.subgraphs[0]
    for index in subgraph.inputs:
        tensor = subgraph.tensors[index]
        tensor.quantization = tensor.quantization or schema.QuantizationParametersT()
        tensor.quantization.min, tensor.quantization.max = [bounds[0]], [bounds[1]]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def input_quantization(model_bytes: bytes) -> tuple[np.dtype, float, int]:
    """The dtype, scale and zero point of a `.tflite`'s input tensor, as its flatbuffer records them (0.0 and 0 for
    a float input)."""
    detail = tf.lite.Interpreter(model_content=model_bytes).get_input_details()[0]
    scale, zero_point = detail["quantization"]
    return np.dtype(detail["dtype"]), float(scale), int(zero_point)


def check_app_input(model_bytes: bytes) -> None:
    """Raise ConversionError unless a uint8 input reads the raw 0..255 pixels MediaPipe Tasks and the Task Library
    feed it as the model's [-1, 1]: scale 1/127.5, zero point 127 or 128. A float input passes."""
    dtype, scale, zero_point = input_quantization(model_bytes)
    if dtype != np.uint8:
        return
    if not math.isclose(scale, 1 / PIXEL_SCALE, rel_tol=1e-6) or zero_point not in UINT8_INPUT_ZERO_POINTS:
        raise ConversionError(
            f"uint8 input with scale {scale:.6g} and zero point {zero_point}: the app's runtimes feed raw 0..255 "
            f"pixels, so pixels 0 and 255 would reach the network as {(0 - zero_point) * scale:.3f} and "
            f"{(255 - zero_point) * scale:.3f} instead of -1 and 1 (needs scale 1/{PIXEL_SCALE:g}, zero point "
            f"{' or '.join(map(str, UINT8_INPUT_ZERO_POINTS))})"
        )


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


def op_counts(model_bytes: bytes) -> dict[str, int]:
    """How many times each builtin operator occurs in a `.tflite`'s main graph (e.g. QUANTIZE left inside it)."""
    model = schema.Model.GetRootAs(model_bytes, 0)
    graph = model.Subgraphs(0)
    counts: dict[str, int] = {}
    for index in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(index).OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
        counts[name] = counts.get(name, 0) + 1
    return counts


def non_builtin_ops(ops: list[str]) -> list[str]:
    """The ops Android's builtin TFLite runtime cannot run (custom and Flex / Select TF ops)."""
    return [op for op in ops if op.startswith("CUSTOM:")]


def float_tensors_inside(model_bytes: bytes) -> list[str]:
    """Names of the float32 tensors of a `.tflite` other than its inputs and outputs: empty for a full-integer
    model (float I/O kept)."""
    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    ends = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    return [d["name"] for d in interpreter.get_tensor_details() if d["dtype"] == np.float32 and d["index"] not in ends]
