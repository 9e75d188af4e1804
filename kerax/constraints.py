"""Weight constraints (Keras 3's `keras.constraints`).

A constraint is a callable `(weights) -> projected weights`, applied to a
Variable after each optimizer update. Built-ins: `MaxNorm`, `MinMaxNorm`,
`NonNeg`, `UnitNorm` (also by their snake_case names). A plain function
`fn(weights)` works anywhere a constraint is accepted.
"""
import jax.numpy as jnp
import numpy as np

from kerax import config as _config
from kerax import registry as _reg
from kerax.variables import Variable

_MODULE = "keras.constraints"

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
           "max_norm", "min_max_norm", "non_neg", "unit_norm",
           "get", "serialize", "deserialize"]


def _register(name, *aliases):
    return _reg.register_builtin(_MODULE, name=name, aliases=aliases)


def _t(x):
    if isinstance(x, Variable):
        return x.value
    return jnp.asarray(x)


def _axis(axis, who):
    ok = isinstance(axis, (int, np.integer)) and not isinstance(axis, bool)
    if not ok and isinstance(axis, (list, tuple)):
        ok = all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis)
    if not ok:
        raise ValueError(f"{who}: `axis` must be an int or a list of ints, got {axis!r}.")
    return axis


def _number(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{who}: `{name}` must be a number, got {value!r}.")
    return value


def _norms(w, axis):
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=ax, keepdims=True))


class Constraint:
    """Base class of weight constraints: subclasses implement
    `__call__(self, w)` returning the projected weights, and `get_config()`
    when they take arguments."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@_register("MaxNorm", "max_norm")
class MaxNorm(Constraint):
    """Rescales the weight vectors along `axis` whose L2 norm exceeds
    `max_value` to norm `max_value` (axis=0 for a Dense kernel
    `(input_dim, output_dim)`: each unit's incoming weights)."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number(max_value, "max_value", "MaxNorm")
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, w):
        w = _t(w)
        norms = _norms(w, self.axis)
        desired = jnp.clip(norms, 0, self.max_value)
        return w * (desired / (_config.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


@_register("MinMaxNorm", "min_max_norm")
class MinMaxNorm(Constraint):
    """Moves the L2 norm of the weight vectors along `axis` toward
    `[min_value, max_value]`: the new norm is
    `rate * clip(norm, min_value, max_value) + (1 - rate) * norm`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "min_value", "MinMaxNorm")
        self.max_value = _number(max_value, "max_value", "MinMaxNorm")
        self.rate = _number(rate, "rate", "MinMaxNorm")
        self.axis = _axis(axis, "MinMaxNorm")

    def __call__(self, w):
        w = _t(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * jnp.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (_config.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


@_register("NonNeg", "non_neg")
class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        w = _t(w)
        return w * (w >= 0).astype(w.dtype)


@_register("UnitNorm", "unit_norm")
class UnitNorm(Constraint):
    """Rescales the weight vectors along `axis` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        w = _t(w)
        return w / (_config.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


# Keras 3 exports the classes under their snake_case names too.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm


def serialize(constraint):
    """Keras' serialized dict of a constraint (class instance or function)."""
    return _reg.serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """Inverse of `serialize` (also accepts a name)."""
    return _reg.deserialize_object(config, _MODULE, "constraint", custom_objects)


def get(identifier):
    """A constraint from a name, a serialized dict, a Constraint class or
    instance, or a callable `fn(weights)`; `None` -> `None`."""
    return _reg.get_callable(identifier, _MODULE, "constraint")
