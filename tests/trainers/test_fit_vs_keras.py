"""fit/evaluate/predict against Keras 3 on the same data, weights and initial
parameters: losses, sample/class weights, validation split."""
import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _data(n=96, d=8, classes=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    if classes:
        y = rng.integers(0, classes, n).astype(np.int32)
    else:
        y = (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def _pair(keras, build):
    k = build(keras)
    kx = build(kerax)
    kx.set_weights(k.get_weights())
    return k, kx


def _mlp(lib, out=1, act=None):
    return lib.Sequential([lib.Input((8,)), lib.layers.Dense(16, activation="tanh"),
                           lib.layers.Dense(out, activation=act)])


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
def test_regression_losses_and_validation_split(keras, opt):
    x, y = _data()
    k, kx = _pair(keras, _mlp)
    k.compile(optimizer=opt, loss="mse", metrics=["mae"])
    kx.compile(optimizer=opt, loss="mse", metrics=["mae"])
    hk = k.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=0)
    hx = kx.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=0)
    assert set(hx.history) == set(hk.history)
    for key in hk.history:
        _close(hx.history[key], hk.history[key])
    for a, b in zip(kx.get_weights(), k.get_weights()):
        _close(a, b)
    _close(kx.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0))


def test_sample_weight_and_partial_batches(keras):
    x, y = _data(n=90)
    sw = np.random.default_rng(1).uniform(0.1, 2.0, size=90).astype(np.float32)
    k, kx = _pair(keras, _mlp)
    k.compile(optimizer="sgd", loss="mae", weighted_metrics=["mse"])
    kx.compile(optimizer="sgd", loss="mae", weighted_metrics=["mse"])
    hk = k.fit(x, y, sample_weight=sw, batch_size=32, epochs=2, shuffle=False, verbose=0)
    hx = kx.fit(x, y, sample_weight=sw, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for key in hk.history:
        _close(hx.history[key], hk.history[key])
    _close(kx.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)["loss"],
           k.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)["loss"])


def test_class_weight_classification(keras):
    x, y = _data(classes=3)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    k, kx = _pair(keras, lambda lib: _mlp(lib, 3, "softmax"))
    for m in (k, kx):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hk = k.fit(x, y, class_weight=cw, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hx = kx.fit(x, y, class_weight=cw, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for key in hk.history:
        _close(hx.history[key], hk.history[key])


def test_multi_input_multi_output_with_loss_weights(keras):
    rng = np.random.default_rng(2)
    xa = rng.normal(size=(64, 5)).astype(np.float32)
    xb = rng.normal(size=(64, 6)).astype(np.float32)
    y1 = rng.normal(size=(64, 1)).astype(np.float32)
    y2 = rng.normal(size=(64, 1)).astype(np.float32)

    def build(lib):
        L = lib.layers
        a = lib.Input(shape=[5], name="wide_input")
        b = lib.Input(shape=[6], name="deep_input")
        h = L.Dense(30, activation="relu")(b)
        h = L.Dense(30, activation="relu")(h)
        main = L.Dense(1, name="main_output")(L.concatenate([a, h]))
        aux = L.Dense(1, name="aux_output")(h)
        return lib.Model(inputs=[a, b], outputs=[main, aux])

    k, kx = _pair(keras, build)
    for m in (k, kx):
        m.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="sgd")
    hk = k.fit([xa, xb], [y1, y2], epochs=2, batch_size=16, shuffle=False, verbose=0)
    hx = kx.fit([xa, xb], [y1, y2], epochs=2, batch_size=16, shuffle=False, verbose=0)
    _close(hx.history["loss"], hk.history["loss"])
    assert hx.history["loss"][-1] < hx.history["loss"][0]
    # by output name, as a dict
    kx.compile(loss={"main_output": "mse", "aux_output": "mae"},
               loss_weights={"main_output": 1.0, "aux_output": 0.5}, optimizer="sgd",
               metrics={"main_output": ["mae"]})
    logs = kx.evaluate([xa, xb], {"main_output": y1, "aux_output": y2}, verbose=0,
                       return_dict=True)
    pm, pa = kx.predict([xa, xb], verbose=0)
    expect = np.mean((pm - y1) ** 2) + 0.5 * np.mean(np.abs(pa - y2))
    _close(logs["loss"], expect, 1e-4)
    assert "main_output_mae" in logs
