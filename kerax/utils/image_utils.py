"""Image helpers of Keras 3's `keras.utils`: `load_img`, `img_to_array`,
`array_to_img`, `save_img`. Pillow is an optional dependency (`pip install pillow`)."""
import io
import pathlib
import warnings

import numpy as np

from kerax import config

__all__ = ["load_img", "img_to_array", "array_to_img", "save_img"]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil_image(what):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{what} needs Pillow: `pip install pillow`.") from None
    return Image


def _data_format(data_format):
    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first'; "
                         f"got {data_format!r}.")
    return data_format


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or anything NumPy reads) as a rank-3 array of `dtype`
    (default floatx), channels last unless `data_format="channels_first"`.

    >>> img_to_array(np.zeros((2, 3))).shape
    (2, 3, 1)
    """
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 2:
        x = x[None] if data_format == "channels_first" else x[..., None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape} (expected rank 2 "
                         "or 3).")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A rank-3 array as a PIL image (RGB, RGBA or grayscale by channel count);
    `scale` maps the values' range onto 0..255."""
    data_format = _data_format(data_format)
    image = _pil_image("array_to_img")
    x = np.array(x, dtype=dtype or config.floatx())
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected a rank-3 array (one image); got shape "
                         f"{x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported channel count {channels} (1, 3 or 4).")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save a rank-3 array as an image file (format from the suffix unless
    `file_format` is given; extra kwargs go to `PIL.Image.save`)."""
    data_format = _data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Load an image file (path or `io.BytesIO`) as a PIL image in `color_mode`
    ("grayscale", "rgb", "rgba"), resized to `target_size=(height, width)`
    with `interpolation`; `keep_aspect_ratio` crops the centre first."""
    image = _pil_image("load_img")
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        with open(str(pathlib.Path(path).resolve()) if isinstance(path, pathlib.Path)
                  else path, "rb") as f:
            img = image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"load_img: path should be path-like or io.BytesIO, not {type(path)}.")
    wanted = {"grayscale": ("L", ("L", "I;16", "I")), "rgba": ("RGBA", ("RGBA",)),
              "rgb": ("RGB", ("RGB",))}
    if color_mode not in wanted:
        raise ValueError('load_img: color_mode must be "grayscale", "rgb", or "rgba"; got '
                         f"{color_mode!r}.")
    mode, accepted = wanted[color_mode]
    if img.mode not in accepted:
        img = img.convert(mode)
    if target_size is not None:
        size = (target_size[1], target_size[0])
        if img.size != size:
            if interpolation not in _INTERPOLATIONS:
                raise ValueError(f"load_img: invalid interpolation {interpolation!r}; use one "
                                 f"of {', '.join(_INTERPOLATIONS)}.")
            resample = getattr(image.Resampling, interpolation.upper())
            box = None
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, width * size[1] // size[0])
                crop_w = min(width, height * size[0] // size[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                box = [left, top, left + crop_w, top + crop_h]
            img = img.resize(size, resample, box=box)
    return img
