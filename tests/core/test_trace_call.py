"""A traced Program enters a caller's trace as ONE call equation (jit's own
primitive), not replayed op by op; values, gradients and vmap are unchanged,
and concrete calls still run the ops one by one (no compile)."""
import jax
import jax.numpy as jnp
import numpy as np

from kerax.core.trace import trace
from kerax.core.variable import Variable


def make_program():
    v = Variable(np.array([1.0, 2.0, 3.0], np.float32))

    def step(x):
        v.assign(v.value * 2.0 + x)
        return jnp.sum(v.value * x)

    return v, trace(step, [jnp.zeros(3, jnp.float32)])


def closed_form(v0, x):
    new = v0 * 2.0 + x
    return float(np.sum(new * x)), new


def test_the_program_is_one_call_in_the_callers_trace():
    _, p = make_program()
    jaxpr = jax.make_jaxpr(lambda vals, x: p.run(vals, p.consts, [x]))(
        p.values(), jnp.ones(3)).jaxpr
    assert [e.primitive.name for e in jaxpr.eqns] == ["jit"]
    inner = jaxpr.eqns[0].params["jaxpr"].jaxpr
    assert len(inner.eqns) == len(p.jaxpr.jaxpr.eqns)  # the recorded program, whole


def test_values_gradients_and_vmap_through_the_call():
    v, p = make_program()
    v0 = np.array([1.0, 2.0, 3.0], np.float32)
    x = np.array([0.5, -1.0, 2.0], np.float32)
    run = jax.jit(lambda vals, x: p.run(vals, p.consts, [x]))
    out, new, _ = run(p.values(), x)
    want_out, want_new = closed_form(v0, x)
    np.testing.assert_allclose(float(out[0]), want_out, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(new[0]), want_new, rtol=1e-6)
    # d/dx sum((2 v0 + x) * x) = 2 v0 + 2 x
    g = jax.grad(lambda x: p.run(p.values(), p.consts, [x])[0][0])(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g), 2 * v0 + 2 * x, rtol=1e-6)
    xs = np.stack([x, 2 * x])
    batched = jax.vmap(lambda x: p.run(p.values(), p.consts, [x])[0][0])(jnp.asarray(xs))
    np.testing.assert_allclose(np.asarray(batched), [closed_form(v0, r)[0] for r in xs],
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(v.value), v0)  # run is pure


def test_concrete_arguments_run_op_by_op():
    _, p = make_program()
    x = np.array([1.0, 1.0, 1.0], np.float32)
    assert p._call_params(p.values() + [jnp.asarray(x)]) is None
    out, _, _ = p.run(p.values(), p.consts, [jnp.asarray(x)])
    np.testing.assert_allclose(float(out[0]), closed_form(np.array([1.0, 2.0, 3.0]), x)[0])
