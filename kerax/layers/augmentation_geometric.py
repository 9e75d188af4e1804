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
import jax
import jax.numpy as jnp
import numpy as np

from kerax import random as _random
from kerax.layers import bounding_boxes as _bb
from kerax.layers.convolutional import standardize_data_format
from kerax.layers.layer import KerasTensor, Layer
from kerax.ops import image as ops_image
from kerax.registry import register_builtin

__all__ = ["BaseImagePreprocessingLayer", "RandomShear", "RandomCrop", "RandomPerspective",
           "RandomElasticTransform", "RandomErasing", "RandomGaussianBlur", "CutMix", "MixUp",
           "MaxNumBoundingBoxes"]

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


def _probability_draw(layer, batch, seed):
    """Keras' per-image coin: apply where uniform(0, 1) < uniform(*factor)."""
    probability = layer._uniform((batch,), layer.factor[0], layer.factor[1], seed, "float32")
    threshold = layer._uniform((batch,), 0.0, 1.0, seed, "float32")
    return threshold < probability


# ---- RandomCrop ----------------------------------------------------------------------------
@register_builtin("keras.layers")
class RandomCrop(BaseImagePreprocessingLayer):
    """In training, crops the batch to (`height`, `width`) at one random offset
    (images larger than the target in both axes); otherwise it takes the
    largest central crop of the target aspect ratio and resizes it (bilinear).
    In inference it returns the images unchanged, as Keras 3 does.

    Boxes are shifted by the crop's corner, scaled by any resize and clipped
    to the output (labels of boxes left empty become -1). Keras 3.15 instead
    subtracts the row offset from x and the column offset from y, and does not
    rescale: kerax follows the pixels.

    >>> RandomCrop(4, 5, seed=1)(np.ones((2, 8, 10, 3), "float32")).shape
    (2, 4, 5, 3)
    """

    _USE_BASE_FACTOR = False

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(name=name, data_format=data_format, **kwargs)
        for arg, v in (("height", height), ("width", width)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{self._where}: `{arg}` must be a positive integer, got "
                                 f"{v!r}.")
        self.height, self.width = int(height), int(width)
        self.seed = seed if seed is not None else _random.make_default_seed()
        self.generator = _random.SeedGenerator(self.seed)

    def get_random_transformation(self, data, training=True, seed=None):
        images = self._images_of(data)
        self._batch_size(images)
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        if training and h > self.height and w > self.width:
            seed = self._seed(seed)
            top = self._uniform((), 0, float(h - self.height + 1), seed, "float32")
            left = self._uniform((), 0, float(w - self.width + 1), seed, "float32")
            return top.astype("int32"), left.astype("int32")
        crop_h = max(min(h, int(float(w * self.height) / self.width)), 1)
        crop_w = max(min(w, int(float(h * self.width) / self.height)), 1)
        return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)

    def _crop_size(self, h, w):
        if h > self.height and w > self.width:
            return self.height, self.width
        return (max(min(h, int(float(w * self.height) / self.width)), 1),
                max(min(w, int(float(h * self.width) / self.height)), 1))

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        images = self._cast(images)
        top, left = transformation
        ha, wa = images.ndim + self.height_axis, images.ndim + self.width_axis
        crop_h, crop_w = self._crop_size(images.shape[ha], images.shape[wa])
        starts = [0] * images.ndim
        starts[ha], starts[wa] = top, left
        sizes = list(images.shape)
        sizes[ha], sizes[wa] = crop_h, crop_w
        images = jax.lax.dynamic_slice(images, [jnp.asarray(s, "int32") for s in starts], sizes)
        if (crop_h, crop_w) != (self.height, self.width):
            images = self._cast(ops_image.resize(images, (self.height, self.width),
                                                 data_format=self.data_format))
        return images

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(segmentation_masks, transformation, training=training)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        if not training:
            return bounding_boxes
        hw = getattr(self, "_input_hw", None)
        if hw is None:
            raise ValueError(f"{self._where}: transform_bounding_boxes needs the image size; "
                             "call the layer on a dict with 'images' and 'bounding_boxes'.")
        h, w = hw
        crop_h, crop_w = self._crop_size(h, w)
        top, left = transformation
        boxes = _bb.convert_format(bounding_boxes, self.bounding_box_format, "xyxy", h, w,
                                   dtype=self.compute_dtype)
        b = boxes["boxes"]
        sx, sy = self.width / crop_w, self.height / crop_h
        left = jnp.asarray(left, b.dtype)
        top = jnp.asarray(top, b.dtype)
        boxes["boxes"] = jnp.stack([(b[..., 0] - left) * sx, (b[..., 1] - top) * sy,
                                    (b[..., 2] - left) * sx, (b[..., 3] - top) * sy], axis=-1)
        boxes = _bb.clip_to_image_size(boxes, self.height, self.width, "xyxy")
        return _bb.convert_format(boxes, "xyxy", self.bounding_box_format, self.height,
                                  self.width, dtype=self.compute_dtype)

    def call(self, data, training=True):
        images = self._images_of(data)
        self._batch_size(images)
        object.__setattr__(self, "_input_hw", (images.shape[self.height_axis],
                                               images.shape[self.width_axis]))
        try:
            return super().call(data, training=training)
        finally:
            object.__setattr__(self, "_input_hw", None)

    def compute_output_spec(self, data, *args, **kwargs):
        # The training-time shape, as Keras (inference returns the input as is).
        if isinstance(data, dict):
            return super().compute_output_spec(data, *args, **kwargs)
        return KerasTensor(self.compute_output_shape(tuple(data.shape)), self.compute_dtype)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        shape = list(input_shape)
        shape[self.height_axis], shape[self.width_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width, "seed": self.seed})
        return config


# ---- RandomPerspective -----------------------------------------------------------------------
@register_builtin("keras.layers")
class RandomPerspective(BaseImagePreprocessingLayer):
    """With probability drawn from `factor` per image, moves the four corners
    of each image by up to `scale / 2` of its size (uniformly, each
    coordinate) and warps the image to match; pixels from outside are
    `fill_value`. Boxes become the hull of their warped corners, clipped.

    >>> RandomPerspective(scale=0.3, seed=1)(np.ones((2, 8, 8, 3), "float32")).shape
    (2, 8, 8, 3)
    """

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        if not _is_number(scale) or not 0.0 <= scale <= 1.0:
            raise ValueError(f"{self._where}: `scale` must be a number in the range [0, 1], "
                             f"got scale={scale!r}.")
        _check_choice(self._where, "interpolation", interpolation, _INTERPOLATIONS)
        self.scale = scale
        self.fill_value = fill_value
        self.interpolation = interpolation
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = self._images_of(data)
        batch = self._batch_size(images)
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        seed = self._seed(seed)
        apply = _probability_draw(self, batch, seed)
        shift = self._uniform((batch, 4, 2), -0.5 * self.scale, 0.5 * self.scale, seed)
        start = jnp.asarray([[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]],
                            self.compute_dtype)
        start = jnp.broadcast_to(start, (batch, 4, 2))
        return {"apply_perspective": apply, "start_points": start,
                "end_points": start + start * shift, "input_shape": tuple(images.shape)}

    def _transform_images(self, images, transformation, interpolation):
        if transformation is None:
            return images
        out = ops_image.perspective_transform(
            images, transformation["start_points"], transformation["end_points"],
            interpolation=interpolation, fill_value=self.fill_value,
            data_format=self.data_format)
        return _where_batch(jnp.asarray(transformation["apply_perspective"]), out, images)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        if not training or transformation is None:
            return bounding_boxes
        shape = transformation["input_shape"]
        h, w = shape[self.height_axis], shape[self.width_axis]
        boxes = _bb.convert_format(bounding_boxes, self.bounding_box_format, "xyxy", h, w,
                                   dtype=self.compute_dtype)
        b = boxes["boxes"]
        # The image warp maps output corners (end) back to input ones (start); the
        # boxes go forward: the homography taking start points onto end points.
        start = jnp.asarray(transformation["start_points"], "float32")
        end = jnp.asarray(transformation["end_points"], "float32")
        t = ops_image._homography(end, start)  # (B, 8), from start to end
        t = jnp.concatenate([t, jnp.ones_like(t[:, :1])], axis=1).reshape(-1, 3, 3)
        x1, y1, x2, y2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        xs, ys = [], []
        for x, y in ((x1, y1), (x2, y2), (x1, y2), (x2, y1)):
            p = jnp.stack([x, y, jnp.ones_like(x)], axis=-1).astype("float32")  # B, N, 3
            q = jnp.einsum("bij,bnj->bni", t, p)
            xs.append(q[..., 0] / q[..., 2])
            ys.append(q[..., 1] / q[..., 2])
        xs, ys = jnp.stack(xs, -1), jnp.stack(ys, -1)
        moved = jnp.stack([xs.min(-1), ys.min(-1), xs.max(-1), ys.max(-1)],
                          axis=-1).astype(b.dtype)
        apply = jnp.asarray(transformation["apply_perspective"])
        boxes["boxes"] = _where_batch(apply, moved, b)
        boxes = _bb.clip_to_image_size(boxes, h, w, "xyxy")
        return _bb.convert_format(boxes, "xyxy", self.bounding_box_format, h, w,
                                  dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "scale": self.scale,
                       "interpolation": self.interpolation, "fill_value": self.fill_value,
                       "seed": self.seed})
        return config


# ---- RandomElasticTransform ------------------------------------------------------------------
@register_builtin("keras.layers")
class RandomElasticTransform(BaseImagePreprocessingLayer):
    """With probability drawn from `factor` per image, displaces pixels by a
    smooth random field (`kerax.ops.image.elastic_transform`) of strength
    drawn from `scale`: alpha = 0.1 * max(h, w) * s, sigma = 0.05 * min(h, w)
    * s; then clips to `value_range`. As in Keras, boxes are not supported.
    The random field is kerax's own (JAX keys differ from Keras').

    >>> RandomElasticTransform(seed=1)(np.ones((2, 16, 16, 3), "float32")).shape
    (2, 16, 16, 3)
    """

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)
    _FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.scale = self._factor_pair(scale, "scale")
        _check_choice(self._where, "interpolation", interpolation, _INTERPOLATIONS)
        _check_choice(self._where, "fill_mode", fill_mode, self._FILL_MODES)
        self.interpolation = interpolation
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.value_range = value_range
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or self.scale[1] == 0 or self.factor[1] == 0:
            return None
        batch = self._batch_size(self._images_of(data))
        seed = self._seed(seed)
        apply = _probability_draw(self, batch, seed)
        distortion = self._uniform((), self.scale[0], self.scale[1], seed)
        return {"apply_transform": apply, "distortion_factor": distortion, "seed": seed}

    def _transform_images(self, images, transformation, interpolation):
        if transformation is None:
            return images
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        # alpha and sigma are traced numbers; the blur kernel's size needs a
        # concrete sigma, so it is sized for the largest `scale`.
        s = transformation["distortion_factor"]
        alpha, sigma = max(h, w) * 0.1 * s, min(h, w) * 0.05 * s
        warped = _elastic(images, alpha, sigma, min(h, w) * 0.05 * self.scale[1],
                          interpolation, self.fill_mode, self.fill_value,
                          transformation["seed"], self.data_format)
        images = _where_batch(jnp.asarray(transformation["apply_transform"]), warped, images)
        return jnp.clip(images, self.value_range[0], self.value_range[1]).astype(images.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "scale": self.scale,
                       "interpolation": self.interpolation, "fill_mode": self.fill_mode,
                       "fill_value": self.fill_value, "value_range": self.value_range,
                       "seed": self.seed})
        return config


def _elastic(images, alpha, sigma, max_sigma, interpolation, fill_mode, fill_value, seed,
             data_format):
    """`ops.image.elastic_transform` with a traced strength: displacements
    N(0, sigma^2) per pixel and axis, Gaussian-smoothed (std sigma, kernel
    int(6 max_sigma) | 1), times alpha."""
    x = images if data_format == "channels_last" else jnp.moveaxis(images, 1, -1)
    n, h, w, _ = x.shape
    size = int(6 * float(max_sigma)) | 1
    sigma = jnp.maximum(jnp.asarray(sigma, "float32"), 1e-6)
    t = jnp.arange(size, dtype="float32") - (size - 1) / 2.0
    g = jnp.exp(-0.5 * (t / sigma) ** 2)
    g = g / jnp.sum(g)
    kernel = jnp.outer(g, g)[:, :, None, None]
    key_rows, key_cols = jax.random.split(_random.draw_seed(seed))
    shifts = []
    for key in (key_rows, key_cols):
        noise = jax.random.normal(key, (n, h, w, 1), "float32") * sigma
        smooth = jax.lax.conv_general_dilated(noise, kernel, (1, 1), "SAME",
                                              dimension_numbers=("NHWC", "HWIO", "NHWC"))
        shifts.append(alpha * smooth[..., 0])
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype="float32"), jnp.arange(w, dtype="float32"),
                              indexing="ij")
    order = {"nearest": 0, "bilinear": 1}[interpolation]

    def one(image, r, c):
        return jax.vmap(lambda ch: jax.scipy.ndimage.map_coordinates(
            ch, [r, c], order, mode=fill_mode, cval=fill_value), in_axes=-1, out_axes=-1)(image)

    out = jax.vmap(one)(x.astype("float32"), rows + shifts[0], cols + shifts[1]).astype(x.dtype)
    return out if data_format == "channels_last" else jnp.moveaxis(out, -1, 1)


# ---- RandomErasing ---------------------------------------------------------------------------
def _box_masks(layer, shape, x0, x1, y0, y1):
    """Boolean (B, ...) masks of the pixels with x0 <= x < x1 and y0 <= y < y1."""
    h, w = shape[layer.height_axis], shape[layer.width_axis]
    gy, gx = jnp.meshgrid(jnp.arange(h, dtype=layer.compute_dtype),
                          jnp.arange(w, dtype=layer.compute_dtype), indexing="ij")
    if layer.data_format == "channels_last":
        gy, gx = gy[None, :, :, None], gx[None, :, :, None]
    else:
        gy, gx = gy[None, None], gx[None, None]

    def col(v):
        return v[:, None, None, None]
    masks = (gx >= col(x0)) & (gx < col(x1)) & (gy >= col(y0)) & (gy < col(y1))
    reps = [1, 1, 1, 1]
    reps[layer.channel_axis] = shape[layer.channel_axis]
    return jnp.tile(masks, reps)


def _crop_bounds(layer, batch, length, ratio, seed):
    crop = (ratio * length).astype(layer.compute_dtype)
    start = layer._uniform((batch,), 0, 1, seed) * (length - crop)
    return start, start + crop


@register_builtin("keras.layers")
class RandomErasing(BaseImagePreprocessingLayer):
    """With probability drawn from `factor` per image, replaces one random
    rectangle (its sides sqrt(uniform(scale)) of the image's) by `fill_value`
    (a number, or None for Gaussian noise times value_range[1]), clipped to
    `value_range`. Boxes, labels and masks pass through.

    >>> RandomErasing(seed=1)(np.ones((2, 8, 8, 3), "float32")).shape
    (2, 8, 8, 3)
    """

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.scale = self._factor_pair(scale, "scale")
        if fill_value is not None and not _is_number(fill_value) and not (
                isinstance(fill_value, (tuple, list)) and len(fill_value) == 3):
            raise ValueError(f"{self._where}: `fill_value` must be None, a number or a list "
                             f"of three numbers, got {fill_value!r}.")
        self.fill_value = fill_value
        self.value_range = value_range
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = self._images_of(data)
        batch = self._batch_size(images)
        shape = tuple(images.shape) if images.ndim == 4 else (1,) + tuple(images.shape)
        seed = self._seed(seed)
        weight = jnp.sqrt(self._uniform((batch, 2), self.scale[0], self.scale[1], seed))
        x0, x1 = _crop_bounds(self, batch, shape[self.width_axis], weight[:, 0], seed)
        y0, y1 = _crop_bounds(self, batch, shape[self.height_axis], weight[:, 1], seed)
        masks = _box_masks(self, shape, x0, x1, y0, y1)
        apply = _probability_draw(self, batch, seed)
        if self.fill_value is None:
            fill = _random.normal(shape, dtype=self.compute_dtype, seed=seed) * \
                self.value_range[1]
        else:
            fill = jnp.broadcast_to(jnp.asarray(self.fill_value, self.compute_dtype), shape)
        fill = jnp.clip(fill, self.value_range[0], self.value_range[1])
        return {"apply_erasing": apply, "batch_masks": masks, "fill_value": fill}

    def transform_images(self, images, transformation=None, training=True):
        images = self._cast(images)
        if training and transformation is not None:
            erased = jnp.where(transformation["batch_masks"],
                               jnp.asarray(transformation["fill_value"], images.dtype), images)
            images = _where_batch(jnp.asarray(transformation["apply_erasing"]), erased, images)
        return images

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        return bounding_boxes

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return segmentation_masks

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "scale": self.scale,
                       "fill_value": self.fill_value, "value_range": self.value_range,
                       "seed": self.seed})
        return config


# ---- RandomGaussianBlur ------------------------------------------------------------------------
@register_builtin("keras.layers")
class RandomGaussianBlur(BaseImagePreprocessingLayer):
    """With probability drawn from `factor` per image, blurs with a Gaussian of
    odd `kernel_size` and std drawn from `sigma` (one per axis, shared by the
    batch), then clips to `value_range`. Boxes, labels and masks pass through.

    >>> RandomGaussianBlur(seed=1)(np.ones((2, 8, 8, 3), "float32")).shape
    (2, 8, 8, 3)
    """

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.kernel_size = self._kernel_size(kernel_size)
        self.sigma = self._factor_pair(sigma, "sigma")
        self.value_range = value_range
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def _kernel_size(self, size):
        msg = (f"{self._where}: `kernel_size` must be an odd integer or a pair of odd "
               f"integers, got kernel_size={size!r}.")
        sizes = list(size) if isinstance(size, (tuple, list)) else [size, size]
        if len(sizes) != 2 or not all(_is_number(s) and int(s) == s and s % 2 == 1
                                      for s in sizes):
            raise ValueError(msg)
        return sizes[0], sizes[1]

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        batch = self._batch_size(self._images_of(data))
        seed = self._seed(seed)
        apply = _probability_draw(self, batch, seed)
        blur = self._uniform((2,), self.sigma[0], self.sigma[1], seed) + 1e-6
        return {"should_apply_blur": apply, "blur_factor": blur}

    def transform_images(self, images, transformation=None, training=True):
        images = self._cast(images)
        if training and transformation is not None:
            blurred = ops_image.gaussian_blur(
                images, kernel_size=tuple(int(k) for k in self.kernel_size),
                sigma=transformation["blur_factor"], data_format=self.data_format)
            images = _where_batch(jnp.asarray(transformation["should_apply_blur"]),
                                  blurred.astype(images.dtype), images)
            images = jnp.clip(images, self.value_range[0], self.value_range[1])
        return images

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        return bounding_boxes

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return segmentation_masks

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "kernel_size": self.kernel_size,
                       "sigma": self.sigma, "value_range": self.value_range,
                       "seed": self.seed})
        return config


# ---- CutMix and MixUp --------------------------------------------------------------------------
def _mix(weight, a, b):
    weight = weight.reshape((-1,) + (1,) * (a.ndim - 1)).astype(a.dtype)
    return weight * a + (1.0 - weight) * b


@register_builtin("keras.layers")
class CutMix(BaseImagePreprocessingLayer):
    """Pastes a random rectangle of another image of the batch into each image
    (Yun et al. 2019) and mixes the labels by the area kept. The rectangle's
    area fraction is 1 - lambda with lambda ~ Beta(a, a), a drawn from
    `factor`. A single image is returned unchanged; boxes are not supported
    (as in Keras).

    >>> out = CutMix(seed=1)({"images": np.ones((4, 8, 8, 3), "float32"),
    ...                        "labels": np.eye(4, dtype="float32")})
    >>> out["labels"].shape
    (4, 4)
    """

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = self._images_of(data)
        self._batch_size(images)
        if images.ndim == 3:
            return None
        batch = images.shape[0]
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        seed = self._seed(seed)
        alpha = self._uniform((), self.factor[0], self.factor[1], seed) + 1e-6
        lam = _random.beta((batch,), alpha, alpha, dtype=self.compute_dtype, seed=seed)
        ratio = jnp.sqrt(1.0 - lam)
        x0, x1 = _crop_bounds(self, batch, w, ratio, seed)
        y0, y1 = _crop_bounds(self, batch, h, ratio, seed)
        masks = _box_masks(self, tuple(images.shape), x0, x1, y0, y1)
        weight = (1.0 - (x1 - x0) * (y1 - y0) / (w * h))[:, None, None, None]  # as Keras
        order = _random.shuffle(jnp.arange(batch, dtype="int32"), seed=seed)
        return {"permutation_order": order, "batch_masks": masks, "mix_weight": weight}

    def transform_images(self, images, transformation=None, training=True):
        images = self._cast(images)
        if training and transformation is not None:
            other = jnp.take(images, transformation["permutation_order"], axis=0)
            images = jnp.where(transformation["batch_masks"], other, images)
        return images

    def transform_labels(self, labels, transformation, training=True):
        if training and transformation is not None:
            other = jnp.take(labels, transformation["permutation_order"], axis=0)
            labels = _mix(jnp.asarray(transformation["mix_weight"]), labels, other)
        return labels

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        if training and transformation is not None:
            other = jnp.take(segmentation_masks, transformation["permutation_order"], axis=0)
            masks = transformation["batch_masks"]
            # the image masks repeat over channels; a mask's own channels may differ
            masks = jnp.take(masks, jnp.zeros((segmentation_masks.shape[self.channel_axis],),
                                              "int32"), axis=self.channel_axis)
            segmentation_masks = jnp.where(masks, other, segmentation_masks)
        return segmentation_masks

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "seed": self.seed})
        return config


@register_builtin("keras.layers")
class MixUp(BaseImagePreprocessingLayer):
    """Blends each image (and its labels and masks) with another of the batch
    (Zhang et al. 2018): lambda * x + (1 - lambda) * x[perm], lambda ~
    Beta(alpha, alpha). Boxes of both images are kept (concatenated along
    the box axis, labels too; Keras 3.15 concatenates labels along the batch
    axis, which breaks their pairing with boxes).

    >>> out = MixUp(seed=1)({"images": np.ones((4, 8, 8, 3), "float32"),
    ...                       "labels": np.eye(4, dtype="float32")})
    >>> out["labels"].shape
    (4, 4)
    """

    _USE_BASE_FACTOR = False

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if not _is_number(alpha) or alpha <= 0:
            raise ValueError(f"{self._where}: `alpha` must be a positive number, got "
                             f"{alpha!r}.")
        self.alpha = alpha
        self.seed = seed
        self.generator = _random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        batch = self._batch_size(self._images_of(data))
        seed = self._seed(seed)
        order = _random.shuffle(jnp.arange(batch, dtype="int32"), seed=seed)
        weight = _random.beta((batch,), self.alpha, self.alpha, dtype="float32", seed=seed)
        return {"mix_weight": weight, "permutation_order": order}

    def transform_images(self, images, transformation=None, training=True):
        images = self._cast(images)
        if training and transformation is not None:
            order = transformation["permutation_order"]
            images = _mix(jnp.asarray(transformation["mix_weight"]), images,
                          jnp.take(images, order, axis=0))
        return images

    def transform_labels(self, labels, transformation, training=True):
        if training and transformation is not None:
            labels = jnp.asarray(labels)
            if not jnp.issubdtype(labels.dtype, jnp.floating):
                labels = labels.astype(self.compute_dtype)
            labels = _mix(jnp.asarray(transformation["mix_weight"]), labels,
                          jnp.take(labels, transformation["permutation_order"], axis=0))
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        if not training or transformation is None:
            return bounding_boxes
        order = transformation["permutation_order"]
        out = dict(bounding_boxes)
        for key in ("boxes", "labels"):
            v = jnp.asarray(bounding_boxes[key])
            out[key] = jnp.concatenate([v, jnp.take(v, order, axis=0)], axis=1)
        return out

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        if training and transformation is not None:
            masks = self._cast(segmentation_masks)
            segmentation_masks = _mix(jnp.asarray(transformation["mix_weight"]), masks,
                                      jnp.take(masks, transformation["permutation_order"],
                                               axis=0))
        return segmentation_masks

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "seed": self.seed})
        return config


# ---- MaxNumBoundingBoxes -----------------------------------------------------------------------
@register_builtin("keras.layers")
class MaxNumBoundingBoxes(BaseImagePreprocessingLayer):
    """Gives every image exactly `max_number` boxes: extra boxes are dropped,
    missing ones are padded with `fill_value` (boxes and labels), so batches
    of different box counts stack. Images, labels and masks pass through. As
    in Keras, a dict input with boxes needs `bounding_box_format` (any format).

    >>> layer = MaxNumBoundingBoxes(3, bounding_box_format="xyxy")
    >>> out = layer({"images": np.zeros((1, 4, 4, 3), "float32"),
    ...     "bounding_boxes": {"boxes": np.ones((1, 1, 4), "float32"),
    ...                        "labels": np.ones((1, 1), "int32")}})
    >>> out["bounding_boxes"]["labels"].tolist()
    [[1, -1, -1]]
    """

    _USE_BASE_FACTOR = False

    def __init__(self, max_number, fill_value=-1, **kwargs):
        super().__init__(**kwargs)
        if not _is_number(max_number) or int(max_number) != max_number or max_number < 1:
            raise ValueError(f"{self._where}: `max_number` must be a positive integer, got "
                             f"{max_number!r}.")
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)

    def transform_images(self, images, transformation=None, training=True):
        return images

    def transform_labels(self, labels, transformation=None, training=True):
        return labels

    def transform_segmentation_masks(self, segmentation_masks, transformation=None,
                                     training=True):
        return segmentation_masks

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        out = dict(bounding_boxes)
        for key, width in (("boxes", [(0, 0)]), ("labels", [])):
            v = jnp.asarray(bounding_boxes[key])[:, :self.max_number]
            pad = self.max_number - v.shape[1]
            out[key] = jnp.pad(v, [(0, 0), (0, pad)] + width[:v.ndim - 2],
                               constant_values=self.fill_value)
        return out

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict) and "bounding_boxes" in input_shape:
            extra = set(input_shape["bounding_boxes"]) - {"boxes", "labels"}
            if extra:
                raise KeyError(f"{self._where}: unsupported keys in `bounding_boxes`: "
                               f"{sorted(extra)}; only 'boxes' and 'labels' are supported.")
            shape = dict(input_shape)
            boxes = dict(shape["bounding_boxes"])
            for key in ("boxes", "labels"):
                s = list(boxes[key])
                s[1] = self.max_number
                boxes[key] = tuple(s)
            shape["bounding_boxes"] = boxes
            return shape
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_number": self.max_number, "fill_value": self.fill_value})
        return config
