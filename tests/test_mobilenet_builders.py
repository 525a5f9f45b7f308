"""MobileNet V1/V2 builders: parameter counts and layer structure against the Keras reference, alphas, outputs."""

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import mobilenet_v1, mobilenet_v2

BUILDERS = (mobilenet_v1, mobilenet_v2)


def _weight_shapes_by_layer(model: tf.keras.Model) -> dict[str, list[list[int]]]:
    return {layer.name: [w.shape.as_list() for w in layer.weights] for layer in model.layers if layer.weights}


def _next_layers(model: tf.keras.Model, layer: tf.keras.layers.Layer) -> list[tf.keras.layers.Layer]:
    """The layers that consume `layer`'s output inside `model`."""
    return [node.outbound_layer for node in layer._outbound_nodes if node.outbound_layer in model.layers]


@pytest.mark.parametrize(
    "module, reference, expected",
    [
        (mobilenet_v1, tf.keras.applications.MobileNet, 4_253_864),
        (mobilenet_v2, tf.keras.applications.MobileNetV2, 3_538_984),
    ],
)
def test_parameters_match_keras_reference(module, reference, expected):
    model = module.build_network((224, 224, 3), 1000, alpha=1.0)
    keras_model = reference(input_shape=(224, 224, 3), alpha=1.0, weights=None, classes=1000)
    assert model.count_params() == keras_model.count_params() == expected
    # Same layer names and weight shapes, so the reference's ImageNet weights load by name.
    assert _weight_shapes_by_layer(model) == _weight_shapes_by_layer(keras_model)


def test_v1_depthwise_separable_blocks():
    model = mobilenet_v1.build_network((224, 224, 3), 1000)
    depthwise = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.DepthwiseConv2D)]
    assert len(depthwise) == 13
    for layer in depthwise:
        (bn,) = _next_layers(model, layer)
        (relu,) = _next_layers(model, bn)
        (pointwise,) = _next_layers(model, relu)
        assert isinstance(bn, tf.keras.layers.BatchNormalization)
        assert isinstance(relu, tf.keras.layers.ReLU) and float(relu.max_value) == 6.0
        assert isinstance(pointwise, tf.keras.layers.Conv2D) and pointwise.kernel_size == (1, 1)
        (pointwise_bn,) = _next_layers(model, pointwise)
        assert isinstance(pointwise_bn, tf.keras.layers.BatchNormalization)
        assert isinstance(_next_layers(model, pointwise_bn)[0], tf.keras.layers.ReLU)
    assert model.get_layer("conv_pw_13").output_shape == (None, 7, 7, 1024)


def test_v2_inverted_residual_blocks():
    model = mobilenet_v2.build_network((224, 224, 3), 1000)
    depthwise = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.DepthwiseConv2D)]
    assert len(depthwise) == 17
    assert sum(isinstance(layer, tf.keras.layers.Add) for layer in model.layers) == 10
    relus = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.ReLU)]
    assert relus and all(float(layer.max_value) == 6.0 for layer in relus)
    projections = [layer for layer in model.layers if layer.name.endswith("project")]
    assert len(projections) == 17
    for projection in projections:
        assert projection.kernel_size == (1, 1)
        (bn,) = _next_layers(model, projection)
        assert isinstance(bn, tf.keras.layers.BatchNormalization)
        # Linear bottleneck: nothing after the projection's BN is an activation.
        assert not any(
            isinstance(layer, (tf.keras.layers.ReLU, tf.keras.layers.Activation)) for layer in _next_layers(model, bn)
        )
    assert model.get_layer("Conv_1").output_shape == (None, 7, 7, 1280)


@pytest.mark.parametrize("module", BUILDERS)
def test_invalid_alpha_names_allowed_values(module):
    with pytest.raises(ValueError) as error:
        module.build_network((32, 32, 3), 10, alpha=0.6)
    assert "0.6" in str(error.value)
    for alpha in module.ALLOWED_ALPHAS:
        assert str(alpha) in str(error.value)


@pytest.mark.parametrize("module, alpha", [(m, a) for m in BUILDERS for a in m.ALLOWED_ALPHAS])
def test_every_allowed_alpha_builds_at_32(module, alpha):
    model = module.build_network((32, 32, 3), 5, alpha=alpha)
    assert model.output_shape == (None, 5)


@pytest.mark.parametrize("module", BUILDERS)
def test_output_is_softmax_over_classes(module):
    model = module.build_network((32, 32, 3), 7, alpha=module.ALLOWED_ALPHAS[0])
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    probabilities = model(images, training=False).numpy()
    assert probabilities.shape == (3, 7)
    assert model.layers[-1].name == "probabilities"
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


@pytest.mark.parametrize("module", BUILDERS)
def test_default_batch_norm_momentum_is_0_9(module):
    model = module.build_network((32, 32, 3), 3, alpha=module.ALLOWED_ALPHAS[0])
    batch_norms = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert batch_norms and {layer.momentum for layer in batch_norms} == {0.9}
    assert {layer.epsilon for layer in batch_norms} == {1e-3}


@pytest.mark.parametrize("module", BUILDERS)
def test_architecture_constant(module):
    assert module.ARCHITECTURE == module.__name__.rsplit(".", 1)[-1]
