"""Core layers: Input/InputLayer, Dense, Activation, Identity, Lambda."""
import inspect

import jax
import jax.numpy as jnp

from kerax import activations, constraints, initializers, regularizers
from kerax.layers.layer import KerasTensor, Layer
from kerax.saving.object_registration import (SafeModeError, register_builtin,
                                                serialize_keras_object)

__all__ = ["InputLayer", "Input", "Dense", "Activation", "Identity", "Lambda", "OpLambda"]


@register_builtin("keras.layers")
class InputLayer(Layer):
    """The entry point of a functional graph; `kerax.Input` creates one."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None,
                 **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if kwargs.pop("ragged", False):  # Keras 3 configs carry "ragged": false
            raise ValueError("Input: ragged tensors are not supported by kerax (ragged=True).")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError(
                    "Input: you must pass `shape` (without the batch dimension) or "
                    "`batch_shape`.")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        self._batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.sparse = bool(sparse)
        self.optional = optional
        self.built = True
        self.output = KerasTensor(self._batch_shape, self._dtype, name=self.name,
                                  history=(self, 0, 0))
        self._inbound_nodes.append(None)

    @property
    def batch_shape(self):
        return self._batch_shape

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": list(self._batch_shape), "dtype": self._dtype,
                "sparse": self.sparse, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """A symbolic input of a functional model: `kerax.Input(shape=(784,))`."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional)
    return layer.output


@register_builtin("keras.layers")
class Dense(Layer):
    """`activation(inputs @ kernel + bias)`, on the last axis of inputs of any rank."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            try:
                ok = int(units) == units and int(units) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(
                    f"Dense {self.name!r}: `units` must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.lora_rank = lora_rank
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape is None or len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r}: the last dimension of the inputs must be known, "
                f"got input shape {input_shape}.")
        self.input_dim = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(self.input_dim, self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias")
        else:
            self.bias = None
        self.built = True

    def call(self, inputs):
        if inputs.ndim < 1 or inputs.shape[-1] != self.input_dim:
            raise ValueError(
                f"Layer {self.name!r} (Dense) was built for inputs with last dimension "
                f"{self.input_dim} (kernel shape {self.kernel.shape}), but got inputs "
                f"of shape {tuple(inputs.shape)}.")
        x = jnp.matmul(inputs, self.kernel.value)
        if self.bias is not None:
            x = x + self.bias.value
        if self.activation is not None:
            x = self.activation(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_keras_object(self.kernel_regularizer),
            "bias_regularizer": serialize_keras_object(self.bias_regularizer),
            "kernel_constraint": serialize_keras_object(self.kernel_constraint),
            "bias_constraint": serialize_keras_object(self.bias_constraint),
        })
        return config


@register_builtin("keras.layers")
class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


@register_builtin("keras.layers")
class Identity(Layer):
    def call(self, inputs):
        return inputs


@register_builtin("keras.layers")
class Lambda(Layer):
    """Wrap an arbitrary function as a layer. Saving stores the function's
    bytecode, which loads only with `safe_mode=False`."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda {self.name!r}: `function` must be callable, got {function!r}.")
        self.function = function
        self.arguments = arguments or {}
        self._output_shape = output_shape
        self._fn_params = set(inspect.signature(function).parameters) \
            if _has_signature(function) else set()

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if "mask" in self._fn_params:
            kwargs["mask"] = mask
        if "training" in self._fn_params:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def get_config(self):
        from kerax.saving.lambda_serialization import serialize_function
        config = super().get_config()
        config["function"] = serialize_function(self.function)
        config["arguments"] = self.arguments
        if self._output_shape is not None and not callable(self._output_shape):
            config["output_shape"] = list(self._output_shape)
        return config

    @classmethod
    def from_config(cls, config, safe_mode=None):
        from kerax.saving.lambda_serialization import deserialize_function
        config = dict(config)
        config["function"] = deserialize_function(config["function"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name")
        return cls(**config)


def _has_signature(fn):
    try:
        inspect.signature(fn)
        return True
    except (TypeError, ValueError):
        return False


class OpLambda(Layer):
    """An op applied to symbolic tensors (`x + 1`, `x[:, 0]` in the functional API)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, *args):
        return self.fn(*args)

    def get_config(self):
        raise NotImplementedError(
            f"{self.name}: arithmetic on symbolic tensors cannot be saved; use a layer "
            "(e.g. kerax.layers.Add, Lambda) instead.")
