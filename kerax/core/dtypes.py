"""Dtype names: the ONE `standardize_dtype` and the result-type rule, shared by
Variable, ops, layers, losses and metrics."""
import jax.numpy as jnp
import numpy as np

from kerax.core import config

__all__ = ["standardize_dtype", "result_type", "is_float_dtype"]

_ALIASES = {"int": "int32", "float": "float32", "bool": "bool", "bfloat16": "bfloat16"}


def standardize_dtype(dtype, what="dtype"):
    """A dtype as its string name, as Keras 3 spells it.

    None means `floatx()`; Python's int/float/bool (and "int"/"float") mean
    int32/float32/bool, as in Keras; arrays, Variables and dtype policies give their dtype.

    >>> standardize_dtype(None), standardize_dtype(int), standardize_dtype(np.float16)
    ('float32', 'int32', 'float16')
    """
    if dtype is None:
        return config.floatx()
    if dtype is float:
        return "float32"
    if dtype is int:
        return "int32"
    if dtype is bool:
        return "bool"
    if isinstance(dtype, str):
        if dtype in _ALIASES:
            return _ALIASES[dtype]
    elif hasattr(dtype, "compute_dtype"):  # a dtype policy
        return standardize_dtype(dtype.compute_dtype, what)
    elif hasattr(dtype, "dtype") and not isinstance(dtype, (type, np.dtype)):
        dtype = dtype.dtype
    try:
        name = jnp.dtype(dtype).name
    except TypeError:
        name = None
    if name is None or (isinstance(dtype, str) and dtype != name):
        raise ValueError(
            f"Invalid {what}: {dtype!r}. Expected a dtype name such as 'float32', "
            "a NumPy/JAX dtype, or None (kerax.config.floatx()).")
    return name


def result_type(*dtypes):
    """The dtype that mixing `dtypes` gives (none: floatx). Python's int/float/bool
    are weak, as in Keras.

    >>> result_type("float16", float), result_type("int32", "float32")
    ('float16', 'float32')
    """
    if not dtypes:
        return config.floatx()
    weak = (int, float, bool)
    if all(d in weak for d in dtypes):
        dtypes = tuple(standardize_dtype(d) for d in dtypes)
    args = [d if d in weak else standardize_dtype(d) for d in dtypes]
    return jnp.result_type(*args).name


def is_float_dtype(dtype):
    """Whether `dtype` is a floating-point dtype.

    >>> is_float_dtype("bfloat16"), is_float_dtype("int8")
    (True, False)
    """
    return bool(jnp.issubdtype(jnp.dtype(standardize_dtype(dtype)), jnp.floating))
