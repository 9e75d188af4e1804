"""Eager `model(x)` of a Functional or Sequential model runs through one
compiled program per input signature from the second call of that signature
on, with the eager call's results, losses and fallbacks."""
import numpy as np
import pytest

import kerax
from kerax import layers


@pytest.fixture
def eager_reference():
    """Run a block with compiled calls off (every op dispatched, as Keras)."""
    class Off:
        def __enter__(self):
            kerax.config.disable_compiled_calls()

        def __exit__(self, *exc):
            kerax.config.enable_compiled_calls()
    return Off


def functional():
    a, b = kerax.Input((4,), name="a"), kerax.Input((3,), name="b")
    h = layers.Concatenate()([layers.Dense(8, activation="relu")(a), b])
    h = layers.BatchNormalization()(h)
    h = layers.Dropout(0.5)(h)
    out = layers.Dense(2, activity_regularizer=kerax.regularizers.L2(0.1))(h)
    return kerax.Model({"a": a, "b": b}, out)


def traces(model):
    state = model.__dict__.get("_compiled_call")
    return 0 if state is None else state.fn.trace_count


def test_functional_dict_inputs_equal_eager_and_trace_once(eager_reference):
    model = functional()
    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(5, 4)).astype(np.float32),
         "b": rng.normal(size=(5, 3)).astype(np.float32)}
    with eager_reference():
        want = np.asarray(model(x))
        want_losses = [float(l) for l in model.losses]
    first = model(x)  # the first call of a signature stays eager
    assert traces(model) == 0
    for _ in range(4):
        got = model(x)
    assert traces(model) == 1
    np.testing.assert_allclose(np.asarray(first), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    # the activity regularizer's loss of the (compiled) call, as eager
    np.testing.assert_allclose([float(l) for l in model.losses], want_losses, rtol=1e-5)
    # a new batch size: eager once, then its own program
    x2 = {k: v[:2] for k, v in x.items()}
    model(x2)
    assert traces(model) == 1
    np.testing.assert_allclose(np.asarray(model(x2)), want[:2], rtol=1e-5, atol=1e-6)
    assert traces(model) == 2


def test_weights_set_later_and_layers_added_later_are_seen():
    model = kerax.Sequential([kerax.Input((3,)), layers.Dense(2)])
    x = np.ones((1, 3), np.float32)
    model(x), model(x)
    w = [np.full((3, 2), 0.5, np.float32), np.array([1.0, -1.0], np.float32)]
    model.set_weights(w)
    np.testing.assert_allclose(np.asarray(model(x)), x @ w[0] + w[1], rtol=1e-6)
    model.add(layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros"))
    for _ in range(3):
        out = model(x)
    np.testing.assert_allclose(np.asarray(out), (x @ w[0] + w[1]).sum(1, keepdims=True),
                               rtol=1e-6)


class ValueDependent(layers.Layer):
    """A layer whose call branches on a value: not traceable."""

    def call(self, x):
        if float(np.asarray(x).sum()) > 0:
            return x * 2.0
        return x - 1.0

    def compute_output_spec(self, x):
        return kerax.KerasTensor(x.shape, x.dtype)


def test_untraceable_layer_falls_back_to_eager():
    inp = kerax.Input((2,))
    model = kerax.Model(inp, ValueDependent()(inp))
    pos, neg = np.ones((1, 2), np.float32), -np.ones((1, 2), np.float32)
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(model(pos)), pos * 2)
        np.testing.assert_allclose(np.asarray(model(neg)), neg - 1)


def test_training_calls_and_subclassed_models_stay_eager():
    model = kerax.Sequential([kerax.Input((50,)), layers.Dropout(0.5)])
    x = np.ones((4, 50), np.float32)
    a, b = model(x, training=True), model(x, training=True)
    assert (np.asarray(a) == 0).any() and not np.array_equal(np.asarray(a), np.asarray(b))
    assert traces(model) == 0
    np.testing.assert_array_equal(np.asarray(model(x)), x)

    class Sub(kerax.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    for _ in range(3):
        sub(x)
    assert "_compiled_call" not in sub.__dict__


def test_inside_a_compiled_function_and_gradients_unchanged():
    model = kerax.Sequential([kerax.Input((3,)), layers.Dense(1, kernel_initializer="ones")])
    x = np.ones((2, 3), np.float32)
    model(x), model(x)

    @kerax.function
    def f(x):
        return model(x) * 2

    np.testing.assert_allclose(np.asarray(f(x)), 6.0)
    loss, grads = kerax.value_and_grad(lambda: kerax.ops.sum(model(x)),
                                       model.trainable_variables)()
    np.testing.assert_allclose(np.asarray(grads[0]), np.full((3, 1), 2.0))


def test_reconfiguring_a_layer_after_compiled_calls_is_seen(eager_reference):
    """Grad-CAM style: drop the softmax of the last layer after the model ran."""
    inp = kerax.Input((3,))
    out = layers.Dense(4, activation="softmax")(layers.Dense(5, activation="relu")(inp))
    model = kerax.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    for _ in range(3):
        probs = np.asarray(model(x))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    model.layers[-1].activation = None
    with eager_reference():
        want = np.asarray(model(x))
    for _ in range(3):
        got = np.asarray(model(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got.sum(-1), 1.0)


def test_fit_between_calls_keeps_the_compiled_program():
    model = kerax.Sequential([kerax.Input((3,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 3), np.float32)
    model(x), model(x)
    assert traces(model) == 1
    model.fit(x, np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    out = model(x)  # fit set model attributes (history, stop_training): no retrace
    assert traces(model) == 1
    np.testing.assert_allclose(np.asarray(out), np.asarray(model.predict(x, verbose=0)),
                               rtol=1e-6)


def test_model_built_inside_a_compiled_function_then_called_eagerly():
    """A Sequential without Input, built on its first call inside
    kerax.function; then eager calls (list-of-layers model, tuple input
    to a two-input functional model) equal the function's result."""
    model = kerax.Sequential([layers.Dense(3, activation="relu"), layers.Dense(1)])
    x = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)

    @kerax.function
    def f(x):
        return model(x)

    want = np.asarray(f(x))
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-6)
    a, b = kerax.Input((4,)), kerax.Input((4,))
    two = kerax.Model((a, b), layers.Add()([model(a), model(b)]))
    for _ in range(3):
        got = np.asarray(two((x, 2 * x)))
    np.testing.assert_allclose(got, want + np.asarray(f(2 * x)), rtol=1e-5, atol=1e-6)
    assert two.__dict__["_compiled_call"].fn.trace_count == 1
