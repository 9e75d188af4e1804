"""Adaptive pooling (Keras 3's AdaptiveAveragePooling1D/2D/3D and
AdaptiveMaxPooling1D/2D/3D): pool any spatial size to a fixed `output_size`.

Output bin `j` of an axis of length `n` covers `[floor(j * n / o), ceil((j + 1)
* n / o))`, Keras' (and PyTorch's) boundaries; bins may overlap when `o` does
not divide `n`, and repeat inputs when `o > n`."""
from kerax import ops
from kerax.layers.convolutional import check_rank, standardize_data_format
from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
           "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]

_AXES = {1: "length", 2: "(height, width)", 3: "(depth, height, width)"}


class _AdaptivePooling(Layer):
    rank = None
    _op = None

    def __init__(self, output_size, data_format=None, **kwargs):
        n = self.rank
        where = f"{type(self).__name__}"
        if isinstance(output_size, int) and not isinstance(output_size, bool):
            output_size = (output_size,) * n
        elif isinstance(output_size, (tuple, list)) and len(output_size) == n:
            output_size = tuple(output_size)
        else:
            raise TypeError(
                f"{where}: `output_size` must be an integer or a tuple of {n} integers "
                f"{_AXES[n]}, got {output_size!r}.")
        if not all(isinstance(o, int) and not isinstance(o, bool) and o > 0
                   for o in output_size):
            raise ValueError(
                f"{where}: `output_size` must hold positive integers, got {output_size!r}.")
        super().__init__(**kwargs)
        self.output_size = output_size
        self.data_format = standardize_data_format(data_format, f"{where} {self.name!r}")

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank, self.data_format)
        self.built = True

    def call(self, inputs):
        return type(self)._op(inputs, self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": self.output_size, "data_format": self.data_format})
        return config


def _average(inputs, output_size, data_format):
    return ops.adaptive_average_pool(inputs, output_size, data_format=data_format)


def _max(inputs, output_size, data_format):
    return ops.adaptive_max_pool(inputs, output_size, data_format=data_format)


def _make(name, rank, op, doc):
    cls = type(name, (_AdaptivePooling,), {"rank": rank, "_op": staticmethod(op),
                                           "__doc__": doc, "__module__": __name__})
    return register_builtin("keras.layers")(cls)


AdaptiveAveragePooling1D = _make(
    "AdaptiveAveragePooling1D", 1, _average,
    """Averages `(batch, steps, channels)` inputs into `output_size` bins.

    >>> import numpy as np, kerax
    >>> y = kerax.layers.AdaptiveAveragePooling1D(2)(np.arange(6, dtype="float32")[None, :, None])
    >>> np.asarray(y)[0, :, 0].tolist()
    [1.0, 4.0]
    """)
AdaptiveAveragePooling2D = _make(
    "AdaptiveAveragePooling2D", 2, _average,
    """Averages `(batch, height, width, channels)` inputs into `output_size`
    (an int or `(height, width)`) bins.

    >>> import numpy as np, kerax
    >>> kerax.layers.AdaptiveAveragePooling2D((2, 3))(np.ones((1, 5, 7, 3))).shape
    (1, 2, 3, 3)
    """)
AdaptiveAveragePooling3D = _make(
    "AdaptiveAveragePooling3D", 3, _average,
    """Averages `(batch, depth, height, width, channels)` inputs into
    `output_size` (an int or `(depth, height, width)`) bins.

    >>> import numpy as np, kerax
    >>> kerax.layers.AdaptiveAveragePooling3D(2)(np.ones((1, 5, 4, 3, 2))).shape
    (1, 2, 2, 2, 2)
    """)
AdaptiveMaxPooling1D = _make(
    "AdaptiveMaxPooling1D", 1, _max,
    """Max over `output_size` bins of `(batch, steps, channels)` inputs.

    >>> import numpy as np, kerax
    >>> y = kerax.layers.AdaptiveMaxPooling1D(2)(np.arange(5, dtype="float32")[None, :, None])
    >>> np.asarray(y)[0, :, 0].tolist()
    [2.0, 4.0]
    """)
AdaptiveMaxPooling2D = _make(
    "AdaptiveMaxPooling2D", 2, _max,
    """Max over `output_size` (an int or `(height, width)`) bins of
    `(batch, height, width, channels)` inputs.

    >>> import numpy as np, kerax
    >>> kerax.layers.AdaptiveMaxPooling2D(3)(np.ones((1, 7, 5, 2))).shape
    (1, 3, 3, 2)
    """)
AdaptiveMaxPooling3D = _make(
    "AdaptiveMaxPooling3D", 3, _max,
    """Max over `output_size` (an int or `(depth, height, width)`) bins of
    `(batch, depth, height, width, channels)` inputs.

    >>> import numpy as np, kerax
    >>> kerax.layers.AdaptiveMaxPooling3D((1, 2, 3))(np.ones((1, 4, 4, 4, 2))).shape
    (1, 1, 2, 3, 2)
    """)
