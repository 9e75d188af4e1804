"""Image preprocessing and augmentation layers (Keras 3 names and configs):
Resizing, CenterCrop, RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomContrast.

Images are (batch, height, width, channels) or one image (height, width,
channels); channels come first with `data_format="channels_first"`.

The random layers augment only in training and return their inputs (as
floats) in inference. As in Keras, their `call` defaults to `training=True`,
so calling one directly augments, while `fit` augments and `predict` /
`evaluate` do not. Their randomness comes from `self.seed_generator` (a
`kerax.random.SeedGenerator`, whose key is a non-trainable Variable), so they
work eagerly and inside compiled steps, and a given `seed` makes them
reproducible. Geometric transforms sample the input with
`jax.scipy.ndimage.map_coordinates` (interpolation "nearest" or "bilinear";
fill_mode "reflect", "wrap", "constant" or "nearest").
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from kerax import random as _random
from kerax.layers.convolutional import standardize_data_format
from kerax.layers.layer import Layer
from kerax.ops import image as ops_image
from kerax.registry import register_builtin

__all__ = ["Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomZoom",
           "RandomTranslation", "RandomContrast"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_AFFINE_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


class _ImageLayer(Layer):
    """Shared: data format, rank check (3 or 4), height/width axes."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(
            data_format, f"{type(self).__name__} {self.name!r}")

    def _hw_axes(self, ndim):
        return (ndim - 3, ndim - 2) if self.data_format == "channels_last" \
            else (ndim - 2, ndim - 1)

    def _check(self, shape):
        if len(shape) not in (3, 4):
            layout = "(batch, height, width, channels)" if self.data_format == \
                "channels_last" else "(batch, channels, height, width)"
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects images of rank 4 "
                f"{layout} or rank 3 (one image), but got inputs of shape {tuple(shape)}.")

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def _float(self, x):
        x = jnp.asarray(x)
        return x if x.dtype == self.compute_dtype else x.astype(self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


# ---- deterministic -------------------------------------------------------------------
def _resize(x, height, width, interpolation, antialias, data_format):
    return ops_image.resize(x, (height, width), interpolation=interpolation, antialias=antialias,
                        data_format=data_format)


def _crop_box(h, w, target_h, target_w):
    ch = max(min(h, int(float(w * target_h) / target_w)), 1)
    cw = max(min(w, int(float(h * target_w) / target_h)), 1)
    return int(float(h - ch) / 2), int(float(w - cw) / 2), ch, cw


@register_builtin("keras.layers")
class Resizing(_ImageLayer):
    """Resizes images to (height, width). `crop_to_aspect_ratio` first takes
    the largest centred crop of the target aspect ratio; `pad_to_aspect_ratio`
    first pads (with `fill_value`, the same margin on both sides) towards it."""

    _interpolations = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        where = f"Resizing {self.name!r}"
        for arg, v in (("height", height), ("width", width)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{where}: `{arg}` must be a positive integer, got {v!r}.")
        if interpolation not in self._interpolations:
            raise ValueError(f"{where}: `interpolation` must be one of "
                             f"{self._interpolations}, got {interpolation!r}.")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{where}: only one of `crop_to_aspect_ratio` and "
                             "`pad_to_aspect_ratio` can be True.")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def call(self, inputs):
        self._check(inputs.shape)
        x = self._float(inputs)
        ha, wa = self._hw_axes(x.ndim)
        h, w = x.shape[ha], x.shape[wa]
        if self.crop_to_aspect_ratio:
            top, left, ch, cw = _crop_box(h, w, self.height, self.width)
            x = jax.lax.slice_in_dim(x, top, top + ch, axis=ha)
            x = jax.lax.slice_in_dim(x, left, left + cw, axis=wa)
        elif self.pad_to_aspect_ratio:
            ph = max(h, int(float(w * self.height) / self.width))
            pw = max(w, int(float(h * self.width) / self.height))
            top, left = int(float(ph - h) / 2), int(float(pw - w) / 2)
            # As Keras: the same margin on both sides, of one axis only.
            pads = [(0, 0)] * x.ndim
            if top > 0:
                pads[ha] = (top, top)
            elif left > 0:
                pads[wa] = (left, left)
            x = jnp.pad(x, pads, constant_values=self.fill_value)
        return _resize(x, self.height, self.width, self.interpolation, self.antialias,
                       self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({
            "height": self.height, "width": self.width, "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
            "fill_value": self.fill_value, "antialias": self.antialias})
        return config


@register_builtin("keras.layers")
class CenterCrop(_ImageLayer):
    """The central (height, width) window; an image smaller than that is
    instead cropped to the target aspect ratio and resized (bilinear)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        for arg, v in (("height", height), ("width", width)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"CenterCrop {self.name!r}: `{arg}` must be a positive "
                                 f"integer, got {v!r}.")
        self.height, self.width = int(height), int(width)

    def call(self, inputs):
        self._check(inputs.shape)
        x = self._float(inputs)
        ha, wa = self._hw_axes(x.ndim)
        h, w = x.shape[ha], x.shape[wa]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            x = jax.lax.slice_in_dim(x, top, top + self.height, axis=ha)
            return jax.lax.slice_in_dim(x, left, left + self.width, axis=wa)
        top, left, ch, cw = _crop_box(h, w, self.height, self.width)
        x = jax.lax.slice_in_dim(x, top, top + ch, axis=ha)
        x = jax.lax.slice_in_dim(x, left, left + cw, axis=wa)
        return _resize(x, self.height, self.width, "bilinear", False, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width})
        return config


# ---- random augmentation ---------------------------------------------------------------
class _RandomImageLayer(_ImageLayer):
    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.seed = seed
        self.seed_generator = _random.SeedGenerator(seed)

    def call(self, inputs, training=True):
        self._check(inputs.shape)
        x = self._float(inputs)
        if not training:
            return x
        batched = x.ndim == 4
        if not batched:
            x = x[None]
        out = self._augment(x)
        return out if batched else out[0]

    def _uniform(self, shape, low, high):
        return _random.uniform(shape, minval=low, maxval=high, dtype="float32",
                               seed=self.seed_generator)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


def _factor_pair(factor, arg, where, bounds=(-1.0, 1.0)):
    """A number f -> (-f, f); a pair -> sorted; each within `bounds`."""
    msg = (f"{where}: `{arg}` must be a number or a pair of numbers in "
           f"[{bounds[0]}, {bounds[1]}], got {factor!r}.")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(msg)
        lo, hi = sorted(float(f) for f in factor)
    elif isinstance(factor, (int, float, np.number)) and not isinstance(factor, bool):
        lo, hi = -abs(float(factor)), abs(float(factor))
    else:
        raise ValueError(msg)
    if lo < bounds[0] or hi > bounds[1]:
        raise ValueError(msg)
    return lo, hi


def affine_transform(images, transform, interpolation, fill_mode, fill_value, data_format):
    """Sample batched images at `transform` (B, 6) = [a0, a1, a2, b0, b1, b2]:
    output pixel (y, x) takes the input at (b0 x + b1 y + b2, a0 x + a1 y + a2)."""
    x = images if data_format == "channels_last" else jnp.moveaxis(images, 1, -1)
    _, h, w, _ = x.shape
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype="float32"), jnp.arange(w, dtype="float32"),
                          indexing="ij")
    t = transform.astype("float32")
    src_x = t[:, 0, None, None] * xx + t[:, 1, None, None] * yy + t[:, 2, None, None]
    src_y = t[:, 3, None, None] * xx + t[:, 4, None, None] * yy + t[:, 5, None, None]

    def one_channel(img, sy, sx):
        return jax.scipy.ndimage.map_coordinates(
            img, [sy, sx], order=_AFFINE_INTERPOLATIONS[interpolation], mode=fill_mode,
            cval=fill_value)

    per_image = jax.vmap(one_channel, in_axes=(2, None, None), out_axes=2)
    out = jax.vmap(per_image)(x, src_y, src_x).astype(images.dtype)
    return out if data_format == "channels_last" else jnp.moveaxis(out, -1, 1)


class _AffineLayer(_RandomImageLayer):
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        where = f"{type(self).__name__} {self.name!r}"
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"{where}: `fill_mode` must be one of {_FILL_MODES}, got "
                             f"{fill_mode!r}.")
        if interpolation not in _AFFINE_INTERPOLATIONS:
            raise ValueError(f"{where}: `interpolation` must be one of "
                             f"{tuple(_AFFINE_INTERPOLATIONS)}, got {interpolation!r}.")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def _augment(self, x):
        ha, wa = self._hw_axes(x.ndim)
        transform = self._transform(x.shape[0], x.shape[ha], x.shape[wa])
        return affine_transform(x, transform, self.interpolation, self.fill_mode,
                                self.fill_value, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"fill_mode": self.fill_mode, "interpolation": self.interpolation,
                       "fill_value": self.fill_value})
        return config


@register_builtin("keras.layers")
class RandomFlip(_RandomImageLayer):
    """Flips each image with probability 1/2: mode "horizontal", "vertical" or
    "horizontal_and_vertical" (one draw per image flips both axes, as in Keras)."""

    _modes = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in self._modes:
            raise ValueError(f"RandomFlip {self.name!r}: `mode` must be one of {self._modes}, "
                             f"got {mode!r}.")
        self.mode = mode

    def _augment(self, x):
        flips = self._uniform((x.shape[0], 1, 1, 1), 0.0, 1.0) <= 0.5
        ha, wa = self._hw_axes(x.ndim)
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = jnp.where(flips, jnp.flip(x, axis=wa), x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = jnp.where(flips, jnp.flip(x, axis=ha), x)
        return x

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


@register_builtin("keras.layers")
class RandomRotation(_AffineLayer):
    """Rotates each image about its centre by a random angle of
    `uniform(lower, upper) * 360` degrees (`factor` f means (-f, f))."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_pair(factor, "factor", f"RandomRotation {self.name!r}")
        self.value_range = value_range

    def _transform(self, batch, h, w):
        angle = self._uniform((batch,), self.factor[0] * 360.0, self.factor[1] * 360.0)
        angle = angle * (math.pi / 180.0)
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
        a0, a1, b0, b1 = cos, -sin, sin, cos
        a2 = cx - cx * a0 - cy * a1
        b2 = cy - cx * b0 - cy * b1
        return jnp.stack([a0, a1, a2, b0, b1, b2], axis=1)

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


@register_builtin("keras.layers")
class RandomZoom(_AffineLayer):
    """Zooms each image about its centre: the sampled extent is
    `1 + uniform(lower, upper)` times the image (negative factors zoom in).
    Without `width_factor` both axes use the height draw."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        where = f"RandomZoom {self.name!r}"
        self.height_factor = height_factor
        self.width_factor = width_factor
        self.height_lower, self.height_upper = _factor_pair(height_factor, "height_factor",
                                                            where, (-1.0 + 1e-12, 1.0))
        if width_factor is not None:
            self.width_lower, self.width_upper = _factor_pair(width_factor, "width_factor",
                                                              where, (-1.0 + 1e-12, 1.0))

    def _transform(self, batch, h, w):
        zy = self._uniform((batch,), 1.0 + self.height_lower, 1.0 + self.height_upper)
        zx = zy if self.width_factor is None else self._uniform(
            (batch,), 1.0 + self.width_lower, 1.0 + self.width_upper)
        zero = jnp.zeros_like(zx)
        return jnp.stack([zx, zero, (w - 1.0) / 2.0 * (1.0 - zx),
                          zero, zy, (h - 1.0) / 2.0 * (1.0 - zy)], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


@register_builtin("keras.layers")
class RandomTranslation(_AffineLayer):
    """Shifts each image by `uniform(lower, upper)` times its height and width."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        where = f"RandomTranslation {self.name!r}"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _factor_pair(height_factor, "height_factor",
                                                            where)
        self.width_lower, self.width_upper = _factor_pair(width_factor, "width_factor", where)

    def _transform(self, batch, h, w):
        dy = self._uniform((batch,), self.height_lower, self.height_upper) * h
        dx = self._uniform((batch,), self.width_lower, self.width_upper) * w
        one, zero = jnp.ones_like(dx), jnp.zeros_like(dx)
        return jnp.stack([one, zero, -dx, zero, one, -dy], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


@register_builtin("keras.layers")
class RandomContrast(_RandomImageLayer):
    """Per image, `(x - mean) * c + mean` per channel with
    `c ~ uniform(1 - lower, 1 + upper)`, clipped to `value_range`. As in Keras,
    a single number f means (lower, upper) = (0, f)."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        msg = (f"RandomContrast {self.name!r}: `factor` must be a number in [0, 1] or a pair "
               f"of numbers, got {factor!r}.")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or factor[0] > 1 or factor[1] < 0:
                raise ValueError(msg)
            lower, upper = sorted(factor)
        elif isinstance(factor, (int, float, np.number)) and not isinstance(factor, bool):
            if not 0 <= factor <= 1:
                raise ValueError(msg)
            lower, upper = max(-abs(factor), 0), abs(factor)
        else:
            raise ValueError(msg)
        self.factor = (lower, upper)
        self.value_range = tuple(value_range)

    def _augment(self, x):
        return self._apply(x, self._sample(x))

    # The draw and its use apart, for RandAugment/AugMix (augmentation_mix.py).
    def _sample(self, x):
        return self._uniform((x.shape[0], 1, 1, 1), 1.0 - self.factor[0], 1.0 + self.factor[1])

    def _apply(self, x, c):
        ha, wa = self._hw_axes(x.ndim)
        mean = jnp.mean(x, axis=(ha, wa), keepdims=True)
        out = (x - mean) * c.astype(x.dtype) + mean
        return jnp.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range})
        return config
