"""kerax.function, kerax.grad / value_and_grad and custom gradients (the chapter's
autodiff and tf.function sections)."""
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import ops


def f(w1, w2):
    return 3 * w1 ** 2 + 2 * w1 * w2


def test_gradients_wrt_variables():
    w1, w2 = kerax.Variable(5.), kerax.Variable(3.)
    grads = kerax.grad(lambda: f(w1, w2), [w1, w2])()
    np.testing.assert_allclose([float(g) for g in grads], [36., 10.])  # closed form
    value, grads = kerax.value_and_grad(lambda: f(w1, w2), {"a": w1, "b": w2})()
    assert float(value) == 3 * 25 + 2 * 15
    assert set(grads) == {"a", "b"} and float(grads["b"]) == 10.


def test_hessians_by_nesting():
    w1, w2 = kerax.Variable(5.), kerax.Variable(3.)

    def jac():
        return kerax.grad(lambda: f(w1, w2), [w1, w2])()

    hess = [kerax.grad(lambda i=i: jac()[i], [w1, w2])() for i in range(2)]
    np.testing.assert_allclose(np.array(hess, dtype=np.float32), [[6., 2.], [2., 0.]])


def test_stop_gradient():
    w1, w2 = kerax.Variable(5.), kerax.Variable(3.)

    def g():
        return 3 * w1 ** 2 + ops.stop_gradient(2 * w1 * w2)

    grads = kerax.grad(g, [w1, w2])()
    np.testing.assert_allclose([float(x) for x in grads], [30., 0.])


def test_grad_wrt_arguments_like_jax():
    got = kerax.grad(lambda a, b: a * b ** 2, argnums=(0, 1))(2.0, 3.0)
    np.testing.assert_allclose(got, (9.0, 12.0))


def test_nonscalar_output_is_summed():
    w = kerax.Variable([1., 2., 3.])
    g = kerax.grad(lambda: w ** 2, w)()
    np.testing.assert_allclose(g, [2., 4., 6.])


def test_grad_errors():
    w = kerax.Variable(1.)
    with pytest.raises(TypeError, match="floating-point"):
        kerax.grad(lambda: jnp.int32(3), w)()
    with pytest.raises(TypeError, match="Variables"):
        kerax.grad(lambda: w * 2, [jnp.ones(())])()
    iv = kerax.Variable(3)
    with pytest.raises(TypeError, match="only float"):
        kerax.grad(lambda: iv * 2.0, iv)


def test_custom_gradient_stable_softplus():
    @ops.custom_gradient
    def my_better_softplus(z):
        exp = jnp.exp(z)

        def my_softplus_gradients(grad):
            return grad / (1 + 1 / exp)

        return jnp.where(z > 30., z, jnp.log(exp + 1)), my_softplus_gradients

    def naive(z):
        return jnp.log(jnp.exp(z) + 1)

    x = kerax.Variable(1000.)
    v, g = kerax.value_and_grad(lambda: my_better_softplus(x), x)()
    assert float(v) == 1000.0 and float(g) == 1.0
    v2, g2 = kerax.value_and_grad(lambda: naive(x), x)()
    assert np.isinf(float(v2)) and np.isnan(float(g2))
    # small inputs: matches the closed form log(1+e^z), derivative sigmoid(z)
    y = kerax.Variable(0.5)
    v, g = kerax.value_and_grad(lambda: my_better_softplus(y), y)()
    np.testing.assert_allclose([float(v), float(g)], [np.log1p(np.exp(0.5)), 1 / (1 + np.exp(-0.5))],
                               rtol=1e-6)


def test_function_counter_and_trace_count(capsys):
    counter = kerax.Variable(0)

    @kerax.function
    def increment():
        print("tracing")
        counter.assign_add(1)

    increment()
    increment()
    assert int(counter.numpy()) == 2
    assert increment.trace_count == 1
    assert capsys.readouterr().out.count("tracing") == 1


def test_function_retraces_only_on_new_signature(capsys):
    calls = []

    @kerax.function
    def tf_cube(x):
        calls.append(1)
        return x ** 3

    np.testing.assert_allclose(tf_cube(jnp.ones((1, 2)) * 2), [[8., 8.]])
    tf_cube(jnp.zeros((1, 2)))
    assert tf_cube.trace_count == 1 and len(calls) == 1
    tf_cube(jnp.zeros((2, 2)))
    assert tf_cube.trace_count == 2
    tf_cube(jnp.zeros((2, 2), jnp.int32))
    assert tf_cube.trace_count == 3
    # Python values are part of the signature, as in tf.function
    assert float(tf_cube(2.0)) == 8.0 and float(tf_cube(3.0)) == 27.0
    assert tf_cube.trace_count == 5


def test_function_matches_eager_and_assigns_persist():
    v = kerax.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    w = kerax.Variable(np.ones(3, np.float32))

    def step(x):
        v.assign(v * x + w)
        w.assign_sub(0.5)
        return jnp.sum(v), {"w": w.value}

    v2 = kerax.Variable(v.numpy())
    w2 = kerax.Variable(w.numpy())

    def step2(x):
        v2.assign(v2 * x + w2)
        w2.assign_sub(0.5)
        return jnp.sum(v2), {"w": w2.value}

    compiled = kerax.function(step2)
    for x in [1.5, 2.0]:
        a = step(jnp.float32(x))
        b = compiled(jnp.float32(x))
        np.testing.assert_allclose(a[0], b[0])
        np.testing.assert_allclose(a[1]["w"], b[1]["w"])
    np.testing.assert_allclose(v.numpy(), v2.numpy())
    np.testing.assert_allclose(w.numpy(), w2.numpy())
    assert compiled.trace_count == 1


def test_function_sees_new_values_of_variables_between_calls():
    v = kerax.Variable(1.0)
    f = kerax.function(lambda x: x * v)
    assert float(f(jnp.float32(2.))) == 2.0
    v.assign(5.0)
    assert float(f(jnp.float32(2.))) == 10.0
    assert f.trace_count == 1


def test_function_on_methods_binds_self_and_caches_per_instance(capsys):
    class Accumulator:
        def __init__(self, start):
            self.total = kerax.Variable(start)

        @kerax.function
        def add(self, x):
            print("trace")
            self.total.assign_add(x)
            return self.total.value

    a, b = Accumulator(1.0), Accumulator(10.0)
    assert float(a.add(jnp.float32(1.))) == 2.0
    assert float(a.add(jnp.float32(1.))) == 3.0
    assert float(b.add(jnp.float32(1.))) == 11.0
    assert a.add.trace_count == 1 and b.add.trace_count == 1
    assert capsys.readouterr().out.count("trace") == 2


def test_variables_created_on_first_call_only():
    holder = {}

    @kerax.function
    def make(x):
        if "v" not in holder:
            holder["v"] = kerax.Variable(np.zeros(x.shape, np.float32))
        holder["v"].assign_add(x)
        return holder["v"].value

    np.testing.assert_allclose(make(jnp.ones(3)), np.ones(3))
    np.testing.assert_allclose(make(jnp.ones(3)), 2 * np.ones(3))

    @kerax.function
    def make_each_time(x):
        return kerax.Variable(np.ones(x.shape, np.float32)).value + x

    # As tf.function: the first call traces again once its variables exist,
    # and a second creation is refused there.
    with pytest.raises(ValueError, match="first"):
        make_each_time(jnp.ones(2))

    @kerax.function
    def make_on_new_shape(x):
        if x.shape[0] == 3:
            holder[3] = kerax.Variable(np.ones(3, np.float32))
        return x

    make_on_new_shape(jnp.ones(2))
    with pytest.raises(ValueError, match="first"):
        make_on_new_shape(jnp.ones(3))


def test_inspect_compiled_program():
    v = kerax.Variable(np.ones(3, np.float32))

    @kerax.function
    def g(x):
        v.assign(v * x)
        return jnp.sum(v)

    jaxpr = g.get_jaxpr(jnp.ones(3))
    assert "mul" in str(jaxpr)
    hlo = g.get_stablehlo(jnp.ones(3))
    assert "stablehlo.multiply" in hlo
    assert [id(x) for x in g.get_variables(jnp.ones(3))] == [id(v)]


def test_grad_inside_function_and_eager_agree():
    w = kerax.Variable(np.array([1., -2.], np.float32))

    def loss(x):
        return jnp.sum((w * x) ** 2)

    @kerax.function
    def step(x):
        l, g = kerax.value_and_grad(loss, [w])(x)
        w.assign_sub(0.1 * g[0])
        return l

    w_eager = np.array([1., -2.], np.float32)
    x = np.array([0.5, 2.0], np.float32)
    for _ in range(3):
        step(jnp.asarray(x))
        w_eager = w_eager - 0.1 * 2 * w_eager * x ** 2  # closed-form gradient
    np.testing.assert_allclose(w.numpy(), w_eager, rtol=1e-6)
    assert step.trace_count == 1


def test_jit_compile_false_runs_python_each_call():
    calls = []

    @kerax.function(jit_compile=False)
    def f(x):
        calls.append(1)
        return x + 1

    f(jnp.ones(2))
    f(jnp.ones(2))
    assert len(calls) == 2


def test_shared_buffer_between_variables_maps_correctly():
    base = jnp.ones(3)
    a = kerax.Variable(base)
    b = kerax.Variable(base)

    @kerax.function
    def g():
        a.assign(a * 2)
        b.assign(b * 3)
        return a.value + b.value

    np.testing.assert_allclose(g(), [5., 5., 5.])
    np.testing.assert_allclose(g(), [13., 13., 13.])


def test_variable_from_traced_value_is_a_clear_error():
    @kerax.function
    def bad(x):
        return kerax.Variable(x * 2).value

    with pytest.raises(ValueError, match="traced value"):
        bad(jnp.ones(2))
