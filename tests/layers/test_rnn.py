"""Recurrent layers against Keras 3 (same weights, same outputs)."""
import copy

import numpy as np
import pytest

import kerax
from kerax import layers as L

ATOL = 1e-5
# Weights are copied from Keras: skip the (slow, per-shape) orthogonal init.
Z = dict(recurrent_initializer="zeros")


def _close(a, b, atol=ATOL):
    a = a if isinstance(a, (list, tuple)) else [a]
    b = b if isinstance(b, (list, tuple)) else [b]
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=1e-5)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], bool)
    return x, mask


def _pair(keras, name, x, **kw):
    k = getattr(keras.layers, name)(**kw, **Z)
    m = getattr(L, name)(**kw, **Z)
    k.build(x.shape)
    m.build(x.shape)
    m.set_weights(k.get_weights())
    return k, m


@pytest.mark.parametrize("name,kw", [
    ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False, "use_bias": False}),
    ("SimpleRNN", {"activation": "relu"}),
])
def test_recurrent_layers_match_keras(keras, data, name, kw):
    x, mask = data
    for rs, gb, mk in [(False, False, None), (True, True, mask), (False, True, mask)]:
        k, m = _pair(keras, name, x, units=3, return_sequences=rs, go_backwards=gb,
                     return_state=True, **kw)
        assert [w.shape for w in m.weights] == [tuple(w.shape) for w in k.weights]
        _close(m(x, mask=mk), k(x, mask=mk))
    # initial_state, no return_state
    k, m = _pair(keras, name, x, units=3, return_sequences=True, **kw)
    n_states = 2 if name == "LSTM" else 1
    init = [np.full((3, 3), 0.1 * (i + 1), "float32") for i in range(n_states)]
    _close(m(x, initial_state=init), k(x, initial_state=init))


def test_gate_layout_and_weight_names(keras):
    lstm = L.LSTM(5)
    lstm.build((2, 7, 4))
    assert [v.name for v in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [v.shape for v in lstm.weights] == [(4, 20), (5, 20), (20,)]
    # unit_forget_bias: ones for the forget gate (second block) only
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    gru = L.GRU(5)
    gru.build((2, 7, 4))
    assert [v.shape for v in gru.weights] == [(4, 15), (5, 15), (2, 15)]
    gru2 = L.GRU(5, reset_after=False)
    gru2.build((2, 7, 4))
    assert gru2.weights[2].shape == (15,)
    assert lstm.cell.name == "lstm_cell" and gru.cell.name == "gru_cell"
    assert lstm.units == 5 and gru.reset_after is True


def test_lstm_on_2d_input_names_layer_rank_and_shape():
    layer = L.LSTM(4, **Z, name="my_lstm")
    with pytest.raises(ValueError) as e:
        layer(np.zeros((2, 5), "float32"))
    msg = str(e.value)
    assert "my_lstm" in msg and "rank 3" in msg and "(2, 5)" in msg
    with pytest.raises(ValueError, match="rank 3"):
        kerax.Sequential([kerax.Input((5,)), L.GRU(2, **Z)])


def test_stateful_matches_keras_and_reset(keras, data):
    x, _ = data
    k, m = _pair(keras, "LSTM", x, units=3, stateful=True)
    assert len(m.weights) == 3 == len(k.weights)  # states are not weights (as Keras)
    assert len(m.states) == 2
    _close(m(x), k(x))
    _close(m(x), k(x))  # continues from the kept states
    m.reset_states()
    k.reset_states()
    _close(m(x), k(x))
    with pytest.raises(ValueError, match="batch"):
        m(x[:2])
    # compiled: states thread through kerax.function
    m.reset_states()
    f = kerax.function(lambda a: m(a))
    first = np.asarray(f(x))
    second = np.asarray(f(x))
    assert not np.allclose(first, second)
    m.reset_states()
    _close(f(x), first)


def test_stateful_gru_in_sequential_needs_static_batch():
    with pytest.raises(ValueError, match="static"):
        kerax.Sequential([kerax.Input((5, 4)), L.GRU(2, **Z, stateful=True)])
    model = kerax.Sequential([kerax.Input((5, 4), batch_size=3), L.GRU(2, **Z, stateful=True)])
    assert model(np.ones((3, 5, 4), "float32")).shape == (3, 2)


@pytest.mark.parametrize("merge_mode", ["concat", "ave", None])
def test_bidirectional_matches_keras(keras, data, merge_mode):
    x, mask = data
    rs = merge_mode in ("concat", None)
    k = keras.layers.Bidirectional(keras.layers.LSTM(3, **Z, return_sequences=rs), merge_mode=merge_mode)
    m = L.Bidirectional(L.LSTM(3, **Z, return_sequences=rs), merge_mode=merge_mode)
    k.build(x.shape)
    m.build(x.shape)
    assert [w.name for w in m.weights] == [w.name for w in k.weights]
    m.set_weights(k.get_weights())
    _close(m(x), k(x))
    _close(m(x, mask=mask), k(x, mask=mask))


def test_bidirectional_return_state_and_initial_state(keras, data):
    x, mask = data
    k = keras.layers.Bidirectional(keras.layers.GRU(3, **Z, return_sequences=True, return_state=True))
    m = L.Bidirectional(L.GRU(3, **Z, return_sequences=True, return_state=True))
    k.build(x.shape)
    m.build(x.shape)
    m.set_weights(k.get_weights())
    out_m, out_k = m(x, mask=mask), k(x, mask=mask)
    assert len(out_m) == 3
    _close(out_m, out_k)
    init = [np.full((3, 3), 0.3, "float32"), np.full((3, 3), -0.2, "float32")]
    _close(m(x, initial_state=init), k(x, initial_state=init))
    assert m.forward_layer.name.startswith("forward_") and m.backward_layer.go_backwards


def test_time_distributed_matches_keras(keras):
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    k = keras.layers.TimeDistributed(keras.layers.Dense(5))
    m = L.TimeDistributed(L.Dense(5))
    k.build(x.shape)
    m.build(x.shape)
    m.set_weights(k.get_weights())
    _close(m(x), k(x))
    with pytest.raises(ValueError, match="rank 3"):
        L.TimeDistributed(L.Dense(2))(np.ones((2, 3), "float32"))


def test_rnn_wrapper_and_stacked_cells_match_keras(keras, data):
    x, mask = data
    k = keras.layers.RNN(keras.layers.LSTMCell(3, **Z), return_sequences=True)
    m = L.RNN(L.LSTMCell(3, **Z), return_sequences=True)
    k.build(x.shape)
    m.build(x.shape)
    m.set_weights(k.get_weights())
    _close(m(x, mask=mask), k(x, mask=mask))
    k = keras.layers.RNN([keras.layers.LSTMCell(3, **Z), keras.layers.GRUCell(2, **Z),
                          keras.layers.SimpleRNNCell(4, **Z)], return_state=True, go_backwards=True)
    m = L.RNN([L.LSTMCell(3, **Z), L.GRUCell(2, **Z), L.SimpleRNNCell(4, **Z)], return_state=True,
              go_backwards=True)
    k.build(x.shape)
    m.build(x.shape)
    assert [w.shape for w in m.weights] == [tuple(w.shape) for w in k.weights]
    m.set_weights(k.get_weights())
    out_m, out_k = m(x, mask=mask), k(x, mask=mask)
    assert len(out_m) == len(out_k) == 4
    _close(out_m[0], out_k[0])
    _close(out_m[1], out_k[1])  # LSTM cell's [h, c]
    _close(out_m[2:], out_k[2:])


def _minimal_cell(base, ops):
    class MinimalRNNCell(base.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev = states[0]
            out = ops.matmul(inputs, self.kernel) + ops.matmul(prev, self.recurrent_kernel)
            return out, [out]

    return MinimalRNNCell


def test_custom_cell_matches_keras(keras, data):
    import jax.numpy as jnp
    x, mask = data
    kcell = _minimal_cell(keras.layers, keras.ops)(3)
    mcell = _minimal_cell(L, jnp)(3)
    k = keras.layers.RNN(kcell, return_sequences=True)
    m = L.RNN(mcell, return_sequences=True)
    k.build(x.shape)
    m.build(x.shape)
    m.set_weights(k.get_weights())
    _close(m(x), k(x))
    _close(m(x, mask=mask), k(x, mask=mask))


def test_masking_layer_and_implicit_masks_in_models(keras):
    x = np.random.default_rng(2).normal(size=(3, 6, 2)).astype("float32")
    x[0, 4:] = 0.0
    x[2, :2] = 0.0
    km = keras.Sequential([keras.Input((6, 2)), keras.layers.Masking(),
                           keras.layers.LSTM(4, **Z, return_sequences=True), keras.layers.GRU(3, **Z)])
    mm = kerax.Sequential([kerax.Input((6, 2)), L.Masking(), L.LSTM(4, **Z, return_sequences=True),
                           L.GRU(3, **Z)])
    mm.set_weights(km.get_weights())
    _close(mm(x), km(x))
    # the mask matters: the same weights without Masking give other outputs
    plain = kerax.Sequential([kerax.Input((6, 2)), L.LSTM(4, **Z, return_sequences=True), L.GRU(3, **Z)])
    plain.set_weights(km.get_weights())
    assert not np.allclose(np.asarray(plain(x)), np.asarray(km(x)), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(L.Masking().compute_mask(x)),
                                  np.any(x != 0, axis=-1))

    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])

    def functional(lib):
        inp = lib.Input((5,), dtype="int32")
        e = lib.layers.Embedding(10, 4, mask_zero=True)(inp)
        h = lib.layers.Bidirectional(lib.layers.LSTM(3, **Z, return_sequences=True))(e)
        h = lib.layers.TimeDistributed(lib.layers.Dense(2))(h)
        out = lib.layers.SimpleRNN(2, **Z, go_backwards=True)(h)
        return lib.Model(inp, out)

    km, mm = functional(keras), functional(kerax)
    mm.set_weights(km.get_weights())
    _close(mm(tokens), km(tokens))


def test_dropout_only_in_training(keras, data):
    x, _ = data
    layer = L.LSTM(4, **Z, dropout=0.5, recurrent_dropout=0.3, seed=1)
    a = np.asarray(layer(x))
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), a)
    t1 = np.asarray(layer(x, training=True))
    t2 = np.asarray(layer(x, training=True))
    assert not np.allclose(t1, a) and not np.allclose(t1, t2)
    f = kerax.function(lambda v: layer(v, training=True))
    assert not np.allclose(np.asarray(f(x)), np.asarray(f(x)))
    stacked = L.RNN([L.LSTMCell(3, **Z, dropout=0.5), L.GRUCell(2, **Z, recurrent_dropout=0.5)])
    a = np.asarray(stacked(x))
    assert not np.allclose(np.asarray(stacked(x, training=True)), a)


def test_cells_step_match_keras(keras):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4)).astype("float32")
    h = rng.normal(size=(2, 3)).astype("float32")
    for name in ("SimpleRNNCell", "LSTMCell", "GRUCell"):
        k, m = getattr(keras.layers, name)(3, **Z), getattr(L, name)(3, **Z)
        k.build(x.shape)
        m.build(x.shape)
        m.set_weights(k.get_weights())
        states = [h, h * 0.5] if name == "LSTMCell" else [h]
        out_k, st_k = k(x, states)
        out_m, st_m = m(x, states)
        _close(out_m, out_k)
        _close(list(st_m), list(st_k))


def _normalize(cfg):
    """Drop what other modules own or what differs by session counters: Dense's
    quantization_config, the auto-generated name of a StackedRNNCells."""
    if isinstance(cfg, dict):
        out = {k: _normalize(v) for k, v in cfg.items() if k != "quantization_config"}
        if str(out.get("name", "")).startswith("stacked_rnn_cells"):
            out["name"] = "stacked_rnn_cells"
        return out
    if isinstance(cfg, list):
        return [_normalize(v) for v in cfg]
    return cfg


def test_configs_match_keras_and_round_trip(keras, data):
    from kerax.saving.object_registration import (deserialize_keras_object,
                                                    serialize_keras_object)
    x, mask = data
    cases = [
        ("LSTM", dict(units=3, return_sequences=True, dropout=0.1, seed=2, go_backwards=True)),
        ("GRU", dict(units=2, reset_after=False, return_state=True)),
        ("SimpleRNN", dict(units=2, activation="relu", stateful=False)),
        ("Masking", dict(mask_value=-1.0)),
    ]
    for name, kw in cases:
        k = getattr(keras.layers, name)(name="x", **kw)
        m = getattr(L, name)(name="x", **kw)
        assert serialize_keras_object(m) == keras.saving.serialize_keras_object(k)
    wrappers = [
        (lambda lib: lib.layers.RNN([lib.layers.LSTMCell(2, name="c1"),
                                     lib.layers.GRUCell(3, name="c2")], name="r")),
        (lambda lib: lib.layers.RNN(lib.layers.SimpleRNNCell(2, name="c"), name="r")),
        (lambda lib: lib.layers.Bidirectional(lib.layers.LSTM(2, name="l"), name="b")),
        (lambda lib: lib.layers.TimeDistributed(lib.layers.Dense(2, name="d"), name="t")),
    ]
    for i, make in enumerate(wrappers):
        kc = keras.saving.serialize_keras_object(make(keras))
        mc = serialize_keras_object(make(kerax))
        assert _normalize(mc) == _normalize(kc)
        if i % 2:
            continue
        # a Keras config loads into kerax and computes the same function
        klayer = keras.saving.deserialize_keras_object(copy.deepcopy(kc))
        mlayer = deserialize_keras_object(copy.deepcopy(kc))
        klayer.build(x.shape)
        mlayer.build(x.shape)
        mlayer.set_weights(klayer.get_weights())
        _close(mlayer(x), klayer(x))
    lstm = L.LSTM(3, **Z, return_sequences=True)
    lstm.build(x.shape)
    clone = L.LSTM.from_config(lstm.get_config())
    clone.build(x.shape)
    clone.set_weights(lstm.get_weights())
    _close(clone(x, mask=mask), lstm(x, mask=mask))


def test_symbolic_shapes_and_compiled_once(data):
    x, _ = data
    inp = kerax.Input((None, 4))
    seq, h, c = L.LSTM(3, **Z, return_sequences=True, return_state=True)(inp)
    assert seq.shape == (None, None, 3) and h.shape == (None, 3) and c.shape == (None, 3)
    layer = L.GRU(3, **Z)
    traces = []

    def fn(v):
        traces.append(1)
        return layer(v)

    f = kerax.function(fn)
    f(x)
    # The first call builds the layer: as tf.function, the body runs once more
    # now that the weights exist; then once per new input shape.
    assert f.trace_count == 1 and len(traces) == 2
    f(x + 1)
    assert f.trace_count == 1 and len(traces) == 2
    f(np.ones((3, 7, 4), "float32"))
    assert f.trace_count == 2 and len(traces) == 3
    loss, grads = kerax.value_and_grad(lambda v: kerax.ops.sum(layer(v) ** 2))(x)
    assert len(grads) == 3 and all(np.isfinite(np.asarray(g)).all() for g in grads)


def test_lstm_text_classifier_trains():
    rng = np.random.default_rng(0)
    n, t, vocab = 64, 8, 20
    lengths = rng.integers(2, t + 1, size=n)
    tokens = rng.integers(1, vocab, size=(n, t))
    tokens[np.arange(t)[None, :] >= lengths[:, None]] = 0
    y = (tokens[:, 0] < vocab // 2).astype("float32")
    kerax.utils.set_random_seed(0)
    model = kerax.Sequential([
        kerax.Input((t,), dtype="int32"),
        L.Embedding(vocab, 8, mask_zero=True),
        L.LSTM(8),
        L.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=kerax.optimizers.Adam(0.02), loss="binary_crossentropy")
    hist = model.fit(tokens, y, epochs=2, batch_size=16, verbose=0)
    losses = hist.history["loss"]
    assert len(losses) == 2 and losses[1] < losses[0]
