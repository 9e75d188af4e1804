"""Activation functions (Keras 3's `keras.activations`).

Every activation is a plain function of an array (a NumPy/JAX array, a Python
number or a `kerax.Variable`) built on `jax.numpy` / `jax.nn`, so it works
eagerly and inside `kerax.function` / `jax.jit` alike.

On symbolic tensors (`kerax.Input`) an activation records the op Keras 3
records for it (`ops.gelu`, `ops.softmax`, ...; `relu` and `mish` have node
classes of their own), so functional graphs using them save as Keras saves them.

`get(identifier)` resolves `None` (-> `linear`), a name ("relu", "swish"), a
serialized dict or any callable (a user function such as
`def my_softplus(z): ...` is returned as is). `serialize` returns the name of a
built-in and Keras' function dict for anything else, as `keras.activations`
does.
"""
import jax
import jax.numpy as jnp

from kerax import ops
from kerax import registry as _reg
from kerax.ops.dispatch import symbolic_op
from kerax.ops.nn import _relu
from kerax.ops.keras_names import KERAS_OPS
from kerax.variables import Variable

_MODULE = "keras.activations"

__all__ = [
    "relu", "relu6", "sigmoid", "softmax", "log_softmax", "tanh", "elu", "selu",
    "gelu", "silu", "swish", "softplus", "softsign", "leaky_relu", "exponential",
    "linear", "hard_sigmoid", "hard_silu", "hard_swish", "mish", "celu", "glu",
    "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus",
    "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink", "threshold",
    "get", "serialize", "deserialize",
]


# The op a symbolic call records, where it is not `kerax.ops.<same name>`.
_RECORDED_AS = {"exponential": ops.exp, "hard_silu": ops.hard_silu, "tanh": ops.tanh,
                "linear": lambda x: x}


def _register(*aliases):
    """Register an activation under its Keras name, as an op that records
    itself on symbolic tensors."""
    def deco(fn):
        key = f"activations.{fn.__name__}"
        via = None if key in KERAS_OPS else _RECORDED_AS.get(fn.__name__) or getattr(
            ops.nn, fn.__name__)
        op = symbolic_op(fn, key, via=via)
        return _reg.register_builtin(_MODULE, name=fn.__name__, aliases=aliases)(op)
    return deco


def _t(x):
    """An activation's input as a JAX array (Variables read their value)."""
    if isinstance(x, Variable):
        return x.value
    return jnp.asarray(x)


def _check_number(value, name, fn, allow_none=False):
    if allow_none and value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
            hasattr(value, "dtype") and getattr(value, "shape", None) == ()):
        raise ValueError(
            f"activations.{fn}: `{name}` must be a number, got {value!r}.")
    return value


def _check_axis(axis, fn):
    if isinstance(axis, bool) or not isinstance(axis, (int, tuple, list)):
        raise ValueError(
            f"activations.{fn}: `axis` must be an int or a tuple of ints, got {axis!r}.")
    return tuple(axis) if isinstance(axis, list) else axis


@_register()
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit.

    With default values, `max(x, 0)`. Otherwise `max_value` for
    `x >= max_value`, `x` for `threshold < x < max_value` and
    `negative_slope * (x - threshold)` below the threshold.
    """
    _check_number(negative_slope, "negative_slope", "relu")
    _check_number(max_value, "max_value", "relu", allow_none=True)
    _check_number(threshold, "threshold", "relu")
    x = _t(x)
    if negative_slope == 0 and max_value is None and threshold == 0:
        return _relu(x)
    if threshold != 0:
        below = _relu(threshold - x)
        y = jnp.where(x > threshold, x, jnp.zeros_like(x))
    else:
        below = _relu(-x)
        y = _relu(x)
    if max_value is not None:
        y = jnp.clip(y, 0, max_value).astype(x.dtype)
    if negative_slope != 0:
        y = y - jnp.asarray(negative_slope, x.dtype) * below
    return y


@_register()
def relu6(x):
    """`min(max(x, 0), 6)`."""
    return jax.nn.relu6(_t(x))


@_register()
def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return jax.nn.sigmoid(_t(x))


def _upcast(x):
    """Half-precision inputs (mixed precision) are normalized in float32."""
    if x.dtype in (jnp.float16, jnp.bfloat16):
        return x.astype(jnp.float32)
    return x


@_register()
def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x), axis)`, computed stably."""
    axis = _check_axis(axis, "softmax")
    return jax.nn.softmax(_upcast(_t(x)), axis=axis)


@_register()
def log_softmax(x, axis=-1):
    """`x - logsumexp(x, axis)`."""
    axis = _check_axis(axis, "log_softmax")
    return jax.nn.log_softmax(_upcast(_t(x)), axis=axis)


@_register()
def tanh(x):
    """Hyperbolic tangent."""
    return jnp.tanh(_t(x))


@_register()
def elu(x, alpha=1.0):
    """Exponential linear unit: `x` if `x > 0`, else `alpha * (exp(x) - 1)`."""
    _check_number(alpha, "alpha", "elu")
    return jax.nn.elu(_t(x), alpha=alpha)


@_register()
def selu(x):
    """Scaled ELU (Klambauer et al., 2017): `scale * elu(x, alpha)` with
    `alpha=1.67326324` and `scale=1.05070098`."""
    return jax.nn.selu(_t(x))


@_register()
def gelu(x, approximate=False):
    """Gaussian error linear unit: `x * P(X <= x)` for `X ~ N(0, 1)`; the tanh
    approximation when `approximate=True`."""
    return jax.nn.gelu(_t(x), approximate=bool(approximate))


@_register("swish")
def silu(x):
    """Sigmoid linear unit, also called swish: `x * sigmoid(x)`."""
    return jax.nn.silu(_t(x))


swish = silu


@_register()
def softplus(x):
    """`log(exp(x) + 1)`, computed stably."""
    return jax.nn.softplus(_t(x))


@_register()
def softsign(x):
    """`x / (abs(x) + 1)`."""
    return jax.nn.soft_sign(_t(x))


@_register()
def leaky_relu(x, negative_slope=0.2):
    """`x` if `x >= 0`, else `negative_slope * x`."""
    _check_number(negative_slope, "negative_slope", "leaky_relu")
    return jax.nn.leaky_relu(_t(x), negative_slope=negative_slope)


@_register()
def exponential(x):
    """`exp(x)`."""
    return jnp.exp(_t(x))


@_register()
def linear(x):
    """The identity (`x` unchanged)."""
    return _t(x)


@_register()
def hard_sigmoid(x):
    """Piecewise-linear sigmoid: `relu6(x + 3) / 6` (0 below -3, 1 above 3)."""
    return jax.nn.hard_sigmoid(_t(x))


@_register("hard_swish")
def hard_silu(x):
    """Hard SiLU / hard swish: `x * relu6(x + 3) / 6`."""
    return jax.nn.hard_silu(_t(x))


hard_swish = hard_silu


@_register()
def mish(x):
    """`x * tanh(softplus(x))` (Misra, 2019)."""
    x = _t(x)
    return x * jnp.tanh(jax.nn.softplus(x))


@_register()
def celu(x, alpha=1.0):
    """Continuously differentiable ELU: `max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`."""
    _check_number(alpha, "alpha", "celu")
    return jax.nn.celu(_t(x), alpha=alpha)


@_register()
def glu(x, axis=-1):
    """Gated linear unit: split `x` in halves `a, b` along `axis`, return
    `a * sigmoid(b)`."""
    x = _t(x)
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ValueError(f"activations.glu: `axis` must be an int, got {axis!r}.")
    if x.shape[axis] % 2:
        raise ValueError(
            f"activations.glu: the size of `axis` {axis} must be even, got input "
            f"shape {x.shape}.")
    return jax.nn.glu(x, axis=axis)


@_register()
def hard_shrink(x, threshold=0.5):
    """`x` where `abs(x) > threshold`, else 0."""
    _check_number(threshold, "threshold", "hard_shrink")
    x = _t(x)
    return jnp.where(jnp.abs(x) > threshold, x, jnp.zeros_like(x))


@_register()
def hard_tanh(x):
    """`clip(x, -1, 1)`."""
    x = _t(x)
    return jnp.clip(x, -1, 1).astype(x.dtype)


@_register()
def log_sigmoid(x):
    """`log(sigmoid(x))`, computed stably."""
    return jax.nn.log_sigmoid(_t(x))


@_register()
def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`,
    else 0."""
    _check_number(threshold, "threshold", "soft_shrink")
    x = _t(x)
    t = jnp.asarray(threshold, x.dtype)
    return jnp.where(x > t, x - t, jnp.where(x < -t, x + t, jnp.zeros_like(x)))


@_register()
def sparse_plus(x):
    """0 for `x <= -1`, `(x + 1)**2 / 4` for `-1 < x < 1`, `x` for `x >= 1`."""
    x = _t(x)
    return jnp.where(x <= -1, jnp.zeros_like(x),
                     jnp.where(x >= 1, x, 0.25 * (x + 1) ** 2))


@_register()
def sparse_sigmoid(x):
    """0 for `x <= -1`, `(x + 1) / 2` for `-1 < x < 1`, 1 for `x >= 1`."""
    x = _t(x)
    return jnp.clip(0.5 * (x + 1), 0, 1).astype(x.dtype)


@_register()
def sparsemax(x, axis=-1):
    """Euclidean projection of `x` onto the probability simplex along `axis`
    (Martins & Astudillo, 2016): like softmax, but with exact zeros."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ValueError(f"activations.sparsemax: `axis` must be an int, got {axis!r}.")
    x = _t(x)
    z = jnp.moveaxis(x, axis, -1)
    z_sorted = -jnp.sort(-z, axis=-1)
    k = jnp.arange(1, z.shape[-1] + 1, dtype=x.dtype)
    cumsum = jnp.cumsum(z_sorted, axis=-1)
    support = (1 + k * z_sorted) > cumsum
    k_z = jnp.sum(support, axis=-1, keepdims=True)
    tau_sum = jnp.take_along_axis(cumsum, k_z.astype(jnp.int32) - 1, axis=-1)
    tau = (tau_sum - 1) / k_z.astype(x.dtype)
    out = jnp.maximum(z - tau, 0)
    return jnp.moveaxis(out, -1, axis)


@_register()
def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2` (So, 2021)."""
    _check_number(b, "b", "squareplus")
    if b < 0:
        raise ValueError(f"activations.squareplus: `b` must be >= 0, got {b}.")
    x = _t(x)
    return (x + jnp.sqrt(x * x + jnp.asarray(b, x.dtype))) / 2


@_register()
def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = _t(x)
    return x - jnp.tanh(x)


@_register()
def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`."""
    _check_number(threshold, "threshold", "threshold")
    _check_number(default_value, "default_value", "threshold")
    x = _t(x)
    return jnp.where(x > threshold, x, jnp.asarray(default_value, x.dtype))


# ---- get / serialize / deserialize ---------------------------------------------
def get(identifier):
    """An activation function from `None` (-> `linear`), a name, a serialized
    dict or a callable (returned as is)."""
    if identifier is None:
        return linear
    obj = _reg.get_object(identifier, _MODULE, "activation")
    if not callable(obj):
        raise ValueError(
            f"Could not interpret activation function identifier: {identifier!r} "
            "(it does not resolve to a callable).")
    return obj


def serialize(activation):
    """The name of a built-in activation (as `keras.activations.serialize`),
    else Keras' serialized dict of the function or object."""
    builtin = _reg.builtin_name(activation)
    if builtin is not None and builtin[0] == _MODULE:
        return builtin[1]
    config = _reg.serialize_keras_object(activation)
    if not isinstance(config, dict) or "config" not in config:
        raise ValueError(
            f"activations.serialize: cannot serialize {activation!r} (expected an "
            "activation function or an object with get_config()).")
    return config


def deserialize(config, custom_objects=None):
    """Inverse of `serialize`: a name or a serialized dict -> the activation."""
    return _reg.deserialize_object(config, _MODULE, "activation", custom_objects)
