"""Global settings: default float dtype, epsilon, image data format, dtype promotion."""
import contextlib

import jax
import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def floatx():
    """The default float dtype, as a string (Keras' `keras.config.floatx`)."""
    return _FLOATX


def set_floatx(value):
    global _FLOATX
    value = str(np.dtype(value).name if value != "bfloat16" else value)
    if value not in _FLOAT_DTYPES:
        raise ValueError(f"set_floatx: expected one of {_FLOAT_DTYPES}, got {value!r}.")
    if value == "float64" and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    _FLOATX = value


def epsilon():
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def image_data_format():
    return _IMAGE_DATA_FORMAT


def set_image_data_format(value):
    global _IMAGE_DATA_FORMAT
    value = str(value).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            "set_image_data_format: expected 'channels_last' or 'channels_first', "
            f"got {value!r}.")
    _IMAGE_DATA_FORMAT = value


_PROMOTION = ("standard", "strict")


def set_dtype_promotion(mode):
    """Set how mixed dtypes combine: "standard" (NumPy-like, JAX's rules) or
    "strict" (as in TensorFlow: float32 + int32 or float32 + float64 raise; use
    `kerax.ops.cast`)."""
    if mode not in _PROMOTION:
        raise ValueError(f"set_dtype_promotion: expected one of {_PROMOTION}, got {mode!r}.")
    jax.config.update("jax_numpy_dtype_promotion", mode)


def get_dtype_promotion():
    return jax.config.jax_numpy_dtype_promotion


@contextlib.contextmanager
def dtype_promotion(mode):
    """Context manager form of `set_dtype_promotion`."""
    if mode not in _PROMOTION:
        raise ValueError(f"dtype_promotion: expected one of {_PROMOTION}, got {mode!r}.")
    with jax.numpy_dtype_promotion(mode):
        yield


def backend():
    return "jax"
