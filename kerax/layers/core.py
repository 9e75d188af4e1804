"""Core layers: Input/InputLayer, Dense, Activation, Identity, Lambda; and LoraMixin,
the LoRA support Dense shares with EinsumDense, Embedding and Conv1D/2D/3D."""
import inspect

import jax
import jax.numpy as jnp
import numpy as np

from kerax import activations, initializers
from kerax.layers.lambda_serialization import deserialize_function, serialize_function
from kerax.layers.layer import KerasTensor, Layer, assign_from_store
from kerax.layers.quantized import DenseQuantization, quantized_weight_property
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import builtin_name, register_builtin

__all__ = ["InputLayer", "Input", "Dense", "Activation", "Identity", "Lambda"]


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
        # dtype "string" (Keras 3's spelling): the layer's policy stays the default
        # one (as Keras), its dtype and output are "string" (kerax.models.host_prefix)
        string = dtype in ("string", "str") or dtype is str
        super().__init__(name=name, dtype=None if string else dtype, **kwargs)
        if string:
            self._dtype = "string"
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
    if tensor is not None:
        raise NotImplementedError(
            "kerax.Input(tensor=...): wrapping an existing tensor is not supported; use "
            "that symbolic tensor directly as the model's input.")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional)
    return layer.output


# ---- LoRA: low-rank adaptation of one weight (Dense, EinsumDense, Embedding, ConvND) ----
def lora_weight_property(name):
    """The adapted weight `name` ("kernel", "embeddings") as Keras 3 exposes it:
    the Variable, or once LoRA is enabled the merged array
    `w + lora_alpha / lora_rank * (a @ b)`. The Variable itself lives at `_<name>`."""
    private = "_" + name

    def get(self):
        var = self.__dict__.get(private)
        if var is None:
            raise AttributeError(
                f"{type(self).__name__} {self.name!r}: `{name}` exists once the layer is "
                "built; call the layer on data or call build(input_shape) first.")
        if self.__dict__.get("lora_enabled"):
            return self._lora_merged()
        return var

    def set(self, value):
        object.__setattr__(self, private, value)

    return property(get, set, doc=f"The layer's `{name}` (merged with LoRA when enabled).")


def _check_lora_rank(layer, rank, arg="lora_rank", allow_off=True):
    if rank is None and allow_off:
        return None
    if isinstance(rank, (int, np.integer)) and not isinstance(rank, bool) and (
            rank > 0 or (allow_off and rank == 0)):
        return int(rank)
    raise ValueError(
        f"{type(layer).__name__} {layer.name!r}: `{arg}` must be a positive integer"
        f"{' (or None/0 for no LoRA)' if allow_off else ''}, got {rank!r}.")


def _check_lora_alpha(layer, alpha):
    if alpha is None:
        return None
    if isinstance(alpha, (int, float, np.integer, np.floating)) and \
            not isinstance(alpha, bool) and alpha > 0:
        return alpha
    raise ValueError(f"{type(layer).__name__} {layer.name!r}: `lora_alpha` must be a "
                     f"positive number, got {alpha!r}.")


class LoraMixin:
    """LoRA (Hu et al. 2021) as Keras 3 does it, for a layer whose adapted weight
    `w` (attribute `_lora_weight`, exposed by `lora_weight_property`) has shape
    `(*lead, out)`: `enable_lora(rank)` adds trainable float32 factors
    `lora_<w>_a` `(*lead, rank)` (he_uniform) and `lora_<w>_b` `(rank, out)`
    (zeros), freezes `w`, and the layer then computes with
    `w + lora_alpha / rank * (a @ b)`. Saving stores that merged weight in
    `w`'s place (Keras' layout) and loading zeroes the factors.

    The host layer calls `_init_lora(lora_rank, lora_alpha)` in `__init__`,
    `_build_lora()` at the end of `build`, and computes with `_lora_merged()`.
    """

    _lora_weight = "kernel"

    def _init_lora(self, lora_rank, lora_alpha):
        self.lora_rank = _check_lora_rank(self, lora_rank)
        alpha = _check_lora_alpha(self, lora_alpha)
        self.lora_alpha = alpha if alpha is not None else self.lora_rank
        self.lora_enabled = False

    def _build_lora(self):
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def _lora_factors(self):
        w = self._lora_weight
        return getattr(self, f"lora_{w}_a"), getattr(self, f"lora_{w}_b")

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros"):
        """Freeze the layer's weight and train a rank-`rank` update of it instead
        (scaled by `lora_alpha / rank`; `lora_alpha` defaults to `rank`).

        >>> layer = Dense(4)
        >>> layer.build((None, 3))
        >>> layer.enable_lora(2)
        >>> [v.name for v in layer.trainable_weights]
        ['bias', 'lora_kernel_a', 'lora_kernel_b']
        """
        w = self._lora_weight
        where = f"{type(self).__name__} {self.name!r}"
        if getattr(self, f"{w}_constraint", None) is not None:
            raise ValueError(
                f"{where}: LoRA is incompatible with {w} constraints; remove the "
                f"`{w}_constraint` argument to enable LoRA on this layer.")
        if not self.built or self.__dict__.get("_" + w) is None:
            raise ValueError(
                f"{where}: cannot enable LoRA on a layer that isn't built yet; call the "
                "layer on data or call build(input_shape) first.")
        if self.lora_enabled:
            raise ValueError(
                f"{where}: LoRA is already enabled; it can be enabled only once per layer.")
        rank = _check_lora_rank(self, rank, arg="rank", allow_off=False)
        lora_alpha = _check_lora_alpha(self, lora_alpha)
        base = self.__dict__["_" + w]
        regularizer = getattr(self, f"{w}_regularizer", None)
        # float32 factors whatever the layer's dtype (as Keras: no under/overflow
        # while fine-tuning; the merged weight takes the compute dtype).
        a = self.add_weight(name=f"lora_{w}_a", shape=tuple(base.shape[:-1]) + (rank,),
                            initializer=initializers.get(a_initializer), dtype="float32",
                            regularizer=regularizer)
        b = self.add_weight(name=f"lora_{w}_b", shape=(rank, base.shape[-1]),
                            initializer=initializers.get(b_initializer), dtype="float32",
                            regularizer=regularizer)
        setattr(self, f"lora_{w}_a", a)
        setattr(self, f"lora_{w}_b", b)
        base.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank
        # Keras' per-layer save/load hooks, only on LoRA layers: the file holds the
        # merged weight in the plain layer's layout (see _save_merged_variables).
        object.__setattr__(self, "save_own_variables", self._save_merged_variables)
        object.__setattr__(self, "load_own_variables", self._load_merged_variables)

    def _lora_merged(self):
        """The adapted weight's value to compute with (merged when LoRA is on)."""
        base = self.__dict__["_" + self._lora_weight].value
        if not self.lora_enabled:
            return base
        a, b = self._lora_factors()
        delta = (self.lora_alpha / self.lora_rank) * jnp.matmul(a.value, b.value)
        return jnp.add(base, delta).astype(self.compute_dtype)

    def _saved_variables(self):
        """The variables a plain (non-LoRA) layer would store, in creation order."""
        lora = {id(v) for v in self._lora_factors()} if self.lora_enabled else set()
        return [v for v in self._own_variables if id(v) not in lora]

    def _save_merged_variables(self, store):
        """Keras' `save_own_variables`: the weight merged with its LoRA update in
        the weight's place, then the other weights (`"0"`, `"1"`, ...)."""
        base = self.__dict__["_" + self._lora_weight]
        for i, var in enumerate(self._saved_variables()):
            value = self._lora_merged().astype(base.dtype) if var is base else var.value
            store[str(i)] = np.asarray(value)

    def _load_merged_variables(self, store):
        """Keras' `load_own_variables`: the stored (merged) weight becomes the frozen
        weight and the LoRA factors restart from zero. Checks everything first."""
        variables = self._saved_variables()
        where = f"{type(self).__name__} {self.name!r}"
        assign_from_store(variables, store, where)
        for factor in self._lora_factors():
            factor.assign(np.zeros(factor.shape, factor.dtype))

    def _lora_config(self, config):
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config


def _dense_math(x, kernel, bias, activation):
    y = jnp.matmul(x, kernel)
    if bias is not None:
        y = y + bias
    return activation(y)


# a layer's math as one jitted function, traced once per input signature: the
# 100 Dense layers of a deep MLP then trace (and differentiate, and lower) one
# nested program, not 100 copies of the same ops (a 100-layer training step
# traces ~3x faster; XLA inlines the calls, so the compiled code is the same)
_dense_jit = jax.jit(_dense_math, static_argnums=(3,))


def add_bias_and_activate(layer, x):
    """`activation(x + bias)` of a dense layer (Dense, EinsumDense), each part
    only when the layer has it."""
    if layer.bias is not None:
        x = x + layer.bias.value
    if layer.activation is not None:
        x = layer.activation(x)
    return x


@register_builtin("keras.layers")
class Dense(DenseQuantization, LoraMixin, Layer):
    """`activation(inputs @ kernel + bias)`, on the last axis of inputs of any rank.
    With `lora_rank=r` (or `enable_lora(r)` once built) the kernel is frozen and a
    rank-r update `lora_alpha / r * lora_kernel_a @ lora_kernel_b` is trained.
    `quantize("int8" | "int4" | "float8")` quantizes it (kerax.layers.quantized)."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._init_quantization(quantization_config)
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
        set_weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                           bias=(bias_initializer, bias_regularizer, bias_constraint))
        self._init_lora(lora_rank, lora_alpha)
        self.supports_masking = True

    kernel = quantized_weight_property(lora_weight_property("kernel"))

    def build(self, input_shape):
        if input_shape is None or len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r}: the last dimension of the inputs must be known, "
                f"got input shape {input_shape}.")
        self.input_dim = int(input_shape[-1])
        if self.quantization_mode:  # quantization hook (kerax.layers.quantized)
            self.quantized_build((self.input_dim, self.units), self.quantization_mode,
                                 self.quantization_config)
        if self.quantization_mode not in ("int8", "int4"):
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
        self._build_lora()

    def _check_input_dim(self, shape):
        if len(shape) < 1 or shape[-1] != self.input_dim:
            raise ValueError(
                f"Layer {self.name!r} (Dense) was built for inputs with last dimension "
                f"{self.input_dim} (kernel shape {self._kernel.shape}), but got inputs "
                f"of shape {tuple(shape)}.")

    def compute_output_spec(self, inputs, **kwargs):
        """`(..., units)` in the compute dtype, from the input's shape alone
        (no trace: a model of many Dense layers builds without tracing each)."""
        if isinstance(inputs, KerasTensor) and self.built and not self.quantization_mode \
                and type(self).call is Dense.call and not self.lora_rank:
            self._check_input_dim(inputs.shape)
            return KerasTensor(tuple(inputs.shape[:-1]) + (self.units,), self.compute_dtype)
        return super().compute_output_spec(inputs, **kwargs)

    def call(self, inputs, training=None):
        self._check_input_dim(inputs.shape)
        if self.quantization_mode:  # quantization hook (kerax.layers.quantized)
            return self.quantized_call(inputs, training)
        kernel = self._lora_merged()
        if isinstance(inputs, jax.core.Tracer) and builtin_name(self.activation) is not None:
            # inside a trace, with a built-in activation (a pure function of
            # its input; a user's may read state a shared trace would freeze)
            bias = None if self.bias is None else self.bias.value
            return _dense_jit(inputs, kernel, bias, self.activation)
        return add_bias_and_activate(self, jnp.matmul(inputs, kernel))

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "bias"),
            "quantization_config": self._quantization_config_entry(),
        })
        return self._lora_config(config)


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
        config = super().get_config()
        config["function"] = serialize_function(self.function)
        config["arguments"] = self.arguments
        if self._output_shape is not None and not callable(self._output_shape):
            config["output_shape"] = list(self._output_shape)
        return config

    @classmethod
    def from_config(cls, config, safe_mode=None):
        config = dict(config)
        config["function"] = deserialize_function(config["function"])
        return super().from_config(config)


def _has_signature(fn):
    try:
        inspect.signature(fn)
        return True
    except (TypeError, ValueError):
        return False
