"""Image ops: Keras 3's `keras.ops.image` over jax.image, jax.lax and
jax.scipy.ndimage.

Images are (batch, height, width, channels) or (height, width, channels) with
data_format "channels_last" (channels first with "channels_first"); None means
`kerax.config.image_data_format()`.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.ops.core import convert_to_tensor
from kerax.random import draw_seed

_METHODS = {"nearest": "nearest", "bilinear": "linear", "bicubic": "cubic",
            "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def _data_format(data_format):
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}.")
    return data_format


def _images(images, data_format, ranks=(3, 4)):
    data_format = _data_format(data_format)
    x = convert_to_tensor(images)
    if x.ndim not in ranks:
        raise ValueError(f"expected images of rank {' or '.join(map(str, ranks))}, "
                         f"got shape {x.shape}.")
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



# --- patches -----------------------------------------------------------------

def _tuple(value, n, name):
    value = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(value) != n:
        raise ValueError(f"extract_patches: `{name}` must be an int or a tuple of "
                         f"{n} ints, got {value!r}.")
    return tuple(int(v) for v in value)


def _patches(x, size, strides, dilation_rate, padding, data_format, name):
    """Patches of an (N, *spatial, C) batch over len(size) spatial axes, each
    flattened (*size, C) into the last axis, as Keras' identity-kernel conv."""
    n = len(size)
    data_format = _data_format(data_format)
    if padding not in ("valid", "same"):
        raise ValueError(f"{name}: padding must be 'valid' or 'same', got {padding!r}.")
    x = convert_to_tensor(x)
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{name}: expected inputs of rank {n + 1} (unbatched) or "
                         f"{n + 2} (batched) for {n}D patches, got shape {x.shape}.")
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x[None]
    if data_format == "channels_first":
        x = jnp.moveaxis(x, 1, -1)
    spatial = "DHW"[-n:]
    channels = x.shape[-1]
    out = jax.lax.conv_general_dilated_patches(
        x, size, _tuple(size if strides is None else strides, n, "strides"),
        padding.upper(), rhs_dilation=_tuple(dilation_rate, n, "dilation_rate"),
        dimension_numbers=("N" + spatial + "C", "OI" + spatial, "N" + spatial + "C"),
        precision=jax.lax.Precision.HIGHEST)
    # lax flattens the features channel-major (C, *size); Keras wants (*size, C).
    lead = out.shape[:-1]
    out = jnp.moveaxis(out.reshape(lead + (channels,) + size), n + 1, -1).reshape(
        lead + (-1,))
    if data_format == "channels_first":
        out = jnp.moveaxis(out, -1, 1)
    return out[0] if unbatched else out


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """Patches of `size` (an int or (height, width); (depth, height, width) for
    volumes) flattened into the channel axis; `strides` defaults to `size`.

    >>> extract_patches(np.zeros((2, 20, 20, 3)), (5, 5)).shape
    (2, 4, 4, 75)
    """
    if not isinstance(size, (int, np.integer)):
        if not isinstance(size, (tuple, list)):
            raise TypeError("extract_patches: `size` must be an int or a tuple, got "
                            f"{size!r}.")
        if len(size) not in (2, 3):
            raise ValueError("extract_patches: `size` must have 2 or 3 entries, got "
                             f"{size!r}.")
    if not isinstance(size, (int, np.integer)) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding,
                                  data_format)
    size = _tuple(size, 2, "size")
    return _patches(images, size, strides or size, dilation_rate, padding,
                    data_format, "extract_patches")


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                       data_format=None):
    """3D patches of (depth, height, width) volumes, flattened into the channels.

    >>> extract_patches_3d(np.zeros((10, 10, 10, 3)), 3).shape
    (3, 3, 3, 81)
    """
    size = _tuple(size, 3, "size")
    return _patches(volumes, size, size if strides is None else strides, dilation_rate,
                    padding, data_format, "extract_patches_3d")


# --- colour spaces -------------------------------------------------------------

def _float_images(images, data_format, name):
    x, data_format = _images(images, data_format)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"{name}: expected float images, got dtype {x.dtype}.")
    if x.shape[-1] != 3:
        raise ValueError(f"{name}: expected 3 channels, got {x.shape[-1]}.")
    return x, data_format


def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] to HSV (hue, saturation, value), all in [0, 1].

    >>> rgb_to_hsv(np.array([[[1.0, 0.0, 0.0]]], "float32"))[0, 0].tolist()
    [0.0, 1.0, 1.0]
    """
    x, data_format = _float_images(images, data_format, "rgb_to_hsv")
    x = jnp.where(jnp.abs(x) < jnp.finfo(x.dtype).eps, 0.0, x).astype(x.dtype)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    value = jnp.max(x, axis=-1)
    spread = value - jnp.min(x, axis=-1)
    saturation = jnp.where(value > 0, spread / jnp.where(value > 0, value, 1.0), 0.0)
    scale = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    # The sector is chosen by which channel is the max (red before green before blue).
    hue = jnp.where(value == r, scale * (g - b),
                    jnp.where(value == g, scale * (b - r) + 1.0 / 3.0,
                              scale * (r - g) + 2.0 / 3.0))
    hue = jnp.where(spread > 0, hue, 0.0) + (hue < 0).astype(hue.dtype)
    return _back(jnp.stack([hue, saturation, value], axis=-1).astype(x.dtype), data_format)


def hsv_to_rgb(images, data_format=None):
    """HSV (all in [0, 1]) to RGB.

    >>> hsv_to_rgb(np.array([[[0.0, 1.0, 1.0]]], "float32"))[0, 0].tolist()
    [1.0, 0.0, 0.0]
    """
    x, data_format = _float_images(images, data_format, "hsv_to_rgb")
    hue, saturation, value = x[..., 0], x[..., 1], x[..., 2]
    sector = jnp.mod(hue, 1.0) * 6.0
    weights = jnp.stack([jnp.abs(sector - 3.0) - 1.0, 2.0 - jnp.abs(sector - 2.0),
                         2.0 - jnp.abs(sector - 4.0)], axis=-1)
    s = saturation[..., None]
    out = value[..., None] * (1.0 - s + s * jnp.clip(weights, 0.0, 1.0))
    return _back(out.astype(x.dtype), data_format)


# --- resampling ------------------------------------------------------------------

_ORDERS = {"nearest": 0, "bilinear": 1}
_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _check(name, arg, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}: `{arg}` must be one of {tuple(allowed)}, got {value!r}.")


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Sample `inputs` at `coordinates` (shape (inputs.ndim, ...)) with order-0
    (nearest) or order-1 (linear) interpolation.

    >>> float(map_coordinates(np.array([0.0, 10.0]), np.array([[0.25]]), 1)[0])
    2.5
    """
    inputs = convert_to_tensor(inputs)
    coordinates = convert_to_tensor(coordinates)
    if coordinates.ndim < 2:
        raise ValueError("map_coordinates: `coordinates` must have rank >= 2, got shape "
                         f"{coordinates.shape}.")
    if coordinates.shape[0] != inputs.ndim:
        raise ValueError("map_coordinates: the first dim of `coordinates` must equal the "
                         f"rank of `inputs` ({inputs.ndim}), got {coordinates.shape[0]}.")
    _check("map_coordinates", "fill_mode", fill_mode, _FILL_MODES)
    _check("map_coordinates", "order", order, (0, 1))
    return jax.scipy.ndimage.map_coordinates(inputs, list(coordinates), order,
                                             mode=fill_mode, cval=fill_value)


def _sample(x, rows, cols, order, fill_mode, fill_value):
    """Sample channels-last images x (N, H, W, C) at per-image (N, H', W') row
    and column coordinates, channel by channel."""
    def one(image, r, c):
        return jax.vmap(lambda ch: jax.scipy.ndimage.map_coordinates(
            ch, [r, c], order, mode=fill_mode, cval=fill_value),
            in_axes=-1, out_axes=-1)(image)
    return jax.vmap(one)(x, rows, cols)


def _batched(images, data_format):
    x, data_format = _images(images, data_format)
    unbatched = x.ndim == 3
    return (x[None] if unbatched else x), data_format, unbatched


def _unbatch(out, data_format, unbatched):
    out = _back(out, data_format)
    return out[0] if unbatched else out


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """Resample images through `transform` rows [a0, a1, a2, b0, b1, b2, c0, c1],
    mapping output (x, y) to input ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)
    with k = c0 x + c1 y + 1 (as Keras documents; its JAX backend takes c0 = c1 = 0).

    >>> affine_transform(np.ones((4, 4, 1)), [1, 0, 0, 0, 1, 0, 0, 0]).shape
    (4, 4, 1)
    """
    _check("affine_transform", "interpolation", interpolation, tuple(_ORDERS))
    _check("affine_transform", "fill_mode", fill_mode, _FILL_MODES)
    x, data_format, unbatched = _batched(images, data_format)
    t = convert_to_tensor(transform)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError("affine_transform: `transform` must have shape (8,) or (N, 8), "
                         f"got {t.shape}.")
    t = jnp.broadcast_to(t if t.ndim == 2 else t[None], (x.shape[0], 8))
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(config.floatx())
    out = _sample(x, *_projective(t, x.shape[1], x.shape[2]), _ORDERS[interpolation],
                  fill_mode, fill_value)
    return _unbatch(out, data_format, unbatched)


def _projective(t, height, width):
    """Input (row, col) coordinates, each (N, height, width), of the output pixels
    under projective transforms t (N, 8)."""
    y, x = jnp.meshgrid(jnp.arange(height, dtype=t.dtype), jnp.arange(width, dtype=t.dtype),
                        indexing="ij")
    t = t[:, :, None, None]
    k = t[:, 6] * x + t[:, 7] * y + 1.0
    return ((t[:, 3] * x + t[:, 4] * y + t[:, 5]) / k,
            (t[:, 0] * x + t[:, 1] * y + t[:, 2]) / k)


def _homography(start, end):
    """Transforms (N, 8) that map each output (end) corner back to its start corner."""
    sx, sy, ex, ey = start[..., 0], start[..., 1], end[..., 0], end[..., 1]
    zero, one = jnp.zeros_like(ex), jnp.ones_like(ex)
    rows_x = jnp.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    rows_y = jnp.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    a = jnp.concatenate([rows_x, rows_y], axis=1)
    return jnp.linalg.solve(a, jnp.concatenate([sx, sy], axis=-1)[..., None])[..., 0]


def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """Warp images so the 4 `start_points` (x, y) land on `end_points`; shapes
    (4, 2) or (N, 4, 2). Pixels from outside the image are `fill_value`.

    >>> pts = np.array([[0, 0], [3, 0], [0, 3], [3, 3]], "float32")
    >>> perspective_transform(np.ones((4, 4, 1)), pts, pts).shape
    (4, 4, 1)
    """
    _check("perspective_transform", "interpolation", interpolation, tuple(_ORDERS))
    x, data_format, unbatched = _batched(images, data_format)
    start = convert_to_tensor(start_points, dtype="float32")
    end = convert_to_tensor(end_points, dtype="float32")
    for arg, p in (("start_points", start), ("end_points", end)):
        if p.ndim not in (2, 3) or p.shape[-2:] != (4, 2):
            raise ValueError(f"perspective_transform: `{arg}` must have shape (4, 2) or "
                             f"(N, 4, 2), got {p.shape}.")
    if start.shape != end.shape:
        raise ValueError("perspective_transform: start_points and end_points must have "
                         f"the same shape, got {start.shape} and {end.shape}.")
    t = _homography(start.reshape(-1, 4, 2), end.reshape(-1, 4, 2))
    t = jnp.broadcast_to(t, (x.shape[0], 8))
    out = _sample(x, *_projective(t, x.shape[1], x.shape[2]), _ORDERS[interpolation],
                  "constant", fill_value)
    return _unbatch(out, data_format, unbatched)


_SCALE_METHODS = ("linear", "bilinear", "trilinear", "cubic", "bicubic", "tricubic",
                  "lanczos3", "lanczos5")


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method,
                        antialias=True):
    """`jax.image.scale_and_translate` with Keras' argument order.

    >>> scale_and_translate(np.ones((4, 4)), (8, 8), [2.0, 2.0], [0.0, 0.0],
    ...                     (0, 1), "linear").shape
    (8, 8)
    """
    _check("scale_and_translate", "method", method, _SCALE_METHODS)
    return jax.image.scale_and_translate(
        convert_to_tensor(images), tuple(output_shape), tuple(spatial_dims),
        convert_to_tensor(scale), convert_to_tensor(translation), method, antialias)


# --- filters --------------------------------------------------------------------

def _depthwise(x, kernel, padding="SAME"):
    """Convolve every channel of NHWC x with the same 2D kernel."""
    c = x.shape[-1]
    k = jnp.broadcast_to(kernel[:, :, None, None], kernel.shape + (1, c))
    return jax.lax.conv_general_dilated(
        x, k.astype(x.dtype), (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=c, precision=jax.lax.Precision.HIGHEST)


def _gaussian_1d(size, sigma, dtype):
    t = jnp.arange(size, dtype=dtype) - (size - 1) / 2.0
    g = jnp.exp(-0.5 * (t / sigma) ** 2)
    return g / jnp.sum(g)


def _float(x):
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(config.floatx())


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Blur each channel with a Gaussian (zero padding, same size). As in Keras
    (all backends), `kernel_size` and `sigma` are given width first.

    >>> gaussian_blur(np.ones((1, 5, 5, 2), "float32")).shape
    (1, 5, 5, 2)
    """
    x, data_format, unbatched = _batched(images, data_format)
    x = _float(x)
    sigma = convert_to_tensor(sigma, dtype=x.dtype)
    sigma = jnp.broadcast_to(sigma, (2,))
    kw, kh = _tuple(kernel_size, 2, "kernel_size")
    kernel = jnp.outer(_gaussian_1d(kh, sigma[1], x.dtype), _gaussian_1d(kw, sigma[0], x.dtype))
    return _unbatch(_depthwise(x, kernel), data_format, unbatched)


def sobel_edges(images, data_format=None):
    """Sobel gradients of each channel, stacked [d/dy, d/dx] on a new last axis:
    (..., 2) after the input's own shape (zero padding).

    >>> sobel_edges(np.ones((1, 4, 4, 3), "float32")).shape
    (1, 4, 4, 3, 2)
    """
    x, data_format, unbatched = _batched(images, data_format)
    x = _float(x)
    sx = jnp.asarray([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=x.dtype)
    edges = [_unbatch(_depthwise(x, k), data_format, unbatched) for k in (sx.T, sx)]
    return jnp.stack(edges, axis=-1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """Structural similarity (Wang et al. 2004) with a Gaussian window (valid
    padding), averaged over pixels and channels: one value per image.

    >>> img = np.random.default_rng(0).random((16, 16, 3)).astype("float32")
    >>> round(float(ssim(img, img)), 4)
    1.0
    """
    a, data_format, unbatched = _batched(image1, data_format)
    b, _, _ = _batched(image2, data_format)
    if a.shape != b.shape:
        raise ValueError(f"ssim: the images must have the same shape, got {a.shape} "
                         f"and {b.shape}.")
    dtype = a.dtype
    a, b = _float(a), _float(b).astype(_float(a).dtype)
    g = _gaussian_1d(int(filter_size), filter_sigma, a.dtype)
    window = jnp.outer(g, g)

    def mean(v):
        return _depthwise(v, window, "VALID")
    mu_a, mu_b = mean(a), mean(b)
    var_a = mean(a * a) - mu_a * mu_a
    var_b = mean(b * b) - mu_b * mu_b
    cov = mean(a * b) - mu_a * mu_b
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ssim_map = ((2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    out = jnp.mean(ssim_map, axis=(1, 2, 3)).astype(dtype)
    return out[0] if unbatched else out


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear",
                      fill_mode="reflect", fill_value=0.0, seed=None, data_format=None):
    """Random elastic deformation: per-pixel displacements drawn N(0, sigma²),
    smoothed by a Gaussian of std `sigma` (kernel int(6 sigma) | 1) and scaled by
    `alpha`. `seed` is an int, a `kerax.random.SeedGenerator` or None (global).
    Unlike Keras' JAX backend (which reuses one draw for both), the row and
    column displacements are independent.

    >>> elastic_transform(np.ones((8, 8, 1), "float32"), seed=1).shape
    (8, 8, 1)
    """
    _check("elastic_transform", "interpolation", interpolation, tuple(_ORDERS))
    _check("elastic_transform", "fill_mode", fill_mode, _FILL_MODES)
    x, data_format, unbatched = _batched(images, data_format)
    dtype = x.dtype
    noise_dtype = dtype if jnp.issubdtype(dtype, jnp.floating) else config.floatx()
    n, h, w, _ = x.shape
    size = int(6 * float(sigma)) | 1
    key_rows, key_cols = jax.random.split(draw_seed(seed))
    shifts = []
    for key in (key_rows, key_cols):
        noise = jax.random.normal(key, (n, h, w, 1), dtype=noise_dtype) * sigma
        shifts.append(alpha * gaussian_blur(noise, (size, size), (sigma, sigma),
                                            "channels_last")[..., 0])
    rows, cols = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
    out = _sample(x, rows + shifts[0], cols + shifts[1], _ORDERS[interpolation],
                  fill_mode, fill_value)
    return _unbatch(out.astype(dtype), data_format, unbatched)


__all__ = ["resize", "rgb_to_grayscale", "crop_images", "pad_images", "extract_patches",
           "extract_patches_3d", "rgb_to_hsv", "hsv_to_rgb", "map_coordinates",
           "affine_transform", "perspective_transform", "scale_and_translate",
           "gaussian_blur", "sobel_edges", "ssim", "elastic_transform"]
