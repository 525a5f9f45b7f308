"""The names the pipeline's parts agree on, each defined once here (imports nothing heavy).

Feature keys of the examples ImageExampleGen writes, the quantization modes, the architectures and their widths,
the Trainer's signature names and the files a pushed TFLite model is made of. Ingestion, Transform, Trainer,
TFLite, registry, the pipeline and the Kubeflow code import them from here.
"""

from __future__ import annotations

IMAGE_KEY = "image_raw"  # encoded image bytes, as read from the file
LABEL_KEY = "label"  # the class folder's name, UTF-8

QUANTIZATION_MODES = ("float32", "dynamic", "float16", "int8")

# The architectures and the width multipliers (alpha) each allows: those of the papers and of Keras's ImageNet
# weights. The config checks them; the module files' builders refuse others.
ARCHITECTURES = ("v1", "v2")
V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)

# The Trainer's SavedModel signatures: encoded image bytes, the resized image as floats in [-1, 1] (what TFLite is
# converted from and measured against), and transformed tf.Examples (what TFMA evaluates).
SERVING_SIGNATURE = "serving_default"
PREPROCESSED_SIGNATURE = "serving_preprocessed"
TRANSFORMED_EXAMPLES_SIGNATURE = "serving_transformed_examples"

QUANTIZATION_AWARE_DIR = "Format-Serving-QuantizationAware"
"""The quantization-aware SavedModel the Trainer writes beside its float SavedModel (in the model artifact), which
the TFLite step converts to a second int8 candidate."""
MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"  # one label per line, in the model's output order
WEIGHTS_FILE = "weights.h5"  # the float Keras weights: beside a trained model, and in each registry version (for
# warm start; `registry pull` never hands them to the app)
# A report folder (the TFLite step's, pushed with each version, and each pipeline run's): its data, the same as
# Markdown, and a picture of it.
REPORT_FILE = "report.json"
REPORT_MARKDOWN_FILE = "report.md"
REPORT_PICTURE_FILE = "report.png"
# What a model was trained on, as its report, its registry manifest and a held-back candidate's record say: the
# spans and fingerprint of the data (`components.ingestion.training_input.TrainingInput`), and a fingerprint of
# the settings that shape the model. The new-data check compares both with those of the last judged model.
TRAINING_INPUT_FIELD = "training_input"
SETTINGS_FIELD = "settings_sha256"
# Beside a trained model: the Trainer's epochs, the training images it handed out, their wall seconds (validation
# and BatchNorm recalibration included) and images per second; the run summary shows the rate.
TRAINING_SPEED_FILE = "training_speed.json"
# The measurements of a TFLite file that its report, its registry manifest and index, the run summary and the
# benchmark all read: top-1 accuracy of the file and of the float model on the eval split, and the file's latency
# on the build machine's CPU in milliseconds ({"median", "p90", "threads", "runs"}).
TFLITE_ACCURACY_FIELD = "tflite_accuracy"
FLOAT_ACCURACY_FIELD = "float_accuracy"
LATENCY_FIELD = "latency_ms"
# The top-1 of the file on the eval split's original files, resized and normalized as the app's runtime does
# (components/tflite/app_path.py); None where the original files were not given. The gates judge the lower of it
# and TFLITE_ACCURACY_FIELD.
APP_PATH_ACCURACY_FIELD = "app_path_accuracy"
# The latency (as LATENCY_FIELD) at each reported thread count, keyed by the count as a string.
LATENCY_BY_THREADS_FIELD = "latency_by_threads"


def is_remote(path: str) -> bool:
    """Whether `path` is a URL (gs://, s3://, hdfs://, ram://...) rather than a path on this machine."""
    return "://" in path


def url_parts(url: str) -> tuple[str, str]:
    """The scheme of a URL and what follows it: ('gs', 'bucket/key') of 'gs://bucket/key'."""
    scheme, _, rest = url.partition("://")
    return scheme, rest


def url_of(scheme: str, rest: str) -> str:
    """The URL of `rest` (e.g. 'bucket/key') under `scheme` (e.g. 'gs'): the inverse of `url_parts`."""
    return f"{scheme}://{rest}"
