"""Size sweep: float32 and int8 `.tflite` bytes of every allowed width of V1 and V2, without training (the size
of a flatbuffer does not depend on the weights' values). It shows why narrow MobileNets quantize worse than 4x:
int8 stores a float32 scale and an int64 zero point per output channel, which weigh most where a layer has
few weights per channel (the depthwise layers of a narrow model).

Each width is also wrapped for quantization-aware training (`quantization_aware.quantize`, as the Trainer does)
and converted as the TFLite step converts that model: its int8 bytes, and whether it is full-integer with builtin
ops only, for every allowed width."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np

log = logging.getLogger("mobilenet.bench")
CALIBRATION_IMAGES = 8


def size_sweep(
    input_size: int, num_classes: int, scratch: str, alphas: Mapping[str, Sequence[float]] | None = None
) -> list[dict[str, Any]]:
    """One row per architecture x alpha (default: every allowed one): parameters, float32 and int8 bytes and
    their ratio, and the quantization-aware int8 bytes, full-integer and builtin-ops-only."""
    from components import keras_autograph
    from components.tflite import conversion
    from components.trainer import export, mobilenet_v1, mobilenet_v2, quantization_aware

    keras_autograph.exempt_tf_keras()
    calibration = np.random.default_rng(0).uniform(-1, 1, (CALIBRATION_IMAGES, input_size, input_size, 3))
    rows = []
    for architecture, module in (("v1", mobilenet_v1), ("v2", mobilenet_v2)):
        for alpha in (alphas or {}).get(architecture, module.ALLOWED_ALPHAS):
            model = module.build_network((input_size, input_size, 3), num_classes, alpha=alpha)
            saved_model_dir = os.path.join(scratch, f"{architecture}-{alpha}")
            export.save_for_conversion(model, saved_model_dir, input_size)
            loaded = conversion.load(saved_model_dir)
            float32 = len(conversion.convert(loaded, "float32"))
            int8 = len(conversion.convert(loaded, "int8", calibration.astype(np.float32)))
            aware_dir = os.path.join(scratch, f"{architecture}-{alpha}-quantization-aware")
            export.save_for_conversion(quantization_aware.quantize(model), aware_dir, input_size)
            aware = conversion.convert(aware_dir, "int8", calibration.astype(np.float32))
            rows.append(
                {
                    "architecture": architecture,
                    "alpha": alpha,
                    "input_size": input_size,
                    "parameters": int(model.count_params()),
                    "float32_bytes": float32,
                    "int8_bytes": int8,
                    "int8_ratio": round(int8 / float32, 4),
                    "quantization_aware_int8_bytes": len(aware),
                    "quantization_aware_builtin_ops_only": not conversion.non_builtin_ops(conversion.model_ops(aware)),
                    "quantization_aware_full_integer": not conversion.float_tensors_inside(aware),
                }
            )
            log.info(
                "  size sweep %s alpha %s: float32 %d B, int8 %d B (%.3f), quantization-aware int8 %d B",
                architecture,
                alpha,
                float32,
                int8,
                int8 / float32,
                len(aware),
            )
    return rows
