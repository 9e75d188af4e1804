"""Attention layers against Keras 3 (same weights, same outputs)."""
import copy

import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax.saving.object_registration import deserialize_keras_object, serialize_keras_object


def _close(a, b, atol=1e-5):
    a = a if isinstance(a, (list, tuple)) else [a]
    b = b if isinstance(b, (list, tuple)) else [b]
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=1e-5)


@pytest.fixture
def qkv():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 4, 6)).astype("float32")
    v = rng.normal(size=(2, 5, 3)).astype("float32")
    k = rng.normal(size=(2, 5, 7)).astype("float32")
    return q, v, k


def _mha_pair(keras, q, v, k=None, **kw):
    km = keras.layers.MultiHeadAttention(**kw)
    mm = L.MultiHeadAttention(**kw)
    # (return_attention_scores: Keras' fused path fails when value_dim != key_dim)
    km(q, v, key=k, return_attention_scores=True)
    mm(q, v, key=k)
    return km, mm


def test_mha_weight_layout_matches_keras(keras, qkv):
    q, v, k = qkv
    km, mm = _mha_pair(keras, q, v, k, num_heads=2, key_dim=3, value_dim=4)
    assert ["/".join(w.path.split("/")[-2:]) for w in mm.weights] == \
        ["/".join(w.path.split("/")[-2:]) for w in km.weights]
    assert [w.shape for w in mm.weights] == [tuple(w.shape) for w in km.weights]
    assert mm.weights[0].shape == (6, 2, 3) and mm.weights[6].shape == (2, 4, 6)


def test_mha_matches_keras_with_masks(keras, qkv):
    q, v, k = qkv
    km, mm = _mha_pair(keras, q, v, k, num_heads=2, key_dim=3, value_dim=4)
    mm.set_weights(km.get_weights())
    _close(mm(q, v, key=k, return_attention_scores=True),
           km(q, v, key=k, return_attention_scores=True))
    km, mm = _mha_pair(keras, q, v, k, num_heads=2, key_dim=3)
    mm.set_weights(km.get_weights())
    _close(mm(q, v, key=k), km(q, v, key=k))
    att = np.random.default_rng(1).random((2, 4, 5)) > 0.3
    att[:, :, 0] = True
    _close(mm(q, v, key=k, attention_mask=att), km(q, v, key=k, attention_mask=att))
    vmask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    _close(mm(q, v, key=k, value_mask=vmask), km(q, v, key=k, value_mask=vmask))
    # Keras takes query_mask from the query's attached mask; kerax from the
    # argument: the same as that row mask in attention_mask.
    qmask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    _close(mm(q, v, key=k, query_mask=qmask),
           km(q, v, key=k, attention_mask=np.broadcast_to(qmask[:, :, None], (2, 4, 5))))
    out_m, scores_m = mm(q, v, key=k, attention_mask=att, return_attention_scores=True)
    out_k, scores_k = km(q, v, key=k, attention_mask=att, return_attention_scores=True)
    assert scores_m.shape == (2, 2, 4, 5)
    _close([out_m, scores_m], [out_k, scores_k])


def test_mha_self_attention_causal_and_options(keras):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    for kw in (dict(num_heads=3, key_dim=2, use_bias=False, output_shape=(3,)),):
        km, mm = _mha_pair(keras, x, x, **kw)
        mm.set_weights(km.get_weights())
        _close(mm(x, x, use_causal_mask=True), km(x, x, use_causal_mask=True))
        _close(mm(x, x, use_causal_mask=True, return_attention_scores=True),
               km(x, x, use_causal_mask=True, return_attention_scores=True))
    # causal scores are zero above the diagonal
    _, s = mm(x, x, use_causal_mask=True, return_attention_scores=True)
    assert np.allclose(np.triu(np.asarray(s)[0, 0], 1), 0)


def test_mha_attention_axes_4d(keras):
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 5)).astype("float32")
    for axes in (None, (2,)):
        km, mm = _mha_pair(keras, x, x, num_heads=2, key_dim=2, attention_axes=axes)
        mm.set_weights(km.get_weights())
        _close(mm(x, x, return_attention_scores=True), km(x, x, return_attention_scores=True))


def test_mha_dropout_and_errors():
    x = np.random.default_rng(4).normal(size=(2, 5, 8)).astype("float32")
    mm = L.MultiHeadAttention(2, 4, dropout=0.5, seed=1)
    a = np.asarray(mm(x, x))
    np.testing.assert_allclose(np.asarray(mm(x, x, training=False)), a)
    assert not np.allclose(np.asarray(mm(x, x, training=True)), a)
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="key_dim"):
        L.MultiHeadAttention(2, -1)
    with pytest.raises(ValueError, match="rank 3"):
        L.MultiHeadAttention(2, 4)(np.ones((2, 8), "float32"), np.ones((2, 8), "float32"))


def test_mha_symbolic_config_and_round_trip(keras):
    q = kerax.Input((4, 6))
    v = kerax.Input((5, 3))
    layer = L.MultiHeadAttention(2, 3, name="mha")
    out, scores = layer(q, v, return_attention_scores=True)
    assert out.shape == (None, 4, 6) and scores.shape == (None, 2, 4, 5)
    assert layer.get_build_config() == {"shapes_dict": {"query_shape": [None, 4, 6],
                                                        "value_shape": [None, 5, 3]}}
    k = keras.layers.MultiHeadAttention(2, 3, name="mha")
    assert serialize_keras_object(L.MultiHeadAttention(2, 3, name="mha")) == \
        keras.saving.serialize_keras_object(k)
    clone = L.MultiHeadAttention.from_config(layer.get_config())
    clone.build_from_config(layer.get_build_config())
    clone.set_weights(layer.get_weights())
    x = np.ones((1, 4, 6), "float32")
    y = np.ones((1, 5, 3), "float32")
    _close(clone(x, y), layer(x, y))


def test_mha_implicit_masks_in_functional_model(keras):
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5], [7, 8, 0, 0, 0]])

    def build(lib):
        inp = lib.Input((5,), dtype="int32")
        e = lib.layers.Embedding(10, 8, mask_zero=True)(inp)
        a = lib.layers.MultiHeadAttention(2, 4)(e, e)
        return lib.Model(inp, lib.layers.LayerNormalization()(a))

    km, mm = build(keras), build(kerax)
    mm.set_weights(km.get_weights())
    _close(mm(tokens), km(tokens))


@pytest.mark.parametrize("kw", [dict(), dict(use_scale=True), dict(score_mode="concat"),
                                dict(score_mode="concat", use_scale=True)])
def test_attention_matches_keras(keras, qkv, kw):
    q, v, _ = qkv
    q = q[..., :3]
    k = v[:, :, ::-1] + 0.5
    qmask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    vmask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    ka, ma = keras.layers.Attention(**kw), L.Attention(**kw)
    ka([q, v, k])
    ma([q, v, k])
    assert [w.shape for w in ma.weights] == [tuple(w.shape) for w in ka.weights]
    weights = [np.full(w.shape, 1.5 + i, "float32") for i, w in enumerate(ka.weights)]
    ka.set_weights(weights)
    ma.set_weights(weights)
    _close(ma([q, v, k]), ka([q, v, k]))
    _close(ma([q, v], mask=[qmask, vmask], return_attention_scores=True),
           ka([q, v], mask=[qmask, vmask], return_attention_scores=True))
    _close(ma([q, v, k], mask=[None, vmask], use_causal_mask=True),
           ka([q, v, k], mask=[None, vmask], use_causal_mask=True))


def test_additive_attention_matches_keras(keras, qkv):
    q, v, _ = qkv
    q = q[..., :3]
    vmask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    for kw in (dict(), dict(use_scale=False)):
        ka, ma = keras.layers.AdditiveAttention(**kw), L.AdditiveAttention(**kw)
        ka([q, v])
        ma([q, v])
        ma.set_weights(ka.get_weights())
        _close(ma([q, v], mask=[None, vmask], return_attention_scores=True),
               ka([q, v], mask=[None, vmask], return_attention_scores=True))
        _close(ma([q, v], use_causal_mask=True), ka([q, v], use_causal_mask=True))
    with pytest.raises(ValueError, match="list"):
        L.Attention()(q)


def test_attention_configs_match_keras(keras):
    for name, kw in (("Attention", dict(use_scale=True, score_mode="concat", dropout=0.1)),
                     ("AdditiveAttention", dict(use_scale=False, seed=3))):
        k = getattr(keras.layers, name)(name="a", **kw)
        m = getattr(L, name)(name="a", **kw)
        kc = keras.saving.serialize_keras_object(k)
        assert serialize_keras_object(m) == kc
        assert serialize_keras_object(deserialize_keras_object(copy.deepcopy(kc))) == kc
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="cosine")


def test_transformer_encoder_block_trains():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 8)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > 0).astype("float32")
    kerax.utils.set_random_seed(0)
    inp = kerax.Input((6, 8))
    a = L.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1)(inp, inp)
    h = L.LayerNormalization()(inp + a)
    f = L.Dense(8)(L.Dense(16, activation="relu")(h))
    h = L.LayerNormalization()(h + f)
    out = L.Dense(1, activation="sigmoid")(L.GlobalAveragePooling1D()(h))
    model = kerax.Model(inp, out)
    model.compile(optimizer=kerax.optimizers.Adam(0.01), loss="binary_crossentropy")
    losses = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
    assert len(losses) == 2 and losses[1] < losses[0]


def test_keras_weights_file_and_kerax_file_round_trip(keras, tmp_path):
    """A Keras-saved .weights.h5 loads into the same kerax model (and back)."""
    x = np.random.default_rng(5).normal(size=(2, 5, 4)).astype("float32")
    z = dict(recurrent_initializer="zeros")

    def build(lib):
        inp = lib.Input((5, 4))
        a = lib.layers.MultiHeadAttention(2, 3)(inp, inp)
        h = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True, **z))(a)
        h = lib.layers.SpectralNormalization(lib.layers.Dense(3))(h)
        h = lib.layers.RNN([lib.layers.SimpleRNNCell(2, **z), lib.layers.LSTMCell(3, **z)])(h)
        return lib.Model(inp, h)

    km, mm = build(keras), build(kerax)
    ref = np.asarray(km(x))
    km.save_weights(str(tmp_path / "k.weights.h5"))
    mm.load_weights(str(tmp_path / "k.weights.h5"))
    _close(mm(x), ref)
    mm.save_weights(str(tmp_path / "m.weights.h5"))
    km2 = build(keras)
    km2.load_weights(str(tmp_path / "m.weights.h5"))
    _close(km2(x), ref)
