"""`kerax.backend`: Keras 3's `keras.backend` plus the Keras-2 backend names
(`K = keras.backend`; `K.square(K.transpose(t))`) as thin aliases over kerax.ops.

Keras-2 signatures and defaults are kept where they differ from keras.ops
(`concatenate(tensors, axis=-1)`, `argmax(x, axis=-1)`, `constant` defaulting
to floatx, `sqrt` clipping negatives to 0, ...).
"""
import gc

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax import ops, random
from kerax.core import dtypes, naming
from kerax.core.scope import training_flag
from kerax.layers.layer import KerasTensor
from kerax.ops.core import cast, convert_to_tensor, stop_gradient, unwrap  # noqa: F401
from kerax.ops.core import float_tensor as _float_tensor
from kerax.variables import Variable

# ---------------------------------------------------------------------------
# Keras 3 keras.backend

floatx = config.floatx
set_floatx = config.set_floatx
epsilon = config.epsilon
set_epsilon = config.set_epsilon
image_data_format = config.image_data_format
set_image_data_format = config.set_image_data_format


def backend():
    """The name of the engine: always "jax"."""
    return "jax"


# The ONE family of name counters (kerax.core.naming): layers, metrics, losses,
# optimizers and `get_uid` all draw from it, so `clear_session` restarts them all.
get_uid = naming.get_uid
reset_uids = naming.reset

# The ONE dtype rule (kerax.core.dtypes).
standardize_dtype = dtypes.standardize_dtype
result_type = dtypes.result_type
is_float_dtype = dtypes.is_float_dtype

_CLEAR_HOOKS = []


def register_clear_session_hook(fn):
    """Call `fn()` on every `clear_session()` (e.g. to reset a cache)."""
    if fn not in _CLEAR_HOOKS:
        _CLEAR_HOOKS.append(fn)
    return fn


def clear_session(free_memory=True):
    """Reset the global state kerax keeps between models, as Keras'
    `clear_session`: every default-name counter (`dense`, `dense_1`, ... start
    again; `get_uid` restarts at 1) and the registered hooks. `free_memory`
    also runs the garbage collector and drops JAX's compiled-program caches."""
    naming.reset()
    for fn in list(_CLEAR_HOOKS):
        fn()
    if free_memory:
        gc.collect()
        jax.clear_caches()


def is_int_dtype(dtype):
    return jnp.issubdtype(jnp.dtype(standardize_dtype(dtype)), jnp.integer)


def is_keras_tensor(x):
    return isinstance(x, KerasTensor)


def is_tensor(x):
    return isinstance(unwrap(x), (jax.Array, jax.core.Tracer))


# ---------------------------------------------------------------------------
# Keras 2 backend names (tf.keras.backend), as thin aliases over kerax.ops.

def _xy(op):
    """Keras 2's `fn(x, y)` over the keras.ops `fn(x1, x2)` named the same."""
    def fn(x, y):
        return op(x, y)
    fn.__name__ = fn.__qualname__ = op.__name__
    return fn


def cast_to_floatx(x):
    return ops.cast(x, config.floatx())


def constant(value, dtype=None, shape=None, name=None):
    """A tensor from `value` (dtype defaults to floatx, as in Keras 2);
    a scalar `value` with `shape` fills that shape."""
    dtype = config.floatx() if dtype is None else dtype
    value = jnp.asarray(unwrap(value), dtype=dtype)
    if shape is not None:
        value = jnp.broadcast_to(value, tuple(shape)) if value.ndim == 0 else \
            jnp.reshape(value, tuple(shape))
    return value


def variable(value, dtype=None, name=None, constraint=None):
    """A kerax Variable holding `value` (dtype defaults to floatx)."""
    dtype = config.floatx() if dtype is None else dtype
    return Variable(unwrap(value), dtype=dtype, name=name, constraint=constraint)


def get_value(x):
    """The value of `x` as a NumPy array."""
    return np.asarray(unwrap(x))


def batch_get_value(tensors):
    return [get_value(t) for t in tensors]


def set_value(x, value):
    """Assign `value` to Variable `x`."""
    if not isinstance(x, Variable):
        raise TypeError(f"set_value: expected a kerax Variable, got {type(x).__name__}.")
    x.assign(np.asarray(unwrap(value)))


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def eval(x):
    return get_value(x)


def update(x, new_x):
    return x.assign(new_x)


def update_add(x, increment):
    return x.assign_add(increment)


def update_sub(x, decrement):
    return x.assign_sub(decrement)


def moving_average_update(x, value, momentum):
    return x.assign(x.value * momentum + unwrap(value) * (1 - momentum))


def count_params(x):
    return int(np.prod(jnp.shape(unwrap(x))))


def shape(x):
    """The shape of `x` as an int32 tensor."""
    return jnp.asarray(jnp.shape(unwrap(x)), dtype="int32")


def int_shape(x):
    """The shape of `x` as a tuple of ints."""
    return tuple(jnp.shape(unwrap(x)))


def ndim(x):
    return jnp.ndim(unwrap(x))


dtype = ops.dtype


def zeros(shape, dtype=None, name=None):
    return ops.zeros(shape, dtype=dtype)


def ones(shape, dtype=None, name=None):
    return ops.ones(shape, dtype=dtype)


def eye(size, dtype=None, name=None):
    if isinstance(size, (tuple, list)):
        return ops.eye(size[0], size[1], dtype=dtype)
    return ops.eye(size, dtype=dtype)


def zeros_like(x, dtype=None, name=None):
    return ops.zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None, name=None):
    return ops.ones_like(x, dtype=dtype)


def identity(x, name=None):
    return jnp.array(convert_to_tensor(x))


def arange(start, stop=None, step=1, dtype="int32"):
    return ops.arange(start, stop, step, dtype=dtype)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return random.normal(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return random.uniform(shape, minval=minval, maxval=maxval, dtype=dtype, seed=seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return random.truncated_normal(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    dtype = config.floatx() if dtype is None else dtype
    return (random_uniform(shape, seed=seed) < p).astype(dtype)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    return variable(random_normal(shape, mean, scale, dtype=dtype, seed=seed), dtype, name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    return variable(random_uniform(shape, low, high, dtype=dtype, seed=seed), dtype, name)


def dropout(x, level, noise_shape=None, seed=None):
    return random.dropout(x, level, noise_shape=noise_shape, seed=seed)


# Elementwise math.
abs = ops.abs
square = ops.square


def sqrt(x):
    """Square root, with negative inputs clipped to 0 first (as Keras 2)."""
    x = _float_tensor(x)
    return jnp.sqrt(jnp.clip(x, 0.0, None))


exp = ops.exp
log = ops.log


def pow(x, a):
    return ops.power(x, a)


sign = ops.sign


def round(x):
    return ops.round(x)


sin = ops.sin
cos = ops.cos
tanh = ops.tanh


def clip(x, min_value, max_value):
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    if min_value is None:
        min_value = -np.inf
    if max_value is None:
        max_value = np.inf
    return ops.clip(x, min_value, max_value)


equal = _xy(ops.equal)
not_equal = _xy(ops.not_equal)
greater = _xy(ops.greater)
greater_equal = _xy(ops.greater_equal)
less = _xy(ops.less)
less_equal = _xy(ops.less_equal)
maximum = _xy(ops.maximum)
minimum = _xy(ops.minimum)


# Reductions (Keras 2 defaults).
def _bool_to_float(x):
    x = convert_to_tensor(x)
    return x.astype(config.floatx()) if x.dtype == jnp.bool_ else x


sum = ops.sum


def prod(x, axis=None, keepdims=False):
    return ops.prod(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return ops.mean(_bool_to_float(x), axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    return ops.max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    return ops.min(x, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return ops.std(_bool_to_float(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    return ops.var(_bool_to_float(x), axis=axis, keepdims=keepdims)


any = ops.any
all = ops.all


def argmax(x, axis=-1):
    return ops.argmax(x, axis=axis)


def argmin(x, axis=-1):
    return ops.argmin(x, axis=axis)


def cumsum(x, axis=0):
    return ops.cumsum(x, axis=axis)


def cumprod(x, axis=0):
    return ops.cumprod(x, axis=axis)


logsumexp = ops.logsumexp


# TensorFlow-flavoured reduction names (tf.reduce_*), for ported code.
reduce_sum = sum
reduce_mean = mean
reduce_max = max
reduce_min = min
reduce_prod = prod
reduce_any = any
reduce_all = all
reduce_std = std
reduce_variance = var
reduce_logsumexp = logsumexp


def l2_normalize(x, axis=None):
    x = convert_to_tensor(x)
    sq = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(sq, 1e-12))


# Shapes and joins.
dot = _xy(ops.dot)


def batch_dot(x, y, axes=None):
    """Dot product over `axes` for each sample of the batch (axis 0)."""
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 1 if y.ndim == 2 else y.ndim - 2)
    elif isinstance(axes, int):
        axes = (axes, axes)
    ax, ay = axes[0] % x.ndim, axes[1] % y.ndim
    if ax == 0 or ay == 0:
        raise ValueError("batch_dot: cannot reduce over the batch axis (0).")
    out = jax.lax.dot_general(x, y, (((ax,), (ay,)), ((0,), (0,))))
    if out.ndim == 1:
        out = out[:, None]
    return out


def transpose(x):
    return ops.transpose(x)


def permute_dimensions(x, pattern):
    return ops.transpose(x, tuple(pattern))


def reshape(x, shape):
    return ops.reshape(x, shape)


def flatten(x):
    return ops.reshape(x, (-1,))


def batch_flatten(x):
    x = convert_to_tensor(x)
    return jnp.reshape(x, (x.shape[0], -1))


def expand_dims(x, axis=-1):
    return ops.expand_dims(x, axis)


def squeeze(x, axis):
    return ops.squeeze(x, axis)


def concatenate(tensors, axis=-1):
    return ops.concatenate(tensors, axis=axis)


stack = ops.stack


def tile(x, n):
    return ops.tile(x, n)


def repeat(x, n):
    """(batch, dim) -> (batch, n, dim)."""
    x = convert_to_tensor(x)
    return jnp.repeat(x[:, None, :], n, axis=1)


def repeat_elements(x, rep, axis):
    return ops.repeat(x, rep, axis=axis)


def reverse(x, axes):
    return ops.flip(x, axis=axes)


def gather(reference, indices):
    return ops.take(reference, indices, axis=0)


def one_hot(indices, num_classes):
    return ops.one_hot(indices, num_classes)


def switch(condition, then_expression, else_expression):
    """Elementwise (or scalar) choice; callables are called first."""
    if callable(then_expression):
        then_expression = then_expression()
    if callable(else_expression):
        else_expression = else_expression()
    return ops.where(condition, then_expression, else_expression)


def map_fn(fn, elems, name=None, dtype=None):
    return ops.map(fn, elems)


def foldl(fn, elems, initializer=None, name=None):
    elems = convert_to_tensor(elems)
    if initializer is None:
        initializer, elems = elems[0], elems[1:]
    return jax.lax.scan(lambda c, x: (fn(c, x), None), unwrap(initializer), elems)[0]


def foldr(fn, elems, initializer=None, name=None):
    elems = convert_to_tensor(elems)[::-1]
    return foldl(fn, elems, initializer)


def bias_add(x, bias, data_format=None):
    x, bias = convert_to_tensor(x), convert_to_tensor(bias)
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format == "channels_first" and x.ndim > 2:
        bias = jnp.reshape(bias, (bias.shape[0],) + (1,) * (x.ndim - 2)) \
            if bias.ndim == 1 else jnp.moveaxis(bias, -1, 0)
    return x + bias


def in_top_k(predictions, targets, k):
    return ops.in_top_k(targets, predictions, k)


# Activations and losses.
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """max(x, 0) with Keras 2's options: slope `alpha` below `threshold`,
    values capped at `max_value`."""
    x = _float_tensor(x)
    if alpha != 0.0:
        neg = alpha * (x - threshold)
    else:
        neg = jnp.zeros_like(x)
    out = jnp.where(x >= threshold, x, neg) if threshold != 0.0 else \
        jnp.where(x > 0, x, neg)
    if max_value is not None:
        out = jnp.where(x >= max_value, jnp.asarray(max_value, x.dtype), out)
    return out


elu = ops.elu
sigmoid = ops.sigmoid
hard_sigmoid = ops.hard_sigmoid
softplus = ops.softplus
softsign = ops.softsign
softmax = ops.softmax
binary_crossentropy = ops.binary_crossentropy
categorical_crossentropy = ops.categorical_crossentropy
sparse_categorical_crossentropy = ops.sparse_categorical_crossentropy


def learning_phase():
    """1 inside a layer call made with `training=True` (fit's train step,
    `model(x, training=True)`), else 0. Keras 3 has no global learning phase;
    this reads the call's `training` flag."""
    return 1 if training_flag() else 0


def set_learning_phase(value):
    """Not supported: tf.keras' global learning phase (the default `training`
    of every later layer call) was removed in Keras 3, and kerax follows it."""
    raise NotImplementedError(
        "kerax.backend.set_learning_phase: there is no global learning phase (Keras 3 "
        "removed it). Pass `training=True`/`False` to the call instead, e.g. "
        "`model(x, training=True)`; fit/evaluate/predict set it for you.")


def print_tensor(x, message=""):
    jax.debug.print(message + "{}", unwrap(x))
    return x
