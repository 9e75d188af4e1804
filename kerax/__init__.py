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
from kerax.layers import Input, KerasTensor, Layer  # noqa: F401
from kerax.models import Model, Sequential  # noqa: F401
from kerax.losses import Loss  # noqa: F401
from kerax.metrics import Metric  # noqa: F401
