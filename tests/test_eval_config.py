"""The Evaluator's TFMA config: the metrics and floor the gates read, and nothing that reloads the Keras model."""

from components.contracts import TRANSFORMED_EXAMPLES_SIGNATURE
from pipeline.config import load_config
from pipeline.pipeline import eval_config


def test_eval_config_reads_the_saved_model_once_as_plain_tensorflow():
    config = eval_config(load_config(None, ["gates.min_accuracy=0.7"]))
    (spec,) = config.model_specs
    assert spec.model_type == "tf_generic" and spec.signature_name == TRANSFORMED_EXAMPLES_SIGNATURE
    assert config.options.HasField("include_default_metrics") and not config.options.include_default_metrics.value
    assert not any(spec.is_baseline for spec in config.model_specs)
    metrics = [metric.class_name for metric in config.metrics_specs[0].metrics]
    assert metrics == ["ExampleCount", "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy"]
    (floor,) = config.metrics_specs[0].metrics[1].per_slice_thresholds
    assert floor.threshold.value_threshold.lower_bound.value == 0.7
