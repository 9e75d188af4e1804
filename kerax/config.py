"""Global settings (`kerax.config`, Keras 3's `keras.config`): default float
dtype, epsilon, image data format, dtype promotion, the dtype policy and the
switches (unsafe deserialization, interactive logging, flash attention,
max epochs/steps). The state lives in `kerax.core.config`.

Traceback filtering: kerax does not filter tracebacks (every frame is shown),
so `disable_traceback_filtering()` holds trivially and
`enable_traceback_filtering()` raises NotImplementedError.
"""
import os
import warnings

import jax

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


# ---- kerax's own switches (not in Keras) --------------------------------------------
_COMPILED_CALLS = [True]


def enable_compiled_calls():
    """Let `model(x)` on concrete arrays run through a compiled program per
    input signature (the default; see `kerax.models.compiled_call`)."""
    _COMPILED_CALLS[0] = True


def disable_compiled_calls():
    """Run every eager `model(x)` op by op, as Keras does (for debugging with
    `print` in a layer's `call`)."""
    _COMPILED_CALLS[0] = False


def is_compiled_calls_enabled():
    return _COMPILED_CALLS[0]


_CACHE = {"dir": None}


def default_compilation_cache_dir():
    """`$KERAX_CACHE_DIR/jax` if set, else `$XDG_CACHE_HOME/kerax/jax` (or
    `~/.cache/kerax/jax`)."""
    root = os.environ.get("KERAX_CACHE_DIR")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache"), "kerax")
    return os.path.join(root, "jax")


def enable_compilation_cache(path=None):
    """Keep compiled XLA programs on disk (JAX's persistent compilation
    cache), so a re-run of a script or notebook compiles nothing it compiled
    before. On by default at `import kerax`, in
    `default_compilation_cache_dir()`; `KERAX_COMPILATION_CACHE=0` in the
    environment keeps it off, and a cache folder set through JAX's own
    `jax_compilation_cache_dir` is left as it is.

    >>> import kerax
    >>> kerax.config.compilation_cache_dir() is None or isinstance(
    ...     kerax.config.compilation_cache_dir(), str)
    True
    """
    path = os.path.abspath(os.path.expanduser(path or default_compilation_cache_dir()))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        warnings.warn(f"kerax: compilation cache disabled ({path} cannot be created: {e}).",
                      stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_enable_compilation_cache", True)
    # small programs are worth keeping too: most of a notebook's are (JAX's
    # default keeps only those that took over a second to compile)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    _CACHE["dir"] = path
    return path


def disable_compilation_cache():
    """Stop reading and writing compiled programs on disk."""
    jax.config.update("jax_enable_compilation_cache", False)
    _CACHE["dir"] = None


def compilation_cache_dir():
    """The folder compiled programs are kept in, or None when the cache is off."""
    return _CACHE["dir"]


def _init_compilation_cache():
    """At import: the default cache, unless turned off or set up already."""
    if os.environ.get("KERAX_COMPILATION_CACHE", "1").lower() in ("0", "false", "no", "off"):
        return
    if jax.config.jax_compilation_cache_dir:  # the user's own JAX setting wins
        _CACHE["dir"] = jax.config.jax_compilation_cache_dir
        return
    enable_compilation_cache()
