"""Global settings (`kerax.config`, Keras 3's `keras.config`): default float
dtype, epsilon, image data format, dtype promotion, the dtype policy and the
switches (unsafe deserialization, interactive logging, flash attention,
max epochs/steps). The state lives in `kerax.core.config`.

Traceback filtering: kerax does not filter tracebacks (every frame is shown),
so `disable_traceback_filtering()` holds trivially and
`enable_traceback_filtering()` raises NotImplementedError.
"""
from kerax.core.config import (backend, disable_flash_attention,  # noqa: F401
                               disable_interactive_logging, dtype_promotion,
                               enable_flash_attention, enable_interactive_logging,
                               enable_unsafe_deserialization, epsilon, floatx,
                               get_dtype_promotion, image_data_format,
                               is_flash_attention_enabled, is_interactive_logging_enabled,
                               max_epochs, max_steps_per_epoch, set_dtype_promotion,
                               set_epsilon, set_floatx, set_image_data_format,
                               set_max_epochs, set_max_steps_per_epoch)
from kerax.dtype_policies import dtype_policy, set_dtype_policy  # noqa: F401


def is_traceback_filtering_enabled():
    """False: kerax shows every frame of a traceback."""
    return False


def disable_traceback_filtering():
    """Nothing to do: kerax never filters tracebacks."""


def enable_traceback_filtering():
    raise NotImplementedError(
        "enable_traceback_filtering: kerax does not filter tracebacks (every frame is "
        "shown); remove the call.")


def is_nnx_enabled():
    """False: kerax layers are not Flax NNX modules (use `kerax.layers.FlaxLayer`
    to wrap Flax modules)."""
    return False


def set_backend(backend):  # noqa: F811  (Keras' argument name)
    """kerax's only backend is "jax"; any other raises NotImplementedError."""
    if backend != "jax":
        raise NotImplementedError(
            f"set_backend: kerax runs only on JAX; got backend={backend!r}.")
