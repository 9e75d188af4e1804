"""Dtype policies (Keras 3's `keras.dtype_policies`, and the policy half of
`keras.mixed_precision`).

A policy names a variable dtype and a compute dtype: "float32", "bfloat16",
"float16" (both the same), or "mixed_bfloat16" / "mixed_float16" (float32
variables, half-precision computation). Inside a layer's call, floating
inputs are cast to the compute dtype and the layer's variables are read in it
(their stored value stays float32, so optimizers update float32 weights).
Softmax and losses compute in float32. For float16, wrap the optimizer in
`LossScaleOptimizer` (compile does so automatically under "mixed_float16").

`DTypePolicyMap` maps layer paths (exact, or `re.fullmatch` patterns) to
policies, with `get`/`serialize`/`deserialize` as in Keras. The quantized
policies (`QuantizedDTypePolicy`, `Int4DTypePolicy`, ...) are not in kerax:
`get("int8_from_float32")` raises NotImplementedError.
"""
import re
from collections.abc import MutableMapping

import jax.numpy as jnp

from kerax.core import config
from kerax.core import scope as _scope
from kerax.registry import (deserialize_keras_object, register_builtin,
                            serialize_keras_object)

__all__ = ["DTypePolicy", "FloatDTypePolicy", "DTypePolicyMap", "get", "serialize",
           "deserialize", "set_global_policy", "global_policy", "dtype_policy",
           "set_dtype_policy", "autocast_dtype"]

_VALID = ("float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16")


@register_builtin("keras.dtype_policies")
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


@register_builtin("keras.dtype_policies")
@register_builtin("keras")
class FloatDTypePolicy(DTypePolicy):
    """Keras' alias of `DTypePolicy` (kept for configs that name it)."""


_QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


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


def get(identifier):
    """The `DTypePolicy` for `identifier`: None (the global policy), a policy,
    a policy name or dtype, or a serialized policy dict.

    >>> get("mixed_bfloat16").compute_dtype
    'bfloat16'
    >>> get({"class_name": "DTypePolicy", "config": {"name": "float16"}})
    <DTypePolicy "float16">
    """
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.startswith(_QUANTIZATION_MODES) \
            and "_from_" in identifier:
        raise NotImplementedError(
            f"dtype_policies.get: {identifier!r} names a quantized policy; kerax has no "
            "quantization yet (use a float policy such as 'mixed_bfloat16').")
    try:
        return DTypePolicy(identifier)
    except (TypeError, ValueError) as e:
        raise ValueError(
            "Cannot interpret `dtype` argument. Expected a string or an instance of "
            f"DTypePolicy. Received: dtype={identifier!r} ({e})") from e


def serialize(dtype_policy):
    """The Keras config dict of a policy.

    >>> serialize(DTypePolicy("float16"))["config"]
    {'name': 'float16'}
    """
    return serialize_keras_object(dtype_policy)


def deserialize(config, custom_objects=None):
    """The policy a `serialize` dict describes (looked up in kerax's registry).

    >>> deserialize(serialize(DTypePolicy("mixed_float16"))).name
    'mixed_float16'
    """
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module="keras.dtype_policies")


@register_builtin("keras.dtype_policies")
class DTypePolicyMap(DTypePolicy, MutableMapping):
    """Policies by layer path: an exact key wins, else the one key that
    `re.fullmatch`es the path, else `default_policy` (the global policy when
    None). A path matching several patterns raises ValueError.

    Note: kerax layers take a `DTypePolicyMap` nowhere yet (as Keras, which
    uses it for quantized models); this is the mapping and its config.

    >>> m = DTypePolicyMap("float32")
    >>> m["encoder/.*"] = "bfloat16"
    >>> m["encoder/dense"].name, m["decoder"].name
    ('bfloat16', 'float32')
    """

    def __init__(self, default_policy=None, policy_map=None):
        if isinstance(default_policy, DTypePolicyMap):
            raise ValueError("`default_policy` cannot be a `DTypePolicyMap`.")
        if policy_map is not None and not isinstance(policy_map, dict):
            raise TypeError(
                "If specified, `policy_map` must be a dict. "
                f"Received: policy_map={policy_map} of type {type(policy_map)}")
        self._default_policy_arg = default_policy
        self._default_policy = get(default_policy) if default_policy is not None else None
        self._policy_map = policy_map or {}

    @property
    def default_policy(self):
        return self._default_policy if self._default_policy is not None else global_policy()

    @property
    def name(self):
        return f"map_{self.default_policy.name}"

    @property
    def _name(self):
        return self.name

    @property
    def compute_dtype(self):
        return self.default_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self.default_policy.variable_dtype

    def __getitem__(self, key):
        if key in self._policy_map:
            return self._policy_map[key]
        matching = [p for p in self._policy_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(
                f"Path '{key}' matches multiple dtype policy specification keys: {matching}. "
                "Please make sure each path only matches at most one dtype policy "
                "specification key in the DTypePolicyMap.")
        if matching:
            return self._policy_map[matching[0]]
        return self.default_policy

    def __setitem__(self, key, policy):
        if key in self._policy_map:
            raise ValueError(
                f"{key} already exist in the DTypePolicyMap with value "
                f"{self._policy_map[key]}. Please make sure to not use duplicated keys.")
        try:
            policy = get(policy)
        except (TypeError, ValueError) as e:
            raise ValueError(
                "Cannot interpret the assigned value by `dtype_policies.get`. "
                f"Received: {policy} of type {type(policy)}") from e
        self._policy_map[key] = policy

    def __delitem__(self, key):
        return self._policy_map.pop(key)

    def __contains__(self, key):
        return key in self._policy_map

    def __len__(self):
        return len(self._policy_map)

    def __iter__(self):
        return iter(self._policy_map)

    def __eq__(self, other):
        return (isinstance(other, DTypePolicyMap) and other.default_policy == self.default_policy
                and dict(other._policy_map) == dict(self._policy_map))

    __hash__ = None

    def get_config(self):
        return {"default_policy": self._default_policy_arg,
                "policy_map": serialize_keras_object(self._policy_map)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["policy_map"] = {
            k: deserialize(v, custom_objects) if isinstance(v, dict) else v
            for k, v in (config.get("policy_map") or {}).items()}
        return cls(**config)

    def __repr__(self):
        default = self._default_policy.name if self._default_policy is not None else None
        mapping = [(k, get(v).name) for k, v in self._policy_map.items()]
        return (f"<DTypePolicyMap at {hex(id(self))} default_policy={default}, "
                f"mapping={mapping}>")
