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


# ---- switches (Keras 3's keras.config) ---------------------------------------------
_SWITCHES = {"unsafe_deserialization": False, "interactive_logging": True,
             "flash_attention": None, "max_epochs": None, "max_steps_per_epoch": None}


def enable_unsafe_deserialization():
    """Allow Lambda bytecode to be loaded where no `safe_mode` is given
    (`deserialize_function(config)` outside any `SafeModeScope`). Unlike
    Keras, it never overrides an explicit `safe_mode=True` (load_model's
    default): pass `safe_mode=False` to that call."""
    _SWITCHES["unsafe_deserialization"] = True


def unsafe_deserialization_enabled():
    return _SWITCHES["unsafe_deserialization"]


def enable_interactive_logging():
    """Log to stdout (progress bars, summaries): the default."""
    _SWITCHES["interactive_logging"] = True


def disable_interactive_logging():
    """Send kerax's messages to Python's `logging` instead of stdout."""
    _SWITCHES["interactive_logging"] = False


def is_interactive_logging_enabled():
    """Whether messages go to stdout.

    >>> is_interactive_logging_enabled()
    True
    """
    return _SWITCHES["interactive_logging"]


def enable_flash_attention():
    """Let attention use flash attention where the platform supports it (the
    default "auto", as in Keras: `is_flash_attention_enabled()` is None)."""
    _SWITCHES["flash_attention"] = None


def disable_flash_attention():
    _SWITCHES["flash_attention"] = False


def is_flash_attention_enabled():
    """False if disabled, else None ("auto"), as Keras returns."""
    return _SWITCHES["flash_attention"]


def _positive_or_none(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"set_{name}: expected a positive int or None, got {value!r}.")
    return value


def max_epochs():
    """The cap on `fit`'s `epochs` (None: no cap)."""
    return _SWITCHES["max_epochs"]


def set_max_epochs(max_epochs):
    """Cap the number of epochs of every `fit` (None removes the cap)."""
    _SWITCHES["max_epochs"] = _positive_or_none("max_epochs", max_epochs)


def max_steps_per_epoch():
    """The cap on the steps of each epoch (None: no cap)."""
    return _SWITCHES["max_steps_per_epoch"]


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Cap the steps of each epoch of `fit`/`evaluate`/`predict` (None removes it)."""
    _SWITCHES["max_steps_per_epoch"] = _positive_or_none("max_steps_per_epoch",
                                                         max_steps_per_epoch)
