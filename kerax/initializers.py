"""Weight initializers (Keras 3's `keras.initializers`).

An initializer is a callable `(shape, dtype=None) -> array` with
`get_config()` / `from_config()`. Initializers always produce concrete values:
built-ins evaluate eagerly even when called inside a trace (Variable creation
also wraps its initializer in `jax.ensure_compile_time_eval`).

Seeds follow Keras 3: an int `seed` gives the same values on every call; an
unseeded initializer draws an int seed when it is constructed (so two layers
get different weights, and a run after `kerax.utils.set_random_seed(s)` is
reproducible) and also returns the same values on every call; a
`kerax.random.SeedGenerator` seed gives fresh values on every call.

`get(identifier)` accepts a name ("glorot_uniform", "GlorotUniform", "zeros"),
a serialized dict, an `Initializer` class or instance, or any callable
`fn(shape, dtype=None)` (returned as is).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config as _config
from kerax import random as _random
from kerax import registry as _reg
from kerax.core.memory import check_allocation
from kerax.ops.windows import window_values

_MODULE = "keras.initializers"

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotUniform",
    "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "Orthogonal", "compute_fans", "get", "serialize", "deserialize",
]
__all__ += ["STFT", "STFTInitializer", "stft"]


def _register(name, *aliases):
    return _reg.register_builtin(_MODULE, name=name, aliases=aliases)


def _shape(shape, who, dtype):
    """The shape as a tuple of ints, checked to fit in the devices' memory
    (asking XLA for more can abort the process instead of raising)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{who}: `shape` must be a tuple of non-negative ints, got {shape!r}.") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{who}: `shape` must be a tuple of non-negative ints, got {shape!r}.")
    check_allocation(shape, _dtype(dtype, who), f"{who} initializer")
    return shape


def _dtype(dtype, who, floating=False):
    dt = jnp.dtype(_config.floatx() if dtype is None else (
        dtype.name if hasattr(dtype, "name") and not isinstance(dtype, (str, np.dtype))
        else dtype))
    if floating and not jnp.issubdtype(dt, jnp.floating):
        raise ValueError(
            f"{who}: `dtype` must be a floating dtype for random initialization, "
            f"got {dt.name}.")
    return dt


class Initializer:
    """Base class of initializers: subclasses implement
    `__call__(self, shape, dtype=None)` and, when they take arguments,
    `get_config()`."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            "Initializer subclasses must implement the `__call__()` method.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())


# ---- constants ------------------------------------------------------------------
@_register("Zeros", "zeros", "zero")
class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        # Built on the host: no XLA compilation per shape at model build.
        # device_put: no program per shape (jnp.asarray of a NumPy array compiles one)
        return jax.device_put(np.zeros(_shape(shape, "Zeros", dtype), _dtype(dtype, "Zeros")))


@_register("Ones", "ones", "one")
class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return jax.device_put(np.ones(_shape(shape, "Ones", dtype), _dtype(dtype, "Ones")))


@_register("Constant", "constant")
class Constant(Initializer):
    """A constant `value` (a number, or an array broadcast to the shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "Constant", dtype)
        with jax.ensure_compile_time_eval():
            value = jnp.asarray(self.value, _dtype(dtype, "Constant"))
            try:
                return jnp.broadcast_to(value, shape)
            except ValueError:
                raise ValueError(
                    f"Constant: `value` of shape {value.shape} cannot be broadcast "
                    f"to the requested shape {shape}.") from None

    def get_config(self):
        return {"value": _reg.serialize_keras_object(self.value)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        value = config.pop("value", 0.0)
        if isinstance(value, dict):
            value = _reg.deserialize_keras_object(value)
        return cls(value, **config)


@_register("Identity", "identity", "IdentityInitializer")
class Identity(Initializer):
    """`gain * eye` for a 2D shape (rectangular shapes get a rectangular eye)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "Identity", dtype)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}.")
        dtype = _dtype(dtype, "Identity")
        with jax.ensure_compile_time_eval():
            return (self.gain * jnp.eye(*shape, dtype=dtype)).astype(dtype)

    def get_config(self):
        # Keras 3 writes Identity's config as {} (dropping `gain`); write the
        # same for the default gain and keep a non-default one (Keras loads it).
        return {} if self.gain == 1.0 else {"gain": self.gain}


# ---- random ---------------------------------------------------------------------
class RandomInitializer(Initializer):
    """Base of the random initializers: handles `seed` as Keras 3 does."""

    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = _random.make_default_seed()
        elif isinstance(seed, dict):
            seed = _reg.deserialize_keras_object(seed)
        if isinstance(seed, bool) or not isinstance(
                seed, (int, np.integer, _random.SeedGenerator)):
            raise ValueError(
                f"{type(self).__name__}: `seed` must be an int, a "
                f"kerax.random.SeedGenerator or None, got {seed!r}.")
        self.seed = int(seed) if isinstance(seed, (int, np.integer)) else seed

    def get_config(self):
        seed = self._init_seed
        if isinstance(seed, _random.SeedGenerator):
            seed = _reg.serialize_keras_object(seed)
        elif isinstance(seed, np.integer):
            seed = int(seed)
        return {"seed": seed}


def _check_float(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{who}: `{name}` must be a number, got {value!r}.")
    return value


@_register("RandomNormal", "random_normal", "normal")
class RandomNormal(RandomInitializer):
    """Normal distribution with `mean` and `stddev`."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_float(mean, "mean", "RandomNormal")
        self.stddev = _check_float(stddev, "stddev", "RandomNormal")
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "RandomNormal", dtype)
        dtype = _dtype(dtype, "RandomNormal", floating=True)
        with jax.ensure_compile_time_eval():
            return _random.normal(shape, mean=self.mean, stddev=self.stddev,
                                  dtype=dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@_register("RandomUniform", "random_uniform", "uniform")
class RandomUniform(RandomInitializer):
    """Uniform distribution on `[minval, maxval)`."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _check_float(minval, "minval", "RandomUniform")
        self.maxval = _check_float(maxval, "maxval", "RandomUniform")
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "RandomUniform", dtype)
        dtype = _dtype(dtype, "RandomUniform", floating=True)
        with jax.ensure_compile_time_eval():
            return _random.uniform(shape, minval=self.minval, maxval=self.maxval,
                                   dtype=dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


@_register("TruncatedNormal", "truncated_normal")
class TruncatedNormal(RandomInitializer):
    """Normal distribution with `mean` and `stddev`, values more than two
    standard deviations from the mean re-drawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_float(mean, "mean", "TruncatedNormal")
        self.stddev = _check_float(stddev, "stddev", "TruncatedNormal")
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "TruncatedNormal", dtype)
        dtype = _dtype(dtype, "TruncatedNormal", floating=True)
        with jax.ensure_compile_time_eval():
            return _random.truncated_normal(shape, mean=self.mean, stddev=self.stddev,
                                            dtype=dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


def _axes(axes, ndim, name):
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(
                f"VarianceScaling: `{name}` must list axes of the rank-{ndim} shape, "
                f"got {list(axes)!r}.")
        out.append(int(a) % ndim)
    return out


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape, as Keras computes them.

    Scalars have fans 1; vectors `(n,)` have fans n; matrices `(in, out)`;
    convolution kernels `(*spatial, in, out)` multiply by the receptive field
    size `prod(spatial)`. When both `input_axes` and `output_axes` are given,
    the fans are the products of the sizes along those axes instead.
    """
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[a] for a in _axes(input_axes, len(shape), "input_axes"))
        fan_out = math.prod(shape[a] for a in _axes(output_axes, len(shape), "output_axes"))
        return int(fan_in), int(fan_out)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")
# stddev of a standard normal truncated to [-2, 2].
_TRUNC_STD = 0.87962566103423978


@_register("VarianceScaling", "variance_scaling")
class VarianceScaling(RandomInitializer):
    """Samples scaled to the shape of the weights.

    With a normal `distribution` ("truncated_normal", the default, or
    "untruncated_normal"), stddev is `sqrt(scale / n)` (after truncation);
    with "uniform", values lie in `[-limit, limit]`, `limit = sqrt(3 * scale / n)`.
    `n` is fan_in, fan_out or their average depending on `mode`.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal",
                 seed=None, input_axes=None, output_axes=None):
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) \
                or not scale > 0:
            raise ValueError(
                f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in _MODES:
            raise ValueError(
                f"Invalid `mode` argument: {mode}. Please use one of {list(_MODES)}.")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. Please use one "
                f"of {list(_DISTRIBUTIONS)}.")
        for name, axes in (("input_axes", input_axes), ("output_axes", output_axes)):
            if axes is not None and (isinstance(axes, (str, bytes)) or not all(
                    isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                    for a in axes)):
                raise ValueError(
                    f"VarianceScaling: `{name}` must be a list of ints or None, "
                    f"got {axes!r}.")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        who = type(self).__name__
        shape = _shape(shape, who, dtype)
        dtype = _dtype(dtype, who, floating=True)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out,
             "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        with jax.ensure_compile_time_eval():
            if self.distribution == "truncated_normal":
                return _random.truncated_normal(
                    shape, mean=0.0, stddev=math.sqrt(scale) / _TRUNC_STD,
                    dtype=dtype, seed=self.seed)
            if self.distribution == "untruncated_normal":
                return _random.normal(shape, mean=0.0, stddev=math.sqrt(scale),
                                      dtype=dtype, seed=self.seed)
            limit = math.sqrt(3.0 * scale)
            return _random.uniform(shape, minval=-limit, maxval=limit, dtype=dtype,
                                   seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset: its config is only the seed and axes."""

    _preset = {}

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(seed=seed, input_axes=input_axes, output_axes=output_axes,
                         **self._preset)

    def get_config(self):
        return {"seed": RandomInitializer.get_config(self)["seed"],
                "input_axes": self.input_axes, "output_axes": self.output_axes}


@_register("GlorotUniform", "glorot_uniform")
class GlorotUniform(_FixedVarianceScaling):
    """Uniform on `[-limit, limit]`, `limit = sqrt(6 / (fan_in + fan_out))`
    (Glorot & Bengio, 2010; also called Xavier uniform)."""
    _preset = dict(scale=1.0, mode="fan_avg", distribution="uniform")


@_register("GlorotNormal", "glorot_normal")
class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with stddev `sqrt(2 / (fan_in + fan_out))`."""
    _preset = dict(scale=1.0, mode="fan_avg", distribution="truncated_normal")


@_register("HeUniform", "he_uniform")
class HeUniform(_FixedVarianceScaling):
    """Uniform on `[-limit, limit]`, `limit = sqrt(6 / fan_in)` (He et al., 2015)."""
    _preset = dict(scale=2.0, mode="fan_in", distribution="uniform")


@_register("HeNormal", "he_normal")
class HeNormal(_FixedVarianceScaling):
    """Truncated normal with stddev `sqrt(2 / fan_in)`."""
    _preset = dict(scale=2.0, mode="fan_in", distribution="truncated_normal")


@_register("LecunUniform", "lecun_uniform")
class LecunUniform(_FixedVarianceScaling):
    """Uniform on `[-limit, limit]`, `limit = sqrt(3 / fan_in)`."""
    _preset = dict(scale=1.0, mode="fan_in", distribution="uniform")


@_register("LecunNormal", "lecun_normal")
class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with stddev `sqrt(1 / fan_in)` (used with selu)."""
    _preset = dict(scale=1.0, mode="fan_in", distribution="truncated_normal")


@_register("Orthogonal", "orthogonal", "OrthogonalInitializer")
class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times `gain`, from the QR decomposition of a
    normal sample (Saxe et al., 2014). Shapes of rank > 2 are flattened to
    `(prod(shape[:-1]), shape[-1])`."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = _check_float(gain, "gain", "Orthogonal")
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "Orthogonal", dtype)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}.")
        dtype = _dtype(dtype, "Orthogonal", floating=True)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        with jax.ensure_compile_time_eval():
            a = _random.normal((max(rows, cols), min(rows, cols)), dtype="float32",
                               seed=self.seed)
        # QR on the host: an XLA QR compiles for seconds per new shape.
        q, r = np.linalg.qr(np.asarray(a, np.float64))
        q = q * np.where(np.diagonal(r) < 0, -1.0, 1.0)  # unique, uniformly distributed Q
        if rows < cols:
            q = q.T
        return jnp.asarray((self.gain * q).reshape(shape), dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# Keras 3 also exports the classes under their snake_case names.
zeros = Zeros
ones = Ones
constant = Constant
identity = IdentityInitializer = Identity
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
orthogonal = OrthogonalInitializer = Orthogonal


# ---- STFT kernels -----------------------------------------------------------
@_register("STFT", "stft", "STFTInitializer")
class STFT(Initializer):
    """Convolution kernels of a short-time Fourier transform (the kernels of
    `kerax.layers.STFTSpectrogram`): for the shape `(frame_length, channels,
    bins)`, the real (`side="real"`, cosine) or imaginary (`"imag"`, minus
    sine) part of the DFT over `2 * (bins - 1)` points, times `window` (a
    `scipy.signal.get_window` name, values of `frame_length`, or None), divided
    by the window's L2 norm (`scaling="density"`), its sum (`"spectrum"`) or
    nothing (None). `periodic` selects the periodic window.

    >>> STFT("real")((8, 1, 5)).shape
    (8, 1, 5)
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: `side` must be 'real' or 'imag', got {side!r}.")
        if isinstance(window, str):
            window_values(window, 1, periodic, who="STFT")  # an unknown name fails here
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(f"STFT: `scaling` must be None, 'density' or 'spectrum', got "
                             f"{scaling!r}.")
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape, dtype=None):
        shape = _shape(shape, "STFT", dtype)
        if len(shape) != 3:
            raise ValueError("STFT: `shape` must be (frame_length, input_channels, "
                             f"fft_length // 2 + 1), got {shape}.")
        frame_length, _, bins = shape
        time = np.arange(frame_length, dtype=np.float64)[:, None, None]
        freq = np.arange(bins, dtype=np.float64)[None, None, :] / max(2 * (bins - 1), 1)
        angle = -2.0 * np.pi * time * freq
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is not None:
            win = window_values(self.window, frame_length, self.periodic,
                                who="STFT")[:, None, None]
            scale = {"density": np.sqrt(np.sum(win ** 2)), "spectrum": np.sum(np.abs(win)),
                     None: 1.0}[self.scaling]
            kernel = kernel * win / scale
        return jnp.asarray(np.broadcast_to(kernel, shape), _dtype(dtype, "STFT"))

    def get_config(self):
        window = self.window
        if not isinstance(window, (str, tuple, type(None))):
            window = np.asarray(window).tolist()
        return {"side": self.side, "window": window, "periodic": self.periodic,
                "scaling": self.scaling}


stft = STFTInitializer = STFT


# ---- get / serialize / deserialize ---------------------------------------------
def serialize(initializer):
    """Keras' serialized dict of an initializer."""
    return _reg.serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    """Inverse of `serialize` (also accepts a name)."""
    return _reg.deserialize_object(config, _MODULE, "initializer", custom_objects)


def get(identifier):
    """An initializer from a name, a serialized dict, an Initializer class or
    instance, or a callable `fn(shape, dtype=None)`; `None` -> `None`."""
    return _reg.get_callable(
        identifier, _MODULE, "initializer",
        hint=" (it does not resolve to a callable `fn(shape, dtype=None)`)")
