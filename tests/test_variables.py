"""The Variable, as the TensorFlow chapter uses it, and its errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax


def test_chapter_variable_sequence():
    v = kerax.Variable([[1., 2., 3.], [4., 5., 6.]])
    assert v.shape == (2, 3) and v.dtype == jnp.float32 and v.ndim == 2
    assert v.assign(2 * v) is v
    np.testing.assert_array_equal(v.numpy(), [[2., 4., 6.], [8., 10., 12.]])
    v[0, 1].assign(42)
    np.testing.assert_array_equal(v.numpy(), [[2., 42., 6.], [8., 10., 12.]])
    v[:, 2].assign([0., 1.])
    np.testing.assert_array_equal(v.numpy(), [[2., 42., 0.], [8., 10., 1.]])
    v.scatter_nd_update(indices=[[0, 0], [1, 2]], updates=[100., 200.])
    np.testing.assert_array_equal(v.numpy(), [[100., 42., 0.], [8., 10., 200.]])
    v.assign_add(np.ones((2, 3), np.float32)).assign_sub(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(v.numpy(), [[100., 42., 0.], [8., 10., 200.]])


def test_item_assignment_raises_type_error_pointing_to_assign():
    v = kerax.Variable([1., 2.])
    with pytest.raises(TypeError, match="assign"):
        v[1] = 3.0


def test_variable_as_array_operand():
    a = np.array([[1., 2.], [3., 4.]], np.float32)
    v = kerax.Variable(a)
    w = kerax.Variable(np.eye(2, dtype=np.float32))
    np.testing.assert_allclose(v * 2, a * 2)
    np.testing.assert_allclose(2 * v, a * 2)
    np.testing.assert_allclose(v @ w, a)
    np.testing.assert_allclose(a @ w, a)
    np.testing.assert_allclose(jnp.exp(v), np.exp(a), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(v), a)
    np.testing.assert_array_equal(v > 2, a > 2)
    np.testing.assert_array_equal(v == a, np.ones((2, 2), bool))
    np.testing.assert_allclose(-v, -a)
    assert {v: 1}[v] == 1  # identity hash despite elementwise ==


def test_dtype_inference_and_repr():
    assert kerax.Variable(1.0).dtype == jnp.float32
    assert kerax.Variable(3).dtype == jnp.int32
    assert kerax.Variable(np.zeros(3)).dtype == jnp.float32  # float64 NumPy -> floatx
    assert kerax.Variable(np.zeros(3), dtype="float16").dtype == jnp.float16
    r = repr(kerax.Variable([1., 2.], name="w"))
    assert "w" in r and "(2,)" in r and "float32" in r and "1." in r
    v = kerax.Variable(kerax.initializers.Zeros(), shape=(2, 3), name="k")
    assert v.shape == (2, 3) and float(jnp.sum(v)) == 0.0
    assert v.trainable and kerax.Variable(1., trainable=False).trainable is False


def test_assign_wrong_shape_names_both_shapes():
    v = kerax.Variable(np.zeros((2, 3), np.float32), name="kernel")
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        v.assign(np.zeros(3, np.float32))


def test_traced_assign_under_plain_jit_is_an_error():
    v = kerax.Variable(1.0)

    @jax.jit
    def f(x):
        v.assign(x)
        return x

    with pytest.raises(ValueError, match="kerax.function.*stateless_call"):
        f(jnp.float32(2.0))
    assert float(v.numpy()) == 1.0
    assert not isinstance(v._value, jax.core.Tracer)


def test_variable_passed_to_jit_is_its_value():
    v = kerax.Variable([1., 2.])
    np.testing.assert_allclose(jax.jit(lambda x: x * 3)(v), [3., 6.])


def test_constraint_stored():
    v = kerax.Variable([1., -1.], constraint=lambda w: jnp.maximum(w, 0))
    np.testing.assert_allclose(v.constraint(v.value), [1., 0.])
    with pytest.raises(ValueError, match="constraint"):
        kerax.Variable([1.], constraint=3)
