"""kerax.activations against Keras 3 (values, names, serialization)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import activations
from kerax.saving import object_registration as reg

# (name, kwargs) pairs: every Keras 3 activation, with non-default arguments
# where it takes any.
CASES = [
    ("relu", {}),
    ("relu", {"negative_slope": 0.1}),
    ("relu", {"max_value": 1.5}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"threshold": 0.5}),
    ("relu", {"negative_slope": 0.3, "max_value": 2.0, "threshold": 0.5}),
    ("relu", {"negative_slope": 0.2, "threshold": -0.5}),
    ("relu6", {}),
    ("sigmoid", {}),
    ("softmax", {}),
    ("softmax", {"axis": 0}),
    ("log_softmax", {}),
    ("log_softmax", {"axis": 1}),
    ("tanh", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("silu", {}),
    ("swish", {}),
    ("softplus", {}),
    ("softsign", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.05}),
    ("exponential", {}),
    ("linear", {}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("hard_swish", {}),
    ("mish", {}),
    ("celu", {"alpha": 0.7}),
    ("glu", {}),
    ("hard_shrink", {"threshold": 0.7}),
    ("hard_tanh", {}),
    ("log_sigmoid", {}),
    ("soft_shrink", {"threshold": 0.3}),
    ("sparse_plus", {}),
    ("sparse_sigmoid", {}),
    ("squareplus", {"b": 2}),
    ("tanh_shrink", {}),
    ("threshold", {"threshold": 0.2, "default_value": -1.0}),
]


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(1).normal(size=(6, 8)) * 3).astype("float32")


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_values_match_keras(keras, x, name, kwargs):
    expected = np.asarray(getattr(keras.activations, name)(x, **kwargs))
    got = getattr(activations, name)(x, **kwargs)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-6)


def test_every_keras_activation_exists(keras):
    names = [n for n in dir(keras.activations) if not n.startswith("_")]
    missing = [n for n in names if not hasattr(activations, n)]
    assert not missing
    tested = {n for n, _ in CASES} | {"get", "serialize", "deserialize", "sparsemax"}
    assert set(names) <= tested


def test_defaults_match_keras(keras):
    import inspect
    for name in dir(keras.activations):
        if name.startswith("_") or name in ("get", "serialize", "deserialize"):
            continue
        ks = inspect.signature(getattr(keras.activations, name))
        ours = inspect.signature(getattr(activations, name))
        assert [(p.name, p.default) for p in ks.parameters.values()] == \
            [(p.name, p.default) for p in ours.parameters.values()], name


def test_accepts_variables_and_jit(x):
    v = kerax.Variable(x)
    for name, kwargs in CASES + [("sparsemax", {})]:
        fn = getattr(activations, name)
        np.testing.assert_array_equal(fn(v, **kwargs), fn(x, **kwargs), err_msg=name)
    np.testing.assert_allclose(activations.relu(v), np.maximum(x, 0))
    np.testing.assert_allclose(activations.softmax(v), jax.nn.softmax(x), rtol=1e-6)
    np.testing.assert_allclose(activations.get("elu")(v), jax.nn.elu(x), rtol=1e-6)
    f = jax.jit(lambda a: activations.relu(a, negative_slope=0.1, max_value=3.0))
    ref = np.where(x > 0, np.minimum(x, 3.0), 0.1 * x)
    np.testing.assert_allclose(f(x), ref, rtol=1e-6, atol=1e-6)
    # Python lists and scalars work too.
    np.testing.assert_allclose(activations.sigmoid([0.0]), [0.5])
    assert float(activations.relu(-2.0)) == 0.0


def test_relu_closed_form(x):
    got = activations.relu(x, negative_slope=0.5, max_value=2.0, threshold=1.0)
    ref = np.where(x >= 2.0, 2.0, np.where(x > 1.0, x, 0.5 * (x - 1.0)))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def _np_sparsemax(z):
    # Martins & Astudillo (2016), algorithm 1, one row at a time.
    out = np.zeros_like(z)
    for i, row in enumerate(z):
        s = np.sort(row)[::-1]
        k = np.arange(1, len(s) + 1)
        css = np.cumsum(s)
        kz = k[1 + k * s > css].max()
        tau = (css[kz - 1] - 1) / kz
        out[i] = np.maximum(row - tau, 0)
    return out


def test_sparsemax_closed_form(x):
    # Keras 3.15's JAX sparsemax computes the threshold from the sum of the
    # cumulative sums (its outputs need not sum to 1); kerax follows the paper.
    got = np.asarray(activations.sparsemax(x))
    np.testing.assert_allclose(got, _np_sparsemax(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-6)
    got0 = np.asarray(activations.sparsemax(x, axis=0))
    np.testing.assert_allclose(got0, _np_sparsemax(x.T).T, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(activations.sparsemax(np.array([1.0, 2.0, 3.0])), [0, 0, 1])


@pytest.mark.parametrize("name", ["relu", "swish", "silu", "hard_swish", "linear",
                                  "gelu", "softmax", "leaky_relu", "mish"])
def test_serialize_matches_keras(keras, name):
    k_fn = keras.activations.get(name)
    ours = activations.get(name)
    assert activations.serialize(ours) == keras.activations.serialize(k_fn)
    assert reg.serialize_keras_object(ours) == keras.saving.serialize_keras_object(k_fn)
    # Round trips, through both kerax and Keras formats.
    assert activations.deserialize(activations.serialize(ours)) is ours
    assert activations.deserialize(keras.saving.serialize_keras_object(k_fn)) is ours
    assert reg.deserialize_keras_object(reg.serialize_keras_object(ours)) is ours
    assert activations.get(keras.saving.serialize_keras_object(k_fn)) is ours


def test_get(keras):
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get(activations.tanh) is activations.tanh
    with pytest.raises(ValueError, match="Unknown activation.*relu.*sigmoid"):
        activations.get("not_an_activation")
    with pytest.raises(ValueError):
        activations.get(3)


def my_softplus(z):  # the TensorFlow chapter's custom activation
    return jnp.log(1.0 + jnp.exp(z))


def test_custom_function(keras, x):
    assert activations.get(my_softplus) is my_softplus
    np.testing.assert_allclose(my_softplus(x), np.asarray(keras.activations.softplus(x)),
                               rtol=1e-5, atol=1e-5)
    config = activations.serialize(my_softplus)
    assert config["class_name"] == "function" and config["config"] == "my_softplus"
    assert activations.deserialize(config, custom_objects={"my_softplus": my_softplus}) \
        is my_softplus
    with kerax.saving.custom_object_scope({"my_softplus": my_softplus}):
        assert activations.get("my_softplus") is my_softplus
    with pytest.raises(ValueError):
        activations.deserialize(config)


def test_registered_custom_function():
    @kerax.saving.register_keras_serializable("test_activations")
    def scaled_tanh(x):
        return 2 * jnp.tanh(x)

    config = activations.serialize(scaled_tanh)
    assert config["config"] == "test_activations>scaled_tanh"
    assert activations.deserialize(config) is scaled_tanh
    assert activations.get("test_activations>scaled_tanh") is scaled_tanh


def test_bad_arguments():
    with pytest.raises(ValueError, match="negative_slope"):
        activations.relu(np.ones(2), negative_slope="a")
    with pytest.raises(ValueError, match="axis"):
        activations.softmax(np.ones(2), axis="last")
    with pytest.raises(ValueError, match="even"):
        activations.glu(np.ones((2, 3)))


def test_relu_gradient_and_edges_match_keras():
    """relu is plain `where` (cheap to trace), with jax.nn.relu's gradient:
    0 at 0 (Keras' too), values equal Keras' on 0, +-inf and NaN."""
    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    v = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0, np.inf, -np.inf, np.nan], np.float32)
    for ours in (activations.relu, kerax.ops.relu):
        np.testing.assert_array_equal(ours(v), np.asarray(keras.activations.relu(v)))
        fin = v[:5]
        g = jax.grad(lambda a: jnp.sum(ours(a)))(fin)
        want = jax.grad(lambda a: jnp.sum(keras.activations.relu(a)))(fin)
        np.testing.assert_array_equal(g, want)
        np.testing.assert_array_equal(g, [0, 0, 0, 1, 1])
    # traced as a plain select: no custom-derivative call, no jax.nn.relu
    jaxpr = jax.make_jaxpr(lambda a: activations.relu(a))(v[:5]).jaxpr
    text = str(jaxpr)
    assert "custom_jvp" not in text and "name=relu" not in text, text
    # ints stay ints
    assert activations.relu(np.array([-1, 2], np.int32)).dtype == np.int32
