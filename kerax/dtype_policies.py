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
policies, with `get`/`serialize`/`deserialize` as in Keras.

The quantized policies name a quantization mode and the float policy it was
quantized from: `get("int8_from_float32")` is a `QuantizedDTypePolicy`,
"int4/128_from_float32" an `Int4DTypePolicy` (block size 128),
"float8_from_mixed_bfloat16" a `QuantizedFloat8DTypePolicy`; "gptq/4/128_from_..."
and "awq/4/128_from_..." are `GPTQDTypePolicy` / `AWQDTypePolicy` (their configs
load; kerax does not run GPTQ/AWQ). A layer built under a quantized policy
creates its quantized variables (see `kerax.layers.quantized`).
"""
import re
from collections.abc import MutableMapping

import jax.numpy as jnp

from kerax.core import config
from kerax.core import scope as _scope
from kerax.registry import (deserialize_keras_object, register_builtin,
                            serialize_keras_object)

__all__ = ["DTypePolicy", "FloatDTypePolicy", "DTypePolicyMap", "QuantizedDTypePolicy",
           "QuantizedFloat8DTypePolicy", "Int4DTypePolicy", "GPTQDTypePolicy",
           "AWQDTypePolicy", "QUANTIZATION_MODES", "get", "serialize",
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
    def quantization_mode(self):
        """The quantization mode ("int8", "int4", "float8", ...), None if not quantized."""
        return None

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
        if not isinstance(other, DTypePolicy) or (
                other.quantization_mode is not None) != (self.quantization_mode is not None):
            return False
        return other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


@register_builtin("keras.dtype_policies")
@register_builtin("keras")
class FloatDTypePolicy(DTypePolicy):
    """Keras' alias of `DTypePolicy` (kept for configs that name it)."""


QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


# ---- quantized policies (one float "source" policy + a quantization mode) ---------------------
@register_builtin("keras.dtype_policies")
class QuantizedDTypePolicy(DTypePolicy):
    """`QuantizedDTypePolicy("int8", "float32")`: named "int8_from_float32"; the
    compute and variable dtypes are the source policy's.

    >>> p = QuantizedDTypePolicy("int8", "mixed_bfloat16")
    >>> p.name, p.quantization_mode, p.compute_dtype
    ('int8_from_mixed_bfloat16', 'int8', 'bfloat16')
    """

    def __init__(self, mode, source_name=None):
        if source_name is None:
            source_name = global_policy().name
        source = DTypePolicy(source_name)
        self._compute, self._variable = source.compute_dtype, source.variable_dtype
        if mode not in QUANTIZATION_MODES:
            raise ValueError(
                f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}. "
                f"Received: mode={mode}")
        if self._compute == "float16" and mode == "int8":
            raise ValueError(
                f"Quantization mode='{mode}' doesn't work well with compute_dtype='float16'.")
        self._name = f"{mode}_from_{source_name}"
        self._source_name = source_name
        self._quantization_mode = mode

    @property
    def quantization_mode(self):
        return self._quantization_mode

    def __eq__(self, other):
        return (type(other) is type(self) and other.name == self.name
                and other._quantization_mode == self._quantization_mode
                and other._source_name == self._source_name)

    def __hash__(self):
        return hash(self._name)

    def get_config(self):
        return {"mode": self._quantization_mode, "source_name": self._source_name}

    def __repr__(self):
        return f'<{type(self).__name__} "{self._name}">'


@register_builtin("keras.dtype_policies")
class QuantizedFloat8DTypePolicy(QuantizedDTypePolicy):
    """float8 training policy; `amax_history_length` (default 1024) is the length
    of the window the float8 scales are computed over."""

    default_amax_history_length = 1024

    def __init__(self, mode, source_name=None, amax_history_length=1024):
        super().__init__(mode=mode, source_name=source_name)
        if not isinstance(amax_history_length, int) or isinstance(amax_history_length, bool):
            raise TypeError("`amax_history_length` must be an integer. "
                            f"Received: amax_history_length={amax_history_length}")
        self._amax_history_length = amax_history_length

    @property
    def amax_history_length(self):
        return self._amax_history_length

    def __eq__(self, other):
        return super().__eq__(other) and \
            self._amax_history_length == other._amax_history_length

    __hash__ = QuantizedDTypePolicy.__hash__

    def get_config(self):
        config = super().get_config()
        config["amax_history_length"] = self._amax_history_length
        return config


def _split_mode(cls_name, mode, fmt, n_parts):
    parts = mode.split("/") if isinstance(mode, str) else []
    if len(parts) != n_parts or parts[0] != fmt.split("/")[0].strip("'"):
        raise ValueError(
            f"Invalid mode for {cls_name}. Expected format {fmt}, but got '{mode}'.")
    try:
        return [int(p) for p in parts[1:]]
    except ValueError:
        raise ValueError(
            f"Invalid mode for {cls_name}. The numbers must be integers. Expected format "
            f"{fmt}, but got '{mode}'.") from None


@register_builtin("keras.dtype_policies")
class Int4DTypePolicy(QuantizedDTypePolicy):
    """int4 with its block size in the mode: "int4/128" (groups of 128 input
    rows, with zero points) or "int4/-1" (per output channel).

    >>> Int4DTypePolicy("int4/128", "float32").block_size
    128
    """

    def __init__(self, mode, source_name=None):
        (block_size,) = _split_mode("Int4DTypePolicy", mode, "'int4/<block_size>'", 2)
        if block_size < -1 or block_size == 0:
            raise ValueError(
                "Invalid block_size in mode. Supported values are -1 (per-channel) or a "
                f"positive integer (sub-channel), but got {block_size} from '{mode}'.")
        super().__init__(mode="int4", source_name=source_name)
        self._name = f"{mode}_from_{self._source_name}"
        self.mode = "int4"
        self.block_size = block_size

    def __eq__(self, other):
        return super().__eq__(other) and self.block_size == other.block_size

    __hash__ = QuantizedDTypePolicy.__hash__

    def get_config(self):
        return {"mode": f"int4/{self.block_size}", "source_name": self._source_name}


class _CalibratedPolicy(QuantizedDTypePolicy):
    """GPTQ/AWQ policies: "<mode>/<weight_bits>/<group_size>"."""

    _mode = None
    _bits = ()

    def __init__(self, mode, source_name=None):
        name = type(self).__name__
        weight_bits, group_size = _split_mode(
            name, mode, f"'{self._mode}/<weight_bits>/<group_size>'", 3)
        if weight_bits not in self._bits:
            raise ValueError(
                f"Invalid weight_bits in mode. Supported values are {self._bits}, but got "
                f"{weight_bits} from '{mode}'.")
        if group_size < -1 or group_size == 0:
            raise ValueError(
                "Invalid group_size in mode. Supported values are -1 or a positive "
                f"integer, but got {group_size} from '{mode}'.")
        super().__init__(mode=self._mode, source_name=source_name)
        self._name = f"{mode}_from_{self._source_name}"
        self.mode = self._mode
        self.weight_bits = weight_bits
        self.group_size = group_size

    def __eq__(self, other):
        return super().__eq__(other) and (self.weight_bits, self.group_size) == (
            other.weight_bits, other.group_size)

    __hash__ = QuantizedDTypePolicy.__hash__

    def get_config(self):
        return {"mode": f"{self.mode}/{self.weight_bits}/{self.group_size}",
                "source_name": self._source_name}


@register_builtin("keras.dtype_policies")
class GPTQDTypePolicy(_CalibratedPolicy):
    """GPTQ policy, mode "gptq/<weight_bits>/<group_size>" (bits 2, 3, 4 or 8).
    The policy and its config exist; kerax does not run GPTQ."""

    _mode = "gptq"
    _bits = (2, 3, 4, 8)


@register_builtin("keras.dtype_policies")
class AWQDTypePolicy(_CalibratedPolicy):
    """AWQ policy, mode "awq/4/<group_size>". The policy and its config exist;
    kerax does not run AWQ."""

    _mode = "awq"
    _bits = (4,)


def _quantized_policy_from_name(name):
    parts = name.split("_from_")
    if len(parts) != 2:
        raise ValueError(
            "Cannot convert `policy` into a valid pair (`mode`, `source_name`) to "
            f"instantiate `QuantizedDTypePolicy`. Received: policy={name}")
    mode, source_name = parts
    if mode.startswith("int4") and "/" in mode:
        return Int4DTypePolicy(mode, source_name)
    if mode.startswith("gptq"):
        return GPTQDTypePolicy(mode, source_name)
    if mode.startswith("awq"):
        return AWQDTypePolicy(mode, source_name)
    if mode.startswith("float8"):
        return QuantizedFloat8DTypePolicy(mode, source_name)
    return QuantizedDTypePolicy(mode, source_name)


_GLOBAL = {"policy": None}


def set_global_policy(policy):
    """Set the policy new layers get when they are not given `dtype=`."""
    if isinstance(policy, str) and policy.startswith(QUANTIZATION_MODES):
        policy = _quantized_policy_from_name(policy)
    _GLOBAL["policy"] = None if policy is None else (
        policy if isinstance(policy, QuantizedDTypePolicy) else DTypePolicy(policy))


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
    if isinstance(identifier, str) and identifier.startswith(QUANTIZATION_MODES):
        return _quantized_policy_from_name(identifier)
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
