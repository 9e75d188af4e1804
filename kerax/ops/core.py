"""Core ops: conversion, casting, gradients control (Keras 3's keras.ops core)."""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.variables import Variable, _SliceRef

__all__ = ["convert_to_tensor", "convert_to_numpy", "cast", "custom_gradient",
           "stop_gradient", "is_tensor", "shape", "dtype", "unwrap"]


def unwrap(x):
    """The array behind a Variable (or a slice of one); anything else as is."""
    if isinstance(x, (Variable, _SliceRef)):
        return x.value
    return x


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """A jax.Array from array-likes. Python floats and float64 NumPy arrays
    become `floatx()` unless `dtype` says otherwise (as Keras does)."""
    x = unwrap(x)
    if dtype is not None:
        return jnp.asarray(x, dtype=dtype)
    if isinstance(x, jax.Array):
        return x
    if isinstance(x, jax.core.Tracer):
        return x
    if isinstance(x, float) or (isinstance(x, np.ndarray) and x.dtype == np.float64
                                and not jax.config.jax_enable_x64):
        return jnp.asarray(x, dtype=config.floatx())
    # Python scalars become strongly typed tensors (as tf.constant / Keras):
    # `convert_to_tensor(40)` is an int32 tensor that strict promotion guards.
    if isinstance(x, bool):
        return jnp.asarray(x, dtype=bool)
    if isinstance(x, int):
        return jnp.asarray(x, dtype="int64" if jax.config.jax_enable_x64 and
                           not -2**31 <= x < 2**31 else "int32")
    if isinstance(x, (list, tuple)):
        leaves = jax.tree_util.tree_map(unwrap, x, is_leaf=lambda v: isinstance(v, Variable))
        if any(isinstance(v, jax.Array) for v in jax.tree_util.tree_leaves(leaves)):
            # device or traced values (e.g. a list of losses inside jax.jit): stack
            # them as JAX does, never through NumPy
            return jnp.asarray(leaves)
        arr = np.asarray(leaves)
        if arr.dtype == np.float64:
            return jnp.asarray(arr, dtype=config.floatx())
        if arr.dtype == np.int64 and not jax.config.jax_enable_x64:
            return jnp.asarray(arr, dtype="int32")
        return jnp.asarray(arr)
    return jnp.asarray(x)


def float_tensor(x):
    """`convert_to_tensor(x)`, with integer and bool input cast to floatx (Keras
    computes float math in floatx).

    >>> float_tensor([1, 2]).dtype
    dtype('float32')
    """
    x = convert_to_tensor(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(config.floatx())
    return x


def convert_to_numpy(x):
    return np.asarray(unwrap(x))


def is_tensor(x):
    return isinstance(x, (jax.Array, jax.core.Tracer))


def cast(x, dtype):
    """Convert `x` to `dtype` (the explicit conversion strict promotion asks for)."""
    return jnp.asarray(unwrap(x)).astype(dtype)


def shape(x):
    """The shape of `x` as a tuple (None for an unknown dimension of a
    symbolic tensor).

    >>> shape(np.zeros((2, 3)))
    (2, 3)
    """
    return tuple(jnp.shape(unwrap(x)))


def dtype(x):
    """The dtype name of `x` (also of a symbolic tensor).

    >>> dtype(np.zeros(2, "int32"))
    'int32'
    """
    x = unwrap(x)
    dt = getattr(x, "dtype", None)
    if dt is None or not hasattr(x, "shape"):
        dt = jnp.asarray(x).dtype
    return jnp.dtype(dt).name


def stop_gradient(x):
    """Treat `x` as a constant for differentiation."""
    return jax.lax.stop_gradient(unwrap(x))


def custom_gradient(f):
    """Decorator with Keras 3's contract: `f(*args)` returns `(result, grad_fn)`
    and `grad_fn(upstream)` returns the gradient(s) with respect to `args`."""

    @jax.custom_gradient
    def inner(*args):
        result, grad_fn = f(*args)

        def vjp(upstream):
            grads = grad_fn(upstream)
            if not isinstance(grads, (tuple, list)):
                grads = (grads,)
            if len(grads) != len(args):
                raise ValueError(
                    f"custom_gradient {getattr(f, '__name__', f)!r}: grad_fn returned "
                    f"{len(grads)} gradients for {len(args)} inputs.")
            return tuple(jnp.zeros_like(a) if g is None else jnp.asarray(g, jnp.asarray(a).dtype)
                         for g, a in zip(grads, args))

        return result, vjp

    def wrapper(*args):
        return inner(*[unwrap(a) for a in args])

    wrapper.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapper.__doc__ = getattr(f, "__doc__", None)
    return wrapper


# ---------------------------------------------------------------------------
# Control flow and structural core ops (Keras 3's keras.ops core names).

def _unwrap_tree(tree):
    return jax.tree_util.tree_map(unwrap, tree,
                                  is_leaf=lambda v: isinstance(v, (Variable, _SliceRef)))


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()`, traceable (lax.cond)."""
    return jax.lax.cond(unwrap(pred), true_fn, false_fn)


def switch(index, branches, *operands):
    """Call `branches[index](*operands)` (lax.switch; index is clamped)."""
    return jax.lax.switch(unwrap(index), branches, *_unwrap_tree(operands))


def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for i in [lower, upper)."""
    return jax.lax.fori_loop(unwrap(lower), unwrap(upper), body_fun, _unwrap_tree(init_val))


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run `body` while `cond` holds. With a tuple/list `loop_vars`, `cond` and
    `body` take them as separate arguments (as in Keras)."""
    is_seq = isinstance(loop_vars, (tuple, list))
    state = tuple(_unwrap_tree(loop_vars)) if is_seq else (_unwrap_tree(loop_vars),)

    def c(s):
        vars_, i = s
        ok = cond(*vars_)
        if maximum_iterations is not None:
            ok = jnp.logical_and(ok, i < maximum_iterations)
        return ok

    def b(s):
        vars_, i = s
        out = body(*vars_)
        out = tuple(out) if is_seq else (out,)
        return out, i + 1

    final, _ = jax.lax.while_loop(c, b, (state, jnp.asarray(0, "int32")))
    if not is_seq:
        return final[0]
    return type(loop_vars)(final) if isinstance(loop_vars, list) else final


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`(carry, y) = f(carry, x)` over the leading axis of `xs` (lax.scan)."""
    return jax.lax.scan(f, _unwrap_tree(init), _unwrap_tree(xs), length=length,
                        reverse=reverse, unroll=unroll)


def associative_scan(f, elems, reverse=False, axis=0):
    return jax.lax.associative_scan(f, _unwrap_tree(elems), reverse=reverse, axis=axis)


def map(f, xs):
    """`f` applied to each slice of `xs` along its leading axis (lax.map)."""
    return jax.lax.map(f, _unwrap_tree(xs))


def vectorized_map(function, elements):
    """`function` vectorized over the leading axis of `elements` (jax.vmap)."""
    return jax.vmap(function)(_unwrap_tree(elements))


def slice(inputs, start_indices, shape):
    """The block of `inputs` of size `shape` starting at `start_indices`."""
    return jax.lax.dynamic_slice(convert_to_tensor(inputs), tuple(unwrap(start_indices)),
                                 tuple(shape))


def slice_update(inputs, start_indices, updates):
    """`inputs` with the block starting at `start_indices` replaced by `updates`."""
    inputs = convert_to_tensor(inputs)
    return jax.lax.dynamic_update_slice(inputs, convert_to_tensor(updates, inputs.dtype),
                                        tuple(unwrap(start_indices)))


def _index_tuple(indices):
    indices = convert_to_tensor(indices)
    if indices.ndim == 1:
        indices = indices[:, None]
    return tuple(jnp.moveaxis(indices, -1, 0))


def scatter(indices, values, shape):
    """A zeros tensor of `shape` with `values` added at `indices` (duplicates sum)."""
    values = convert_to_tensor(values)
    return jnp.zeros(tuple(shape), values.dtype).at[_index_tuple(indices)].add(values)


def scatter_update(inputs, indices, updates, reduction=None):
    """`inputs` with `updates` written at `indices` (or combined with
    reduction "add", "max", "min", "mul")."""
    inputs = convert_to_tensor(inputs)
    updates = convert_to_tensor(updates, inputs.dtype)
    ref = inputs.at[_index_tuple(indices)]
    ops_ = {None: ref.set, "add": ref.add, "max": ref.max, "min": ref.min, "mul": ref.multiply}
    if reduction not in ops_:
        raise ValueError("scatter_update: reduction must be None, 'add', 'max', 'min' or "
                         f"'mul', got {reduction!r}.")
    return ops_[reduction](updates)


def unstack(x, num=None, axis=0):
    x = convert_to_tensor(x)
    n = x.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} does not match axis {axis} of size {n}.")
    return [jnp.take(x, i, axis=axis) for i in range(n)]


def saturate_cast(x, dtype):
    """Cast with values clipped to the range of `dtype` (no wrap-around)."""
    x = convert_to_tensor(x)
    dt = jnp.dtype(dtype)
    if jnp.issubdtype(dt, jnp.integer):
        info = jnp.iinfo(dt)
    elif jnp.issubdtype(dt, jnp.floating):
        info = jnp.finfo(dt)
    else:
        return x.astype(dt)
    if jnp.issubdtype(x.dtype, jnp.inexact) or jnp.iinfo(x.dtype).max > info.max \
            or jnp.iinfo(x.dtype).min < info.min:
        lo = jnp.asarray(info.min).astype(x.dtype) if jnp.issubdtype(x.dtype, jnp.inexact) \
            else max(info.min, jnp.iinfo(x.dtype).min)
        hi = jnp.asarray(info.max).astype(x.dtype) if jnp.issubdtype(x.dtype, jnp.inexact) \
            else min(info.max, jnp.iinfo(x.dtype).max)
        x = jnp.clip(x, lo, hi)
    return x.astype(dt)


__all__ += ["cond", "switch", "fori_loop", "while_loop", "scan", "associative_scan", "map",
            "vectorized_map", "slice", "slice_update", "scatter", "scatter_update", "unstack",
            "saturate_cast"]
