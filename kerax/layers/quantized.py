"""Quantized Dense, EinsumDense and Embedding: Keras 3's `layer.quantize(mode)`,
`model.quantize(mode)` and layers built under a quantized dtype policy.

- "int8": the weight becomes int8 with one float scale per output channel
  (`w ~ q / scale`); by default the inputs of Dense/EinsumDense are also
  quantized per sample (`Int8QuantizationConfig(activation_quantizer=None)`
  keeps them float), and the product runs in int8 with an int32 result.
- "int4": weight-only; by default groups of 128 input rows get a scale and a
  zero point each (`Int4QuantizationConfig(block_size=None)`: per output
  channel, symmetric). Two int4 values are packed per int8 byte along the
  weight's last axis (Keras' `pack_int4` layout).
- "float8" (Dense, EinsumDense): float8 training. The inputs and the kernel go
  through float8_e4m3fn, the output gradient through float8_e5m2, each with a
  scale derived from a history of absolute maxima ("delayed scaling"). The
  scales and histories are trainable variables with
  `overwrite_with_gradient=True`: their "gradient" is their new value.

The variables, their names, dtypes, shapes and their order in `.keras` files
are Keras'. The quantized weights get no gradient; the inputs get the gradient
of the product with the dequantized weight (Keras' custom gradient).

Not in kerax: GPTQ and AWQ (calibration on a dataset; the configs and
policies exist, quantizing raises NotImplementedError) and LoRA on a
quantized layer (NotImplementedError).
"""
import math
import re
import string
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from kerax import dtype_policies
from kerax.layers.layer import Layer, assign_from_store
from kerax.quantizers import quantizers as Q
from kerax.quantizers.quantization_config import (QuantizationConfig,
                                                  block_size_of, validate_and_resolve_config)
from kerax.registry import deserialize_keras_object, serialize_keras_object

__all__ = ["QuantizedMixin", "quantize_model", "should_quantize_layer"]

_F8_FORWARD, _F8_BACKWARD = "float8_e4m3fn", "float8_e5m2"


def should_quantize_layer(layer, filters):
    """Keras' `filters` rule of `model.quantize`: a regex (or list of regexes)
    searched in the layer's name, or a callable taking the layer."""
    if filters is None:
        return True
    if isinstance(filters, str):
        return bool(re.search(filters, layer.name))
    if isinstance(filters, (list, tuple)):
        return any(re.search(p, layer.name) for p in filters)
    if callable(filters):
        return filters(layer)
    return True


def check_quantize_args(layer, mode):
    """Keras' checks before quantizing `layer` in `mode`."""
    if not layer.built:
        raise ValueError(
            "Cannot quantize a layer that isn't yet built. Layer "
            f"'{layer.name}' (of type '{type(layer).__name__}') is not built yet.")
    if layer.__dict__.get("_is_quantized", False):
        raise ValueError(
            f"Layer '{layer.name}' is already quantized with "
            f"dtype_policy='{layer.dtype_policy.name}'. Received: mode={mode}")
    if mode not in dtype_policies.QUANTIZATION_MODES:
        raise ValueError(
            f"Invalid quantization mode. Expected one of {dtype_policies.QUANTIZATION_MODES}. "
            f"Received: mode={mode}")
    if mode == "int8" and layer.compute_dtype == "float16":
        raise ValueError(
            f"Quantization mode='{mode}' doesn't work well with compute_dtype='float16'. "
            "Consider loading model/layer with another dtype policy such as "
            "'mixed_bfloat16' or 'mixed_float16' before calling `quantize()`.")


def quantize_model(model, mode=None, config=None, filters=None, **kwargs):
    """`Model.quantize`: quantize every leaf layer that supports it (Dense,
    EinsumDense, Embedding); a layer that does not says so in a warning. See
    `kerax.Model.quantize`."""
    type_check = kwargs.pop("type_check", True)
    if kwargs:
        raise ValueError(
            f"Unrecognized keyword arguments passed to {type(model).__name__}: {kwargs}")
    if filters is not None and not isinstance(filters, (str, list, tuple)) \
            and not callable(filters):
        raise ValueError(
            "The `filters` argument must be a regex string, a list of regex strings, or a "
            f"callable. Received: {type(filters)}")
    config = validate_and_resolve_config(mode, config)
    mode = config.mode
    if mode in ("gptq", "awq"):
        raise NotImplementedError(
            f"model.quantize({mode!r}): kerax does not run {mode.upper()} (its calibration "
            "over a dataset is not implemented); the config and dtype policy classes exist "
            "so files that name them load. Use 'int8' or 'int4' instead.")
    changed = False
    for layer in model._flatten_layers():
        if not should_quantize_layer(layer, filters):
            continue
        if len(layer._flatten_layers()) != 1:
            continue
        quantize = getattr(layer, "quantize", None)
        if quantize is None:
            continue
        try:
            quantize(mode, type_check=type_check, config=config)
            changed = True
        except NotImplementedError as e:
            warnings.warn(str(e), stacklevel=3)
    return changed


# ---- einsum analysis (the scale layouts Keras stores for EinsumDense) --------------------------
def einsum_specs(equation, ndim):
    """(input, kernel, output) label strings of a Keras EinsumDense equation with
    `...` replaced by labels for the `ndim`-dimensional inputs' elided axes."""
    eq = equation.replace(" ", "")
    m = re.fullmatch(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", eq)
    if m:
        return m.groups()
    m_left = re.fullmatch(r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)", eq)
    m_right = re.fullmatch(r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.", eq)
    m = m_left or m_right
    if m is None:
        raise ValueError(
            f"Invalid einsum equation '{equation}'. Equations must be in the form "
            "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")
    inp, w, out = m.groups()
    free = sorted(set(string.ascii_letters) - set(inp + w + out))
    extra = "".join(free[:ndim - len(inp)])
    return (extra + inp, w, extra + out) if m_left else (inp + extra, w, out + extra)


def _to_output_layout(scale, spec, out_spec):
    """A keepdims scale laid out like the operand `spec` -> aligned with the
    output axes (size 1 where the operand has no such axis)."""
    kept = [spec.index(c) for c in out_spec if c in spec]
    reduced = [i for i, c in enumerate(spec) if c not in out_spec]
    scale = jnp.transpose(scale, kept + reduced)
    return scale.reshape([scale.shape[kept.index(spec.index(c))] if c in spec else 1
                          for c in out_spec])


def _to_kernel_layout(scale, w_spec, out_spec, kernel_shape):
    """The inverse of `_to_output_layout` for the kernel's scale."""
    kept = [w_spec.index(c) for c in out_spec if c in w_spec]
    reduced = [i for i, c in enumerate(w_spec) if c not in out_spec]
    order = kept + reduced
    scale = scale.reshape([kernel_shape[i] if i in kept else 1 for i in order])
    return jnp.transpose(scale, np.argsort(order))


# ---- the mixin -------------------------------------------------------------------------------
class QuantizedMixin:
    """Quantization for a layer with one weight (`_quantized_weight`: "kernel"
    or "embeddings"). The host layer calls `_init_quantization(config)` in
    `__init__`, `quantized_build(weight_shape, mode, config)` in `build` when
    `self.quantization_mode` is set (creating the float weight itself only
    for None/"float8"), and returns `quantized_call(...)` from `call` when
    `self.quantization_mode` is set."""

    _quantized_weight = "kernel"
    _quantizable_modes = ("int8", "int4", "float8")

    def _init_quantization(self, quantization_config):
        if quantization_config is not None and not isinstance(quantization_config,
                                                              QuantizationConfig):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: `quantization_config` must be a "
                "kerax.quantizers.QuantizationConfig (e.g. Int8QuantizationConfig()) or "
                f"None, got {quantization_config!r}.")
        self.quantization_config = quantization_config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        qc = config.get("quantization_config")
        if isinstance(qc, dict):
            config["quantization_config"] = deserialize_keras_object(
                qc, module="keras.quantizers")
        return super().from_config(config)

    def _quantization_config_entry(self):
        return serialize_keras_object(self.quantization_config)

    # -- quantize ------------------------------------------------------------------------
    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize this built layer in place: "int8", "int4" or "float8" (or a
        `kerax.quantizers` config). Its dtype policy becomes e.g.
        "int8_from_float32".

        >>> from kerax import layers
        >>> dense = layers.Dense(3)
        >>> dense.build((None, 4))
        >>> dense.quantize("int8")
        >>> dense.dtype_policy.name, str(dense.kernel.dtype)
        ('int8_from_float32', 'int8')
        """
        config = validate_and_resolve_config(mode, config)
        mode = config.mode
        check_quantize_args(self, mode)
        if type_check and type(self) is not self._quantizable_base():
            raise NotImplementedError(
                f"Layer {type(self).__name__} does not have a `quantize` method implemented.")
        self.quantization_config = config
        if mode not in self._quantizable_modes:
            if mode in ("gptq", "awq"):
                raise NotImplementedError(
                    f"{type(self).__name__} {self.name!r}: kerax does not run "
                    f"{mode.upper()} quantization (its dataset calibration is not "
                    "implemented); use 'int8' or 'int4'.")
            raise NotImplementedError(
                f"Invalid quantization mode. Expected one of {self._quantizable_modes}. "
                f"Received: quantization_mode={mode}")
        if self.__dict__.get("lora_enabled"):
            raise NotImplementedError(
                f"{type(self).__name__} {self.name!r}: quantizing a layer with LoRA enabled "
                "is not supported by kerax.")
        name = self._quantized_weight
        float_var = self.__dict__["_" + name]
        shape = tuple(float_var.shape)
        if mode == "float8":
            self.quantized_build(shape, mode, config)
        else:
            values = self._quantize_values(np.asarray(float_var.numpy()), mode, config)
            self._drop_variable(float_var)
            self.quantized_build(shape, mode, config)
            for attr, value in values.items():
                getattr(self, attr).assign(value)
        if self.dtype_policy.quantization_mode is None:
            policy_mode = mode
            if mode == "int4":
                block_size = block_size_of(config, self.dtype_policy)
                policy_mode = f"int4/{-1 if block_size is None else block_size}"
            self._set_quantized_policy(
                dtype_policies.get(f"{policy_mode}_from_{self.dtype_policy.name}"))

    def _quantizable_base(self):
        """The kerax layer class this mixin is part of (Dense, ...): subclasses
        are quantized only with `type_check=False`, as in Keras."""
        for cls in type(self).__mro__:
            if any(issubclass(b, QuantizedMixin) and not issubclass(b, Layer)
                   for b in cls.__bases__):
                return cls
        return type(self)

    def _set_quantized_policy(self, policy):
        object.__setattr__(self, "_dtype_policy", policy)

    def _drop_variable(self, var):
        self._own_variables[:] = [v for v in self._own_variables if v is not var]
        self._regularizers[:] = [(v, r) for v, r in self._regularizers if v is not var]

    # -- build ---------------------------------------------------------------------------
    def quantized_build(self, weight_shape, mode, config=None):
        """Create the variables of `mode` (Keras' names, dtypes and shapes)."""
        if mode == "int8":
            self._int8_build(weight_shape, config)
        elif mode == "int4":
            self._int4_build(weight_shape, config)
        elif mode == "float8" and "float8" in self._quantizable_modes:
            self._float8_build()
        elif mode in ("gptq", "awq"):
            raise NotImplementedError(
                f"{type(self).__name__} {self.name!r}: kerax cannot build a "
                f"{mode.upper()}-quantized layer (GPTQ/AWQ are not implemented); "
                f"dtype policy {self.dtype_policy.name!r}.")
        else:
            raise NotImplementedError(
                f"Invalid quantization mode. Expected one of {self._quantizable_modes}. "
                f"Received: quantization_mode={mode}")
        object.__setattr__(self, "_is_quantized", True)
        object.__setattr__(self, "save_own_variables", self._save_quantized_variables)
        object.__setattr__(self, "load_own_variables", self._load_quantized_variables)

    def _int4_block_size_for(self, config):
        return block_size_of(config if config is not None else self.quantization_config,
                             self.dtype_policy)

    def _float8_build(self):
        length = getattr(self.dtype_policy, "amax_history_length",
                         dtype_policies.QuantizedFloat8DTypePolicy.default_amax_history_length)
        common = {"dtype": "float32", "trainable": True, "autocast": False,
                  "overwrite_with_gradient": True}
        for prefix in ("inputs", "kernel", "outputs_grad"):
            setattr(self, f"{prefix}_scale", self.add_weight(
                name=f"{prefix}_scale", shape=(), initializer="ones", **common))
            setattr(self, f"{prefix}_amax_history", self.add_weight(
                name=f"{prefix}_amax_history", shape=(length,), initializer="zeros", **common))

    # -- call ----------------------------------------------------------------------------
    def quantized_call(self, inputs, training=None):
        mode = self.quantization_mode
        if self.__dict__.get("lora_enabled"):
            raise NotImplementedError(
                f"{type(self).__name__} {self.name!r}: LoRA on a quantized layer is not "
                "supported by kerax.")
        if mode == "int8":
            return self._int8_call(inputs)
        if mode == "int4":
            return self._int4_call(inputs)
        if mode == "float8":
            return self._float8_call(inputs, training)
        raise NotImplementedError(
            f"Invalid quantization mode. Expected one of {self._quantizable_modes}. "
            f"Received: quantization_mode={mode}")

    def _float8_matmul(self, inputs, kernel, product, training):
        """float8 training: quantize-dequantize the inputs and kernel (e4m3) and
        the output's gradient (e5m2); `product(x, k)` is the float product.
        During training the scale/history variables receive their new values as
        their gradients (Keras' delayed scaling)."""
        compute = self.compute_dtype
        e4m3_max = float(jnp.finfo(_F8_FORWARD).max)
        e5m2_max = float(jnp.finfo(_F8_BACKWARD).max)

        @jax.custom_vjp
        def qdq_forward(x, scale, history):
            return Q.quantize_and_dequantize(x, scale, _F8_FORWARD, compute)

        def qdq_forward_fwd(x, scale, history):
            return qdq_forward(x, scale, history), (x, scale, history)

        def qdq_forward_bwd(res, g):
            x, scale, history = res
            if training:
                new_scale = Q.compute_float8_scale(jnp.max(history, axis=0), scale,
                                                   jnp.float32(e4m3_max))
                new_history = Q.compute_float8_amax_history(x, history)
            else:
                new_scale, new_history = jnp.zeros_like(scale), jnp.zeros_like(history)
            return g, new_scale, new_history

        qdq_forward.defvjp(qdq_forward_fwd, qdq_forward_bwd)

        @jax.custom_vjp
        def qdq_gradient(y, scale, history):
            return y

        def qdq_gradient_fwd(y, scale, history):
            return y, (scale, history)

        def qdq_gradient_bwd(res, g):
            scale, history = res
            new_scale = Q.compute_float8_scale(jnp.max(history, axis=0), scale,
                                               jnp.float32(e5m2_max))
            qdq = Q.quantize_and_dequantize(g, scale, _F8_BACKWARD, compute)
            return qdq.astype(g.dtype), new_scale, Q.compute_float8_amax_history(g, history)

        qdq_gradient.defvjp(qdq_gradient_fwd, qdq_gradient_bwd)

        x = product(qdq_forward(inputs, self.inputs_scale.value, self.inputs_amax_history.value),
                    qdq_forward(kernel, self.kernel_scale.value, self.kernel_amax_history.value))
        return qdq_gradient(x, self.outputs_grad_scale.value,
                            self.outputs_grad_amax_history.value)

    def _float8_bias(self):
        bias = self.bias.value
        if self.compute_dtype == "float32":
            # Keras rounds a float32 bias through bfloat16 here (for XLA's
            # bias-add fusion); kerax does the same so the outputs agree.
            bias = bias.astype(jnp.bfloat16).astype(bias.dtype)
        return bias

    # -- saving (Keras' per-mode variable order) -------------------------------------------
    def _saved_quantized_variables(self):
        out = []
        for name in self.variable_serialization_spec[self.quantization_mode]:
            var = self.__dict__.get("_" + name) if name == self._quantized_weight \
                else getattr(self, name, None)
            if var is not None:
                out.append(var)
        return out

    def _save_quantized_variables(self, store):
        for i, var in enumerate(self._saved_quantized_variables()):
            store[str(i)] = np.asarray(var.numpy())

    def _load_quantized_variables(self, store):
        variables = self._saved_quantized_variables()
        where = f"{type(self).__name__} {self.name!r} ({self.dtype_policy.name})"
        assign_from_store(variables, store, where)


_FLOAT8_SPEC = ["inputs_scale", "inputs_amax_history", "kernel_scale", "kernel_amax_history",
                "outputs_grad_scale", "outputs_grad_amax_history"]


class DenseQuantization(QuantizedMixin):
    """Dense's quantized variables and products (kernel `(in, units)`)."""

    variable_serialization_spec = {
        None: ["kernel", "bias"],
        "int8": ["kernel", "bias", "kernel_scale"],
        "int4": ["kernel", "bias", "kernel_scale", "kernel_zero", "g_idx"],
        "float8": ["kernel", "bias"] + _FLOAT8_SPEC,
    }

    def _quantize_values(self, kernel, mode, config):
        if mode == "int8":
            quantizer = QuantizationConfig.weight_quantizer_or_default(
                config, Q.AbsMaxQuantizer(axis=0))
            q, scale = quantizer(kernel, to_numpy=True)
            return {"_kernel": q, "kernel_scale": jnp.squeeze(scale, axis=0)}
        block_size = block_size_of(config, None)
        if block_size is None or block_size == -1:
            quantizer = QuantizationConfig.weight_quantizer_or_default(
                config, Q.AbsMaxQuantizer(axis=0, value_range=(-8, 7), output_dtype="int8"))
            q, scale = quantizer(kernel, to_numpy=True)
            out = {"kernel_scale": jnp.squeeze(scale, axis=0)}
        else:
            q, scale, zero = Q.abs_max_quantize_grouped_with_zero_point(
                kernel, block_size=block_size, to_numpy=True)
            out = {"kernel_scale": scale, "kernel_zero": zero}
        out["_kernel"] = Q.pack_int4(np.asarray(q), axis=-1)[0]
        return out

    def _int8_build(self, kernel_shape, config=None):
        self.inputs_quantizer = QuantizationConfig.activation_quantizer_or_default(
            config if config is not None else self.quantization_config, Q.AbsMaxQuantizer())
        self._kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer="zeros",
                                       dtype="int8", trainable=False)
        self.kernel_scale = self.add_weight(name="kernel_scale", shape=(self.units,),
                                            initializer="ones", trainable=False)

    def _int4_build(self, kernel_shape, config=None):
        config = config if config is not None else self.quantization_config
        self.inputs_quantizer = QuantizationConfig.activation_quantizer_or_default(config, None)
        input_dim, output_dim = kernel_shape
        self._kernel = self.add_weight(name="kernel", shape=(input_dim, (output_dim + 1) // 2),
                                       initializer="zeros", dtype="int8", trainable=False)
        block_size = self._int4_block_size_for(config)
        self._int4_block_size = block_size
        grouped = block_size is not None and block_size > 0
        scale_shape = (math.ceil(input_dim / block_size), self.units) if grouped \
            else (self.units,)
        self.kernel_scale = self.add_weight(name="kernel_scale", shape=scale_shape,
                                            initializer="ones", trainable=False)
        if grouped:
            self.kernel_zero = self.add_weight(name="kernel_zero", shape=scale_shape,
                                               initializer="zeros", dtype="int8",
                                               trainable=False)
            self.g_idx = self.add_weight(
                name="g_idx", shape=(input_dim,), dtype="float32", trainable=False,
                initializer=lambda shape, dtype=None: jnp.floor_divide(
                    jnp.arange(input_dim, dtype="float32"), block_size))
        self._orig_input_dim, self._orig_output_dim = input_dim, output_dim

    def _int8_call(self, inputs):
        kernel, kernel_scale = self._kernel.value, self.kernel_scale.value
        float_kernel = kernel.astype(self.compute_dtype) / kernel_scale
        x = self._scaled_product(inputs, kernel, kernel_scale)
        x = Q.float_input_gradient("...i,io->...o", inputs, float_kernel, x)
        return self._bias_and_activation(x)

    def _scaled_product(self, inputs, kernel, kernel_scale):
        scale = kernel_scale
        if self.inputs_quantizer:
            inputs, inputs_scale = self.inputs_quantizer(inputs, axis=-1)
            scale = scale * inputs_scale
        x = jnp.matmul(inputs, kernel, preferred_element_type=jnp.int32) \
            if inputs.dtype == jnp.int8 and kernel.dtype == jnp.int8 \
            else jnp.matmul(inputs, kernel)
        return x.astype(self.compute_dtype) / scale

    def _int4_call(self, inputs):
        unpacked = Q.unpack_int4(self._kernel.value, self._orig_output_dim, axis=-1)
        if self._int4_block_size is None or self._int4_block_size == -1:
            scale = self.kernel_scale.value
            float_kernel = unpacked.astype(self.compute_dtype) / scale
            x = self._scaled_product(inputs, unpacked, scale)
        else:
            float_kernel = Q.dequantize_with_sz_map(
                unpacked, self.kernel_scale.value, self.kernel_zero.value, self.g_idx.value,
                group_axis=0).astype(self.compute_dtype)
            x = jnp.matmul(inputs, float_kernel)
        x = Q.float_input_gradient("...i,io->...o", inputs, float_kernel, x)
        return self._bias_and_activation(x)

    def _float8_call(self, inputs, training):
        x = self._float8_matmul(inputs, self._kernel.value, jnp.matmul, training)
        if self.bias is not None:
            x = x + self._float8_bias()
        return x if self.activation is None else self.activation(x)

    def _bias_and_activation(self, x):
        if self.bias is not None:
            x = x + self.bias.value
        return x if self.activation is None else self.activation(x)

    def _unpacked_kernel(self, var):
        if self.quantization_mode == "int4":
            return Q.unpack_int4(var.value, self._orig_output_dim, axis=-1)
        return var


class EinsumDenseQuantization(DenseQuantization):
    """EinsumDense's quantized variables: the scales are aligned with the
    output axes (int8, int4 per channel) or, for int4 in groups, laid out on
    the kernel flattened to (reduced axes, other axes), as Keras stores them."""

    def _specs(self):
        ndim = self.__dict__.get("_quantization_input_ndim")
        if ndim is None:
            raise ValueError(
                f"EinsumDense {self.name!r}: quantizing needs the input rank; build the "
                "layer first.")
        return einsum_specs(self.equation, ndim)

    def _reduced_kernel_axes(self):
        in_spec, w_spec, out_spec = self._specs()
        return tuple(i for i, c in enumerate(w_spec) if c not in out_spec)

    def _flat_2d(self, kernel_shape):
        reduced = self._reduced_kernel_axes()
        rows = int(np.prod([d for i, d in enumerate(kernel_shape) if i in reduced]))
        cols = int(np.prod([d for i, d in enumerate(kernel_shape) if i not in reduced]))
        return rows, cols

    def _quantize_values(self, kernel, mode, config):
        in_spec, w_spec, out_spec = self._specs()
        if mode == "int8":
            quantizer = QuantizationConfig.weight_quantizer_or_default(
                config, Q.AbsMaxQuantizer(axis=self._reduced_kernel_axes()))
            q, scale = quantizer(kernel, to_numpy=True)
            return {"_kernel": q, "kernel_scale": _to_output_layout(scale, w_spec, out_spec)}
        rows, cols = self._flat_2d(kernel.shape)
        flat = kernel.reshape(rows, cols)
        block_size = block_size_of(config, None)
        if block_size is None or block_size == -1:
            q, scale = Q.abs_max_quantize(flat, axis=0, value_range=(-8, 7), dtype="int8",
                                          to_numpy=True)
            out = {"kernel_scale": jnp.squeeze(scale, axis=0)}
        else:
            q, scale, zero = Q.abs_max_quantize_grouped_with_zero_point(
                flat, block_size=block_size, to_numpy=True)
            out = {"kernel_scale": scale, "kernel_zero": zero}
        out["_kernel"] = Q.pack_int4(np.asarray(q), axis=-1)[0]
        return out

    def _int8_build(self, kernel_shape, config=None):
        in_spec, w_spec, out_spec = self._specs()
        self.inputs_quantizer = QuantizationConfig.activation_quantizer_or_default(
            config if config is not None else self.quantization_config, Q.AbsMaxQuantizer())
        self.quantization_axis = tuple(i for i, c in enumerate(in_spec) if c not in out_spec)
        self._kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer="zeros",
                                       dtype="int8", trainable=False)
        scale_shape = [kernel_shape[w_spec.index(c)] if c in w_spec else 1 for c in out_spec]
        self.kernel_scale = self.add_weight(name="kernel_scale", shape=scale_shape,
                                            initializer="ones", trainable=False)

    def _int4_build(self, kernel_shape, config=None):
        in_spec, w_spec, out_spec = self._specs()
        config = config if config is not None else self.quantization_config
        self.inputs_quantizer = QuantizationConfig.activation_quantizer_or_default(config, None)
        self.quantization_axis = tuple(i for i, c in enumerate(in_spec) if c not in out_spec)
        self.original_kernel_shape = tuple(kernel_shape)
        rows, cols = self._flat_2d(kernel_shape)
        block_size = self._int4_block_size_for(config)
        grouped = block_size is not None and block_size != -1
        self._int4_block_size = block_size if grouped else None
        self._int4_unpacked_column_size, self._int4_rows = cols, rows
        self._kernel = self.add_weight(name="kernel", shape=(rows, (cols + 1) // 2),
                                       initializer="zeros", dtype="int8", trainable=False)
        scale_shape = (math.ceil(rows / block_size), cols) if grouped else (cols,)
        self.kernel_scale = self.add_weight(name="kernel_scale", shape=scale_shape,
                                            initializer="ones", trainable=False)
        if grouped:
            self.kernel_zero = self.add_weight(name="kernel_zero", shape=scale_shape,
                                               initializer="zeros", dtype="int8",
                                               trainable=False)
            self.g_idx = self.add_weight(
                name="g_idx", shape=(rows,), dtype="float32", trainable=False,
                initializer=lambda shape, dtype=None: jnp.floor_divide(
                    jnp.arange(rows, dtype="float32"), block_size))

    def _int8_call(self, inputs):
        in_spec, w_spec, out_spec = self._specs()
        kernel, kernel_scale = self._kernel.value, self.kernel_scale.value
        float_kernel = kernel.astype(self.compute_dtype) / _to_kernel_layout(
            kernel_scale, w_spec, out_spec, kernel.shape)
        if self.inputs_quantizer:
            q, inputs_scale = self.inputs_quantizer(inputs, axis=self.quantization_axis)
            inputs_scale = _to_output_layout(inputs_scale, in_spec, out_spec)
            x = jnp.einsum(self.equation, q, kernel, preferred_element_type=jnp.int32) \
                if q.dtype == jnp.int8 else jnp.einsum(self.equation, q, kernel)
            x = x.astype(self.compute_dtype) / (inputs_scale * kernel_scale)
        else:
            x = jnp.einsum(self.equation, inputs, kernel).astype(self.compute_dtype) \
                / kernel_scale
        x = Q.float_input_gradient(self.equation, inputs, float_kernel, x)
        return self._bias_and_activation(x)

    def _int4_call(self, inputs):
        in_spec, w_spec, out_spec = self._specs()
        unpacked = Q.unpack_int4(self._kernel.value, self._int4_unpacked_column_size, axis=-1)
        if self._int4_block_size is None:
            float_kernel = (unpacked.astype(self.compute_dtype) / self.kernel_scale.value
                            ).reshape(self.original_kernel_shape)
            if self.inputs_quantizer:
                q, inputs_scale = self.inputs_quantizer(inputs, axis=self.quantization_axis)
                inputs_scale = _to_output_layout(inputs_scale, in_spec, out_spec)
                x = jnp.einsum(self.equation, q, float_kernel).astype(self.compute_dtype) \
                    / inputs_scale
            else:
                x = jnp.einsum(self.equation, inputs, float_kernel)
        else:
            float_kernel = Q.dequantize_with_sz_map(
                unpacked, self.kernel_scale.value, self.kernel_zero.value, self.g_idx.value,
                group_axis=0).astype(self.compute_dtype).reshape(self.original_kernel_shape)
            x = jnp.einsum(self.equation, inputs, float_kernel)
        x = Q.float_input_gradient(self.equation, inputs, float_kernel, x)
        return self._bias_and_activation(x)

    def _float8_call(self, inputs, training):
        x = self._float8_matmul(inputs, self._kernel.value,
                                lambda a, b: jnp.einsum(self.equation, a, b), training)
        if self.bias is not None:
            x = x + self._float8_bias()
        return x if self.activation is None else self.activation(x)

    def _unpacked_kernel(self, var):
        if self.quantization_mode == "int4":
            return Q.unpack_int4(var.value, self._int4_unpacked_column_size, axis=-1)
        return var


class EmbeddingQuantization(QuantizedMixin):
    """Embedding's quantized table: one scale per row (int8, int4 per channel)
    or per row and group of `block_size` columns (int4, with zero points)."""

    _quantized_weight = "embeddings"
    _quantizable_modes = ("int8", "int4")
    variable_serialization_spec = {
        None: ["embeddings"],
        "int8": ["embeddings", "embeddings_scale"],
        "int4": ["embeddings", "embeddings_scale", "embeddings_zero", "g_idx"],
    }

    def _quantize_values(self, table, mode, config):
        if mode == "int8":
            quantizer = QuantizationConfig.weight_quantizer_or_default(
                config, Q.AbsMaxQuantizer(axis=-1))
            q, scale = quantizer(table, to_numpy=True)
            return {"_embeddings": q, "embeddings_scale": jnp.squeeze(scale, axis=-1)}
        block_size = block_size_of(config, None)
        if block_size is None or block_size == -1:
            quantizer = QuantizationConfig.weight_quantizer_or_default(
                config, Q.AbsMaxQuantizer(axis=-1, value_range=(-8, 7), output_dtype="int8"))
            q, scale = quantizer(table, to_numpy=True)
            out = {"embeddings_scale": jnp.squeeze(scale, axis=-1)}
        else:
            q, scale, zero = Q.abs_max_quantize_grouped_with_zero_point(
                table.T, block_size=block_size, value_range=(-8, 7), dtype="int8",
                to_numpy=True)
            q = jnp.transpose(q)
            out = {"embeddings_scale": jnp.transpose(scale),
                   "embeddings_zero": jnp.transpose(zero)}
        out["_embeddings"] = Q.pack_int4(np.asarray(q), axis=-1)[0]
        return out

    def _int8_build(self, shape, config=None):
        self._embeddings = self.add_weight(name="embeddings", shape=shape, initializer="zeros",
                                           dtype="int8", trainable=False)
        self.embeddings_scale = self.add_weight(name="embeddings_scale",
                                                shape=(self.input_dim,), initializer="ones",
                                                trainable=False)

    def _int4_build(self, shape, config=None):
        input_dim, output_dim = shape
        self._embeddings = self.add_weight(name="embeddings",
                                           shape=(input_dim, (output_dim + 1) // 2),
                                           initializer="zeros", dtype="int8", trainable=False)
        block_size = self._int4_block_size_for(config)
        self._int4_block_size = block_size
        grouped = block_size is not None and block_size > 0
        scale_shape = (self.input_dim, math.ceil(output_dim / block_size)) if grouped \
            else (self.input_dim,)
        self.embeddings_scale = self.add_weight(name="embeddings_scale", shape=scale_shape,
                                                initializer="ones", trainable=False)
        if grouped:
            self.embeddings_zero = self.add_weight(name="embeddings_zero", shape=scale_shape,
                                                   initializer="zeros", dtype="int8",
                                                   trainable=False)
            self.g_idx = self.add_weight(
                name="g_idx", shape=(output_dim,), dtype="float32", trainable=False,
                initializer=lambda shape, dtype=None: jnp.floor_divide(
                    jnp.arange(output_dim, dtype="float32"), block_size))
        self._orig_output_dim = output_dim

    def _indices(self, inputs):
        if inputs.dtype not in (jnp.int32, jnp.int64):
            inputs = inputs.astype("int32")
        return inputs

    def _int8_call(self, inputs):
        inputs = self._indices(inputs)
        scale = jnp.take(self.embeddings_scale.value, inputs, axis=0)
        rows = jnp.take(self._embeddings.value, inputs, axis=0)
        return rows.astype(self.compute_dtype) / scale[..., None]

    def _int4_call(self, inputs):
        inputs = self._indices(inputs)
        unpacked = Q.unpack_int4(self._embeddings.value, self._orig_output_dim, axis=-1)
        rows = jnp.take(unpacked, inputs, axis=0).astype(self.compute_dtype)
        scale = jnp.take(self.embeddings_scale.value, inputs, axis=0)
        if self._int4_block_size is None or self._int4_block_size == -1:
            return rows / scale[..., None]
        zero = jnp.take(self.embeddings_zero.value, inputs, axis=0)
        return Q.dequantize_with_sz_map(rows, scale, zero, self.g_idx.value, group_axis=-1)

    def _unpacked_kernel(self, var):
        if self.quantization_mode == "int4":
            return Q.unpack_int4(var.value, self._orig_output_dim, axis=-1)
        return var


def quantized_weight_property(base):
    """Wrap a weight property (`lora_weight_property`): an int4 layer's weight
    reads unpacked (int8 values in [-8, 7], as Keras' `layer.kernel`)."""

    def get(self):
        value = base.fget(self)
        if self.__dict__.get("_is_quantized") and self.quantization_mode == "int4":
            return self._unpacked_kernel(value)
        return value

    return property(get, base.fset, doc=base.__doc__)
