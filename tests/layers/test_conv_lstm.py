"""ConvLSTM1D/2D/3D against Keras 3 (outputs, gradients, weights, configs,
`.keras` files both ways) and against the RNN rules Keras' own masking path
cannot show (Keras 3.15's ConvLSTM fails on masks): masked steps are skipped,
stateful calls continue the sequence, dropout only in training, one trace in
compiled fit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import plain

ATOL = 1e-5


def _leaves(x):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(x)]


def _pair(keras, name, kwargs, x, seed=0):
    rng = np.random.default_rng(seed)
    k_layer = getattr(keras.layers, name)(**kwargs)
    k_layer.build(x.shape)
    k_layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5
                         for w in k_layer.get_weights()])
    layer = getattr(L, name)(**kwargs)
    layer(x)
    layer.set_weights(k_layer.get_weights())
    return layer, k_layer


CASES = [
    ("ConvLSTM2D", dict(filters=3, kernel_size=2, return_sequences=True), (2, 3, 5, 4, 2)),
    ("ConvLSTM1D", dict(filters=2, kernel_size=3, padding="same", strides=2,
                        go_backwards=True, return_state=True), (2, 3, 7, 2)),
    ("ConvLSTM3D", dict(filters=2, kernel_size=2, data_format="channels_first",
                        use_bias=False, dilation_rate=(1, 2, 1)), (1, 2, 1, 3, 5, 3)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=[c[0] for c in CASES])
def test_conv_lstm_matches_keras(keras, name, kwargs, shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    layer, k_layer = _pair(keras, name, kwargs, x)
    for a, b in zip(_leaves(layer(x)), _leaves(k_layer(x))):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=ATOL)
    assert [w.path.split("/", 1)[1] for w in layer.weights] == \
        [w.path.split("/", 1)[1] for w in k_layer.weights]
    config, k_config = layer.get_config(), k_layer.get_config()
    assert set(config) == set(k_config)
    assert all(plain(config[k]) == plain(k_config[k]) for k in config if k != "name")
    fresh = getattr(L, name).from_config(config)
    assert plain(fresh.get_config()) == plain(config)
    sym = fresh(kerax.Input(shape[1:]))
    want = k_layer.compute_output_shape((None,) + shape[1:])
    assert [tuple(t.shape) for t in jax.tree_util.tree_leaves(
        sym, is_leaf=lambda t: hasattr(t, "shape"))] == \
        [tuple(s) for s in (want if kwargs.get("return_state") else [want])]
    if name == "ConvLSTM2D":
        _check_initial_state_and_grads(layer, k_layer, x)


def _check_initial_state_and_grads(layer, k_layer, x):
    rng = np.random.default_rng(3)
    h0, c0 = (rng.normal(size=(2, 4, 3, 3)).astype("float32") for _ in range(2))
    np.testing.assert_allclose(np.asarray(layer(x, initial_state=[h0, c0])),
                               np.asarray(k_layer(x, initial_state=[h0, c0])), atol=ATOL)

    def grads(lay):
        tv = [w.value for w in lay.trainable_variables]
        ntv = [w.value for w in lay.non_trainable_variables]

        def f(tv, x):
            out, _ = lay.stateless_call(tv, ntv, x)
            out = jnp.asarray(out)
            return jnp.sum(out * jnp.cos(jnp.arange(out.size).reshape(out.shape)))
        return jax.jit(jax.grad(f, argnums=(0, 1)))(tv, jnp.asarray(x))

    for a, b in zip(_leaves(grads(layer)), _leaves(grads(k_layer))):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_conv_lstm_masks_skip_steps():
    x = np.random.default_rng(5).normal(size=(2, 4, 5, 2)).astype("float32")
    layer = L.ConvLSTM1D(2, 2, return_sequences=True, recurrent_initializer="glorot_uniform")
    mask = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)
    out = np.asarray(layer(x, mask=mask))
    full = np.asarray(layer(x))
    # sample 0: the masked last step repeats the previous output
    np.testing.assert_allclose(out[0, :3], full[0, :3], atol=1e-6)
    np.testing.assert_allclose(out[0, 3], out[0, 2], atol=1e-6)
    # sample 1: skipping step 1 equals running on the sequence without it
    skipped = np.asarray(layer(x[1:, [0, 2, 3]]))
    np.testing.assert_allclose(out[1, [0, 2, 3]], skipped[0], atol=1e-5)
    last = L.ConvLSTM1D(2, 2, recurrent_initializer="glorot_uniform")
    last(x)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(last(x, mask=mask))[1], skipped[0, -1], atol=1e-5)
    # zero_output_for_mask puts zeros at masked steps
    zero = L.ConvLSTM1D.from_config({**layer.get_config(), "zero_output_for_mask": True})
    zero(x)
    zero.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(zero(x, mask=mask))[0, 3], 0.0)
    assert layer.compute_mask(x, mask) is mask


def test_conv_lstm_stateful_continues_the_sequence():
    x = np.random.default_rng(6).normal(size=(2, 4, 5, 2)).astype("float32")
    layer = L.ConvLSTM1D(2, 2, padding="same", stateful=True)
    layer(x[:, :2])
    layer.reset_states()
    first, second = np.asarray(layer(x[:, :2])), np.asarray(layer(x[:, 2:]))
    whole = L.ConvLSTM1D(2, 2, padding="same", return_sequences=True)
    whole(x)
    whole.set_weights(layer.get_weights())
    full = np.asarray(whole(x))
    np.testing.assert_allclose(first, full[:, 1], atol=1e-5)
    np.testing.assert_allclose(second, full[:, 3], atol=1e-5)
    layer.reset_states()
    np.testing.assert_allclose(np.asarray(layer(x[:, :2])), first, atol=1e-6)


def test_conv_lstm_dropout_and_compiled_fit_traces_once():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 2, 3, 3, 1)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    calls = []

    class Counted(L.ConvLSTM2D):
        def call(self, *args, **kwargs):
            calls.append(1)
            return super().call(*args, **kwargs)

    conv = Counted(1, 2, dropout=0.5, recurrent_dropout=0.5, seed=1)
    conv(x[:4])
    no_dropout = L.ConvLSTM2D(1, 2)
    no_dropout(x[:4])
    no_dropout.set_weights(conv.get_weights())
    # inference: no dropout; training: dropped units change the outputs
    np.testing.assert_allclose(np.asarray(conv(x[:4])), np.asarray(no_dropout(x[:4])),
                               atol=1e-6)
    assert not np.allclose(np.asarray(conv(x[:4], training=True)), np.asarray(conv(x[:4])))
    model = kerax.Sequential([kerax.Input((2, 3, 3, 1)), conv, L.Flatten(), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    per_epoch = []
    record = kerax.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: per_epoch.append(len(calls)))
    calls.clear()
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[record])
    # traced once (twice while the first call builds), not once per batch or epoch
    assert per_epoch[0] <= 2 and per_epoch == [per_epoch[0]] * 3


def test_conv_lstm_errors():
    with pytest.raises(ValueError, match="dilation_rate"):
        L.ConvLSTM2D(2, 2, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="rank 5"):
        L.ConvLSTM2D(2, 2)(np.ones((2, 3, 4, 1), "float32"))
    with pytest.raises(ValueError, match="larger than the spatial"):
        L.ConvLSTM1D(2, 5)(np.ones((1, 2, 3, 1), "float32"))
    with pytest.raises(ValueError, match="static spatial"):
        L.ConvLSTM1D(2, 2)(kerax.Input((3, None, 1)))


def test_conv_lstm_keras_files_both_ways(keras, tmp_path):
    x = np.random.default_rng(8).normal(size=(2, 3, 5, 5, 2)).astype("float32")

    def build(lib):
        inp = lib.Input((3, 5, 5, 2))
        return lib.Model(inp, lib.layers.ConvLSTM2D(2, 3, padding="same")(inp))

    km = build(keras)
    rng = np.random.default_rng(9)
    km.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in km.get_weights()])
    ref = np.asarray(km(x))
    km.save(tmp_path / "k.keras")
    mm = kerax.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(np.asarray(mm(x)), ref, atol=1e-5)
    mm.save(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(tmp_path / "m.keras")(x)),
                               ref, atol=1e-5)
