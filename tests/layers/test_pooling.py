"""Pooling layers against Keras 3, and bad input."""
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import compare_layer

CF = {"data_format": "channels_first"}
CASES = [
    ("MaxPooling1D", dict(), (2, 7, 3)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=1, padding="same", **CF), (2, 3, 7)),
    ("MaxPooling2D", dict(pool_size=(2, 3), strides=(1, 2), **CF), (2, 3, 6, 7)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("MaxPooling3D", dict(pool_size=2, padding="same"), (1, 3, 5, 4, 2)),
    ("AveragePooling3D", dict(pool_size=2, **CF), (1, 2, 4, 4, 4)),
    ("GlobalMaxPooling1D", dict(keepdims=True), (2, 5, 3)),
    ("GlobalAveragePooling1D", dict(**CF), (2, 3, 5)),
    ("GlobalMaxPooling2D", dict(keepdims=True, **CF), (2, 3, 4, 5)),
    ("GlobalAveragePooling2D", dict(), (2, 4, 5, 3)),
    ("GlobalMaxPooling3D", dict(), (1, 2, 3, 4, 2)),
    ("GlobalAveragePooling3D", dict(keepdims=True), (1, 2, 3, 4, 2)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_keras(keras, rng, name, kwargs, shape):
    compare_layer(keras, name, kwargs, shape, rng)


def test_masked_global_average_1d(rng):
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    got = np.asarray(L.GlobalAveragePooling1D()(x, mask=mask))
    np.testing.assert_allclose(got[0], x[0, :2].mean(0), rtol=1e-6)
    np.testing.assert_allclose(got[1], x[1].mean(0), rtol=1e-6)


def test_aliases_and_bad_input():
    assert L.MaxPool2D is L.MaxPooling2D and L.GlobalAvgPool1D is L.GlobalAveragePooling1D
    with pytest.raises(ValueError, match=r"MaxPooling2D.*rank 4.*\(2, 5, 3\)"):
        L.MaxPooling2D()(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match="padding"):
        L.MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        L.AveragePooling2D(pool_size=(2, 0))
    with pytest.raises(ValueError, match="larger than"):
        L.MaxPooling2D(pool_size=4)(np.zeros((1, 3, 3, 1), "float32"))
    with pytest.raises(TypeError):
        L.AveragePooling2D()  # Keras' AveragePooling has no default pool_size


def test_max_pool_gradient_through_kerax_function(rng):
    layer = L.MaxPooling2D()
    x = kerax.Variable(rng.normal(size=(1, 4, 4, 1)).astype("float32"))

    @kerax.function
    def loss():
        return kerax.ops.sum(layer(x))
    _, (g,) = kerax.value_and_grad(loss, [x])()
    g = np.asarray(g)
    assert g.sum() == 4 and set(np.unique(g)) <= {0.0, 1.0}
