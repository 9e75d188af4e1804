"""Weight regularizers (Keras 3's `keras.regularizers`).

A regularizer is a callable `(weights) -> scalar penalty` added to the loss.
Built-ins: `L1`, `L2`, `L1L2`, `OrthogonalRegularizer` (also by their
snake_case names). A plain function `fn(weights)` works anywhere a regularizer
is accepted; a `Regularizer` subclass needs `get_config()` to be saved.
"""
import math

import jax.numpy as jnp
import numpy as np

from kerax import config as _config
from kerax import registry as _reg
from kerax.variables import Variable

_MODULE = "keras.regularizers"

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer",
           "l1", "l2", "l1_l2", "orthogonal_regularizer",
           "get", "serialize", "deserialize"]


def _register(name, *aliases):
    return _reg.register_builtin(_MODULE, name=name, aliases=aliases)


def _t(x):
    if isinstance(x, Variable):
        return x.value
    return jnp.asarray(x)


def _factor(value, name, default=None, float32=False):
    """A non-negative finite float (Keras stores some factors as float32)."""
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
            not math.isfinite(float(value)) or value < 0:
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}")
    return float(np.float32(value)) if float32 else float(value)


class Regularizer:
    """Base class of regularizers: subclasses implement `__call__(self, x)`
    returning a scalar penalty, and `get_config()` to be serializable."""

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")


@_register("L1L2", "l1_l2")
class L1L2(Regularizer):
    """`l1 * sum(abs(x)) + l2 * sum(square(x))`."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", 0.0)
        self.l2 = _factor(l2, "l2", 0.0)

    def __call__(self, x):
        x = _t(x)
        penalty = jnp.zeros((), x.dtype if jnp.issubdtype(x.dtype, jnp.floating)
                            else _config.floatx())
        if self.l1:
            penalty = penalty + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * jnp.sum(jnp.square(x))
        return penalty

    def get_config(self):
        return {"l1": float(self.l1), "l2": float(self.l2)}


@_register("L1", "l1")
class L1(Regularizer):
    """`l1 * sum(abs(x))`."""

    def __init__(self, l1=0.01):
        # Keras 3 keeps this factor as a float32 scalar (its config shows it).
        self.l1 = _factor(l1, "l1", 0.01, float32=True)

    def __call__(self, x):
        return self.l1 * jnp.sum(jnp.abs(_t(x)))

    def get_config(self):
        return {"l1": float(self.l1)}


@_register("L2", "l2")
class L2(Regularizer):
    """`l2 * sum(square(x))`."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2", 0.01)

    def __call__(self, x):
        return self.l2 * jnp.sum(jnp.square(_t(x)))

    def get_config(self):
        return {"l2": float(self.l2)}


@_register("OrthogonalRegularizer", "orthogonal_regularizer")
class OrthogonalRegularizer(Regularizer):
    """Encourages the rows (`mode="rows"`) or columns (`mode="columns"`) of a
    rank-2 weight to be orthogonal: `factor` times the mean absolute cosine
    similarity between distinct pairs of (L2-normalized) rows or columns."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor", 0.01, float32=True)
        if mode not in ("rows", "columns"):
            raise ValueError(
                'Invalid value for argument `mode`. Expected one of {"rows", '
                f'"columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, x):
        x = _t(x)
        if x.ndim != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. Received: "
                f"inputs.shape={tuple(x.shape)}")
        vectors = x if self.mode == "rows" else x.T
        norms = jnp.sqrt(jnp.maximum(jnp.sum(jnp.square(vectors), axis=1, keepdims=True),
                                     _config.epsilon()))
        unit = vectors / norms
        size = unit.shape[0]
        gram = unit @ unit.T
        off_diagonal = gram * (1.0 - jnp.eye(size, dtype=gram.dtype))
        num_pairs = size * (size - 1) / 2.0
        return self.factor * 0.5 * jnp.sum(jnp.abs(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": float(self.factor), "mode": self.mode}


# Keras 3 exports the classes under their snake_case names too.
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer


def serialize(regularizer):
    """Keras' serialized dict of a regularizer (class instance or function)."""
    return _reg.serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """Inverse of `serialize` (also accepts a name)."""
    return _reg.deserialize_object(config, _MODULE, "regularizer", custom_objects)


def get(identifier):
    """A regularizer from a name, a serialized dict, a Regularizer class or
    instance, or a callable `fn(weights)`; `None` -> `None`."""
    return _reg.get_callable(identifier, _MODULE, "regularizer")
