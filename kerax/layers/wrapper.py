"""`Wrapper`: the base of layers that wrap another layer (TimeDistributed,
Bidirectional's copies, SpectralNormalization)."""
from kerax.layers.layer import Layer
from kerax.registry import (deserialize_keras_object, register_builtin,
                                                serialize_keras_object)

__all__ = ["Wrapper"]


@register_builtin("keras.layers")
class Wrapper(Layer):
    """Holds `self.layer`; builds it with the input shape and serializes it
    under the `"layer"` key (Keras 3's `keras.layers.Wrapper`)."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"{type(self).__name__}: `layer` must be a kerax Layer instance, got "
                f"{layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
            object.__setattr__(self.layer, "built", True)
            self.layer._build_shapes = input_shape
        self.built = True

    def get_config(self):
        config = super().get_config()
        config["layer"] = serialize_keras_object(self.layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_keras_object(
            config["layer"], custom_objects=custom_objects, module="keras.layers")
        return super().from_config(config)
