"""kerax: Keras-compatible deep learning that runs as pure JAX functions."""
import contextlib as _contextlib

import jax as _jax  # first, with the collector as the user set it

from kerax.core.gc_pause import gc_paused as _gc_paused  # stdlib only

# kerax's ~190 modules create many objects that live as long as the process
# (classes, functions, registries): the cyclic garbage collector would scan
# them over and over while they import (~50 ms of `import kerax`). It is
# paused while they import and restored afterwards if it was on.
with _gc_paused():
    from kerax.version import __version__  # noqa: F401

    from kerax import config  # noqa: F401
    config._init_compilation_cache()  # JAX's persistent cache, per user (kerax.config)
    from kerax.variables import Variable  # noqa: F401
    from kerax import ops  # noqa: F401
    from kerax import backend  # noqa: F401
    from kerax import random  # noqa: F401
    from kerax import saving  # noqa: F401
    from kerax import utils  # noqa: F401
    from kerax.transforms import function, grad, value_and_grad  # noqa: F401
    from kerax import activations, constraints, initializers, regularizers  # noqa: F401
    from kerax import losses, metrics, optimizers  # noqa: F401
    from kerax import layers  # noqa: F401
    from kerax import models  # noqa: F401
    from kerax import distillation  # noqa: F401
    from kerax import callbacks, export, mixed_precision  # noqa: F401
    from kerax import preprocessing  # noqa: F401
    from kerax import distribution  # noqa: F401
    from kerax.layers import Input, KerasTensor, Layer  # noqa: F401
    from kerax.models import Model, Sequential  # noqa: F401
    from kerax.losses import Loss  # noqa: F401
    from kerax.metrics import Metric  # noqa: F401
    from kerax import tree, dtype_policies  # noqa: F401
    from kerax.dtype_policies import DTypePolicy, FloatDTypePolicy  # noqa: F401
    from kerax import quantizers  # noqa: F401
    from kerax.quantizers import Quantizer  # noqa: F401
    from kerax.initializers import Initializer  # noqa: F401
    from kerax.regularizers import Regularizer  # noqa: F401
    from kerax.optimizers import Optimizer  # noqa: F401
    from kerax.core.scope import StatelessScope, SymbolicScope  # noqa: F401
    from kerax.core.naming import name_scope  # noqa: F401
    from kerax.core.remat import RematScope, remat  # noqa: F401
    from kerax.layers.input_spec import InputSpec  # noqa: F401
    from kerax.layers.operation import Operation  # noqa: F401
    from kerax.models.functional import Function  # noqa: F401


@_contextlib.contextmanager
def device(device_name):
    """`with kerax.device("cpu:0"):` places new arrays on that device
    ("cpu", "gpu", "tpu", optionally ":index"), via `jax.default_device`."""
    kind, _, index = str(device_name).lower().partition(":")
    try:
        dev = _jax.devices(kind)[int(index or 0)]
    except (RuntimeError, IndexError, ValueError) as e:
        raise ValueError(f"device: no JAX device {device_name!r} ({e}).") from e
    with _jax.default_device(dev):
        yield


# Loaded on first use, so `import kerax` stays light: the model zoo, the
# dataset loaders and the plotting helpers (`kerax.applications.ResNet50`,
# `kerax.datasets.mnist`, `kerax.visualization` work as attributes).
_LAZY = ("applications", "datasets", "visualization")


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module = importlib.import_module(f"kerax.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kerax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

