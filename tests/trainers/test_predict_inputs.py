"""predict's `x` is the model's inputs whatever their structure (issue 11
item 2), and a one-element output list is unwrapped as in Keras 3 (item 3);
each compared with Keras 3 on the same weights."""
import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::UserWarning")


def _multi_input(lib, n_inputs):
    L = lib.layers
    dims = [3, 2, 4][:n_inputs]
    names = ["wide", "deep", "extra"][:n_inputs]
    inputs = [lib.Input((d,), name=n) for d, n in zip(dims, names)]
    hidden = [L.Dense(4, activation="tanh", name=f"h_{n}")(i) for n, i in zip(names, inputs)]
    out = L.Dense(1, name="out")(L.Concatenate()(hidden))
    return lib.Model(inputs, out)


def _arrays(n_inputs, n=7, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, d)).astype(np.float32) for d in [3, 2, 4][:n_inputs]]


@pytest.mark.parametrize("n_inputs", [2, 3])
def test_predict_with_tuple_list_dict_inputs_matches_keras(keras, n_inputs):
    k = _multi_input(keras, n_inputs)
    kx = _multi_input(kerax, n_inputs)
    kx.set_weights(k.get_weights())
    arrays = _arrays(n_inputs)
    names = ["wide", "deep", "extra"][:n_inputs]
    for x in (tuple(arrays), list(arrays), dict(zip(names, arrays))):
        expected = k.predict(x, batch_size=4, verbose=0)  # a partial last batch
        got = kx.predict(x, batch_size=4, verbose=0)
        assert got.shape == expected.shape == (7, 1)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        np.testing.assert_allclose(np.asarray(kx.predict_on_batch(x)),
                                   np.asarray(k.predict_on_batch(x)), atol=1e-5)


def test_fit_and_evaluate_still_unpack_x_y_sample_weight(keras):
    k = _multi_input(keras, 2)
    kx = _multi_input(kerax, 2)
    kx.set_weights(k.get_weights())
    x = tuple(_arrays(2, n=10))
    y = np.random.default_rng(1).normal(size=(10, 1)).astype(np.float32)
    sw = np.random.default_rng(2).uniform(0.5, 2, size=10).astype(np.float32)
    for m in (k, kx):
        m.compile("sgd", loss="mse")
    np.testing.assert_allclose(kx.evaluate(x, y, sample_weight=sw, batch_size=4, verbose=0),
                               k.evaluate(x, y, sample_weight=sw, batch_size=4, verbose=0),
                               rtol=1e-5)
    hk = k.fit(x, y, batch_size=4, shuffle=False, verbose=0).history
    hx = kx.fit(x, y, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(hx["loss"], hk["loss"], rtol=1e-5)


def _single(lib, kind):
    i = lib.Input((3,), name="x")
    d = lib.layers.Dense(2, name="d")(i)
    outputs = {"list": [d], "tuple": (d,), "tensor": d, "dict": {"a": d}}[kind]
    return lib.Model(i, outputs)


def _kind(v):
    """A structure's shape with tensors of either library as 'T'."""
    if isinstance(v, dict):
        return {k: _kind(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_kind(e) for e in v)
    return "T"


@pytest.mark.parametrize("kind", ["list", "tuple", "tensor", "dict"])
def test_output_structure_matches_keras(keras, kind):
    k, kx = _single(keras, kind), _single(kerax, kind)
    kx.set_weights(k.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    # eager call and predict: a one-element list/tuple comes back as the tensor
    for fn in (lambda m: m(x), lambda m: m.predict(x, verbose=0),
               lambda m: m.predict_on_batch(x)):
        a, b = fn(kx), fn(k)
        assert _kind(a) == _kind(b)
        for u, v in zip(kerax.tree.flatten(a), keras.tree.flatten(b)):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), atol=1e-5)
    # the attributes and a symbolic call keep the structure the model was built with
    assert _kind(kx.output) == _kind(k.output)
    assert _kind(kx.outputs) == _kind(k.outputs) == ["T"]
    if kind != "dict":
        assert tuple(kx.output_shape) == tuple(k.output_shape) == (None, 2)
    assert _kind(kx(kerax.Input((3,)))) == _kind(k(keras.Input((3,))))


def test_nested_model_with_one_element_output_list(keras):
    def build(lib):
        inner = _single(lib, "list")
        j = lib.Input((3,))
        return lib.Model(j, inner(j))  # inner(j) is a one-element list, as in Keras

    k, kx = build(keras), build(kerax)
    kx.set_weights(k.get_weights())
    x = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    assert _kind(kx.output) == _kind(k.output) == ["T"]
    for fn in (lambda m: m(x), lambda m: m.predict(x, verbose=0)):
        a, b = fn(kx), fn(k)
        assert _kind(a) == _kind(b) == "T"
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
