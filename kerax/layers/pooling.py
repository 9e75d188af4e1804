"""Pooling layers (Keras 3 names): MaxPooling1D/2D/3D, AveragePooling1D/2D/3D
(one `jax.lax.reduce_window`), GlobalMaxPooling1D/2D/3D and
GlobalAveragePooling1D/2D/3D (a reduction over the spatial axes).

With padding="same" the max pool ignores the padding and the average divides
by the number of real (unpadded) values in each window, as Keras does.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax.layers.convolutional import (ShapeSpecMixin, check_rank, conv_output_length,
                                        standardize_data_format, standardize_padding,
                                        standardize_tuple)
from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
           "AveragePooling2D", "AveragePooling3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalAveragePooling3D",
           "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D",
           "GlobalAvgPool2D", "GlobalAvgPool3D"]


class BasePooling(ShapeSpecMixin, Layer):
    rank = None
    mode = None  # "max" or "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} {self.name!r}"
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size", where)
        self.strides = self.pool_size if strides is None else standardize_tuple(
            strides, self.rank, "strides", where)
        self.padding = standardize_padding(padding, where)
        self.data_format = standardize_data_format(data_format, where)

    def _window(self, sizes):
        if self.data_format == "channels_last":
            return (1,) + sizes + (1,)
        return (1, 1) + sizes

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank, self.data_format)
        if self.padding == "valid":
            for n, k in zip(self._spatial(input_shape), self.pool_size):
                if n is not None and k > n:
                    raise ValueError(
                        f"Layer {self.name!r} ({type(self).__name__}): pool_size "
                        f"{self.pool_size} is larger than the input's spatial dimensions "
                        f"{self._spatial(input_shape)} with padding='valid'.")
        self.built = True

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, self.rank, self.data_format)
        spatial = tuple(conv_output_length(n, k, s, self.padding, 1) for n, k, s in
                        zip(self._spatial(input_shape), self.pool_size, self.strides))
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (input_shape[-1],)
        return input_shape[:2] + spatial

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            check_rank(self, inputs.shape, self.rank, self.data_format)
        window, strides = self._window(self.pool_size), self._window(self.strides)
        padding = self.padding.upper()
        x = inputs
        # Init values are NumPy scalars (known at trace time), so JAX lowers
        # these to its differentiable max/sum window reductions.
        if self.mode == "max":
            init = -np.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
            return jax.lax.reduce_window(x, np.array(init, x.dtype), jax.lax.max,
                                         window, strides, padding)
        total = jax.lax.reduce_window(x, np.array(0, x.dtype), jax.lax.add,
                                      window, strides, padding)
        if padding == "VALID":
            return total / np.prod(self.pool_size)
        # Count the real values in each window (a constant, folded by XLA).
        ones_shape = tuple(d if i in self._spatial_axes() else 1
                           for i, d in enumerate(x.shape))
        counts = jax.lax.reduce_window(np.ones(ones_shape, x.dtype), np.array(0, x.dtype),
                                       jax.lax.add, window, strides, padding)
        return total / counts

    def _spatial_axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return range(start, start + self.rank)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


def _pool_class(name, rank, mode, default_pool, doc):
    if default_pool is None:  # Keras' AveragePooling*D have no default pool_size
        def __init__(self, pool_size, strides=None, padding="valid", data_format=None,
                     name=None, **kwargs):
            BasePooling.__init__(self, pool_size, strides, padding, data_format, name=name,
                                 **kwargs)
    else:
        def __init__(self, pool_size=default_pool, strides=None, padding="valid",
                     data_format=None, name=None, **kwargs):
            BasePooling.__init__(self, pool_size, strides, padding, data_format, name=name,
                                 **kwargs)
    cls = type(name, (BasePooling,), {"__init__": __init__, "rank": rank, "mode": mode,
                                      "__doc__": doc, "__module__": __name__})
    cls.__qualname__ = name
    alias = name.replace("Pooling", "Pool").replace("Average", "Avg")
    return register_builtin("keras.layers", aliases=[alias])(cls)


MaxPooling1D = _pool_class("MaxPooling1D", 1, "max", 2, "Max over windows of `pool_size` steps.")
MaxPooling2D = _pool_class("MaxPooling2D", 2, "max", (2, 2), "Max over 2D windows.")
MaxPooling3D = _pool_class("MaxPooling3D", 3, "max", (2, 2, 2), "Max over 3D windows.")
AveragePooling1D = _pool_class("AveragePooling1D", 1, "average", None,
                               "Mean over windows of `pool_size` steps.")
AveragePooling2D = _pool_class("AveragePooling2D", 2, "average", None,
                               "Mean over 2D windows.")
AveragePooling3D = _pool_class("AveragePooling3D", 3, "average", None,
                               "Mean over 3D windows.")
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D


class BaseGlobalPooling(ShapeSpecMixin, Layer):
    rank = None
    mode = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(
            data_format, f"{type(self).__name__} {self.name!r}")
        self.keepdims = bool(keepdims)
        if self.rank == 1:
            self.supports_masking = True

    def _axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank, self.data_format)
        self.built = True

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, self.rank, self.data_format)
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def call(self, inputs, mask=None):
        if inputs.ndim != self.rank + 2:
            check_rank(self, inputs.shape, self.rank, self.data_format)
        axes = self._axes()
        if mask is not None and self.rank == 1:
            m = jnp.asarray(mask, inputs.dtype)
            m = m[:, :, None] if self.data_format == "channels_last" else m[:, None, :]
            if self.mode == "max":
                return jnp.max(jnp.where(m > 0, inputs, -jnp.inf), axis=axes,
                               keepdims=self.keepdims)
            return jnp.sum(inputs * m, axis=axes, keepdims=self.keepdims) / \
                jnp.sum(m, axis=axes, keepdims=self.keepdims)
        if self.mode == "max":
            return jnp.max(inputs, axis=axes, keepdims=self.keepdims)
        return jnp.mean(inputs, axis=axes, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


def _global_class(name, rank, mode, doc):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        BaseGlobalPooling.__init__(self, data_format, keepdims, **kwargs)
    cls = type(name, (BaseGlobalPooling,), {"__init__": __init__, "rank": rank, "mode": mode,
                                            "__doc__": doc, "__module__": __name__})
    cls.__qualname__ = name
    alias = name.replace("Pooling", "Pool").replace("Average", "Avg")
    return register_builtin("keras.layers", aliases=[alias])(cls)


GlobalMaxPooling1D = _global_class("GlobalMaxPooling1D", 1, "max",
                                   "Max over the steps axis (respects a mask).")
GlobalMaxPooling2D = _global_class("GlobalMaxPooling2D", 2, "max", "Max over height and width.")
GlobalMaxPooling3D = _global_class("GlobalMaxPooling3D", 3, "max", "Max over the 3 spatial axes.")
GlobalAveragePooling1D = _global_class("GlobalAveragePooling1D", 1, "average",
                                       "Mean over the steps axis (respects a mask).")
GlobalAveragePooling2D = _global_class("GlobalAveragePooling2D", 2, "average",
                                       "Mean over height and width.")
GlobalAveragePooling3D = _global_class("GlobalAveragePooling3D", 3, "average",
                                       "Mean over the 3 spatial axes.")
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
