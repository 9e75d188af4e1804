"""Pipeline: a layer that applies a list of layers one after the other
(Keras 3's `keras.layers.Pipeline`, typically for preprocessing)."""
from kerax.layers.layer import Layer
from kerax.registry import (deserialize_keras_object, register_builtin,
                            serialize_keras_object)

__all__ = ["Pipeline"]


@register_builtin("keras.layers")
class Pipeline(Layer):
    """Applies `layers` in order. Each layer gets `training` (when its call
    takes it and `training` is not None) and the mask the previous layer
    computed (when its call takes `mask`); the pipeline's own output carries
    no mask to later layers. Unlike a Sequential model it is a
    plain layer: it has no `compile`/`fit`, and inputs are passed through as
    they are (dicts and non-tensor inputs included).

    >>> import numpy as np, kerax
    >>> pipe = kerax.layers.Pipeline([kerax.layers.Rescaling(2.0),
    ...                               kerax.layers.Rescaling(0.5, offset=1.0)])
    >>> np.asarray(pipe(np.array([1.0, 2.0]))).tolist()
    [2.0, 3.0]
    """

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        if not isinstance(layers, (list, tuple)) or not all(
                isinstance(layer, Layer) for layer in layers):
            raise ValueError(
                f"Pipeline {self.name!r}: `layers` must be a list of kerax layers, got "
                f"{layers!r}.")
        self._pipeline_layers = list(layers)

    @property
    def layers(self):
        return self._pipeline_layers

    def _convert_inputs(self, args):
        return args  # each layer converts its own inputs

    def build(self, input_shape=None):
        self.built = True  # each layer builds on its first call

    def call(self, inputs, training=True, mask=None):
        outputs = inputs
        for layer in self._pipeline_layers:
            sig = layer._call_signature()
            kwargs = {}
            if sig["mask"]:
                kwargs["mask"] = mask
            if sig["training"] and training is not None:
                kwargs["training"] = training
            outputs = layer(inputs, **kwargs)
            mask = layer.compute_mask(inputs, mask) if getattr(
                layer, "supports_masking", False) else None
            inputs = outputs
        return outputs

    def get_config(self):
        return {"layers": serialize_keras_object(self._pipeline_layers), "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError(
                "Pipeline: the config must have a `layers` key holding a list of "
                f"serialized layers, got layers={layers!r}.")
        config = dict(config)
        config["layers"] = [deserialize_keras_object(x, custom_objects=custom_objects,
                                                     module="keras.layers") for x in layers]
        return cls(**config)
