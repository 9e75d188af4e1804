"""kerax: Keras-compatible deep learning that runs as pure JAX functions."""
from kerax.version import __version__  # noqa: F401

from kerax import config  # noqa: F401
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
from kerax import datasets  # noqa: F401
from kerax import callbacks, export, mixed_precision  # noqa: F401
from kerax import preprocessing  # noqa: F401
from kerax import distribution  # noqa: F401
from kerax.layers import Input, KerasTensor, Layer  # noqa: F401
from kerax.models import Model, Sequential  # noqa: F401
from kerax.losses import Loss  # noqa: F401
from kerax.metrics import Metric  # noqa: F401
from kerax import tree, dtype_policies  # noqa: F401,E402
from kerax.dtype_policies import DTypePolicy, FloatDTypePolicy  # noqa: F401,E402
from kerax.initializers import Initializer  # noqa: F401,E402
from kerax.regularizers import Regularizer  # noqa: F401,E402
from kerax.optimizers import Optimizer  # noqa: F401,E402
from kerax.core.scope import StatelessScope, SymbolicScope  # noqa: F401,E402
from kerax.core.naming import name_scope  # noqa: F401,E402
from kerax.core.remat import RematScope, remat  # noqa: F401,E402
import contextlib as _contextlib  # noqa: E402

import jax as _jax  # noqa: E402


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




class InputSpec:
    """Keras' `InputSpec` (dtype, shape, ndim, max_ndim, min_ndim, axes,
    allow_last_axis_squeeze, name, optional). kerax layers do not check their
    inputs against `layer.input_spec`: it is kept and serialized only."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        if self.axes and self.ndim is None and self.min_ndim is None:
            raise ValueError("InputSpec: axes cannot be passed without ndim or min_ndim.")

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, spec_config):
        return cls(**spec_config)

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape),
                                         ("ndim", self.ndim), ("max_ndim", self.max_ndim),
                                         ("min_ndim", self.min_ndim), ("axes", self.axes))
                 if v]
        return f"InputSpec({', '.join(parts)})"


from kerax.layers.operation import Operation  # noqa: F401,E402
from kerax.models.functional import Function  # noqa: F401,E402
