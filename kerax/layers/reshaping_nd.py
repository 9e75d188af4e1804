"""Spatial reshaping layers (Keras 3 names): UpSampling1D/2D/3D,
ZeroPadding1D/2D/3D, Cropping1D/2D/3D."""
import jax.numpy as jnp
import numpy as np

from kerax.layers.convolutional import (
    ShapeSpecMixin,
    check_rank,
    standardize_data_format,
    standardize_tuple,
)
from kerax.layers.layer import Layer
from kerax.ops import image as ops_image
from kerax.registry import register_builtin

__all__ = ["UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
           "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D"]


def _pairs(value, rank, arg, where):
    """int | (a, b, ...) per axis | ((lo, hi), ...) per axis -> ((lo, hi),) * rank."""
    msg = (f"{where}: `{arg}` must be an int, a tuple of {rank} ints or a tuple of {rank} "
           f"(before, after) pairs, got {value!r}.")
    if isinstance(value, (int, np.integer)):
        out = ((int(value), int(value)),) * rank
    else:
        try:
            value = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if rank == 1 and len(value) == 2 and all(isinstance(v, (int, np.integer))
                                                 for v in value):
            out = ((int(value[0]), int(value[1])),)
        elif len(value) != rank:
            raise ValueError(msg)
        elif all(isinstance(v, (int, np.integer)) for v in value):
            out = tuple((int(v), int(v)) for v in value)
        else:
            try:
                out = tuple((int(a), int(b)) for a, b in value)
            except (TypeError, ValueError):
                raise ValueError(msg) from None
    if any(v < 0 for pair in out for v in pair):
        raise ValueError(f"{where}: `{arg}` must be non-negative, got {value!r}.")
    return out


class _SpatialLayer(ShapeSpecMixin, Layer):
    rank = None

    def _data_format(self, data_format):
        self.data_format = standardize_data_format(
            data_format, f"{type(self).__name__} {self.name!r}")

    def _spatial_axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank, self.data_format)
        self.built = True

    def _check(self, inputs):
        if inputs.ndim != self.rank + 2:
            check_rank(self, inputs.shape, self.rank, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, self.rank, self.data_format)
        out = list(input_shape)
        for i, ax in enumerate(self._spatial_axes()):
            if out[ax] is not None:
                out[ax] = self._out_len(i, out[ax])
        return tuple(out)


# ---- up-sampling -------------------------------------------------------------------
class _UpSampling(_SpatialLayer):
    def _out_len(self, i, n):
        return n * self.size_tuple[i]

    def call(self, inputs):
        self._check(inputs)
        x = inputs
        if getattr(self, "interpolation", "nearest") != "nearest":
            shape = x.shape
            axes = self._spatial_axes()
            size = tuple(shape[a] * s for a, s in zip(axes, self.size_tuple))
            return ops_image.resize(x, size, interpolation=self.interpolation,
                                    data_format=self.data_format)
        for ax, s in zip(self._spatial_axes(), self.size_tuple):
            if s != 1:
                x = jnp.repeat(x, s, axis=ax)
        return x


@register_builtin("keras.layers")
class UpSampling1D(_UpSampling):
    """Repeats each step `size` times along the steps axis."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.data_format = "channels_last"
        self.size = int(standardize_tuple(size, 1, "size", f"UpSampling1D {self.name!r}")[0])
        self.size_tuple = (self.size,)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config


@register_builtin("keras.layers")
class UpSampling2D(_UpSampling):
    """Repeats rows and columns (`interpolation="nearest"`) or resizes with
    "bilinear", "bicubic", "lanczos3", "lanczos5"."""
    rank = 2
    _interpolations = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        where = f"UpSampling2D {self.name!r}"
        self._data_format(data_format)
        self.size = self.size_tuple = standardize_tuple(size, 2, "size", where)
        if interpolation not in self._interpolations:
            raise ValueError(f"{where}: `interpolation` must be one of "
                             f"{self._interpolations}, got {interpolation!r}.")
        self.interpolation = interpolation

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format,
                       "interpolation": self.interpolation})
        return config


@register_builtin("keras.layers")
class UpSampling3D(_UpSampling):
    """Repeats along the three spatial axes."""
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self._data_format(data_format)
        self.size = self.size_tuple = standardize_tuple(size, 3, "size",
                                                        f"UpSampling3D {self.name!r}")

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format})
        return config


# ---- zero padding ----------------------------------------------------------------------
class _ZeroPadding(_SpatialLayer):
    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self._data_format(data_format)
        self.padding = _pairs(padding, self.rank, "padding",
                              f"{type(self).__name__} {self.name!r}")

    def _out_len(self, i, n):
        return n + sum(self.padding[i])

    def call(self, inputs):
        self._check(inputs)
        pads = [(0, 0)] * inputs.ndim
        for ax, p in zip(self._spatial_axes(), self.padding):
            pads[ax] = p
        return jnp.pad(inputs, pads)

    def get_config(self):
        config = super().get_config()
        padding = self.padding[0] if self.rank == 1 else self.padding
        config.update({"padding": padding, "data_format": self.data_format})
        return config


@register_builtin("keras.layers")
class ZeroPadding1D(_ZeroPadding):
    """Pads the steps axis with zeros: `padding` = n or (before, after)."""
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


@register_builtin("keras.layers")
class ZeroPadding2D(_ZeroPadding):
    """Pads rows and columns with zeros: n, (rows, cols) or
    ((top, bottom), (left, right))."""
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


@register_builtin("keras.layers")
class ZeroPadding3D(_ZeroPadding):
    """Pads the three spatial axes with zeros."""
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


# ---- cropping ------------------------------------------------------------------------
class _Cropping(_SpatialLayer):
    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self._data_format(data_format)
        self.cropping = _pairs(cropping, self.rank, "cropping",
                               f"{type(self).__name__} {self.name!r}")

    def _out_len(self, i, n):
        return n - sum(self.cropping[i])

    def build(self, input_shape):
        super().build(input_shape)
        for i, ax in enumerate(self._spatial_axes()):
            n = input_shape[ax]
            if n is not None and sum(self.cropping[i]) >= n:
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}): cropping {self.cropping} "
                    f"leaves nothing of the input's axis {ax} (input shape "
                    f"{tuple(input_shape)}).")

    def call(self, inputs):
        self._check(inputs)
        index = [slice(None)] * inputs.ndim
        for ax, (lo, hi) in zip(self._spatial_axes(), self.cropping):
            index[ax] = slice(lo, inputs.shape[ax] - hi)
        return inputs[tuple(index)]

    def get_config(self):
        config = super().get_config()
        if self.rank == 1:
            config["cropping"] = self.cropping[0]
        else:
            config.update({"cropping": self.cropping, "data_format": self.data_format})
        return config


@register_builtin("keras.layers")
class Cropping1D(_Cropping):
    """Crops the steps axis: `cropping` = n or (before, after)."""
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, "channels_last", **kwargs)


@register_builtin("keras.layers")
class Cropping2D(_Cropping):
    """Crops rows and columns: n, (rows, cols) or ((top, bottom), (left, right))."""
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


@register_builtin("keras.layers")
class Cropping3D(_Cropping):
    """Crops the three spatial axes."""
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)
