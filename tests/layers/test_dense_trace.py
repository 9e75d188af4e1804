"""Dense layers inside a trace run their math as one shared nested program
(traced once per signature, not once per layer): the same outputs and
gradients as the plain ops and as Keras 3, a user's activation stays out of
the shared trace, and eager calls never compile it."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax

os.environ.setdefault("KERAS_BACKEND", "jax")


def _calls(jaxpr):
    """The nested program calls (jit / pjit equations) at the top of `jaxpr`."""
    return [e for e in jaxpr.eqns if e.primitive.name in ("pjit", "jit")]


def _deep(lib, depth=6, width=8, activation="relu"):
    lib.utils.set_random_seed(3)
    return lib.Sequential([lib.Input((width,))]
                          + [lib.layers.Dense(width, activation=activation)
                             for _ in range(depth)] + [lib.layers.Dense(1)])


def test_traced_dense_layers_share_one_program_and_match_keras():
    import keras
    ours, theirs = _deep(kerax), _deep(keras)
    theirs.set_weights(ours.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    jaxpr = jax.make_jaxpr(lambda a: ours(a))(x).jaxpr
    calls = _calls(jaxpr)
    assert len(calls) == 7  # one per Dense layer
    # the six Dense(8, relu) layers call the one traced program
    inner = {id(e.params["jaxpr"]) for e in calls[:6]}
    assert len(inner) == 1
    traced = jax.jit(lambda a: ours(a))(x)
    np.testing.assert_allclose(traced, np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traced, np.asarray(ours(x)), rtol=1e-6, atol=1e-7)


def test_gradients_through_the_shared_program_equal_numpy():
    model = _deep(kerax, depth=3, width=4)
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    y = np.random.default_rng(2).normal(size=(6, 1)).astype(np.float32)
    weights = model.get_weights()

    def loss(values):
        out, _ = model.stateless_call(values, [], x)
        return jnp.mean((out - y) ** 2)
    grads = jax.grad(loss)([jnp.asarray(w) for w in weights])

    # NumPy backprop of the same MLP
    hs, h = [x], x
    pairs = list(zip(weights[::2], weights[1::2]))
    for i, (w, b) in enumerate(pairs):
        z = h @ w + b
        h = np.maximum(z, 0) if i < len(pairs) - 1 else z
        hs.append(h)
    g = 2 * (h - y) / h.size
    want = []
    for i in reversed(range(len(pairs))):
        w, _ = pairs[i]
        if i < len(pairs) - 1:
            g = g * (hs[i + 1] > 0)
        want = [hs[i].T @ g, g.sum(0)] + want
        g = g @ w.T
    for a, b in zip(grads, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_user_activation_is_not_frozen_into_a_shared_trace():
    scale = {"k": 1.0}

    def scaled(z):  # reads state: a shared trace would keep the first value
        return z * scale["k"]

    kerax.utils.set_random_seed(4)
    layer = kerax.layers.Dense(3, activation=scaled)
    x = np.ones((2, 5), np.float32)
    layer(x)
    f1 = jax.jit(lambda a: layer(a))(x)
    scale["k"] = 2.0
    f2 = jax.jit(lambda a: layer(a))(x)
    np.testing.assert_allclose(f2, 2 * np.asarray(f1), rtol=1e-6)
    assert not _calls(jax.make_jaxpr(lambda a: layer(a))(x).jaxpr)


def test_eager_calls_do_not_compile_the_shared_program(monkeypatch):
    from kerax.layers import core
    used = []
    real = core._dense_jit
    monkeypatch.setattr(core, "_dense_jit", lambda *a: used.append(1) or real(*a))
    layer = kerax.layers.Dense(2, activation="relu")
    x = np.ones((1, 3), np.float32)
    eager = layer(x)
    assert not used
    traced = jax.jit(lambda a: layer(a))(x)
    assert used
    np.testing.assert_allclose(eager, traced, rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_dense_in_a_trace(policy):
    import keras
    kerax.config.set_dtype_policy(policy)
    keras.config.set_dtype_policy(policy)
    try:
        ours, theirs = _deep(kerax, depth=2), _deep(keras, depth=2)
        theirs.set_weights(ours.get_weights())
        x = np.random.default_rng(5).normal(size=(4, 8)).astype(np.float32)
        got = jax.jit(lambda a: ours(a))(x)
        assert got.dtype == np.dtype(ours.compute_dtype)
        np.testing.assert_allclose(np.asarray(got, np.float32),
                                   np.asarray(theirs(x), np.float32), rtol=2e-2, atol=2e-2)
    finally:
        kerax.config.set_dtype_policy("float32")
        keras.config.set_dtype_policy("float32")


class _Stack(kerax.Model):
    """Dense layers kept in a list, built on the first call."""

    def __init__(self):
        super().__init__()
        self.blocks = [kerax.layers.Dense(3, activation="relu", kernel_initializer="ones"),
                       kerax.layers.Dense(1, kernel_initializer="ones")]

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return x


def _numpy_sgd(x, y, lr, steps):
    """The same two-layer MLP trained by SGD in NumPy (all-ones kernels)."""
    w1, b1, w2, b2 = np.ones((2, 3)), np.zeros(3), np.ones((3, 1)), np.zeros(1)
    for _ in range(steps):
        z = x @ w1 + b1
        h = np.maximum(z, 0)
        out = h @ w2 + b2
        g = 2 * (out - y) / out.size
        gw2, gb2 = h.T @ g, g.sum(0)
        gz = (g @ w2.T) * (z > 0)
        w1, b1, w2, b2 = w1 - lr * x.T @ gz, b1 - lr * gz.sum(0), w2 - lr * gw2, b2 - lr * gb2
    return [w1, b1, w2, b2]


def test_list_of_dense_built_inside_a_compiled_step_trains_like_numpy():
    x = np.array([[0.5, -1.0], [1.0, 0.25], [-0.5, 0.75]], np.float32)
    y = np.array([[1.0], [-0.5], [0.25]], np.float32)
    for _ in range(2):  # the same program twice in one process
        model, opt = _Stack(), kerax.optimizers.SGD(0.05)

        @kerax.function
        def step(a, b):
            def loss():
                return kerax.ops.mean((model(a) - b) ** 2)
            value, grads = kerax.value_and_grad(loss, model.trainable_variables)()
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return value

        for _ in range(3):
            step(x, y)
        for got, want in zip(model.get_weights(), _numpy_sgd(x, y, 0.05, 3)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
