"""`Model`: a Layer with training (compile/fit), summary and, when built from
`inputs`/`outputs`, a functional graph (`Functional`)."""
import json

import jax

from kerax.export import export_model
from kerax.layers.core import InputLayer
from kerax.layers.layer import KerasTensor, Layer, _is_kt, _is_shape
from kerax.layers.quantized import quantize_model
from kerax.models import compiled_call, host_prefix
from kerax.models.functional import build_graph
from kerax.models.functional_config import (functional_config, functional_from_config,
                                            serialize_model_config)
from kerax.models.summary import print_summary
from kerax.registry import register_builtin
from kerax.saving import keras_file, saving_api
from kerax.trainers.trainer import Trainer

__all__ = ["Model", "Functional"]


def _is_symbolic_structure(x):
    leaves = jax.tree_util.tree_leaves(x, is_leaf=_is_kt)
    return bool(leaves) and all(isinstance(l, KerasTensor) for l in leaves)


class Model(Trainer, Layer):
    """A model: subclass it and write `call`, or build one from symbolic tensors:
    `kerax.Model(inputs, outputs)` (functional API)."""

    _kerax_base_class = True  # saving's property walk skips kerax's base classes
    # whether eager `model(x)` may run through a compiled program per input
    # signature (Functional and Sequential: their call is kerax's graph walk)
    _compiled_calls = False

    def __call__(self, *args, **kwargs):
        # string inputs: the host layers first, then the rest (models/host_prefix.py)
        out = host_prefix.call(self, args, kwargs)
        if out is not host_prefix.NOT_ROUTED:
            return out
        if self._compiled_calls:
            out = compiled_call.call(self, args, kwargs)
            if out is not compiled_call.NOT_COMPILED:
                return out
        return Layer.__call__(self, *args, **kwargs)

    def __new__(cls, *args, **kwargs):
        if cls is Model and (("inputs" in kwargs and "outputs" in kwargs) or (
                len(args) >= 2 and _is_symbolic_structure(args[0]))):
            return Layer.__new__(Functional, *args, **kwargs)
        return Layer.__new__(cls, *args, **kwargs)  # captures the constructor's arguments

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", None)
        outputs = kwargs.pop("outputs", None)
        if inputs is None and args and _is_symbolic_structure(args[0]):
            inputs, args = args[0], args[1:]
            if outputs is None and args:
                outputs, args = args[0], args[1:]
        if args:
            raise TypeError(f"Model.__init__ got unexpected positional arguments {args!r}.")
        Layer.__init__(self, **kwargs)
        self._graph = None
        if inputs is not None:
            if outputs is None:
                raise ValueError("Model(inputs, outputs): `outputs` is required with `inputs`.")
            self._init_graph(inputs, outputs)

    # ---- functional graph --------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        self._graph = build_graph(inputs, outputs, self.name)
        self._layers = list(self._graph.layers)
        self._build_shapes = self._graph.input_shapes()
        object.__setattr__(self, "built", True)

    @property
    def _host_layer(self):
        """Whether the model takes string inputs (it then runs on the host,
        nested in another model, as its host layers do)."""
        graph = self.__dict__.get("_graph")
        return graph is not None and any(t.dtype == "string" for t in graph.flat_inputs)

    # string inputs: the host layers run on `x` before the compiled steps
    fit = host_prefix.routed(Trainer.fit)
    evaluate = host_prefix.routed(Trainer.evaluate)
    predict = host_prefix.routed(Trainer.predict)
    train_on_batch = host_prefix.routed(Trainer.train_on_batch)
    test_on_batch = host_prefix.routed(Trainer.test_on_batch)
    predict_on_batch = host_prefix.routed(Trainer.predict_on_batch)

    @property
    def inputs(self):
        if self._graph is None:
            return None
        return list(self._graph.flat_inputs)

    @property
    def outputs(self):
        if self._graph is None:
            return None
        return list(self._graph.flat_outputs)

    @property
    def input(self):
        return self._graph.inputs if self._graph is not None else None

    @property
    def output(self):
        return self._graph.outputs if self._graph is not None else None

    @property
    def input_shape(self):
        if self._graph is None:
            raise AttributeError(f"Model {self.name!r} has no defined input shape.")
        shapes = [t.shape for t in self._graph.flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        if self._graph is None:
            raise AttributeError(f"Model {self.name!r} has no defined output shape.")
        shapes = [t.shape for t in self._graph.flat_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            raise NotImplementedError(
                f"Model {type(self).__name__}: subclasses must implement call(), or "
                "build the model with kerax.Model(inputs, outputs).")
        graph = self._graph
        if host_prefix.in_device_mode(self):  # inputs: the host layers' outputs
            graph = host_prefix.of(self).device_graph
        outputs = graph.run(inputs, training=training)
        # Keras 3: a one-element list/tuple of outputs comes back as the tensor
        return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 \
            else outputs

    def compute_output_spec(self, *args, **kwargs):
        """A functional model called on symbolic tensors gives its outputs in
        the structure it was built with (`outputs=[x]` gives a one-element
        list, as in Keras 3); called on arrays, a one-element list/tuple is
        unwrapped."""
        prefix = host_prefix.of(self)
        if prefix is not None:  # host layers give their own specs
            spec = prefix.graph.output_spec(args[0])
        else:
            spec = Layer.compute_output_spec(self, *args, **kwargs)
        if self.__dict__.get("_graph") is None:
            return spec
        structure = jax.tree_util.tree_structure(self._graph.outputs, is_leaf=_is_kt)
        return jax.tree_util.tree_unflatten(
            structure, jax.tree_util.tree_leaves(spec, is_leaf=_is_kt))

    def build(self, input_shape=None):
        """For a subclassed model, build its layers with a symbolic call on
        `input_shape` (batch dimension included, None allowed)."""
        if self._graph is not None or input_shape is None:
            object.__setattr__(self, "built", True)
            return
        object.__setattr__(self, "built", True)
        self._build_shapes = input_shape
        if _is_shape(input_shape):
            kt = KerasTensor(tuple(input_shape), self.compute_dtype)
        else:
            kt = jax.tree_util.tree_map(lambda s: KerasTensor(tuple(s), self.compute_dtype),
                                        input_shape, is_leaf=_is_shape)
        self.compute_output_spec(kt)

    build._kerax_default_build = True

    @property
    def layers(self):
        if "_layers" in self.__dict__:
            return [l for l in self._layers if not _is_input_layer(l)] \
                if type(self).__name__ == "Sequential" else list(self._layers)
        return self._flatten_layers(include_self=False, recursive=False)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `model.layers`."""
        if index is not None and name is not None:
            raise ValueError("get_layer: provide only `name` or `index`, not both.")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"get_layer: index {index} is out of range for a model with "
                    f"{len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"get_layer: no layer named {name!r}; layers are: "
                f"{[l.name for l in layers]}.")
        raise ValueError("get_layer: provide `name` or `index`.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras 3's summary table (see `kerax.models.summary`): layers,
        output shapes, parameter counts; `show_trainable`, `expand_nested`
        and `layer_range` as in Keras."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Quantize the model's Dense, EinsumDense and Embedding layers in place
        ("int8", "int4", "float8", or a `kerax.quantizers` config; `filters`:
        a regex, a list of them or a callable picking layers). Build the model
        first. See kerax.layers.quantized.

        >>> import kerax
        >>> model = kerax.Sequential([kerax.Input((4,)), kerax.layers.Dense(2)])
        >>> model.quantize("int8")
        >>> [w.name for w in model.weights]
        ['bias', 'kernel', 'kernel_scale']
        """
        if quantize_model(self, mode, config=config, filters=filters, **kwargs):
            st = self.__dict__.get("_trainer_state")
            if st is not None:
                st.engines.clear()  # the compiled steps read the replaced variables

    def get_config(self):
        if self._graph is not None:
            return functional_config(self)
        return Layer.get_config(self)

    # a subclassed model that does not override get_config gets Keras' automatic config
    get_config._kerax_default_get_config = True

    # ---- saving (delegates to kerax.saving / kerax.export) -----------------------------
    def _saving_config(self):
        """The model's entry in a `.keras` file's config.json (Keras 3's spelling)."""
        return serialize_model_config(self)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string: the config a `.keras`
        file stores, without weights. `kwargs` go to `json.dumps`.
        `kerax.models.model_from_json` (or Keras') rebuilds the model.

        >>> import kerax
        >>> model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(5)])
        >>> import json; json.loads(model.to_json())["class_name"]
        'Sequential'
        """
        text = keras_file.to_json(self._saving_config())  # numpy values become JSON ones
        return json.dumps(json.loads(text), **kwargs) if kwargs else text

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save as a Keras 3 `.keras` file (see `kerax.saving.save_model`)."""
        saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to `*.weights.h5` in Keras 3's layout."""
        saving_api.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights from `*.weights.h5` or a `.keras` file."""
        saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def export(self, filepath, format="jax", verbose=True, input_signature=None, **kwargs):
        """Export the inference function (see `kerax.export.export_model`)."""
        return export_model(self, filepath, format=format, verbose=verbose,
                            input_signature=input_signature, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            return functional_from_config(cls, config, custom_objects)
        return super().from_config(config)


def _is_input_layer(layer):
    return isinstance(layer, InputLayer)


@register_builtin("keras.models")
@register_builtin("keras")
class Functional(Model):
    """A model defined by a graph of layers on symbolic tensors."""

    _kerax_base_class = True
    _compiled_calls = True  # model(x) on arrays may run compiled (compiled_call.py)


# Keras also accepts {"module": "keras", "class_name": "Model"} for a functional config.
register_builtin("keras", name="Model")(Model)
register_builtin("keras.models", name="Model")(Model)
