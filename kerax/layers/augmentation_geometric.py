"""Geometric and mixing image augmentation (Keras 3 names, arguments, configs):
RandomShear, RandomCrop, RandomPerspective, RandomElasticTransform,
RandomErasing, RandomGaussianBlur, CutMix, MixUp, and MaxNumBoundingBoxes.

They follow Keras 3's image preprocessing protocol, which the base class
`BaseImagePreprocessingLayer` below implements once:

- `call(data, training=True)` takes images (batch, height, width, channels)
  or one image (height, width, channels) (channels first with
  `data_format="channels_first"`), or a dict {"images": ..., "labels": ...,
  "bounding_boxes": {"boxes", "labels"}, "segmentation_masks": ...} and returns
  the same structure (a new dict).
- `get_random_transformation(data, training=True, seed=None)` draws the random
  parameters (a dict of arrays, or None for "no change"), from the layer's
  `kerax.random.SeedGenerator` (`self.generator`: its key is a non-trainable
  Variable, so the layers run eagerly and inside compiled steps, and a given
  `seed` makes them reproducible).
- `transform_images`, `transform_labels`, `transform_bounding_boxes` and
  `transform_segmentation_masks(x, transformation, training=True)` apply one
  drawn transformation, so images and their boxes/masks move together.

As in Keras, `call` defaults to `training=True` (a direct call augments) while
`fit` augments and `predict`/`evaluate` return the images unchanged (cast to
the layer's compute dtype). Boxes need the layer's `bounding_box_format`
(see `kerax.utils.bounding_boxes`).
"""
import jax.numpy as jnp
import numpy as np

from kerax import random as _random
from kerax.layers import bounding_boxes as _bb
from kerax.layers.convolutional import standardize_data_format
from kerax.layers.layer import Layer
from kerax.ops import image as ops_image
from kerax.registry import register_builtin

__all__ = ["BaseImagePreprocessingLayer", "RandomShear"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class BaseImagePreprocessingLayer(Layer):
    """The shared protocol of Keras 3's image augmentation layers (see the
    module docstring). Subclasses draw in `get_random_transformation` and
    apply in `transform_*`; geometric ones implement
    `_transform_images(images, transformation, interpolation)`, which also
    moves segmentation masks (with "nearest")."""

    _USE_BASE_FACTOR = True
    _FACTOR_BOUNDS = (-1, 1)

    def __init__(self, factor=None, bounding_box_format=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.bounding_box_format = bounding_box_format
        self.data_format = standardize_data_format(data_format, self._where)
        if bounding_box_format is not None and bounding_box_format not in _bb.SUPPORTED_FORMATS:
            raise ValueError(f"{self._where}: `bounding_box_format` must be one of "
                             f"{_bb.SUPPORTED_FORMATS}, got {bounding_box_format!r}.")
        if self._USE_BASE_FACTOR:
            self._set_factor(factor or 0.0)
        elif factor is not None:
            raise ValueError(f"{self._where} does not take a `factor` argument, got "
                             f"factor={factor!r}.")

    @property
    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def _factor_pair(self, factor, arg, bounds=None):
        """Keras' rule: a number f -> (max(-f, low), f); a pair -> sorted; within bounds."""
        low, high = self._FACTOR_BOUNDS if bounds is None else bounds
        msg = (f"{self._where}: `{arg}` must be a number (or a list of two numbers) in the "
               f"range [{low}, {high}], got {arg}={factor!r}.")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(_is_number(f) for f in factor):
                raise ValueError(msg)
            if factor[0] > high or factor[1] < low:
                raise ValueError(msg)
            lower, upper = sorted(factor)
        elif _is_number(factor):
            if factor < low or factor > high:
                raise ValueError(msg)
            factor = abs(factor)
            lower, upper = max(-factor, low), factor
        else:
            raise ValueError(msg)
        return lower, upper

    def _set_factor(self, factor):
        self.factor = self._factor_pair(factor, "factor")

    # ---- the axes of the images ------------------------------------------------------------
    @property
    def height_axis(self):
        return -2 if self.data_format == "channels_first" else -3

    @property
    def width_axis(self):
        return -1 if self.data_format == "channels_first" else -2

    @property
    def channel_axis(self):
        return -3 if self.data_format == "channels_first" else -1

    def _images_of(self, data):
        return jnp.asarray(data["images"] if isinstance(data, dict) else data)

    def _batch_size(self, images):
        shape = jnp.shape(images)
        if len(shape) not in (3, 4):
            layout = "(batch, height, width, channels)" if self.data_format == \
                "channels_last" else "(batch, channels, height, width)"
            raise ValueError(f"{self._where} expects images of rank 4 {layout} or rank 3 "
                             f"(one image), got shape {tuple(shape)}.")
        return 1 if len(shape) == 3 else shape[0]

    def _uniform(self, shape, low, high, seed, dtype=None):
        return _random.uniform(shape, minval=low, maxval=high,
                               dtype=dtype or self.compute_dtype, seed=seed)

    def _seed(self, seed):
        return self.generator if seed is None else seed

    # ---- the protocol -------------------------------------------------------------------
    def get_random_transformation(self, data, training=True, seed=None):
        return None

    def _transform_images(self, images, transformation, interpolation):
        raise NotImplementedError(f"{type(self).__name__} does not implement _transform_images.")

    def transform_images(self, images, transformation, training=True):
        images = self._cast(images)
        if training:
            images = self._transform_images(images, transformation, self.interpolation)
        return images

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        raise NotImplementedError(
            f"{type(self).__name__} does not transform bounding boxes (as in Keras 3): pass "
            "inputs without a 'bounding_boxes' entry.")

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        if training:
            segmentation_masks = self._transform_images(segmentation_masks, transformation,
                                                        "nearest")
        return segmentation_masks

    def _cast(self, x):
        x = jnp.asarray(x)
        return x if x.dtype == self.compute_dtype else x.astype(self.compute_dtype)

    def call(self, data, training=True):
        transformation = self.get_random_transformation(data, training=training)
        if not isinstance(data, dict):
            images = jnp.asarray(data)
            self._batch_size(images)
            batched = images.ndim == 4
            out = self.transform_images(images if batched else images[None], transformation,
                                        training=training)
            return out if batched else out[0]
        if "images" not in data:
            raise ValueError(f"{self._where}: a dict input needs an 'images' entry, got keys "
                             f"{sorted(data)}.")
        data = dict(data)
        images = jnp.asarray(data["images"])
        self._batch_size(images)
        batched = images.ndim == 4

        def one(x):
            return x if batched else jnp.asarray(x)[None]

        def back(x):
            return x if batched else x[0]

        data["images"] = back(self.transform_images(one(images), transformation,
                                                    training=training))
        if "bounding_boxes" in data:
            if not self.bounding_box_format:
                raise ValueError(
                    f"{self._where}: the input has a 'bounding_boxes' entry but the layer has "
                    "no `bounding_box_format`: pass one, e.g. `bounding_box_format='xyxy'`.")
            boxes = _bb.densify_bounding_boxes(data["bounding_boxes"], is_batched=batched)
            if not batched:
                boxes = {k: (v[None] if k in ("boxes", "labels") else v)
                         for k, v in boxes.items()}
            boxes = dict(self.transform_bounding_boxes(boxes, transformation,
                                                       training=training))
            if not batched:
                boxes = {k: (v[0] if k in ("boxes", "labels") else v) for k, v in boxes.items()}
            data["bounding_boxes"] = boxes
        if "labels" in data:
            data["labels"] = back(self.transform_labels(one(jnp.asarray(data["labels"])),
                                                        transformation, training=training))
        if "segmentation_masks" in data:
            data["segmentation_masks"] = back(self.transform_segmentation_masks(
                one(jnp.asarray(data["segmentation_masks"])), transformation,
                training=training))
        return data

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config


def _check_choice(where, arg, value, allowed):
    if value not in allowed:
        raise NotImplementedError(f"{where}: unknown `{arg}` {value!r}, expected one of "
                                  f"{allowed}.")


def _where_batch(flags, new, old):
    """Per-image choice between `new` and `old` (batch first)."""
    return jnp.where(flags.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)


# ---- RandomShear ---------------------------------------------------------------------------
@register_builtin("keras.layers")
class RandomShear(BaseImagePreprocessingLayer):
    """Shears each image along x and y by factors drawn from `x_factor` and
    `y_factor` (a number f means [-f, f], each in [0, 1]; the sign is also
    flipped at random): output pixel (x, y) takes the input at
    (x + sx * y, y + sy * x).

    Boxes move with the image (the hull of the sheared box, clipped to the
    image). Keras shears boxes in relative coordinates, which is exact for
    square images only; kerax shears them in pixels (the same result on
    square images, the correct one otherwise).

    >>> layer = RandomShear(x_factor=0.2, y_factor=0.2, seed=1)
    >>> layer(np.ones((2, 8, 8, 3), "float32")).shape
    (2, 8, 8, 3)
    """

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.x_factor = self._shear_factor(x_factor, "x_factor")
        self.y_factor = self._shear_factor(y_factor, "y_factor")
        _check_choice(self._where, "fill_mode", fill_mode, _FILL_MODES)
        _check_choice(self._where, "interpolation", interpolation, _INTERPOLATIONS)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.interpolation = interpolation
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def _shear_factor(self, factor, arg):
        # A pair may hold a negative lower bound: that is what get_config stores for
        # a number f, (-f, f), and Keras' own from_config then rejects it.
        msg = (f"{self._where}: `{arg}` must be a number in [0, 1] or a pair of numbers in "
               f"[-1, 1], got {arg}={factor!r}.")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(_is_number(f) and -1 <= f <= 1 for f in factor):
                raise ValueError(msg)
            return tuple(sorted(factor))
        if not _is_number(factor) or not 0 <= factor <= 1:
            raise ValueError(msg)
        return -abs(factor), abs(factor)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = self._images_of(data)
        batch = self._batch_size(images)
        seed = self._seed(seed)
        invert = self._uniform((batch, 1), 0, 1, seed)
        invert = jnp.where(invert > 0.5, -jnp.ones_like(invert), jnp.ones_like(invert))
        shear_y = self._uniform((batch, 1), self.y_factor[0], self.y_factor[1], seed)
        shear_x = self._uniform((batch, 1), self.x_factor[0], self.x_factor[1], seed)
        shear = jnp.concatenate([shear_x, shear_y], axis=1) * invert
        return {"shear_factor": shear, "input_shape": tuple(images.shape)}

    def _transform_images(self, images, transformation, interpolation):
        if transformation is None:
            return images
        shear = jnp.asarray(transformation["shear_factor"], images.dtype)
        one, zero = jnp.ones_like(shear[:, 0]), jnp.zeros_like(shear[:, 0])
        matrix = jnp.stack([one, shear[:, 0], zero, shear[:, 1], one, zero, zero, zero], axis=1)
        return ops_image.affine_transform(images, matrix, interpolation=interpolation,
                                          fill_mode=self.fill_mode, fill_value=self.fill_value,
                                          data_format=self.data_format)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        if not training or transformation is None:
            return bounding_boxes
        shape = transformation["input_shape"]
        height, width = shape[self.height_axis], shape[self.width_axis]
        boxes = _bb.convert_format(bounding_boxes, self.bounding_box_format, "xyxy",
                                   height, width, dtype=self.compute_dtype)
        shear = jnp.asarray(transformation["shear_factor"], self.compute_dtype)
        sx, sy = shear[:, 0:1], shear[:, 1:2]  # (B, 1) against boxes (B, N)
        b = boxes["boxes"]
        x1, y1, x2, y2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        # Output x = X - sx * Y: the hull's left/right edges come from the top or
        # bottom corners by the sign of sx; then y = Y - sy * x likewise (as Keras).
        x1 = jnp.where(sx < 0, x1 - sx * y1, x1 - sx * y2)
        x2 = jnp.where(sx < 0, x2 - sx * y2, x2 - sx * y1)
        y1 = jnp.where(sy > 0, y1 - sy * x2, y1 - sy * x1)
        y2 = jnp.where(sy > 0, y2 - sy * x1, y2 - sy * x2)
        boxes["boxes"] = jnp.stack([x1, y1, x2, y2], axis=-1)
        boxes = _bb.clip_to_image_size(boxes, height, width, "xyxy")
        return _bb.convert_format(boxes, "xyxy", self.bounding_box_format, height, width,
                                  dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"x_factor": self.x_factor, "y_factor": self.y_factor,
                       "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                       "seed": self.seed, "fill_value": self.fill_value})
        return config
