"""`Sequential`: a linear stack of layers."""
from kerax.layers.core import InputLayer
from kerax.layers.layer import KerasTensor, Layer
from kerax.layers.masking_utils import call_with_masks
from kerax.models import host_prefix
from kerax.models.model import Model
from kerax.registry import deserialize_keras_object, register_builtin, serialize_keras_object

__all__ = ["Sequential"]


@register_builtin("keras")
@register_builtin("keras.models")
class Sequential(Model):
    """`Sequential([layers...])` or `.add(layer)`; built from an Input, a first
    layer's `input_shape`, or lazily on the first call."""

    _kerax_base_class = True
    _kerax_sequential = True
    _compiled_calls = True  # model(x) on arrays may run compiled (compiled_call.py)

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        Model.__init__(self, trainable=trainable, name=name, **kwargs)
        self._layers = []
        for layer in layers or ():
            self.add(layer, rebuild=False)
        self._maybe_build_from_input()

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor) and layer._history is not None and \
                isinstance(layer._history[0], InputLayer):
            layer = layer._history[0]
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Sequential.add: expected a kerax layer, got {layer!r} "
                f"({type(layer).__name__}).")
        if isinstance(layer, InputLayer) and any(isinstance(l, InputLayer) for l in self._layers):
            raise ValueError("Sequential.add: the model already has an Input layer.")
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("Sequential.add: an Input layer must come first.")
        if any(l.name == layer.name and l is not layer for l in self._layers):
            raise ValueError(
                f"Sequential.add: all layers must have unique names; {layer.name!r} "
                "is already in the model.")
        self._layers.append(layer)
        object.__setattr__(self, "built", False)
        if rebuild:
            self._maybe_build_from_input()

    def pop(self, rebuild=True):
        layers = self.layers
        if not layers:
            raise ValueError("Sequential.pop: there are no layers to remove.")
        layer = layers[-1]
        self._layers.remove(layer)
        object.__setattr__(self, "built", False)
        if rebuild:
            self._maybe_build_from_input()
        return layer

    def _input_batch_shape(self):
        if self._layers and isinstance(self._layers[0], InputLayer):
            return self._layers[0].batch_shape
        if self._layers and self._layers[0]._batch_input_shape is not None:
            return self._layers[0]._batch_input_shape
        return None

    def _maybe_build_from_input(self):
        shape = self._input_batch_shape()
        if shape is not None and self.layers:
            self.build(shape)

    def build(self, input_shape=None):
        if input_shape is None:
            input_shape = self._input_batch_shape()
        if input_shape is None:
            raise ValueError(
                f"Sequential {self.name!r}: cannot build without an input shape; add a "
                "kerax.Input, pass input_shape to the first layer, or call the model "
                "on data.")
        if not self._layers or not isinstance(self._layers[0], InputLayer):
            input_shape = (None,) + tuple(input_shape)[1:]
            inp = InputLayer(batch_shape=tuple(input_shape), dtype=self._layers[0].dtype
                             if self._layers else None)
            self._layers.insert(0, inp)
        x = self._layers[0].output
        with self._name_scope():  # weights read `sequential/dense/kernel`, as in Keras
            for layer in self._layers[1:]:
                x = layer(x)
        self._symbolic_output = x
        self._build_shapes = tuple(input_shape)
        object.__setattr__(self, "built", True)

    def call(self, inputs, training=None, mask=None):
        if host_prefix.in_device_mode(self):  # string inputs: the layers after the host ones
            return host_prefix.of(self).device_graph.run(inputs, training=training)
        x = inputs
        for layer in self.layers:
            kwargs = {"training": training} if layer._call_signature()["training"] else {}
            x, masks = call_with_masks(layer, (x,), kwargs, (mask,), {})
            mask = masks[0] if masks else None  # implicit mask (masking_utils)
        return x

    @property
    def inputs(self):
        if self._layers and isinstance(self._layers[0], InputLayer):
            return [self._layers[0].output]
        return None

    @property
    def outputs(self):
        out = getattr(self, "_symbolic_output", None)
        return [out] if out is not None else None

    @property
    def input_shape(self):
        shape = self._input_batch_shape()
        if shape is None:
            raise AttributeError(f"Sequential {self.name!r} has no defined input shape yet.")
        return shape

    @property
    def output_shape(self):
        out = getattr(self, "_symbolic_output", None)
        if out is None:
            raise AttributeError(f"Sequential {self.name!r} is not built yet.")
        return out.shape

    def get_config(self):
        layers = [serialize_keras_object(l) for l in self._layers]
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": Layer.get_config(self)["dtype"], "layers": layers}
        if self._build_shapes is not None if "_build_shapes" in self.__dict__ else False:
            config["build_input_shape"] = list(self._build_shapes)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = [deserialize_keras_object(c, custom_objects=custom_objects, module="keras.layers")
                  for c in config.get("layers", [])]
        model = cls(layers=layers, name=config.get("name"), trainable=config.get("trainable", True))
        shape = config.get("build_input_shape")
        if not model.built and shape is not None:
            model.build(tuple(shape))
        return model
