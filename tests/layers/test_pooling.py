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


@pytest.mark.parametrize("pool", ["MaxPooling2D", "AveragePooling2D"])
def test_pool_gradient_inside_kerax_function(rng, pool):
    # conv -> pool, differentiated w.r.t. the conv kernel inside a compiled
    # function; the gradient is checked against jax.grad of the closed form.
    import jax
    import jax.numpy as jnp
    conv = L.Conv2D(2, 2, use_bias=False)
    layer = getattr(L, pool)(pool_size=2, **({} if pool == "MaxPooling2D" else
                                              {"padding": "same", "strides": 1}))
    x = rng.normal(size=(1, 5, 5, 1)).astype("float32")
    conv(x)

    @kerax.function
    def step():
        return kerax.value_and_grad(lambda: kerax.ops.sum(layer(conv(x)) ** 2),
                                    [conv.kernel])()
    _, (g,) = step()

    def reference(k):
        y = jax.lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if pool == "MaxPooling2D":
            y = y[:, :4, :4].reshape(1, 2, 2, 2, 2, 2).max(axis=(2, 4))
        else:
            p = jnp.pad(y, ((0, 0), (0, 1), (0, 1), (0, 0)))
            n = jnp.pad(jnp.ones_like(y), ((0, 0), (0, 1), (0, 1), (0, 0)))
            y = sum(p[:, i:i + 4, j:j + 4] for i in (0, 1) for j in (0, 1)) / \
                sum(n[:, i:i + 4, j:j + 4] for i in (0, 1) for j in (0, 1))
        return jnp.sum(y ** 2)
    expected = jax.grad(reference)(jnp.asarray(conv.kernel.numpy()))
    np.testing.assert_allclose(np.asarray(g), np.asarray(expected), rtol=1e-4, atol=1e-5)
