"""EinsumDense: a dense layer written as an einsum between the inputs and a kernel."""
import copy
import re

import jax.numpy as jnp

from kerax import activations, initializers
from kerax.layers.core import LoraMixin, add_bias_and_activate, lora_weight_property
from kerax.layers.layer import Layer
from kerax.layers.quantized import EinsumDenseQuantization, quantized_weight_property
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["EinsumDense"]

_FORMS = (
    (re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$"), "left"),
    (re.compile(r"^([a-zA-Z]+)\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$"), "right"),
)


def analyze_einsum(equation, bias_axes, input_shape, output_shape, layer="EinsumDense"):
    """Kernel shape, bias shape (or None), full output shape, and the kernel
    axes that are input units / output units (for the initializer's fans).

    `output_shape` excludes the batch axis and the axes `...` stands for; the
    equation is `"ab,bc->ac"`, `"...b,bc->...c"` or `"ab...,bc->ac..."`."""
    for pattern, elided_side in _FORMS:
        match = pattern.match(equation.replace(" ", ""))
        if match:
            break
    else:
        raise ValueError(
            f"{layer}: unsupported `equation` {equation!r}; expected the form "
            "'ab,bc->ac', '...b,bc->...c' or 'ab...,bc->ac...' (one input, one kernel).")
    in_spec, w_spec, out_spec = match.groups()
    input_shape = tuple(input_shape)
    ndim = len(input_shape)
    elided = ndim - len(in_spec)
    if elided < 0 or (elided_side is None and elided) or (elided_side == "left" and elided < 1):
        raise ValueError(
            f"{layer}: equation {equation!r} does not fit inputs of shape {input_shape}.")
    partial = list(output_shape)
    if elided_side == "left":
        full = list(input_shape[:elided]) + partial
        in_map = {c: i - len(in_spec) for i, c in enumerate(in_spec)}
        out_map = {c: i - len(out_spec) for i, c in enumerate(out_spec)}
    else:
        full = [input_shape[0]] + partial + list(input_shape[ndim - elided:])
        in_map = {c: i for i, c in enumerate(in_spec)}
        out_map = {c: i for i, c in enumerate(out_spec)}
    expected = elided + len(out_spec) if elided_side == "left" else len(out_spec) + elided
    if len(full) != expected:
        raise ValueError(
            f"{layer}: `output_shape` {tuple(output_shape)} must have one entry per "
            f"output axis of {equation!r} except the batch/elided ones "
            f"({len(out_spec) - (0 if elided_side == 'left' else 1)} entries).")
    for c in in_spec:
        if c in out_map:
            d_in, d_out = input_shape[in_map[c]], full[out_map[c]]
            if d_out is not None and d_in is not None and d_out != d_in:
                raise ValueError(
                    f"{layer}: input shape {input_shape} and output_shape "
                    f"{tuple(output_shape)} disagree on the shared axis {c!r} "
                    f"({d_in} != {d_out}).")
            if d_out is None:
                full[out_map[c]] = d_in
    for c in out_spec:
        if c not in in_spec and c not in w_spec:
            raise ValueError(
                f"{layer}: output axis {c!r} of {equation!r} appears in neither the "
                "input nor the kernel spec.")
    kernel_shape, input_axes, output_axes = [], [], []
    for i, c in enumerate(w_spec):
        (output_axes if c in out_map else input_axes).append(i)
        if c in in_map:
            d = input_shape[in_map[c]]
        elif c in out_map:
            d = full[out_map[c]]
        else:
            raise ValueError(
                f"{layer}: kernel axis {c!r} of {equation!r} appears in neither the "
                "input nor the output spec.")
        if d is None:
            raise ValueError(
                f"{layer}: kernel axis {c!r} needs a known size; got input shape "
                f"{input_shape} and output_shape {tuple(output_shape)}.")
        kernel_shape.append(int(d))
    bias_shape = None
    if bias_axes:
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(
                    f"{layer}: bias axis {c!r} is not an axis of the output "
                    f"spec {out_spec!r}.")
        first = min(out_spec.index(c) for c in bias_axes)
        bias_shape = [int(full[out_map[c]]) if c in bias_axes else 1 for c in out_spec[first:]]
        if elided_side == "right":
            bias_shape += [1] * elided
    return (tuple(kernel_shape), bias_shape and tuple(bias_shape), tuple(full),
            input_axes, output_axes)


@register_builtin("keras.layers")
class EinsumDense(EinsumDenseQuantization, LoraMixin, Layer):
    """`activation(einsum(equation, inputs, kernel) + bias)`, e.g.
    `EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")`.
    `output_shape` excludes the batch axis (and `...`); None entries are taken
    from the inputs. `lora_rank`/`enable_lora` as in Dense: a kernel of shape
    `(*lead, last)` gets factors `(*lead, rank)` and `(rank, last)`."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None,
                 gptq_unpacked_column_size=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise TypeError(f"EinsumDense {self.name!r}: `equation` must be a string.")
        self._init_quantization(quantization_config)
        if gptq_unpacked_column_size:
            raise NotImplementedError(
                f"EinsumDense {self.name!r}: GPTQ quantization is not supported "
                "(gptq_unpacked_column_size).")
        self.equation = equation
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        set_weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                           bias=(bias_initializer, bias_regularizer, bias_constraint))
        self._init_lora(lora_rank, lora_alpha)

    kernel = quantized_weight_property(lora_weight_property("kernel"))

    def build(self, input_shape):
        kernel_shape, bias_shape, full, input_axes, output_axes = analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape,
            layer=f"EinsumDense {self.name!r}")
        self.full_output_shape = full
        self._quantization_input_ndim = len(input_shape)
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            # Fans count the kernel axes that meet the input / the output (as Keras).
            init = copy.copy(init)
            init.input_axes, init.output_axes = input_axes, output_axes
        if self.quantization_mode:  # quantization hook (kerax.layers.quantized)
            self.quantized_build(kernel_shape, self.quantization_mode, self.quantization_config)
        if self.quantization_mode not in ("int8", "int4"):
            self.kernel = self.add_weight(
                name="kernel", shape=kernel_shape, initializer=init,
                regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None if bias_shape is None else self.add_weight(
            name="bias", shape=bias_shape, initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True
        self._build_lora()

    def call(self, inputs, training=None):
        if self.quantization_mode:  # quantization hook (kerax.layers.quantized)
            return self.quantized_call(inputs, training)
        try:
            x = jnp.einsum(self.equation, inputs, self._lora_merged())
        except ValueError as e:
            raise ValueError(
                f"Layer {self.name!r} (EinsumDense) with equation {self.equation!r} and "
                f"kernel shape {self._kernel.shape} cannot take inputs of shape "
                f"{tuple(inputs.shape)}: {e}") from None
        return add_bias_and_activate(self, x)

    def get_config(self):
        config = super().get_config()
        config.update({
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            **weight_options_config(self, "kernel", "bias", kinds=("initializer", "regularizer")),
            "activity_regularizer": serialize_keras_object(self.activity_regularizer),
            **weight_options_config(self, "kernel", "bias", kinds=("constraint",)),
            "quantization_config": self._quantization_config_entry(),
        })
        return self._lora_config(config)
