"""Colour and intensity augmentation layers (Keras 3 names, arguments, configs
and numerics): RandomBrightness, RandomColorDegeneration, RandomColorJitter,
RandomGrayscale, RandomHue, RandomInvert, RandomPosterization,
RandomSaturation, RandomSharpness, AutoContrast, Equalization, Solarization,
ContrastLimitedAdaptiveHistogramEqualization.

Inputs are images `(batch, height, width, channels)` or one image
`(height, width, channels)` (channels first with
`data_format="channels_first"`), or Keras' dict
`{"images": ..., "labels": ..., "bounding_boxes": ..., "segmentation_masks": ...}`:
colour layers change only the images and return the other entries as they
came (a `bounding_boxes` entry needs `bounding_box_format`, as in Keras).

`value_range` is the range the pixel values live in ((0, 255) by default);
results are clipped to it. `factor` follows Keras: a number f means the range
(-f, f) cut to the layer's bounds (e.g. (0, f) for RandomHue), a pair is a
(lower, upper) range, and a pair of equal numbers makes the draw fixed.

Random layers draw one value per image from `self.seed_generator` (a
`kerax.random.SeedGenerator`, its key a non-trainable Variable), so they run
eagerly and inside compiled steps (`fit` threads the key like other state)
and `seed` makes them reproducible. They augment in training only; as Keras,
their `call` defaults to `training=True` and `predict`/`evaluate` pass False.
AutoContrast and ContrastLimitedAdaptiveHistogramEqualization apply always.

Each layer splits its work into `_sample(images) -> params` (the random
draws, reading the seed generator) and `_apply(images, params)` (pure), so
RandAugment and AugMix can draw every candidate's parameters outside a
`lax.switch` and run only the chosen transform.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import config as _config
from kerax import random as _random
from kerax.layers.image_preprocessing import RandomContrast, _ImageLayer
from kerax.ops import image as ops_image
from kerax.registry import register_builtin

__all__ = ["RandomBrightness", "RandomColorDegeneration", "RandomColorJitter",
           "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPosterization",
           "RandomSaturation", "RandomSharpness", "AutoContrast", "Equalization",
           "Solarization", "ContrastLimitedAdaptiveHistogramEqualization"]


# ---- argument checks ---------------------------------------------------------------------
def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def factor_range(factor, bounds, where, arg="factor"):
    """Keras' factor rule: a number f -> (max(-|f|, bounds[0]), |f|); a pair ->
    sorted. Returns (lower, upper)."""
    lo, hi = bounds
    msg = (f"{where}: `{arg}` must be a number or a list of two numbers in the range "
           f"[{lo}, {hi}], got {factor!r}.")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(f) for f in factor):
            raise ValueError(msg)
        if factor[0] > hi or factor[1] < lo:
            raise ValueError(msg)
        lower, upper = sorted(_py(f) for f in factor)
        return lower, upper
    if not _is_number(factor) or factor < lo or factor > hi:
        raise ValueError(msg)
    factor = abs(_py(factor))
    return max(-factor, lo), factor


def value_range_arg(value_range, where, sort=True):
    """A (low, high) pair of numbers; sorted into a list when `sort` (Keras
    sorts it for most colour layers)."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or \
            not all(_is_number(v) for v in value_range):
        raise ValueError(f"{where}: `value_range` must be a list of two numbers "
                         f"(low, high), got {value_range!r}.")
    values = [_py(v) for v in value_range]
    return sorted(values) if sort else value_range


def to_range(x, source, target):
    """Map values linearly from `source` = (lo, hi) to `target` = (lo, hi)."""
    if source[0] == target[0] and source[1] == target[1]:
        return x
    s0, s1 = float(source[0]), float(source[1])
    t0, t1 = float(target[0]), float(target[1])
    return (x - s0) / (s1 - s0) * (t1 - t0) + t0


# ---- the shared base ---------------------------------------------------------------------
class ImageAugmentation(_ImageLayer):
    """Base of the augmentation layers here: images or Keras' dict input,
    batched or not; `_sample` draws the per-image parameters, `_apply` uses
    them. Subclasses set `_random` (False: no seed generator, no draws) and
    `_always` (apply also when not training)."""

    _random = True
    _always = False
    _keep_dtype = False

    def __init__(self, seed=None, bounding_box_format=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.bounding_box_format = bounding_box_format
        if self._random:
            self.seed = seed
            self.seed_generator = _random.SeedGenerator(seed)

    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            if "images" not in input_shape:
                raise ValueError(f"{self._where()}: a dict input needs an 'images' entry, "
                                 f"got keys {sorted(input_shape)}.")
            input_shape = input_shape["images"]
        self._check(input_shape)
        self.built = True

    def _uniform(self, shape, low, high):
        return _random.uniform(shape, minval=low, maxval=high, dtype="float32",
                               seed=self.seed_generator)

    def _channel_axis(self, ndim):
        return ndim - 1 if self.data_format == "channels_last" else ndim - 3

    def _sample(self, images):
        return None

    def _apply(self, images, params):
        raise NotImplementedError

    def _apply_masks(self, masks, params):
        return masks

    _jit = True

    def _jitted_apply(self):
        """`_apply` compiled once per layer (and input shape): an eager call
        then runs one XLA program instead of dozens of small ones; inside a
        compiled step it simply inlines."""
        if not self._jit:
            return self._apply
        fn = self.__dict__.get("_apply_compiled")
        if fn is None:
            fn = jax.jit(self._apply)
            object.__setattr__(self, "_apply_compiled", fn)
        return fn

    def _augment(self, images):
        return self._apply(images, self._sample(images) if self._random else None)

    def call(self, data, training=True):
        if isinstance(data, dict):
            if "images" not in data:
                raise ValueError(f"{self._where()}: a dict input needs an 'images' entry, "
                                 f"got keys {sorted(data)}.")
            images = data["images"]
        else:
            images = data
        images = jnp.asarray(images)
        self._check(images.shape)
        batched = images.ndim == 4
        x = images if batched else images[None]
        dtype = x.dtype
        active = bool(training) or self._always
        if isinstance(data, dict) and "bounding_boxes" in data:
            if not self.bounding_box_format:
                raise ValueError(
                    f"{self._where()}: the input has a 'bounding_boxes' entry, but the "
                    "layer has no `bounding_box_format`. Pass one, e.g. "
                    "`bounding_box_format='xyxy'`.")
            boxes = self._boxes(data["bounding_boxes"], active)
        if not active:
            out, params = self._float(x), None
        else:
            params = self._sample(x) if self._random else None
            out = self._jitted_apply()(self._float(x), params)
            if self._keep_dtype and out.dtype != dtype:
                out = out.astype(dtype)
        out = out if batched else out[0]
        if not isinstance(data, dict):
            return out
        result = dict(data)
        result["images"] = out
        if "bounding_boxes" in data:
            result["bounding_boxes"] = boxes
        if "segmentation_masks" in data and active:
            masks = jnp.asarray(data["segmentation_masks"])
            masks = masks if batched else masks[None]
            masks = self._apply_masks(masks, params)
            result["segmentation_masks"] = masks if batched else masks[0]
        return result

    def _boxes(self, boxes, active):
        """The boxes of the output (checked before any work; colour layers keep them)."""
        if not isinstance(boxes, dict) or "boxes" not in boxes:
            raise ValueError(f"{self._where()}: `bounding_boxes` must be a dict with 'boxes' "
                             f"(and 'labels'), got {type(boxes).__name__}.")
        return {k: jnp.asarray(v) for k, v in boxes.items()}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config


def _per_image(v, ndim=4):
    return jnp.reshape(v, (-1,) + (1,) * (ndim - 1))


def _grayscale(x, data_format, where):
    axis = x.ndim - 1 if data_format == "channels_last" else x.ndim - 3
    if x.shape[axis] != 3:
        raise ValueError(f"{where}: expects RGB images with 3 channels, got "
                         f"{x.shape[axis]} channels (input shape {tuple(x.shape)}).")
    return ops_image.rgb_to_grayscale(x, data_format=data_format)


# ---- random colour layers ----------------------------------------------------------------
@register_builtin("keras.layers")
class RandomBrightness(ImageAugmentation):
    """Adds `uniform(lower, upper) * (high - low)` of `value_range` to each
    image, then clips to `value_range`. `factor` -1 makes an image black,
    1 white; f means (-f, f).

    >>> layer = RandomBrightness(factor=(0.1, 0.1), value_range=(0, 1))
    >>> float(layer(np.full((2, 2, 3), 0.5, "float32"))[0, 0, 0])
    0.6000000238418579
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_range(factor, (-1, 1), self._where())
        self.value_range = value_range_arg(value_range, self._where())

    def _sample(self, x):
        delta = self._uniform((x.shape[0], 1, 1, 1), self.factor[0], self.factor[1])
        return delta * (self.value_range[1] - self.value_range[0])

    def _apply(self, x, delta):
        return jnp.clip(x + delta.astype(x.dtype), self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomColorDegeneration(ImageAugmentation):
    """Blends each image towards its grayscale version:
    `x + f * (gray - x)`, f ~ uniform(lower, upper) per image (as Keras, a
    number f means (-f, f)); clipped to `value_range`. Needs RGB images.

    >>> layer = RandomColorDegeneration(factor=(1.0, 1.0))
    >>> out = layer(np.array([[[255.0, 0.0, 0.0]]], "float32"))
    >>> [round(float(v), 2) for v in out[0, 0]]
    [76.22, 76.22, 76.22]
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (-1, 1), self._where())
        self.value_range = value_range_arg(value_range, self._where())

    def _sample(self, x):
        return self._uniform((x.shape[0], 1, 1, 1), self.factor[0], self.factor[1])

    def _apply(self, x, factor):
        gray = _grayscale(x, self.data_format, self._where())
        out = x + factor.astype(x.dtype) * (gray - x)
        return jnp.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomGrayscale(ImageAugmentation):
    """Turns each image to grayscale (kept as 3 equal channels) with
    probability `factor`.

    >>> out = RandomGrayscale(factor=1.0)(np.array([[[255.0, 0.0, 0.0]]], "float32"))
    >>> [round(float(v), 2) for v in out[0, 0]]
    [76.22, 76.22, 76.22]
    """

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _is_number(factor) or not 0 <= factor <= 1:
            raise ValueError(f"{self._where()}: `factor` must be a number between 0 and 1 "
                             f"(the probability of grayscale), got {factor!r}.")
        self.factor = _py(factor)

    def _sample(self, x):
        return self._uniform((x.shape[0],), 0.0, 1.0) < self.factor

    def _apply(self, x, apply):
        gray = _grayscale(x, self.data_format, self._where())
        return jnp.where(_per_image(apply), gray, x)

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor  # Keras' config has no seed here
        return config


@register_builtin("keras.layers")
class RandomHue(ImageAugmentation):
    """Shifts the hue of each image by `±uniform(lower, upper) / 2` (a turn
    of the colour wheel is 1; the sign is a coin flip). `factor` in [0, 1];
    f means (0, f).

    >>> layer = RandomHue(factor=(1.0, 1.0), value_range=(0, 1))
    >>> [round(float(v), 3) for v in layer(np.array([[[1.0, 0.0, 0.0]]], "float32"))[0, 0]]
    [0.0, 1.0, 1.0]
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (0, 1), self._where())
        self.value_range = value_range_arg(value_range, self._where(), sort=False)

    def _sample(self, x):
        batch = x.shape[0]
        sign = jnp.where(self._uniform((batch,), 0.0, 1.0) > 0.5, -1.0, 1.0)
        return sign * self._uniform((batch,), self.factor[0], self.factor[1]) * 0.5

    def _apply(self, x, shift):
        x = to_range(x, self.value_range, (0, 1))
        hsv = ops_image.rgb_to_hsv(x, data_format=self.data_format)
        c = self._channel_axis(x.ndim)
        h, s, v = (jnp.take(hsv, i, axis=c) for i in range(3))
        h = h + jnp.reshape(shift.astype(x.dtype), (-1, 1, 1))
        h = jnp.where(h > 1.0, h - 1.0, h)
        h = jnp.where(h < 0.0, h + 1.0, h)
        rgb = ops_image.hsv_to_rgb(jnp.stack([h, s, v], axis=c), data_format=self.data_format)
        return to_range(jnp.clip(rgb, 0, 1), (0, 1), self.value_range)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomInvert(ImageAugmentation):
    """Replaces x by `value_range[1] - x` in an image with probability
    p ~ uniform(lower, upper) (Keras' rule: the default factor=1.0 means
    (0, 1), so each image flips with probability 1/2; factor=(1.0, 1.0)
    inverts every image).

    >>> out = RandomInvert(factor=(1.0, 1.0))(np.array([[[0.0, 55.0, 255.0]]], "float32"))
    >>> out[0, 0].tolist()
    [255.0, 200.0, 0.0]
    """

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (0, 1), self._where())
        self.value_range = value_range_arg(value_range, self._where(), sort=False)

    def _sample(self, x):
        batch = x.shape[0]
        probability = self._uniform((batch,), self.factor[0], self.factor[1])
        return self._uniform((batch,), 0.0, 1.0) < probability

    def _apply(self, x, apply):
        return jnp.where(_per_image(apply), self.value_range[1] - x, x)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomPosterization(ImageAugmentation):
    """Keeps the top `bits` bits of each 8-bit value, `bits` drawn per image
    from `randint(lower, upper)` (upper excluded, as Keras) or fixed when
    lower == upper; `factor` in [1, 8], a number f means (1, f).

    >>> out = RandomPosterization(factor=(2, 2))(np.array([[[200.0, 100.0, 63.0]]], "float32"))
    >>> out[0, 0].tolist()
    [192.0, 64.0, 0.0]
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (1, 8), self._where())
        self.value_range = value_range_arg(value_range, self._where())

    def _sample(self, x):
        batch = x.shape[0]
        lower, upper = int(self.factor[0]), int(self.factor[1])
        if lower != upper:
            bits = _random.randint((batch,), lower, upper, dtype="int32",
                                   seed=self.seed_generator)
        else:
            bits = jnp.full((batch,), lower, "int32")
        return (8 - bits).astype("uint8")

    def _apply(self, x, shift):
        dtype = x.dtype
        x = to_range(x, self.value_range, (0, 255))
        x = jnp.clip(x, 0, 255).astype("uint8")
        shift = _per_image(shift)
        x = jnp.left_shift(jnp.right_shift(x, shift), shift)
        return to_range(x.astype(dtype), (0, 255), self.value_range)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomSaturation(ImageAugmentation):
    """Scales the HSV saturation of each image by `f / (1 - f + epsilon)`,
    f ~ uniform(lower, upper) (so 0.5 keeps the image, 0 makes it gray and 1
    fully saturated; as Keras, a number f means (-f, f), negative draws
    give gray).

    >>> layer = RandomSaturation(factor=(0.0, 0.0))
    >>> [round(float(v), 2) for v in layer(np.array([[[200.0, 100.0, 50.0]]], "float32"))[0, 0]]
    [200.0, 200.0, 200.0]
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (-1, 1), self._where())
        self.value_range = value_range_arg(value_range, self._where())

    def _sample(self, x):
        f = self._uniform((x.shape[0],), self.factor[0], self.factor[1])
        return f / (1.0 - f + _config.epsilon())

    def _apply(self, x, scale):
        hsv = ops_image.rgb_to_hsv(x, data_format=self.data_format)
        c = self._channel_axis(x.ndim)
        h, s, v = (jnp.take(hsv, i, axis=c) for i in range(3))
        s = jnp.clip(s * jnp.reshape(scale.astype(x.dtype), (-1, 1, 1)),
                     self.value_range[0], self.value_range[1])
        return ops_image.hsv_to_rgb(jnp.stack([h, s, v], axis=c), data_format=self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomSharpness(ImageAugmentation):
    """Blends each image with its 3x3-smoothed version:
    `x + (1 - 2f) * (smooth - x)`, f ~ uniform(lower, upper) in [0, 1]
    (0.5 keeps the image, 0 blurs, 1 sharpens; a number f means (0, f));
    clipped to `value_range`.

    >>> out = RandomSharpness(factor=(0.5, 0.5))(np.ones((3, 3, 1), "float32"))
    >>> float(out[0, 0, 0])
    1.0
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (0, 1), self._where())
        self.value_range = value_range_arg(value_range, self._where())

    def _sample(self, x):
        return self._uniform((x.shape[0],), self.factor[0], self.factor[1])

    def _apply(self, x, factor):
        nhwc = x if self.data_format == "channels_last" else jnp.moveaxis(x, 1, -1)
        channels = nhwc.shape[-1]
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = jnp.asarray([[a, a, a], [a, b, a], [a, a, a]], x.dtype)
        kernel = jnp.tile(kernel[:, :, None, None], (1, 1, 1, channels))
        smooth = jax.lax.conv_general_dilated(
            nhwc, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=channels)
        s = _per_image(factor.astype(x.dtype) * 2.0)
        out = jnp.clip(nhwc + (1.0 - s) * (smooth - nhwc), self.value_range[0],
                       self.value_range[1])
        return out if self.data_format == "channels_last" else jnp.moveaxis(out, -1, 1)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


@register_builtin("keras.layers")
class RandomColorJitter(ImageAugmentation):
    """Random brightness, contrast, saturation and hue in that order, each
    only when its factor is given (the factors mean what they mean in
    RandomBrightness, RandomContrast, RandomSaturation and RandomHue).

    >>> layer = RandomColorJitter(value_range=(0, 1), brightness_factor=(0.1, 0.1))
    >>> float(layer(np.full((1, 1, 3), 0.5, "float32"))[0, 0, 0])
    0.6000000238418579
    """

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = value_range_arg(value_range, self._where(), sort=False)
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        df, vr = self.data_format, self.value_range
        self.random_brightness = None if brightness_factor is None else RandomBrightness(
            brightness_factor, value_range=vr, seed=seed, data_format=df)
        self.random_contrast = None if contrast_factor is None else RandomContrast(
            contrast_factor, value_range=vr, seed=seed, data_format=df)
        self.random_saturation = None if saturation_factor is None else RandomSaturation(
            saturation_factor, value_range=vr, seed=seed, data_format=df)
        self.random_hue = None if hue_factor is None else RandomHue(
            hue_factor, value_range=vr, seed=seed, data_format=df)

    _jit = False  # each stage draws while it applies

    def _stages(self):
        return [s for s in (self.random_brightness, self.random_contrast,
                            self.random_saturation, self.random_hue) if s is not None]

    def build(self, input_shape):
        super().build(input_shape)
        for stage in self._stages():
            stage.built = True

    def _augment(self, x):
        return self._apply(x, None)

    def _apply(self, x, params):
        # Each stage draws for the images as they come out of the one before.
        for stage in self._stages():
            x = stage._augment(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range,
                       "brightness_factor": self.brightness_factor,
                       "contrast_factor": self.contrast_factor,
                       "saturation_factor": self.saturation_factor,
                       "hue_factor": self.hue_factor, "seed": self.seed})
        return config


@register_builtin("keras.layers")
class Solarization(ImageAugmentation):
    """Per image, adds `uniform(add_lo, add_hi * 255)` to the (0, 255)-scaled
    values, clips, then inverts (255 - x) every value at or above a threshold
    `uniform(thr_lo, thr_hi * 255)` (Keras' rule: only the upper end is scaled
    by 255). Factors are numbers in [0, 1] (f means (0, f)) or pairs.

    >>> out = Solarization()(np.array([[[0.0, 100.0, 255.0]]], "float32"))
    >>> out[0, 0].tolist()
    [255.0, 155.0, 0.0]
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = self._factor(addition_factor, "addition_factor")
        self.threshold_factor = self._factor(threshold_factor, "threshold_factor")
        self.value_range = value_range_arg(value_range, self._where())

    def _factor(self, factor, arg):
        msg = (f"{self._where()}: `{arg}` must be a number or a list of two numbers in "
               f"[0, 1], got {factor!r}.")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(_is_number(f) and 0 <= f <= 1 for f in factor):
                raise ValueError(msg)
            lower, upper = sorted(_py(f) for f in factor)
            return lower, upper
        if not _is_number(factor) or not 0 <= factor <= 1:
            raise ValueError(msg)
        return 0, _py(factor)

    def _sample(self, x):
        shape = (x.shape[0], 1, 1, 1)
        additions = self._uniform(shape, self.addition_factor[0], self.addition_factor[1] * 255)
        thresholds = self._uniform(shape, self.threshold_factor[0],
                                   self.threshold_factor[1] * 255)
        return additions, thresholds

    def _apply(self, x, params):
        additions, thresholds = (p.astype(x.dtype) for p in params)
        x = to_range(x, self.value_range, (0, 255))
        out = jnp.clip(x + additions, 0, 255)
        out = jnp.where(out < thresholds, out, 255 - out)
        return to_range(out, (0, 255), self.value_range)

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range,
                       "addition_factor": self.addition_factor,
                       "threshold_factor": self.threshold_factor, "seed": self.seed})
        return config


# ---- deterministic intensity layers ------------------------------------------------------
@register_builtin("keras.layers")
class AutoContrast(ImageAugmentation):
    """Stretches each channel of each image so its minimum maps to
    `value_range[0]` and its maximum to `value_range[1]` (a constant channel
    is left as it is). Applies in training and inference.

    >>> AutoContrast()(np.array([[[10.0], [20.0]]], "float32"))[0, :, 0].tolist()
    [0.0, 255.0]
    """

    _random = False
    _always = True

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = value_range_arg(value_range, self._where())

    def _apply(self, x, params):
        ha, wa = self._hw_axes(x.ndim)
        scaled = to_range(x, self.value_range, (0, 255))
        low = jnp.min(scaled, axis=(ha, wa), keepdims=True)
        high = jnp.max(scaled, axis=(ha, wa), keepdims=True)
        scale = 255.0 / (high - low)
        out = jnp.clip(scaled * scale + (-low * scale), 0.0, 255.0)
        out = to_range(out, (0, 255), self.value_range)
        return jnp.where(jnp.isnan(out), x, out)

    def get_config(self):
        config = super().get_config()
        config["value_range"] = self.value_range
        return config


@register_builtin("keras.layers")
class Equalization(ImageAugmentation):
    """Histogram equalization of each channel with `bins` bins. As Keras 3,
    the histogram of a channel is taken over the whole batch it is called on,
    and only in training (`call` defaults to training=True).

    >>> out = Equalization()(np.array([[[0.0], [10.0], [10.0], [20.0]]], "float32"))
    >>> out[:, 0, 0].tolist()
    [0.0, 170.0, 170.0, 255.0]
    """

    _random = False

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 2:
            raise ValueError(f"{self._where()}: `bins` must be an integer >= 2, got {bins!r}.")
        self.bins = int(bins)
        self.value_range = value_range_arg(value_range, self._where())

    def _equalize(self, channel):
        bins = self.bins
        v = to_range(channel.astype("float32"), self.value_range, (0, 255))
        index = jnp.clip((v * (bins - 1) / 255.0).astype("int32"), 0, bins - 1)
        hist = jnp.bincount(index.reshape(-1), length=bins)
        cdf = jnp.cumsum(hist)
        cdf_min = cdf[jnp.argmax(cdf > 0)]
        denominator = cdf[-1] - cdf_min
        denominator = jnp.where(denominator == 0, 1, denominator)
        lut = jnp.clip(jnp.round((cdf - cdf_min) * 255 / denominator), 0, 255)
        lookup = jnp.clip(v / 255.0 * (bins - 1), 0, bins - 1).astype("int32")
        out = jnp.where(jnp.count_nonzero(hist) <= 1, v, lut[lookup])
        return to_range(out, (0, 255), self.value_range)

    def _apply(self, x, params):
        c = self._channel_axis(x.ndim)
        channels = [self._equalize(jnp.take(x, i, axis=c)) for i in range(x.shape[c])]
        return jnp.stack(channels, axis=c).astype(x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"bins": self.bins, "value_range": self.value_range})
        return config


@register_builtin("keras.layers")
class ContrastLimitedAdaptiveHistogramEqualization(ImageAugmentation):
    """CLAHE: equalizes each tile of a `tile_grid_size` grid with a histogram
    clipped at `clip_limit` times the mean bin count (the excess spread over
    all 256 bins), and interpolates the tiles' mappings bilinearly. Images
    are scaled to (0, 255) for it; the output keeps the input dtype. Applies
    in training and inference.

    >>> layer = ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(1, 1))
    >>> layer(np.array([[[0.0], [255.0]]], "float32"))[:, 0, 0].tolist()
    [0.0, 255.0]
    """

    _random = False
    _always = True
    _keep_dtype = True

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8),
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        where = self._where()
        self.value_range = value_range_arg(value_range, where, sort=False)
        if not _is_number(clip_limit):
            raise ValueError(f"{where}: `clip_limit` must be a number, got {clip_limit!r}.")
        if not isinstance(tile_grid_size, (tuple, list)) or len(tile_grid_size) != 2 or \
                not all(isinstance(t, (int, np.integer)) and t > 0 for t in tile_grid_size):
            raise ValueError(f"{where}: `tile_grid_size` must be two positive integers "
                             f"(rows, columns), got {tile_grid_size!r}.")
        self.clip_limit = _py(clip_limit)
        self.tile_grid_size = tile_grid_size

    def call(self, data, training=True):
        if not isinstance(data, dict):
            data = jnp.asarray(data)
        return super().call(data, training=training)

    def _float(self, x):
        return x  # scaled in float32 by _apply; the result is cast back to x's dtype

    def _apply(self, x, params):
        nhwc = x if self.data_format == "channels_last" else jnp.moveaxis(x, 1, -1)
        out = self._clahe(to_range(nhwc.astype("float32"), self.value_range, (0, 255)))
        out = to_range(out, (0, 255), self.value_range)
        return out if self.data_format == "channels_last" else jnp.moveaxis(out, -1, 1)

    def _clahe(self, x):
        batch, height, width, channels = x.shape
        grid_h, grid_w = (int(t) for t in self.tile_grid_size)
        tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
        pad_h, pad_w = tile_h * grid_h - height, tile_w * grid_w - width
        if pad_h or pad_w:
            x = jnp.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        # Histograms of each tile and channel: (batch, grid_h, grid_w, channels, 256).
        tiles = x.reshape(batch, grid_h, tile_h, grid_w, tile_w, channels)
        tiles = tiles.transpose(0, 1, 3, 5, 2, 4).reshape(
            batch, grid_h, grid_w, channels, tile_h * tile_w)
        levels = jnp.clip(tiles.astype("int32"), 0, 255)
        hist = jnp.sum(jax.nn.one_hot(levels, 256, dtype="float32"), axis=-2)
        area = tile_h * tile_w
        if self.clip_limit > 0:
            limit = jnp.float32(self.clip_limit * area / 256.0)
            clipped = jnp.clip(hist, 0, limit)
            hist = clipped + jnp.sum(hist - clipped, axis=-1, keepdims=True) / 256.0
        cdf = jnp.cumsum(hist, axis=-1)
        cdf_min = jnp.min(cdf, axis=-1, keepdims=True)
        denominator = jnp.float32(area) - cdf_min
        denominator = jnp.where(denominator == 0, jnp.ones_like(denominator), denominator)
        mapping = jnp.clip((cdf - cdf_min) * 255.0 / denominator, 0, 255)
        # One tile of edge padding on each side, then bilinear blending of the
        # four tile mappings around each pixel.
        mapping = jnp.pad(mapping, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")

        def grid(n, tile, cells):
            pos = (jnp.arange(n, dtype="float32") - tile / 2.0) / tile + 1.0
            lo = jnp.floor(pos)
            weight = pos - lo
            return (jnp.clip(lo, 0, cells + 1).astype("int32"),
                    jnp.clip(lo + 1.0, 0, cells + 1).astype("int32"), weight)

        y0, y1, wy = grid(tile_h * grid_h, tile_h, grid_h)
        x0, x1, wx = grid(tile_w * grid_w, tile_w, grid_w)
        pixels = jnp.clip(x, 0, 255).astype("int32")
        b = jnp.arange(batch)[:, None, None, None]
        c = jnp.arange(channels)[None, None, None, :]
        y0, y1, wy = y0[None, :, None, None], y1[None, :, None, None], wy[None, :, None, None]
        x0, x1, wx = x0[None, None, :, None], x1[None, None, :, None], wx[None, None, :, None]

        def at(ys, xs):
            return mapping[b, ys, xs, c, pixels]

        top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
        bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
        out = top * (1.0 - wy) + bottom * wy
        return out[:, :height, :width, :]

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range, "clip_limit": self.clip_limit,
                       "tile_grid_size": self.tile_grid_size})
        return config
