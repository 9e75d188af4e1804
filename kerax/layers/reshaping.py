"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector (Keras 3 names)."""
import math

import jax.numpy as jnp

from kerax import config as _config
from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["Flatten", "Reshape", "Permute", "RepeatVector"]


def _standardize_data_format(data_format, layer):
    if data_format is None:
        return _config.image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{layer}: `data_format` must be 'channels_last' or 'channels_first', "
            f"got {data_format!r}.")
    return value


@register_builtin("keras.layers")
class Flatten(Layer):
    """Flattens every axis but the batch one: `(batch, ...) -> (batch, prod(...))`.
    With `data_format="channels_first"` the channel axis is moved last first, so
    the element order matches the channels_last layout."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _standardize_data_format(data_format, f"Flatten {self.name!r}")

    def call(self, inputs):
        x = inputs
        if x.ndim == 1:
            return x[:, None]
        if self.data_format == "channels_first" and x.ndim > 2:
            x = jnp.moveaxis(x, 1, -1)
        return jnp.reshape(x, (x.shape[0], -1))

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


@register_builtin("keras.layers")
class Reshape(Layer):
    """Reshapes the non-batch axes to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        try:
            target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"Reshape {self.name!r}: `target_shape` must be a tuple of integers, "
                f"got {target_shape!r}.") from None
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 or d == 0 for d in target_shape):
            raise ValueError(
                f"Reshape {self.name!r}: `target_shape` must hold positive integers and "
                f"at most one -1 (an unknown dimension), got {target_shape}.")
        self.target_shape = target_shape

    def _resolve(self, input_shape):
        known = math.prod(d for d in self.target_shape if d != -1)
        size = math.prod(input_shape[1:])
        if -1 in self.target_shape:
            if size % known:
                self._bad(input_shape)
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if size != known:
            self._bad(input_shape)
        return self.target_shape

    def _bad(self, input_shape):
        raise ValueError(
            f"Layer {self.name!r} (Reshape): cannot reshape inputs of shape "
            f"{tuple(input_shape)} ({math.prod(input_shape[1:])} values per sample) "
            f"into target_shape {self.target_shape}.")

    def call(self, inputs):
        return jnp.reshape(inputs, (inputs.shape[0],) + self._resolve(inputs.shape))

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


@register_builtin("keras.layers")
class Permute(Layer):
    """Permutes the non-batch axes; `dims` is 1-indexed (`(2, 1)` swaps the two
    axes after the batch)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"Permute {self.name!r}: `dims` must be a permutation of 1..{len(dims)} "
                f"(the non-batch axes, 1-indexed), got {dims}.")
        self.dims = dims

    def call(self, inputs):
        if inputs.ndim != len(self.dims) + 1:
            raise ValueError(
                f"Layer {self.name!r} (Permute): dims={self.dims} expects inputs of rank "
                f"{len(self.dims) + 1}, got shape {tuple(inputs.shape)}.")
        return jnp.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config


@register_builtin("keras.layers")
class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"RepeatVector {self.name!r}: `n` must be an integer, got {n!r}.")
        self.n = n

    def call(self, inputs):
        if inputs.ndim != 2:
            raise ValueError(
                f"Layer {self.name!r} (RepeatVector): expected inputs of rank 2 "
                f"(batch, features), got shape {tuple(inputs.shape)}.")
        return jnp.repeat(inputs[:, None, :], self.n, axis=1)

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config
