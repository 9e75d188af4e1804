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
    if isinstance(x, (list, tuple)):
        arr = np.asarray(jax.tree_util.tree_map(unwrap, x, is_leaf=lambda v: isinstance(v, Variable)))
        if arr.dtype == np.float64:
            return jnp.asarray(arr, dtype=config.floatx())
        if arr.dtype == np.int64 and not jax.config.jax_enable_x64:
            return jnp.asarray(arr, dtype="int32")
        return jnp.asarray(arr)
    return jnp.asarray(x)


def convert_to_numpy(x):
    return np.asarray(unwrap(x))


def is_tensor(x):
    return isinstance(x, (jax.Array, jax.core.Tracer))


def cast(x, dtype):
    """Convert `x` to `dtype` (the explicit conversion strict promotion asks for)."""
    return jnp.asarray(unwrap(x)).astype(dtype)


def shape(x):
    return tuple(jnp.shape(unwrap(x)))


def dtype(x):
    return jnp.asarray(unwrap(x)).dtype.name


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
