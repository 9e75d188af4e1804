"""compile's loss / metric / loss_weight mapping onto several outputs, and the
per-output losses in the logs (issue 11 items 4 and 5), against Keras 3 on the
same model, weights and data: the same log keys and values."""
import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::UserWarning")

N = 10  # batch_size 4: two full batches and a partial one


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype(np.float32)
    ya = (rng.random((N, 1)) > 0.5).astype(np.float32)
    yb = rng.normal(size=(N, 2)).astype(np.float32)
    sw = rng.uniform(0.1, 2.0, size=N).astype(np.float32)
    return x, ya, yb, sw


def _two_outputs(lib, kind="list"):
    L = lib.layers
    i = lib.Input((4,), name="x")
    h = L.Dense(5, activation="tanh", name="h")(i)
    a = L.Dense(1, activation="sigmoid", name="out_a")(h)
    b = L.Dense(2, name="out_b")(h)
    outputs = {"list": [a, b], "tuple": (a, b), "dict": {"ka": a, "kb": b}}[kind]
    return lib.Model(i, outputs)


def _pair(keras, build, **compile_kwargs):
    k, kx = build(keras), build(kerax)
    kx.set_weights(k.get_weights())
    k.compile("sgd", **compile_kwargs)
    kx.compile("sgd", **compile_kwargs)
    return k, kx


def _same_logs(got, expected, tol=1e-5):
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key], np.float64),
                                   np.asarray(expected[key], np.float64),
                                   rtol=tol, atol=tol, err_msg=key)


CONFIGS = [
    # a flat list: entry i goes to output i (accuracy on out_a, mse on out_b)
    dict(loss="mse", metrics=["accuracy", "mse"]),
    dict(loss="mse", metrics=[["accuracy"], ["mse", "mae"]]),
    dict(loss="mse", metrics={"out_b": ["mae"]}),
    dict(loss="mse", metrics=["mse", "mse"], weighted_metrics=["mse", ["mse", "mse"]]),
    dict(loss={"out_a": "binary_crossentropy", "out_b": "mse"},
         loss_weights={"out_a": 0.9, "out_b": 0.1}, metrics=["accuracy", "mae"]),
    dict(loss=["binary_crossentropy", "mse"], loss_weights={"out_a": 0.3, "out_b": 2.0}),
    dict(loss=["binary_crossentropy", None], metrics=[["accuracy"], ["mse"]]),
    dict(loss="mse", loss_weights=0.5, metrics={"out_a": "accuracy", "out_b": ["mse"]}),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: repr(c)[:60])
def test_compile_mapping_matches_keras(keras, config):
    x, ya, yb, sw = _data()
    k, kx = _pair(keras, _two_outputs, **config)
    y = [ya, yb]
    expected = k.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    _same_logs(kx.evaluate(x, y, batch_size=4, verbose=0, return_dict=True), expected)
    # the list form follows Keras' order (Keras' list is its dict's values re-ordered)
    assert kx._logs_as_list(expected) == k._flatten_metrics_in_order(expected)


@pytest.mark.parametrize("kind,y", [("tuple", "tuple"), ("list", "dict"), ("dict", "dict")])
def test_output_and_target_structures(keras, kind, y):
    x, ya, yb, _ = _data(1)
    targets = {"tuple": (ya, yb), "dict": {"out_a": ya, "out_b": yb}}[y]
    if kind == "dict":
        targets = {"ka": ya, "kb": yb}
    k, kx = _pair(keras, lambda lib: _two_outputs(lib, kind), loss="mse",
                  metrics=["accuracy", "mse"])
    _same_logs(kx.evaluate(x, targets, batch_size=4, verbose=0, return_dict=True),
               k.evaluate(x, targets, batch_size=4, verbose=0, return_dict=True))


def test_dict_outputs_keyed_losses_and_metrics(keras):
    x, ya, yb, sw = _data(2)
    k, kx = _pair(keras, lambda lib: _two_outputs(lib, "dict"),
                  loss={"ka": "binary_crossentropy", "kb": "mse"},
                  loss_weights={"ka": 0.9, "kb": 0.1},
                  metrics={"ka": "accuracy", "kb": ["mae", "mse"]})
    y = {"ka": ya, "kb": yb}
    _same_logs(kx.evaluate(x, y, sample_weight=sw, batch_size=4, verbose=0, return_dict=True),
               k.evaluate(x, y, sample_weight=sw, batch_size=4, verbose=0, return_dict=True))


@pytest.mark.parametrize("config", [
    dict(loss="mse", metrics=["mse"]),             # one entry for two outputs
    dict(loss="mse", metrics=["mse", "mae", "accuracy"]),
    dict(loss="mse", metrics="mse"),               # not a list
    dict(loss="mse", loss_weights=[0.9, 0.1]),     # one loss, two weights
    dict(loss={"out_a": "binary_crossentropy"}),   # a loss dict missing an output
])
def test_mappings_keras_rejects_are_rejected(keras, config):
    x, ya, yb, _ = _data()
    for lib in (keras, kerax):
        model = _two_outputs(lib)
        with pytest.raises(ValueError):
            model.compile("sgd", **config)
            model.evaluate(x, [ya, yb], verbose=0)


class _Sub:
    """A subclassed model with two outputs (no output names: Keras names the
    loss terms after the losses and leaves the metrics unprefixed)."""

    @staticmethod
    def build(lib):
        class Sub(lib.Model):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.a = lib.layers.Dense(1, activation="sigmoid")
                self.b = lib.layers.Dense(2)

            def call(self, x):
                return [self.a(x), self.b(x)]

        model = Sub()
        model(np.zeros((1, 4), np.float32))
        return model


@pytest.mark.parametrize("config", [
    dict(loss=["binary_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]]),
    dict(loss="mse", metrics=[["mse", "mse"], "mse"], weighted_metrics=[["mse"], "mse"]),
])
def test_subclassed_multi_output_logs(keras, config):
    x, ya, yb, sw = _data(3)
    k, kx = _pair(keras, _Sub.build, **config)
    _same_logs(kx.evaluate(x, [ya, yb], sample_weight=sw, batch_size=4, verbose=0,
                           return_dict=True),
               k.evaluate(x, [ya, yb], sample_weight=sw, batch_size=4, verbose=0,
                          return_dict=True))


@pytest.mark.parametrize("weighted", [False, True])
def test_per_output_losses_add_up_like_keras(keras, weighted):
    """Item 5: each `{output}_loss` is averaged over batches weighted by batch
    size, as the total is, so total == sum(weight * per-output loss)."""
    x, ya, yb, sw = _data(4)
    sample_weight = sw if weighted else None
    k, kx = _pair(keras, _two_outputs, loss=["binary_crossentropy", "mse"],
                  loss_weights=[0.9, 0.1], metrics=[["accuracy"], ["mae"]])
    got = kx.evaluate(x, [ya, yb], sample_weight=sample_weight, batch_size=4, verbose=0,
                      return_dict=True)
    _same_logs(got, k.evaluate(x, [ya, yb], sample_weight=sample_weight, batch_size=4,
                               verbose=0, return_dict=True))
    np.testing.assert_allclose(got["loss"], 0.9 * got["out_a_loss"] + 0.1 * got["out_b_loss"],
                               rtol=1e-6)
    if not weighted:
        return
    # fit's logs (training and validation) the same way
    hk = k.fit(x, [ya, yb], sample_weight=sample_weight, batch_size=4, epochs=1,
               shuffle=False, validation_data=(x, [ya, yb]), verbose=0).history
    hx = kx.fit(x, [ya, yb], sample_weight=sample_weight, batch_size=4, epochs=1,
                shuffle=False, validation_data=(x, [ya, yb]), verbose=0).history
    _same_logs(hx, hk)
    np.testing.assert_allclose(
        hx["val_loss"], 0.9 * np.asarray(hx["val_out_a_loss"]) + 0.1 * np.asarray(
            hx["val_out_b_loss"]), rtol=1e-6)


def test_nested_single_output_functional_with_metrics(keras):
    def build(lib):
        L = lib.layers
        i = lib.Input((4,))
        inner = lib.Model(i, L.Dense(3, activation="relu", name="inner_d")(i), name="inner")
        j = lib.Input((4,))
        return lib.Model(j, L.Dense(1, name="top")(inner(j)))

    x, _, _, sw = _data(5)
    y = np.random.default_rng(6).normal(size=(N, 1)).astype(np.float32)
    k, kx = _pair(keras, build, loss="mse", metrics=["mse", "mae"])
    hk = k.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    hx = kx.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    _same_logs(hx, hk)
    _same_logs(kx.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True),
               k.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True))
