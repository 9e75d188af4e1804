"""GroupNormalization, SpectralNormalization and SpatialDropout against Keras 3."""
import copy

import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax.saving.object_registration import deserialize_keras_object, serialize_keras_object


def _close(a, b, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=1e-5)


@pytest.mark.parametrize("shape,kw", [
    ((2, 5, 8), dict(groups=4)),
    ((2, 3, 3, 6), dict(groups=-1, epsilon=1e-5)),
    ((2, 6, 3, 3), dict(groups=3, axis=1, center=False)),
    ((3, 8), dict(groups=2, scale=False)),
])
def test_group_normalization_matches_keras(keras, shape, kw):
    x = (np.random.default_rng(0).normal(size=shape) * 3 + 1).astype("float32")
    k, m = keras.layers.GroupNormalization(**kw), L.GroupNormalization(**kw)
    k.build(shape)
    m.build(shape)
    assert [w.shape for w in m.weights] == [tuple(w.shape) for w in k.weights]
    weights = [np.random.default_rng(i).normal(size=w.shape).astype("float32")
               for i, w in enumerate(k.weights)]
    k.set_weights(weights)
    m.set_weights(weights)
    _close(m(x), k(x))


def test_group_normalization_errors_and_config(keras):
    with pytest.raises(ValueError, match="multiple"):
        L.GroupNormalization(groups=3)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="cannot exceed"):
        L.GroupNormalization(groups=8)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="groups"):
        L.GroupNormalization(groups=0)
    kc = keras.saving.serialize_keras_object(
        keras.layers.GroupNormalization(groups=2, axis=1, name="g", gamma_regularizer="l2"))
    m = L.GroupNormalization(groups=2, axis=1, name="g", gamma_regularizer="l2")
    assert serialize_keras_object(m) == kc
    assert serialize_keras_object(deserialize_keras_object(copy.deepcopy(kc))) == kc


def test_spectral_normalization_matches_keras(keras):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5)).astype("float32")
    k = keras.layers.SpectralNormalization(keras.layers.Dense(3), power_iterations=2)
    m = L.SpectralNormalization(L.Dense(3), power_iterations=2)
    k.build(x.shape)
    m.build(x.shape)
    assert [(w.name, w.shape, w.trainable) for w in m.weights] == \
        [(w.name, tuple(w.shape), w.trainable) for w in k.weights]
    m.set_weights(k.get_weights())
    _close(m(x), k(x))  # inference: the wrapped layer as is
    for _ in range(2):  # training: power iteration and kernel / sigma
        _close(m(x, training=True), k(x, training=True))
        for wm, wk in zip(m.get_weights(), k.get_weights()):
            _close(wm, wk)
    # the normalized kernel has spectral norm ~1
    assert abs(np.linalg.norm(m.layer.kernel.numpy(), 2) - 1) < 0.05
    # compiled training step threads vector_u and the kernel
    f = kerax.function(lambda v: m(v, training=True))
    _close(f(x), k(x, training=True))
    _close(m.vector_u.numpy(), k.vector_u.numpy())


def test_spectral_normalization_embedding_and_errors(keras):
    emb = L.SpectralNormalization(L.Embedding(6, 4))
    out = emb(np.array([[1, 2, 3]]), training=True)
    assert out.shape == (1, 3, 4)
    with pytest.raises(ValueError, match="kernel"):
        L.SpectralNormalization(L.Activation("relu"))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="power_iterations"):
        L.SpectralNormalization(L.Dense(2), power_iterations=0)
    kc = keras.saving.serialize_keras_object(
        keras.layers.SpectralNormalization(keras.layers.Dense(2, name="d"), name="s"))
    kc["config"]["layer"]["config"].pop("quantization_config", None)  # Dense's (not ours)
    m = deserialize_keras_object(copy.deepcopy(kc))
    assert isinstance(m, L.SpectralNormalization) and m.layer.units == 2
    mc = serialize_keras_object(m)
    mc["config"]["layer"]["config"].pop("quantization_config", None)
    assert mc == kc


@pytest.mark.parametrize("cls,shape,kw,axes", [
    ("SpatialDropout1D", (8, 6, 16), {}, (1,)),
    ("SpatialDropout2D", (8, 4, 4, 16), {}, (1, 2)),
    ("SpatialDropout2D", (8, 16, 4, 4), {"data_format": "channels_first"}, (2, 3)),
    ("SpatialDropout3D", (8, 3, 3, 3, 16), {}, (1, 2, 3)),
])
def test_spatial_dropout_drops_whole_channels(keras, cls, shape, kw, axes):
    x = np.random.default_rng(2).uniform(1, 2, size=shape).astype("float32")
    layer = getattr(L, cls)(0.5, seed=3, **kw)
    _close(layer(x), x)
    y = np.asarray(layer(x, training=True))
    kept = y != 0
    # a channel is either kept everywhere (scaled by 1 / (1 - rate)) or dropped
    assert (kept.all(axis=axes) | (~kept).all(axis=axes)).all()
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(y[kept], (x * 2)[kept], rtol=1e-6)
    y2 = np.asarray(kerax.function(lambda v: layer(v, training=True))(x)) != 0
    assert (y2.all(axis=axes) | (~y2).all(axis=axes)).all()
    kc = keras.saving.serialize_keras_object(getattr(keras.layers, cls)(0.5, name="s", **kw))
    assert serialize_keras_object(getattr(L, cls)(0.5, name="s", **kw)) == kc
    assert serialize_keras_object(deserialize_keras_object(copy.deepcopy(kc))) == kc
    with pytest.raises(ValueError, match="rank"):
        layer(np.ones((2, 3), "float32"))
