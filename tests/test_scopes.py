"""Top-level scopes of Keras 3: name_scope (variable paths), SymbolicScope,
RematScope/remat; each checked against Keras 3 itself."""
import contextlib

import jax
import keras
import numpy as np
import pytest

import kerax


def _paths(weights):
    return [w.path for w in weights]


def _nested_layer_paths(lib):
    class Outer(lib.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.inner = lib.layers.Dense(2, name="inner")
            self.blocks = [lib.layers.Dense(2, name="b0"), lib.layers.Dense(2, name="b1")]

        def build(self, shape):
            self.w = self.add_weight(shape=(1,), name="w")

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return self.inner(x) * self.w

    out = {}
    o = Outer(name="outer")
    o(np.ones((1, 3), "float32"))
    out["nested"] = _paths(o.weights)
    seq = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, name="s_dense")], name="seq")
    out["sequential"] = _paths(seq.weights)
    lazy = lib.Sequential([lib.layers.Dense(2, name="l_dense")], name="lazy")
    lazy(np.ones((1, 3), "float32"))
    out["lazy_sequential"] = _paths(lazy.weights)
    inp = lib.Input((3,))
    fn = lib.Model(inp, lib.layers.Dense(2, name="f_dense")(inp), name="fn")
    out["functional"] = _paths(fn.weights)

    class Sub(lib.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.a = lib.layers.Dense(2, name="sa")

        def call(self, x):
            return self.a(x)

    sub = Sub()
    sub(np.ones((1, 3), "float32"))
    out["subclassed"] = _paths(sub.weights)
    with lib.name_scope("ns"):
        v = lib.Variable(1.0, name="vv")
        with lib.name_scope("inner"):
            v2 = lib.Variable(1.0, name="v2")
        built_outside = lib.layers.Dense(2, name="built_outside")
        built_inside = lib.layers.Dense(2, name="built_inside")
        built_inside.build((None, 3))
    built_outside.build((None, 3))
    out["scoped_vars"] = [v.path, v2.path, v.name, v2.name]
    out["built_outside"] = _paths(built_outside.weights)
    out["built_inside"] = _paths(built_inside.weights)
    m = lib.metrics.Mean(name="avg")
    out["metric"] = _paths(m.variables)
    return out


def test_variable_paths_match_keras():
    """Weights live under the name scopes their layers open, as in Keras 3:
    `outer/inner/kernel`, `seq/s_dense/kernel`, `ns/vv`."""
    assert _nested_layer_paths(kerax) == _nested_layer_paths(keras)


def test_name_scope_rejects_bad_names():
    for bad in ("a/b", 3):
        with pytest.raises(ValueError, match="name"):
            kerax.name_scope(bad)
        with pytest.raises(ValueError):
            keras.name_scope(bad)


def test_name_scope_override_and_dedup():
    with kerax.name_scope("a"):
        with kerax.name_scope("b", override_parent="x/y"):
            assert kerax.Variable(0.0, name="v").path == "x/y/b/v"
        owner = object()
        with kerax.name_scope("c", caller=owner):
            with kerax.name_scope("c", caller=owner):  # deduplicated: one level
                assert kerax.Variable(0.0, name="v").path == "a/c/v"


def test_symbolic_scope_is_active_while_inferring_shapes():
    seen = []

    class Probe(kerax.layers.Layer):
        def call(self, x):
            seen.append(kerax.core.scope.in_symbolic_scope())
            return x

    assert not kerax.core.scope.in_symbolic_scope()
    with kerax.SymbolicScope():
        assert kerax.core.scope.in_symbolic_scope()
    assert not kerax.core.scope.in_symbolic_scope()
    Probe()(kerax.Input((3,)))
    Probe()(np.ones((1, 3), "float32"))
    # symbolic calls (one per shape probe) see the scope; the eager call does not
    assert len(seen) >= 2 and all(seen[:-1]) and seen[-1] is False
    # Keras' own scope has the same interface.
    with keras.SymbolicScope() as s:
        assert isinstance(s, keras.SymbolicScope)


def _fit(lib, scope, x, y, init):
    with scope:
        model = lib.Sequential([
            lib.Input((8,)),
            lib.layers.Dense(16, activation="relu", name="d1"),
            lib.layers.BatchNormalization(name="bn"),
            lib.layers.Dense(1, activity_regularizer="l2", name="d2"),
        ])
    model.set_weights(init)
    model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    h = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    return h.history["loss"], model.get_weights()


@pytest.mark.parametrize("mode", ["full", "activations", "larger_than", "list_of_layers"])
def test_remat_scope_fit_equals_keras(mode):
    """RematScope changes memory, not numbers: fit under each mode equals
    Keras 3's fit of the same model and weights. (Keras 3.15 itself cannot
    fit this model under RematScope("full"): BatchNormalization's moving
    statistics and the activity-regularization loss leak tracers out of its
    jax.checkpoint, so the reference run is Keras without the scope; kerax
    carries both through the rematerialized call.)"""
    rng = np.random.RandomState(0)
    x = rng.rand(32, 8).astype("float32")
    y = rng.rand(32, 1).astype("float32")
    kw = {"full": {}, "activations": {}, "larger_than": {"output_size_threshold": 64},
          "list_of_layers": {"layer_names": ["d1", "bn"]}}[mode]
    ref_model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="d1"),
                                  keras.layers.BatchNormalization(name="bn"),
                                  keras.layers.Dense(1, name="d2")])
    init = ref_model.get_weights()
    ref_loss, ref_w = _fit(keras, contextlib.nullcontext(), x, y, init)
    loss, w = _fit(kerax, kerax.RematScope(mode=mode, **kw), x, y, init)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=1e-6)
    for a, b in zip(w, ref_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_remat_scope_plain_model_equals_keras_remat():
    """On a model Keras 3 can rematerialize, both libraries under
    RematScope("full") train to the same weights."""
    rng = np.random.RandomState(2)
    x = rng.rand(16, 5).astype("float32")
    y = rng.rand(16, 1).astype("float32")

    def run(lib, init=None):
        with lib.RematScope(mode="full"):
            m = lib.Sequential([lib.Input((5,)), lib.layers.Dense(8, activation="tanh"),
                                lib.layers.Dense(1)])
        if init is not None:
            m.set_weights(init)
        m.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
        loss = m.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        return m, loss

    start = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    ref, ref_loss = run(keras, start.get_weights())
    ours, loss = run(kerax, start.get_weights())
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_remat_scope_puts_a_checkpoint_in_the_gradient_program():
    with kerax.RematScope(mode="full"):
        layer = kerax.layers.Dense(4, activation="tanh")
    plain = kerax.layers.Dense(4, activation="tanh")
    x = np.ones((2, 3), "float32")
    layer(x)
    plain(x)

    def jaxpr_of(lay):
        def loss(values):
            out, _ = lay.stateless_call(values, [], x)
            return (out ** 2).sum()
        return str(jax.make_jaxpr(jax.grad(loss))([v.value for v in lay.trainable_variables]))

    assert "checkpoint" in jaxpr_of(layer) or "remat" in jaxpr_of(layer)
    assert "checkpoint" not in jaxpr_of(plain) and "remat" not in jaxpr_of(plain)
    # The layer's own value is unchanged by remat.
    np.testing.assert_allclose(layer(x), np.tanh(x @ np.asarray(layer.kernel)
                                                 + np.asarray(layer.bias)), rtol=1e-6)


def test_remat_scope_modes_and_errors():
    with pytest.raises(ValueError, match="mode"):
        kerax.RematScope(mode="sometimes")
    with kerax.RematScope(mode="list_of_layers", layer_names=["a"]):
        with kerax.RematScope(mode=None):
            assert kerax.layers.Dense(1)._remat_mode.mode is None
        assert kerax.layers.Dense(1)._remat_mode.layer_names == ["a"]
    assert kerax.layers.Dense(1)._remat_mode is None


def test_remat_function_grad_and_stateful_body():
    """kerax.remat(f) has f's value and gradient, inside and outside kerax
    transforms, also when f assigns a Variable."""
    f = kerax.remat(lambda x: jax.numpy.sin(x) * x)
    g = jax.grad(lambda x: f(x).sum())(np.arange(3.0))
    x = np.arange(3.0)
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-6)
    counter = kerax.Variable(0.0)

    def body(x):
        counter.assign(counter + 1.0)
        return (x * 2.0).sum()

    step = kerax.function(lambda x: kerax.remat(body)(x))
    assert float(step(np.ones(3, "float32"))) == 6.0
    step(np.ones(3, "float32"))
    assert float(counter.value) == 2.0


def test_stateless_compute_loss_matches_keras_with_forward_losses():
    """Keras 3's stateless_compute_loss after a stateless_call: its loss is
    compute_loss's (the forward call's activity loss is not carried over)."""
    def build(lib):
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(
            2, activity_regularizer=lib.regularizers.L2(10.0), name="d")])
        m.compile(optimizer="sgd", loss="mse")
        return m

    ref, ours = build(keras), build(kerax)
    ours.set_weights(ref.get_weights())
    x = np.random.RandomState(1).rand(4, 3).astype("float32")
    y = np.zeros((4, 2), "float32")

    def run(m):
        tv = [v.value for v in m.trainable_variables]
        ntv = [v.value for v in m.non_trainable_variables]
        mv = [v.value for v in m.metrics_variables]

        def f(tv, ntv, mv):
            y_pred, ntv = m.stateless_call(tv, ntv, x)
            loss, _ = m.stateless_compute_loss(tv, ntv, mv, x=x, y=y, y_pred=y_pred)
            return loss
        return float(jax.jit(f)(tv, ntv, mv))

    np.testing.assert_allclose(run(ours), run(ref), rtol=1e-6)
