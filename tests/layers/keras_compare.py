"""Shared check for the layer-zoo tests: the same layer built in Keras 3 and in
kerax, Keras' (randomised) weights copied into kerax, then outputs, parameter
counts, weight names, configs and symbolic output shapes compared."""
import warnings

import numpy as np

import kerax
from kerax import layers as L

ATOL = 1e-5


def plain(x):
    """Config values as JSON would store them (tuples -> lists)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def compare_layer(keras, name, kwargs, shape, rng, call_kwargs=None, atol=ATOL, low=None,
                  high=None, symbolic=True):
    call_kwargs = call_kwargs or {}
    if low is None:
        x = rng.normal(size=shape).astype("float32")
    else:
        x = rng.uniform(low, high, size=shape).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_layer = getattr(keras.layers, name)(**kwargs)
        k_layer(x, **call_kwargs)
        k_layer.set_weights([rng.normal(size=w.shape).astype(w.dtype)
                             for w in k_layer.get_weights()])
        expected = np.asarray(k_layer(x, **call_kwargs))
    layer = getattr(L, name)(**kwargs)
    layer(x, **call_kwargs)
    layer.set_weights(k_layer.get_weights())
    got = np.asarray(layer(x, **call_kwargs))
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-5)
    assert layer.count_params() == k_layer.count_params()
    assert [v.path.split("/")[-1] for v in layer.weights] == \
        [v.path.split("/")[-1] for v in k_layer.weights]
    assert [tuple(v.shape) for v in layer.weights] == [tuple(v.shape) for v in k_layer.weights]

    config, k_config = layer.get_config(), k_layer.get_config()
    assert set(config) == set(k_config)
    for key in config:
        if key != "name":
            assert plain(config[key]) == plain(k_config[key]), key
    fresh = type(layer).from_config(config)
    assert plain(fresh.get_config()) == plain(config)
    if symbolic:
        none_shape = (None,) + tuple(shape[1:])
        out = fresh(kerax.Input(shape=shape[1:]))
        assert tuple(out.shape) == tuple(k_layer.compute_output_shape(none_shape))
    return layer, k_layer, x
