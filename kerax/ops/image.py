"""Image ops: a subset of Keras 3's `keras.ops.image` over jax.image.

Images are (batch, height, width, channels) or (height, width, channels) with
data_format "channels_last" (channels first with "channels_first").
"""
import jax
import jax.numpy as jnp

from kerax import config
from kerax.ops.core import convert_to_tensor

_METHODS = {"nearest": "nearest", "bilinear": "linear", "bicubic": "cubic",
            "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def _images(images, data_format):
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}.")
    x = convert_to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"expected images of rank 3 or 4, got shape {x.shape}.")
    if data_format == "channels_first":
        x = jnp.moveaxis(x, -3, -1)
    return x, data_format


def _back(x, data_format):
    return jnp.moveaxis(x, -1, -3) if data_format == "channels_first" else x


def resize(images, size, interpolation="bilinear", antialias=False,
           crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode="constant",
           fill_value=0.0, data_format=None):
    """Resize images to `size` = (height, width)."""
    if interpolation not in _METHODS:
        raise ValueError(f"resize: interpolation must be one of {tuple(_METHODS)}, "
                         f"got {interpolation!r}.")
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise NotImplementedError("resize: crop_to_aspect_ratio / pad_to_aspect_ratio are "
                                  "not supported by kerax yet.")
    if len(tuple(size)) != 2:
        raise ValueError(f"resize: size must be (height, width), got {size!r}.")
    x, data_format = _images(images, data_format)
    dtype = x.dtype
    if not jnp.issubdtype(dtype, jnp.inexact):
        x = x.astype(config.floatx())
    shape = x.shape[:-3] + tuple(int(s) for s in size) + x.shape[-1:]
    out = jax.image.resize(x, shape, method=_METHODS[interpolation], antialias=antialias)
    return _back(out.astype(dtype) if jnp.issubdtype(dtype, jnp.inexact) else out, data_format)


def rgb_to_grayscale(images, data_format=None):
    """ITU-R 601 luma: 0.2989 R + 0.5870 G + 0.1140 B, keeping a channel axis."""
    x, data_format = _images(images, data_format)
    if x.shape[-1] != 3:
        raise ValueError(f"rgb_to_grayscale: expected 3 channels, got {x.shape[-1]}.")
    dtype = x.dtype
    w = jnp.asarray([0.2989, 0.5870, 0.1140], dtype=config.floatx())
    out = jnp.tensordot(x.astype(w.dtype), w, axes=([-1], [0]))[..., None]
    return _back(out.astype(dtype), data_format)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    x, data_format = _images(images, data_format)
    h, w = x.shape[-3], x.shape[-2]
    top, left = top_cropping or 0, left_cropping or 0
    if target_height is None:
        target_height = h - top - (bottom_cropping or 0)
    if target_width is None:
        target_width = w - left - (right_cropping or 0)
    if target_height <= 0 or target_width <= 0 or top + target_height > h \
            or left + target_width > w:
        raise ValueError("crop_images: the cropping leaves no pixels or exceeds the image "
                         f"({h}x{w}).")
    return _back(x[..., top:top + target_height, left:left + target_width, :], data_format)


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    x, data_format = _images(images, data_format)
    h, w = x.shape[-3], x.shape[-2]
    top, left = top_padding or 0, left_padding or 0
    bottom = bottom_padding if bottom_padding is not None else (
        target_height - h - top if target_height is not None else 0)
    right = right_padding if right_padding is not None else (
        target_width - w - left if target_width is not None else 0)
    if min(top, left, bottom, right) < 0:
        raise ValueError("pad_images: padding must be non-negative.")
    pad = [(0, 0)] * (x.ndim - 3) + [(top, bottom), (left, right), (0, 0)]
    return _back(jnp.pad(x, pad), data_format)


__all__ = ["resize", "rgb_to_grayscale", "crop_images", "pad_images"]
