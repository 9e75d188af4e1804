"""SpatialDropout1D/2D/3D: dropout of whole feature maps (channels)."""
from kerax import config as _config
from kerax import random as _random
from kerax.layers.regularization import Dropout
from kerax.registry import register_builtin

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]


def _data_format(value, where):
    value = _config.image_data_format() if value is None else str(value).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{where}: `data_format` must be 'channels_last' or 'channels_first', got "
            f"{value!r}.")
    return value


class _SpatialDropout(Dropout):
    _rank = None

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)

    def _noise_shape(self, shape):
        raise NotImplementedError

    def call(self, inputs, training=False):
        if inputs.ndim != self._rank:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank "
                f"{self._rank}, got shape {tuple(inputs.shape)}.")
        if not training or self.rate == 0:
            return inputs
        return _random.dropout(inputs, self.rate, noise_shape=self._noise_shape(inputs.shape),
                               seed=self.seed_generator)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        return super().from_config(config)


@register_builtin("keras.layers")
class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of `(batch, steps, channels)` inputs in training."""

    _rank = 3

    def _noise_shape(self, shape):
        return (shape[0], 1, shape[2])


class _SpatialDropoutND(_SpatialDropout):
    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = _data_format(data_format, f"{type(self).__name__} {self.name!r}")

    def _noise_shape(self, shape):
        ones = (1,) * (self._rank - 2)
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + ones
        return (shape[0],) + ones + (shape[-1],)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


@register_builtin("keras.layers")
class SpatialDropout2D(_SpatialDropoutND):
    """Drops whole channels of 4-D image inputs in training."""

    _rank = 4


@register_builtin("keras.layers")
class SpatialDropout3D(_SpatialDropoutND):
    """Drops whole channels of 5-D volume inputs in training."""

    _rank = 5
