"""NumPy-like ops: Keras 3's `keras.ops.numpy` names over jax.numpy.

Every op accepts arrays, NumPy arrays, Python scalars/lists and kerax
Variables. Dtype rules follow Keras where they are simple: Python floats become
`floatx()`, creation ops default to `floatx()`, float-only math on integer
input computes in `floatx()`. Mixed dtypes combine through jax.numpy, so
`kerax.config.dtype_promotion("strict")` makes float32 + int32 an error.
"""
import builtins

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.ops.core import convert_to_tensor, unwrap
from kerax.ops.core import float_tensor as _to_float
from kerax.variables import Variable, _SliceRef

_PY_SCALARS = (bool, int, float, complex)


def _t(x):
    """Tensor from anything (Variables, lists, NumPy, Python scalars)."""
    return convert_to_tensor(x)


def _o(x):
    """Operand of a binary op: Python scalars stay weakly typed (as in Keras:
    `t + 10` keeps t's dtype); everything else becomes a tensor."""
    x = unwrap(x)
    if isinstance(x, _PY_SCALARS):
        return x
    return convert_to_tensor(x)


def _ts(xs):
    if isinstance(xs, (Variable, _SliceRef)) or isinstance(xs, (jax.Array, np.ndarray)):
        return [_t(x) for x in _t(xs)]
    return [_t(x) for x in xs]


def _is_float(dtype):
    return jnp.issubdtype(dtype, jnp.inexact)


def _dtype_or_floatx(dtype):
    return config.floatx() if dtype is None else dtype


def _axis(axis):
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _shape(shape):
    shape = unwrap(shape)
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if hasattr(shape, "shape") and not isinstance(shape, tuple):
        return tuple(int(s) for s in np.asarray(shape).reshape(-1))
    try:
        return tuple(shape)
    except TypeError:
        raise TypeError(f"shape: expected an int or a tuple of ints, got {shape!r}.") from None


_defined = []


def _export(fn, name):
    fn.__name__ = name
    fn.__qualname__ = name
    fn.__module__ = __name__
    globals()[name] = fn
    _defined.append(name)
    return fn


# ---------------------------------------------------------------------------
# Elementwise ops, made by small factories so each keeps Keras' signature.

def _make_unary(name, jfn, float_only=False):
    if float_only:
        def op(x):
            return jfn(_to_float(x))
    else:
        def op(x):
            return jfn(_t(x))
    op.__doc__ = f"Elementwise `{name}` (as `numpy.{name}`)."
    return _export(op, name)


def _make_binary(name, jfn, argnames=("x1", "x2")):
    if argnames == ("x1", "x2"):
        def op(x1, x2):
            return jfn(_o(x1), _o(x2))
    else:
        def op(x, y):
            return jfn(_o(x), _o(y))
    op.__doc__ = f"Elementwise `{name}` of two tensors, with broadcasting."
    return _export(op, name)


for _n, _f in [("abs", jnp.abs), ("absolute", jnp.abs), ("negative", jnp.negative),
               ("sign", jnp.sign), ("ceil", None), ("floor", None), ("trunc", None),
               ("conj", jnp.conjugate), ("conjugate", jnp.conjugate), ("real", jnp.real),
               ("imag", jnp.imag), ("copy", jnp.array), ("logical_not", jnp.logical_not),
               ("isfinite", jnp.isfinite), ("isinf", jnp.isinf), ("isnan", jnp.isnan),
               ("isneginf", jnp.isneginf), ("isposinf", jnp.isposinf), ("isreal", jnp.isreal),
               ("signbit", jnp.signbit), ("bitwise_not", jnp.bitwise_not),
               ("bitwise_invert", jnp.bitwise_not), ("angle", None), ("ravel", jnp.ravel)]:
    if _f is None:
        continue
    _make_unary(_n, _f)


def square(x):
    """Elementwise x * x (booleans count as int32, as in Keras)."""
    x = _t(x)
    if x.dtype == jnp.bool_:
        x = x.astype("int32")
    return jnp.square(x)


_defined.append("square")


def _rounding(name, jfn):
    def op(x):
        x = _t(x)
        if not _is_float(x.dtype):
            return x.astype(config.floatx()) if x.dtype == jnp.bool_ else x
        return jfn(x)
    op.__doc__ = f"Elementwise `{name}`; integer input is returned unchanged."
    return _export(op, name)


for _n, _f in [("ceil", jnp.ceil), ("floor", jnp.floor), ("trunc", jnp.trunc)]:
    _rounding(_n, _f)


def angle(x):
    """The argument of complex `x` (0 or pi for reals)."""
    return jnp.angle(_to_float(x))


_defined.append("angle")

for _n, _f in [("sqrt", jnp.sqrt), ("exp", jnp.exp), ("exp2", jnp.exp2), ("expm1", jnp.expm1),
               ("log", jnp.log), ("log10", jnp.log10), ("log1p", jnp.log1p), ("log2", jnp.log2),
               ("sin", jnp.sin), ("cos", jnp.cos), ("tan", jnp.tan), ("sinh", jnp.sinh),
               ("cosh", jnp.cosh), ("tanh", jnp.tanh), ("arcsin", jnp.arcsin),
               ("arccos", jnp.arccos), ("arctan", jnp.arctan), ("arcsinh", jnp.arcsinh),
               ("arccosh", jnp.arccosh), ("arctanh", jnp.arctanh), ("cbrt", jnp.cbrt),
               ("reciprocal", jnp.reciprocal), ("deg2rad", jnp.deg2rad),
               ("rad2deg", jnp.rad2deg), ("sinc", jnp.sinc), ("fabs", jnp.fabs),
               ("i0", jnp.i0)]:
    _make_unary(_n, _f, float_only=True)

for _n, _f in [("add", jnp.add), ("subtract", jnp.subtract), ("multiply", jnp.multiply),
               ("divide", jnp.true_divide), ("true_divide", jnp.true_divide),
               ("floor_divide", jnp.floor_divide), ("mod", jnp.mod), ("fmod", jnp.fmod),
               ("power", jnp.power), ("maximum", jnp.maximum), ("minimum", jnp.minimum),
               ("fmax", jnp.fmax), ("fmin", jnp.fmin),
               ("equal", jnp.equal), ("not_equal", jnp.not_equal), ("greater", jnp.greater),
               ("greater_equal", jnp.greater_equal), ("less", jnp.less),
               ("less_equal", jnp.less_equal), ("logical_and", jnp.logical_and),
               ("logical_or", jnp.logical_or), ("logical_xor", jnp.logical_xor),
               ("arctan2", jnp.arctan2), ("hypot", jnp.hypot), ("logaddexp", jnp.logaddexp),
               ("logaddexp2", jnp.logaddexp2), ("heaviside", jnp.heaviside),
               ("nextafter", jnp.nextafter),
               ("gcd", jnp.gcd), ("lcm", jnp.lcm), ("ldexp", jnp.ldexp)]:
    _make_binary(_n, _f)

for _n, _f in [("bitwise_and", jnp.bitwise_and), ("bitwise_or", jnp.bitwise_or),
               ("bitwise_xor", jnp.bitwise_xor), ("bitwise_left_shift", jnp.left_shift),
               ("bitwise_right_shift", jnp.right_shift), ("left_shift", jnp.left_shift),
               ("right_shift", jnp.right_shift)]:
    _make_binary(_n, _f, argnames=("x", "y"))


def divide_no_nan(x1, x2):
    """x1 / x2, with 0 where x2 == 0."""
    x1, x2 = _o(x1), _o(x2)
    safe = jnp.where(jnp.equal(x2, 0), 1, x2)
    return jnp.where(jnp.equal(x2, 0), 0, jnp.true_divide(x1, safe))


def round(x, decimals=0):
    """Round to `decimals` decimals (half to even, as NumPy)."""
    return jnp.round(_t(x), decimals)


def clip(x, x_min, x_max):
    """Limit values to [x_min, x_max]."""
    x = _t(x)
    if x.dtype == jnp.bool_:
        x = x.astype("int32")
    return jnp.clip(x, _o(x_min), _o(x_max))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return jnp.nan_to_num(_t(x), nan=nan, posinf=posinf, neginf=neginf)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return jnp.isclose(_o(x1), _o(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return jnp.allclose(_o(x1), _o(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def isin(x1, x2, assume_unique=False, invert=False):
    return jnp.isin(_t(x1), _t(x2), assume_unique=assume_unique, invert=invert)


# ---------------------------------------------------------------------------
# Creation ops.

def array(x, dtype=None):
    """A tensor from array-like `x` (Python floats become floatx)."""
    return convert_to_tensor(x, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop). Integer arguments give int32,
    any float argument gives floatx, unless `dtype` is given."""
    start, stop, step = unwrap(start), unwrap(stop), unwrap(step)
    if step is None:
        step = 1
    if dtype is None:
        vals = [v for v in (start, stop, step) if v is not None]
        if builtins.any(isinstance(v, float) or (hasattr(v, "dtype") and _is_float(v.dtype))
                        for v in vals):
            dtype = config.floatx()
        else:
            dtype = "int32"
    return jnp.arange(start, stop, step, dtype=dtype)


def zeros(shape, dtype=None):
    return jnp.zeros(_shape(shape), dtype=_dtype_or_floatx(dtype))


def ones(shape, dtype=None):
    return jnp.ones(_shape(shape), dtype=_dtype_or_floatx(dtype))


def empty(shape, dtype=None):
    return jnp.empty(_shape(shape), dtype=_dtype_or_floatx(dtype))


def full(shape, fill_value, dtype=None):
    return jnp.full(_shape(shape), unwrap(fill_value), dtype=_dtype_or_floatx(dtype))


def zeros_like(x, dtype=None):
    return jnp.zeros_like(_t(x), dtype=dtype)


def ones_like(x, dtype=None):
    return jnp.ones_like(_t(x), dtype=dtype)


def empty_like(x, dtype=None):
    return jnp.empty_like(_t(x), dtype=dtype)


def full_like(x, fill_value, dtype=None):
    return jnp.full_like(_t(x), unwrap(fill_value), dtype=dtype)


def eye(N, M=None, k=0, dtype=None):
    return jnp.eye(N, M, k, dtype=_dtype_or_floatx(dtype))


def identity(n, dtype=None):
    return jnp.identity(n, dtype=_dtype_or_floatx(dtype))


def tri(N, M=None, k=0, dtype=None):
    return jnp.tri(N, M, k, dtype=_dtype_or_floatx(dtype))


def _space_dtype(dtype, *vals):
    if dtype is not None:
        return dtype
    for v in vals:
        v = unwrap(v)
        if hasattr(v, "dtype") and _is_float(v.dtype):
            return jnp.asarray(v).dtype
    return config.floatx()


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    dtype = _space_dtype(dtype, start, stop)
    return jnp.linspace(_o(start), _o(stop), num, endpoint=endpoint, retstep=retstep,
                        dtype=dtype, axis=axis)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    dtype = _space_dtype(dtype, start, stop)
    return jnp.logspace(_o(start), _o(stop), num, endpoint=endpoint, base=base,
                        dtype=dtype, axis=axis)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    dtype = _space_dtype(dtype, start, stop)
    return jnp.geomspace(_o(start), _o(stop), num, endpoint=endpoint, dtype=dtype, axis=axis)


def meshgrid(*x, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    return jnp.meshgrid(*[_t(v) for v in x], indexing=indexing)


def _window(name, jfn):
    def op(x):
        return jfn(int(unwrap(x))).astype(config.floatx())
    op.__doc__ = f"The {name} window of length `x`."
    return _export(op, name)


for _n, _f in [("bartlett", jnp.bartlett), ("blackman", jnp.blackman),
               ("hamming", jnp.hamming), ("hanning", jnp.hanning)]:
    _window(_n, _f)


def kaiser(x, beta):
    return jnp.kaiser(int(unwrap(x)), beta).astype(config.floatx())


def vander(x, N=None, increasing=False):
    return jnp.vander(_t(x), N=N, increasing=increasing)


# ---------------------------------------------------------------------------
# Reductions.

def _reduce(jfn, x, axis, keepdims, **kw):
    return jfn(_t(x), axis=_axis(axis), keepdims=keepdims, **kw)


def sum(x, axis=None, keepdims=False):
    return _reduce(jnp.sum, x, axis, keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    return _reduce(jnp.prod, x, axis, keepdims, dtype=dtype)


def mean(x, axis=None, keepdims=False):
    x = _t(x)
    if not _is_float(x.dtype):
        x = x.astype(config.floatx())
    return _reduce(jnp.mean, x, axis, keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    return _reduce(jnp.max, x, axis, keepdims, initial=initial)


def min(x, axis=None, keepdims=False, initial=None):
    return _reduce(jnp.min, x, axis, keepdims, initial=initial)


def amax(x, axis=None, keepdims=False):
    return _reduce(jnp.max, x, axis, keepdims)


def amin(x, axis=None, keepdims=False):
    return _reduce(jnp.min, x, axis, keepdims)


def all(x, axis=None, keepdims=False):
    return _reduce(jnp.all, x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    return _reduce(jnp.any, x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    return _reduce(jnp.var, _to_float(x), axis, keepdims)


def std(x, axis=None, keepdims=False):
    return _reduce(jnp.std, _to_float(x), axis, keepdims)


def ptp(x, axis=None, keepdims=False):
    return _reduce(jnp.ptp, x, axis, keepdims)


def median(x, axis=None, keepdims=False):
    return _reduce(jnp.median, _to_float(x), axis, keepdims)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    return jnp.quantile(_to_float(x), _t(q), axis=_axis(axis), method=method, keepdims=keepdims)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return jnp.percentile(_to_float(x), _t(q), axis=_axis(axis), method=method,
                          keepdims=keepdims)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    return jnp.nanquantile(_to_float(x), _t(q), axis=_axis(axis), method=method,
                           keepdims=keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return jnp.nanpercentile(_to_float(x), _t(q), axis=_axis(axis), method=method,
                             keepdims=keepdims)


def _nan_reduce(name, jfn, to_float=False):
    def op(x, axis=None, keepdims=False):
        x = _to_float(x) if to_float else _t(x)
        return jfn(x, axis=_axis(axis), keepdims=keepdims)
    op.__doc__ = f"`{name[3:]}` ignoring NaNs."
    return _export(op, name)


for _n, _f, _fl in [("nansum", jnp.nansum, False), ("nanprod", jnp.nanprod, False),
                    ("nanmax", jnp.nanmax, False), ("nanmin", jnp.nanmin, False),
                    ("nanmean", jnp.nanmean, True), ("nanvar", jnp.nanvar, True),
                    ("nanstd", jnp.nanstd, True), ("nanmedian", jnp.nanmedian, True),
                    ("nanargmax", jnp.nanargmax, False), ("nanargmin", jnp.nanargmin, False)]:
    _nan_reduce(_n, _f, _fl)


def nancumsum(x, axis=None, dtype=None):
    return jnp.nancumsum(_t(x), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    return jnp.nancumprod(_t(x), axis=axis, dtype=dtype)


def argmax(x, axis=None, keepdims=False):
    return jnp.argmax(_t(x), axis=axis, keepdims=keepdims).astype("int32")


def argmin(x, axis=None, keepdims=False):
    return jnp.argmin(_t(x), axis=axis, keepdims=keepdims).astype("int32")


def average(x, axis=None, weights=None):
    x = _to_float(x)
    if weights is not None:
        weights = _t(weights)
    return jnp.average(x, axis=_axis(axis), weights=weights)


def count_nonzero(x, axis=None):
    return jnp.count_nonzero(_t(x), axis=_axis(axis)).astype("int32")


def cumsum(x, axis=None, dtype=None):
    return jnp.cumsum(_t(x), axis=axis, dtype=dtype)


def cumprod(x, axis=None, dtype=None):
    return jnp.cumprod(_t(x), axis=axis, dtype=dtype)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    return jnp.trapezoid(_to_float(y), None if x is None else _t(x), dx=dx, axis=axis)


# ---------------------------------------------------------------------------
# Shapes, joins, indexing.

def ndim(x):
    return jnp.ndim(unwrap(x))


def size(x):
    return int(np.prod(jnp.shape(unwrap(x)), dtype=np.int64))


def reshape(x, newshape):
    return jnp.reshape(_t(x), _shape(newshape))


def transpose(x, axes=None):
    return jnp.transpose(_t(x), axes)


def swapaxes(x, axis1, axis2):
    return jnp.swapaxes(_t(x), axis1, axis2)


def moveaxis(x, source, destination):
    return jnp.moveaxis(_t(x), source, destination)


def expand_dims(x, axis):
    return jnp.expand_dims(_t(x), _axis(axis))


def squeeze(x, axis=None):
    return jnp.squeeze(_t(x), _axis(axis))


def broadcast_to(x, shape):
    return jnp.broadcast_to(_t(x), _shape(shape))


def flip(x, axis=None):
    return jnp.flip(_t(x), _axis(axis))


def fliplr(x):
    return jnp.fliplr(_t(x))


def flipud(x):
    return jnp.flipud(_t(x))


def rot90(array, k=1, axes=(0, 1)):
    return jnp.rot90(_t(array), k=k, axes=tuple(axes))


def roll(x, shift, axis=None):
    return jnp.roll(_t(x), shift, axis=_axis(axis))


def tile(x, repeats):
    return jnp.tile(_t(x), unwrap(repeats))


def repeat(x, repeats, axis=None):
    return jnp.repeat(_t(x), unwrap(repeats), axis=axis)


def concatenate(xs, axis=0):
    return jnp.concatenate(_ts(xs), axis=axis)


def append(x1, x2, axis=None):
    return jnp.append(_t(x1), _t(x2), axis=axis)


def stack(x, axis=0):
    return jnp.stack(_ts(x), axis=axis)


def hstack(xs):
    return jnp.hstack(_ts(xs))


def vstack(xs):
    return jnp.vstack(_ts(xs))


def dstack(xs):
    return jnp.dstack(_ts(xs))


def split(x, indices_or_sections, axis=0):
    return jnp.split(_t(x), unwrap(indices_or_sections), axis=axis)


def array_split(x, indices_or_sections, axis=0):
    return jnp.array_split(_t(x), unwrap(indices_or_sections), axis=axis)


def hsplit(x, indices_or_sections):
    return jnp.hsplit(_t(x), unwrap(indices_or_sections))


def vsplit(x, indices_or_sections):
    return jnp.vsplit(_t(x), unwrap(indices_or_sections))


def dsplit(x, indices_or_sections):
    return jnp.dsplit(_t(x), unwrap(indices_or_sections))


def pad(x, pad_width, mode="constant", constant_values=None):
    modes = ("constant", "edge", "linear_ramp", "maximum", "mean", "median",
             "minimum", "reflect", "symmetric", "wrap", "empty")
    if mode not in modes:
        raise ValueError(f"pad: mode must be one of {modes}, got {mode!r}.")
    x = _t(x)
    pad_width = np.asarray(unwrap(pad_width)).tolist() if not isinstance(pad_width, int) else pad_width
    if constant_values is not None:
        if mode != "constant":
            raise ValueError("pad: constant_values can only be given with mode='constant', "
                             f"got mode={mode!r}.")
        return jnp.pad(x, pad_width, mode=mode, constant_values=unwrap(constant_values))
    return jnp.pad(x, pad_width, mode=mode)


def take(x, indices, axis=None):
    x = _t(x)
    indices = _t(indices)
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        indices = indices.astype("int32")
    # Negative indices count from the end, as in NumPy and Keras.
    n = x.size if axis is None else x.shape[axis]
    indices = jnp.where(indices < 0, indices + n, indices)
    return jnp.take(x, indices, axis=axis)


def take_along_axis(x, indices, axis=None):
    x = _t(x)
    indices = _t(indices)
    n = x.size if axis is None else x.shape[axis]
    indices = jnp.where(indices < 0, indices + n, indices)
    return jnp.take_along_axis(x, indices, axis=axis)


def get_item(x, key):
    return _t(x)[unwrap(key)]


def where(condition, x1=None, x2=None):
    if (x1 is None) != (x2 is None):
        raise ValueError("where: x1 and x2 must both be given or both be None.")
    if x1 is None:
        return jnp.nonzero(_t(condition))
    return jnp.where(_t(condition), _o(x1), _o(x2))


def select(condlist, choicelist, default=0):
    return jnp.select([_t(c) for c in condlist], [_t(c) for c in choicelist], default)


def nonzero(x):
    return tuple(i.astype("int32") for i in jnp.nonzero(_t(x)))


def sort(x, axis=-1):
    return jnp.sort(_t(x), axis=axis)


def argsort(x, axis=-1):
    return jnp.argsort(_t(x), axis=axis).astype("int32")


def argpartition(x, kth, axis=-1):
    return jnp.argpartition(_t(x), kth, axis=axis).astype("int32")


def searchsorted(sorted_sequence, values, side="left"):
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    return jnp.searchsorted(_t(sorted_sequence), _t(values), side=side).astype("int32")


def digitize(x, bins):
    return jnp.digitize(_t(x), _t(bins)).astype("int32")


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,
           axis=None, size=None, fill_value=None):
    kw = {}
    if size is not None:
        kw = dict(size=size, fill_value=fill_value)
    out = jnp.unique(_t(x), return_index=return_index, return_inverse=return_inverse,
                     return_counts=return_counts, axis=axis, **kw)
    return out


def unravel_index(indices, shape):
    return jnp.unravel_index(_t(indices), _shape(shape))


def bincount(x, weights=None, minlength=0, sparse=False):
    if sparse:
        raise ValueError("bincount: sparse=True is not supported by kerax (JAX has no sparse tensors).")
    x = _t(x)
    w = None if weights is None else _t(weights)
    length = builtins.max(int(minlength), int(jnp.max(x)) + 1 if x.size else 0)
    if x.ndim == 2:
        if w is None:
            return jax.vmap(lambda r: jnp.bincount(r, length=length))(x)
        return jax.vmap(lambda r, ww: jnp.bincount(r, ww, length=length))(x, w)
    return jnp.bincount(x, w, length=length)


def histogram(x, bins=10, range=None):
    return jnp.histogram(_t(x), bins=bins, range=range)


def view(x, dtype=None):
    x = _t(x)
    return x if dtype is None else x.view(dtype)


# ---------------------------------------------------------------------------
# Products and linear algebra in numpy.

def matmul(x1, x2):
    return jnp.matmul(_t(x1), _t(x2))


def dot(x1, x2):
    return jnp.dot(_o(x1), _o(x2))


def vdot(x1, x2):
    return jnp.vdot(_t(x1), _t(x2))


def inner(x1, x2):
    return jnp.inner(_o(x1), _o(x2))


def outer(x1, x2):
    return jnp.outer(_t(x1), _t(x2))


def kron(x1, x2):
    return jnp.kron(_t(x1), _t(x2))


def tensordot(x1, x2, axes=2):
    return jnp.tensordot(_t(x1), _t(x2), axes=axes)


def einsum(subscripts, *operands, **kwargs):
    return jnp.einsum(subscripts, *[_t(o) for o in operands], **kwargs)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return jnp.cross(_t(x1), _t(x2), axisa=axisa, axisb=axisb, axisc=axisc, axis=axis)


def correlate(x1, x2, mode="valid"):
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full', got {mode!r}.")
    return jnp.correlate(_t(x1), _t(x2), mode=mode)


def corrcoef(x):
    return jnp.corrcoef(_to_float(x))


def diag(x, k=0):
    return jnp.diag(_t(x), k=k)


def diagflat(x, k=0):
    return jnp.diagflat(_t(x), k=k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    return jnp.diagonal(_t(x), offset=offset, axis1=axis1, axis2=axis2)


def trace(x, offset=0, axis1=0, axis2=1):
    return jnp.trace(_t(x), offset=offset, axis1=axis1, axis2=axis2)


def tril(x, k=0):
    return jnp.tril(_t(x), k=k)


def triu(x, k=0):
    return jnp.triu(_t(x), k=k)


def diff(a, n=1, axis=-1):
    return jnp.diff(_t(a), n=n, axis=axis)


def slogdet(x):
    sign, logabsdet = jnp.linalg.slogdet(_to_float(x))
    return sign, logabsdet


def vectorize(pyfunc, *, excluded=None, signature=None):
    return jnp.vectorize(pyfunc, excluded=excluded or set(), signature=signature)


__all__ = sorted(set(_defined) | {
    n for n, v in list(globals().items())
    if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == __name__})
