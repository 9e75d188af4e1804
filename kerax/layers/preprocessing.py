"""Numeric preprocessing layers: Normalization (with `adapt`) and Rescaling."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config as _config
from kerax.layers.layer import Layer
from kerax.registry import register_builtin
from kerax.variables import Variable

__all__ = ["Normalization", "Rescaling"]


def _to_float(x, dtype):
    x = jnp.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


def _jsonable(value):
    if isinstance(value, (np.ndarray, jax.Array, np.generic)):
        value = np.asarray(value)
        return value.item() if value.ndim == 0 else value.tolist()
    return value


@register_builtin("keras.layers")
class Normalization(Layer):
    """`(x - mean) / sqrt(variance)` per feature along `axis` (an int, a tuple of
    axes kept, or None for scalar statistics). Give `mean` and `variance`, or
    learn them with `adapt(data)`, which computes them on the host (the state is
    the non-trainable weights `mean`, `variance`, `count`, as in Keras 3).
    `invert=True` applies the inverse, `mean + x * sqrt(variance)`."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization {self.name!r}: give both `mean` and `variance` or "
                f"neither, got mean={mean!r}, variance={variance!r}.")
        self.input_mean = mean
        self.input_variance = variance
        self.invert = invert
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(
                f"Normalization {self.name!r}: axis={self.axis} is out of range for "
                f"inputs of shape {tuple(input_shape)}.")
        keep = sorted(a % ndim for a in self.axis)
        if any(input_shape[a] is None for a in keep):
            raise ValueError(
                f"Normalization {self.name!r}: the kept axes {self.axis} must have known "
                f"sizes, got input shape {tuple(input_shape)}.")
        self._keep_axis = keep
        self._broadcast_shape = tuple(int(input_shape[d]) if d in keep else 1
                                      for d in range(ndim))
        stats_shape = tuple(int(input_shape[d]) for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(
                name="mean", shape=stats_shape, initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(
                name="variance", shape=stats_shape, initializer="ones", trainable=False)
            self.count = self.add_weight(
                name="count", shape=(), dtype="int32", initializer="zeros", trainable=False)
        else:
            try:
                self._mean_const = np.broadcast_to(
                    np.asarray(self.input_mean, self.compute_dtype), stats_shape
                ).reshape(self._broadcast_shape)
                self._var_const = np.broadcast_to(
                    np.asarray(self.input_variance, self.compute_dtype), stats_shape
                ).reshape(self._broadcast_shape)
            except ValueError:
                raise ValueError(
                    f"Normalization {self.name!r}: `mean`/`variance` must broadcast to "
                    f"the kept axes' shape {stats_shape}, got {np.shape(self.input_mean)} "
                    f"and {np.shape(self.input_variance)}.") from None
        self.built = True

    def _stats(self):
        if self.input_mean is not None:
            return jnp.asarray(self._mean_const), jnp.asarray(self._var_const)
        shape = self._broadcast_shape
        return (jnp.reshape(self.adapt_mean.value, shape),
                jnp.reshape(self.adapt_variance.value, shape))

    @property
    def mean(self):
        """The mean, shaped to broadcast against the inputs (None before build)."""
        return self._stats()[0] if self.built else None

    @property
    def variance(self):
        return self._stats()[1] if self.built else None

    def adapt(self, data, batch_size=None, steps=None):
        """Compute `mean` and `variance` from `data`: an array, or an iterable of
        array batches (at most `steps` of them). Reduces over every axis not in
        `axis`, in float64 on the host, combining batches exactly."""
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization {self.name!r}: cannot adapt a layer created with fixed "
                "`mean` and `variance`.")
        if isinstance(data, (np.ndarray, jax.Array, Variable)):
            batches = [data]
        else:
            try:
                batches = iter(data)
            except TypeError:
                raise TypeError(
                    f"Normalization {self.name!r}.adapt: `data` must be an array or an "
                    f"iterable of array batches, got {type(data).__name__}.") from None
        count, mean, m2 = 0, None, None
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, Variable):
                batch = batch.numpy()
            x = np.asarray(batch, dtype=np.float64)
            if not self.built:
                shape = list(x.shape)
                if shape and 0 not in [a % len(shape) for a in self.axis]:
                    shape[0] = None  # the batch size is not part of the layer
                self._build_shapes = tuple(shape)
                self.build(tuple(shape))
            if x.ndim != len(self._broadcast_shape):
                raise ValueError(
                    f"Normalization {self.name!r}.adapt: expected batches of rank "
                    f"{len(self._broadcast_shape)}, got shape {x.shape}.")
            reduce = tuple(d for d in range(x.ndim) if d not in self._keep_axis)
            n = math.prod(x.shape[d] for d in reduce)
            if n == 0:
                continue
            b_mean = x.mean(axis=reduce)
            b_m2 = ((x - x.mean(axis=reduce, keepdims=True)) ** 2).sum(axis=reduce)
            if mean is None:
                count, mean, m2 = n, b_mean, b_m2
            else:
                total = count + n
                delta = b_mean - mean
                mean = mean + delta * (n / total)
                m2 = m2 + b_m2 + delta ** 2 * (count * n / total)
                count = total
        if mean is None:
            raise ValueError(f"Normalization {self.name!r}.adapt: `data` is empty.")
        self.adapt_mean.assign(mean.astype(self.adapt_mean.dtype).reshape(self.adapt_mean.shape))
        self.adapt_variance.assign(
            (m2 / count).astype(self.adapt_variance.dtype).reshape(self.adapt_variance.shape))

    def call(self, inputs):
        dtype = jnp.dtype(self.compute_dtype)
        x = _to_float(inputs, dtype)
        if x.ndim != len(self._broadcast_shape):
            raise ValueError(
                f"Layer {self.name!r} (Normalization) was built for inputs of rank "
                f"{len(self._broadcast_shape)}, got inputs of shape {tuple(x.shape)}.")
        mean, var = self._stats()
        mean, var = mean.astype(dtype), var.astype(dtype)
        std = jnp.maximum(jnp.sqrt(var), _config.epsilon())
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert,
                       "mean": _jsonable(self.input_mean),
                       "variance": _jsonable(self.input_variance)})
        return config


@register_builtin("keras.layers")
class Rescaling(Layer):
    """`inputs * scale + offset` (integer inputs become the layer's float dtype)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _jsonable(scale)
        self.offset = _jsonable(offset)
        self.supports_masking = True

    def call(self, inputs):
        dtype = jnp.dtype(self.compute_dtype)
        x = _to_float(inputs, dtype)
        return x * jnp.asarray(self.scale, dtype) + jnp.asarray(self.offset, dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config
