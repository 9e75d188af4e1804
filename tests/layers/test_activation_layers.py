"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax) against Keras 3:
outputs, weights, configs, Softmax's mask and `.keras` files both ways."""
import warnings

import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax.saving.object_registration import deserialize_keras_object, serialize_keras_object

from tests.layers.keras_compare import compare_layer, plain


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,kwargs,shape", [
    ("ReLU", {}, (3, 7)),
    ("ReLU", dict(max_value=1.0), (3, 7)),
    ("ReLU", dict(negative_slope=0.2), (3, 7)),
    ("ReLU", dict(threshold=0.5), (3, 7)),
    ("ReLU", dict(max_value=1.5, negative_slope=0.1, threshold=0.3), (3, 7)),
    ("ReLU", dict(max_value=6.0), (3, 7)),
    ("LeakyReLU", {}, (3, 7)),
    ("LeakyReLU", dict(negative_slope=0.05), (2, 3, 4)),
    ("ELU", {}, (3, 7)),
    ("ELU", dict(alpha=0.5), (3, 7)),
    ("PReLU", {}, (2, 3, 4)),
    ("PReLU", dict(shared_axes=[1, 2]), (2, 3, 4, 5)),
    ("PReLU", dict(shared_axes=2, alpha_initializer="ones", alpha_regularizer="l2",
                   alpha_constraint="non_neg"), (2, 3, 4)),
    ("Softmax", {}, (3, 7)),
    ("Softmax", dict(axis=1), (2, 3, 4)),
    ("Softmax", dict(axis=[1]), (2, 3, 4)),
    ("Softmax", dict(axis=[1, 2]), (2, 3, 4)),
])
def test_matches_keras(keras, rng, name, kwargs, shape):
    """Outputs (PReLU with Keras' random alpha copied), weight names/shapes and
    configs equal Keras'; from_config round-trips."""
    compare_layer(keras, name, kwargs, shape, rng, low=-3.0, high=3.0)


def test_relu_edges_match_keras(keras):
    """Values at the threshold and at max_value, where formulas differ most."""
    x = np.array([[-1.0, 0.0, 0.3, 0.30001, 1.0, 1.5, 2.0]], "float32")
    for kw in (dict(threshold=0.3), dict(max_value=1.5, negative_slope=0.5, threshold=0.3),
               dict(max_value=0.0), dict(negative_slope=1.0)):
        _close(L.ReLU(**kw)(x), keras.layers.ReLU(**kw)(x))


def test_leaky_relu_alpha_is_deprecated_alias(keras):
    x = np.array([[-2.0, 1.0]], "float32")
    with pytest.warns(UserWarning, match="alpha"):
        layer = L.LeakyReLU(alpha=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_layer = keras.layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and "alpha" not in layer.get_config()
    _close(layer(x), k_layer(x))


@pytest.mark.parametrize("mask_shape,axis,dtype", [
    ((2, 3, 4), -1, bool),
    ((2, 1, 4), -1, bool),
    ((4,), 1, "float32"),
    ((3, 4), [1, 2], "int32"),
])
def test_softmax_mask_matches_keras(keras, rng, mask_shape, axis, dtype):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    mask = (rng.uniform(size=mask_shape) > 0.4).astype(dtype)
    _close(L.Softmax(axis=axis)(x, mask=mask), keras.layers.Softmax(axis=axis)(x, mask=mask))


def test_softmax_mask_propagates_like_keras(keras):
    """An Embedding(mask_zero=True) mask reaches Softmax's `mask` in a model, and
    is applied with Keras' right-aligned broadcasting."""
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [1, 1, 1, 0], [4, 3, 2, 1]], "int32")
    k_model = keras.Sequential([keras.Input((4,), dtype="int32"),
                                keras.layers.Embedding(5, 4, mask_zero=True),
                                keras.layers.Softmax()])
    model = kerax.Sequential([kerax.Input((4,), dtype="int32"),
                              L.Embedding(5, 4, mask_zero=True),
                              L.Softmax()])
    model.set_weights(k_model.get_weights())
    expected = k_model.predict(ids, verbose=0)
    assert (expected == 0).any()  # the mask did reach Keras' Softmax
    _close(model.predict(ids, verbose=0), expected)


def test_errors():
    with pytest.raises(ValueError, match="max_value"):
        L.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope"):
        L.ReLU(negative_slope=None)
    with pytest.raises(ValueError, match="threshold"):
        L.ReLU(threshold=-0.1)
    with pytest.raises(ValueError, match="negative_slope"):
        L.LeakyReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="broadcast"):
        L.Softmax()(np.ones((2, 3), "float32"), mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="broadcast"):
        L.Softmax()(np.ones((2, 3), "float32"), mask=np.ones((1, 2, 3), bool))
    with pytest.raises(ValueError, match="shared_axes"):
        L.PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="shared_axes"):
        L.PReLU(shared_axes=[3])(np.ones((2, 3), "float32"))
    layer = L.PReLU()
    layer(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="built for inputs"):
        layer(np.ones((2, 4), "float32"))


def test_serialize_matches_keras(keras):
    for name, kw in [("ReLU", dict(max_value=2.0, threshold=0.1)),
                     ("LeakyReLU", dict(negative_slope=0.2)),
                     ("PReLU", dict(alpha_regularizer="l1", shared_axes=[1])),
                     ("Softmax", dict(axis=[1, 2]))]:
        k_cfg = keras.saving.serialize_keras_object(getattr(keras.layers, name)(name="a", **kw))
        cfg = serialize_keras_object(getattr(L, name)(name="a", **kw))
        assert plain(cfg) == plain(k_cfg), name
        assert type(deserialize_keras_object(k_cfg)) is getattr(L, name)


def _model(lib):
    inp = lib.Input((3, 4))
    h = lib.layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)(inp)
    h = lib.layers.LeakyReLU(negative_slope=0.2)(h)
    h = lib.layers.Dense(4)(h)
    h = lib.layers.PReLU(shared_axes=[1], alpha_initializer="random_normal")(h)
    h = lib.layers.ELU()(h)
    out = lib.layers.Softmax(axis=[1, 2])(h)
    return lib.Model(inp, out)


def test_keras_file_loads_in_kerax(keras, rng, tmp_path):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    path = tmp_path / "keras.keras"
    k_model = _model(keras)
    k_model.save(path)
    model = kerax.models.load_model(path)
    assert [type(v).__name__ for v in model.layers[1:]] == \
        ["ReLU", "LeakyReLU", "Dense", "PReLU", "ELU", "Softmax"]
    _close(model.predict(x, verbose=0), k_model.predict(x, verbose=0))


def test_kerax_file_loads_in_keras(keras, rng, tmp_path):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    path = tmp_path / "kerax.keras"
    model = _model(kerax)
    model.save(path)
    k_model = keras.saving.load_model(path)
    _close(k_model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [w.path.split("/")[-1] for w in model.layers[4].weights] == ["alpha"]
    _close(k_model.layers[4].get_weights()[0], model.layers[4].get_weights()[0])
