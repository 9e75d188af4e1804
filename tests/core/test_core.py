"""Regression tests for the state core (issue 9): one trace-and-replay, one
tracker, one name counter, Variables as pytrees."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import layers, ops

X = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")


def numpy_sgd(w, b, x, y, lr, steps):
    """Closed-form gradient steps of mean((x @ w + b - y) ** 2)."""
    losses = []
    for _ in range(steps):
        err = x @ w + b - y
        losses.append(float(np.mean(err ** 2)))
        gw = 2 * x.T @ err / err.size
        gb = 2 * err.sum(axis=0) / err.size
        w, b = w - lr * gw, b - lr * gb
    return w, b, losses


def make_step(model, opt):
    def step(x, y):
        def compute_loss():
            return ops.mean((model(x) - y) ** 2)

        loss, grads = kerax.value_and_grad(compute_loss, model.trainable_variables)()
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


@pytest.mark.parametrize("compiled", [False, True])
def test_custom_loop_with_model_built_on_first_call_trains(compiled):
    model = kerax.Sequential([layers.Dense(1, kernel_initializer="ones")])
    opt = kerax.optimizers.SGD(0.1)
    step = make_step(model, opt)
    if compiled:
        step = kerax.function(step)
    losses = [float(step(X, Y)) for _ in range(5)]
    w, b, ref = numpy_sgd(np.ones((3, 1), "float32"), np.zeros(1, "float32"), X, Y, 0.1, 5)
    np.testing.assert_allclose(losses, ref, rtol=1e-5)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.layers[0].bias.numpy(), b, rtol=1e-5, atol=1e-6)
    if compiled:
        assert step.trace_count == 1


def test_two_submodels_two_optimizers_both_update_compiled():
    m1 = kerax.Sequential([layers.Dense(1, kernel_initializer="ones")])
    m2 = kerax.Sequential([layers.Dense(1, kernel_initializer="ones")])
    o1, o2 = kerax.optimizers.SGD(0.1), kerax.optimizers.SGD(0.05)
    s1, s2 = make_step(m1, o1), make_step(m2, o2)

    @kerax.function
    def step(x, y):
        return s1(x, y), s2(x, y)

    for _ in range(3):
        step(X, Y)
    for model, lr in ((m1, 0.1), (m2, 0.05)):
        w, b, _ = numpy_sgd(np.ones((3, 1), "float32"), np.zeros(1, "float32"), X, Y, lr, 3)
        np.testing.assert_allclose(model.layers[0].kernel.numpy(), w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.layers[0].bias.numpy(), b, rtol=1e-5, atol=1e-6)
    assert int(o1.iterations.numpy()) == 3 and int(o2.iterations.numpy()) == 3


class Deep(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = [[{"a": ([layers.Dense(2, name="deep_dense")],)}]]  # depth 5
        self.top = layers.Dense(1, name="top_dense")

    def call(self, x):
        return self.top(self.inner[0][0]["a"][0][0](x))


def test_deeply_nested_sublayer_is_tracked_trained_and_saved(tmp_path):
    inp = kerax.Input((3,))
    model = kerax.Model(inp, Deep()(inp))
    assert len(model.trainable_weights) == 4
    assert {v.path.split("/")[0] for v in model.weights} == {"deep_dense", "top_dense"}
    model.compile("sgd", "mse")
    before = [w.numpy() for w in model.weights]
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert all(not np.allclose(a, w.numpy()) for a, w in zip(before, model.weights))
    path = tmp_path / "deep.keras"
    model.save(path)
    loaded = kerax.models.load_model(path, custom_objects={"Deep": Deep})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-6)


def test_unordered_container_of_layers_raises():
    class Bad(layers.Layer):
        def __init__(self):
            super().__init__()
            self.parts = {layers.Dense(1)}

        def call(self, x):
            return x

    with pytest.raises(TypeError, match="set holding"):
        Bad().trainable_weights


def test_variable_pytree_round_trip_and_jit():
    v = kerax.Variable(np.array([1.0, 2.0], "float32"))
    tree = jax.tree_util.tree_map(lambda t: t, {"w": v, "n": [v]})
    assert tree["w"] is v and tree["n"][0] is v
    leaves, treedef = jax.tree_util.tree_flatten({"w": v})
    assert jax.tree_util.tree_unflatten(treedef, leaves)["w"] is v
    doubled = jax.tree_util.tree_map(lambda t: t * 2, {"w": v})["w"]
    assert not isinstance(doubled, kerax.Variable)
    np.testing.assert_allclose(doubled, [2.0, 4.0])
    np.testing.assert_allclose(jax.jit(lambda a: a * 3)(v), [3.0, 6.0])
    np.testing.assert_allclose(jnp.sum(v), 3.0)


def test_clear_session_resets_every_name_counter(keras):
    kerax.backend.clear_session()
    first = [kerax.layers.Dense(2).name, kerax.optimizers.Adam().name,
             kerax.metrics.Mean().name, kerax.losses.MeanSquaredError().name]
    second = [kerax.layers.Dense(2).name, kerax.optimizers.Adam().name,
              kerax.metrics.Mean().name]
    kerax.backend.clear_session()
    again = [kerax.layers.Dense(2).name, kerax.optimizers.Adam().name,
             kerax.metrics.Mean().name, kerax.losses.MeanSquaredError().name]
    keras.backend.clear_session()
    ref = [keras.layers.Dense(2).name, keras.optimizers.Adam().name,
           keras.metrics.Mean().name, keras.losses.MeanSquaredError().name]
    assert first == again == ref
    assert second == [keras.layers.Dense(2).name, keras.optimizers.Adam().name,
                      keras.metrics.Mean().name]


def test_reduce_retracing_is_refused_not_ignored():
    with pytest.raises(NotImplementedError, match="reduce_retracing"):
        kerax.function(lambda x: x, reduce_retracing=True)


class TwoTower(kerax.Model):
    """A subclassed model taking a dict, with its layers in a list (built on first call)."""

    def __init__(self):
        super().__init__()
        self.towers = [layers.Dense(1, kernel_initializer="ones"),
                       layers.Dense(1, kernel_initializer="ones")]

    def call(self, inputs):
        return self.towers[0](inputs["a"]) + self.towers[1](inputs["b"])


def test_compiled_loop_dict_inputs_rerun_in_same_process():
    """The same program run twice in one process (a re-run notebook cell): each
    run builds a fresh model inside the compiled step and trains it the same way."""
    xa, xb = X[:, :2], X[:, 2:]
    results = []
    for _ in range(2):
        model, opt = TwoTower(), kerax.optimizers.SGD(0.05)

        @kerax.function
        def step(inputs, y):
            def compute_loss():
                return ops.mean((model(inputs) - y) ** 2)

            loss, grads = kerax.value_and_grad(compute_loss, model.trainable_variables)()
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        losses = [float(step({"a": xa, "b": xb}, Y)) for _ in range(4)]
        results.append((losses, [w.numpy() for w in model.trainable_weights]))
    # Reference: the model is the linear map [xa, xb] @ w + (b1 + b2).
    w = np.ones((3, 1), "float32")
    b = np.zeros(1, "float32")
    ref = []
    for _ in range(4):
        err = X @ w + b - Y
        ref.append(float(np.mean(err ** 2)))
        w = w - 0.05 * 2 * X.T @ err / err.size
        b = b - 2 * 0.05 * 2 * err.sum(axis=0) / err.size  # two biases, same gradient
    for losses, weights in results:
        np.testing.assert_allclose(losses, ref, rtol=1e-5)
    np.testing.assert_allclose(results[0][1][0], results[1][1][0], rtol=1e-6)


def test_stateful_metric_and_dropout_in_compiled_step_built_on_first_call():
    kerax.utils.set_random_seed(1)
    model = kerax.Sequential([layers.Dense(4), layers.Dropout(0.5), layers.Dense(1)])
    mean = kerax.metrics.Mean()

    @kerax.function
    def step(x):
        y = model(x, training=True)
        mean.update_state(ops.sum(y))
        return y

    outs = [np.asarray(step(X)) for _ in range(3)]
    assert not np.allclose(outs[0], outs[1])  # the dropout RNG state advances
    np.testing.assert_allclose(float(mean.result()), np.mean([o.sum() for o in outs]),
                               rtol=1e-5)
    assert step.trace_count == 1
