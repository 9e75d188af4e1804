"""`kerax.preprocessing.image` (Keras 3's `keras.preprocessing.image`): the
image helpers of `kerax.utils` and `smart_resize`."""
import numpy as np

from kerax.ops import image as ops_image
from kerax.utils import array_to_img, img_to_array, load_img, save_img  # noqa: F401

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img", "smart_resize"]


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Resize images to `size` without distorting their aspect ratio, as Keras:
    take the largest centered crop with the target's aspect ratio, then resize it.

    `x` is `(height, width, channels)` or a batch of them (channels_first with
    `data_format="channels_first"`). A NumPy input gives a NumPy output.

    >>> smart_resize(np.ones((340, 500, 3), "float32"), (200, 200)).shape
    (200, 200, 3)
    """
    if kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {list(kwargs)}")
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    was_numpy = isinstance(x, np.ndarray)
    img = np.asarray(x) if was_numpy else x
    if not 3 <= len(img.shape) <= 4:
        raise ValueError(
            "Expected an image array with shape `(height, width, channels)`, or "
            "`(batch_size, height, width, channels)`, but got input with incorrect rank, "
            f"of shape {tuple(img.shape)}.")
    h_axis = len(img.shape) - (3 if data_format == "channels_last" else 2)
    height, width = int(img.shape[h_axis]), int(img.shape[h_axis + 1])
    target_height, target_width = size
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    top = int(float(height - crop_height) / 2)
    left = int(float(width - crop_width) / 2)
    index = [slice(None)] * len(img.shape)
    index[h_axis] = slice(top, top + crop_height)
    index[h_axis + 1] = slice(left, left + crop_width)
    out = ops_image.resize(img[tuple(index)], size, interpolation=interpolation,
                           data_format=data_format)
    return np.asarray(out) if was_numpy else out
