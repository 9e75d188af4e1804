"""kerax.layers: Keras 3's layers."""
from kerax.layers.layer import Layer, KerasTensor  # noqa: F401
from kerax.layers.core import (  # noqa: F401
    Activation, Dense, Identity, Input, InputLayer, Lambda)
from kerax.layers.reshaping import Flatten, Permute, RepeatVector, Reshape  # noqa: F401
from kerax.layers.merging import (  # noqa: F401
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
    concatenate, dot, maximum, minimum, multiply, subtract)
from kerax.layers.regularization import (  # noqa: F401
    ActivityRegularization, AlphaDropout, Dropout, GaussianDropout, GaussianNoise)
from kerax.layers.normalization import (  # noqa: F401
    BatchNormalization, LayerNormalization, UnitNormalization)
from kerax.layers.embedding import Embedding  # noqa: F401
from kerax.layers.einsum_dense import EinsumDense  # noqa: F401
from kerax.layers.preprocessing import Normalization, Rescaling  # noqa: F401
