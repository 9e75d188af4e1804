"""Dtype policies (Keras 3's `keras.dtype_policies`, and the policy half of
`keras.mixed_precision`).

A policy names a variable dtype and a compute dtype: "float32", "bfloat16",
"float16" (both the same), or "mixed_bfloat16" / "mixed_float16" (float32
variables, half-precision computation). Inside a layer's call, floating
inputs are cast to the compute dtype and the layer's variables are read in it
(their stored value stays float32, so optimizers update float32 weights).
Softmax and losses compute in float32. For float16, wrap the optimizer in
`LossScaleOptimizer` (compile does so automatically under "mixed_float16").
"""
import jax.numpy as jnp

from kerax.core import config
from kerax.core import scope as _scope
from kerax.registry import register_builtin

__all__ = ["DTypePolicy", "set_global_policy", "global_policy", "dtype_policy",
           "set_dtype_policy", "autocast_dtype"]

_VALID = ("float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16")


@register_builtin("keras")
class DTypePolicy:
    """`DTypePolicy("mixed_bfloat16")`: `.variable_dtype` float32, `.compute_dtype` bfloat16."""

    def __init__(self, name=None):
        if isinstance(name, DTypePolicy):
            name = name.name
        if name is None:
            name = config.floatx()
        if hasattr(name, "name") and not isinstance(name, str):
            name = jnp.dtype(name).name
        if not isinstance(name, str):
            raise ValueError(f"DTypePolicy: expected a policy name, got {name!r}.")
        if name not in _VALID:
            try:
                name = jnp.dtype(name).name
            except TypeError:
                pass
        if name not in _VALID and not name.startswith(("int", "uint", "bool")):
            raise ValueError(
                f"DTypePolicy: unknown policy {name!r}; valid policies are {', '.join(_VALID)} "
                "(or an integer/bool dtype name).")
        self._name = name
        if name.startswith("mixed_"):
            self._compute, self._variable = name[len("mixed_"):], "float32"
        else:
            self._compute = self._variable = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._compute

    @property
    def variable_dtype(self):
        return self._variable

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


_GLOBAL = {"policy": None}


def set_global_policy(policy):
    """Set the policy new layers get when they are not given `dtype=`."""
    _GLOBAL["policy"] = None if policy is None else DTypePolicy(policy)


set_dtype_policy = set_global_policy


def global_policy():
    return _GLOBAL["policy"] or DTypePolicy()


dtype_policy = global_policy

autocast_dtype = _scope.autocast_dtype
autocast_scope = _scope.autocast_scope
