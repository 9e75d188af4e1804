"""kerax.layers: Keras 3's layers."""
from kerax.layers.layer import Layer, KerasTensor  # noqa: F401
from kerax.layers.core import (  # noqa: F401
    Activation, Dense, Identity, Input, InputLayer, Lambda)
