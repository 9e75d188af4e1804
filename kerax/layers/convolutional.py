"""Convolution layers (Keras 3 names, arguments, weights and configs):
Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D.

Every layer is one `jax.lax.conv_general_dilated` (two for the separable ones)
with dimension numbers chosen for the data format, so neither channels_first
inputs nor Keras-layout kernels are transposed around the convolution.

Kernels keep Keras' layouts, so `set_weights(keras_layer.get_weights())` works:
    Conv*D              kernel (*kernel_size, in_channels // groups, filters)
    Conv*DTranspose     kernel (*kernel_size, filters, in_channels)
    DepthwiseConv*D     kernel (*kernel_size, in_channels, depth_multiplier)
    SeparableConv*D     depthwise_kernel (*kernel_size, in_channels, depth_multiplier),
                        pointwise_kernel (*(1,) * rank, in_channels * depth_multiplier, filters)
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import activations, config as _config
from kerax.layers.core import LoraMixin, lora_weight_property
from kerax.layers.layer import KerasTensor, Layer
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
           "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
           "SeparableConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
           "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose",
           "SeparableConvolution1D", "SeparableConvolution2D"]

_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}
_AXES_DOC = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
             3: "(batch, depth, height, width, channels)"}


# ---- argument checks shared by the conv, pooling and reshaping layers ----------
def standardize_data_format(data_format, where):
    if data_format is None:
        return _config.image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{where}: `data_format` must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}.")
    return value


def standardize_tuple(value, n, arg, where, allow_zero=False):
    """An int or `n` ints -> a tuple of `n` positive (or non-negative) ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    else:
        try:
            value = tuple(value)
        except TypeError:
            raise ValueError(f"{where}: `{arg}` must be an int or a tuple of {n} ints, "
                             f"got {value!r}.") from None
        if len(value) != n or not all(isinstance(v, (int, np.integer))
                                      and not isinstance(v, bool) for v in value):
            raise ValueError(f"{where}: `{arg}` must be an int or a tuple of {n} ints, "
                             f"got {value!r}.")
        value = tuple(int(v) for v in value)
    low = 0 if allow_zero else 1
    if any(v < low for v in value):
        raise ValueError(f"{where}: `{arg}` must be {'non-negative' if allow_zero else 'positive'}"
                         f", got {value}.")
    return value


def standardize_padding(padding, where, allowed=("valid", "same")):
    value = str(padding).lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(f"{where}: `padding` must be one of {allowed}, got {padding!r}.")
    return value


def check_rank(layer, shape, rank, data_format, kind=None):
    """Inputs must be (batch, *spatial, channels) (channels first: channels after batch)."""
    if shape is None or len(shape) != rank + 2:
        axes = _AXES_DOC[rank]
        if data_format == "channels_first":
            axes = "(batch, channels, " + axes[len("(batch, "):-len(", channels)")] + ")"
        raise ValueError(
            f"Layer {layer.name!r} ({kind or type(layer).__name__}) expects inputs of rank "
            f"{rank + 2} {axes}, but got inputs of shape "
            f"{None if shape is None else tuple(shape)} (rank "
            f"{None if shape is None else len(shape)}).")


def dimension_numbers(rank, data_format, kernel_io="IO"):
    sp = _SPATIAL[rank]
    lhs = "N" + sp + "C" if data_format == "channels_last" else "NC" + sp
    return (lhs, sp + kernel_io, lhs)


def conv_output_length(n, k, s, padding, d):
    if n is None:
        return None
    ke = (k - 1) * d + 1
    if padding == "valid":
        return (n - ke) // s + 1
    return (n + s - 1) // s  # same, causal


def transpose_output_length(n, k, s, padding, output_padding, d):
    if n is None:
        return None
    ke = (k - 1) * d + 1
    if output_padding is None:
        return n * s + max(ke - s, 0) if padding == "valid" else n * s
    pad = ke // 2 if padding == "same" else 0
    return (n - 1) * s + ke - 2 * pad + output_padding


class ShapeSpecMixin:
    """Symbolic outputs from the layer's closed-form `compute_output_shape`
    (unknown spatial sizes stay None instead of being probed with small sizes,
    which a 'valid' kernel could not cover)."""

    def compute_output_spec(self, inputs, **kwargs):
        if not self.built:
            self._build_shapes = tuple(inputs.shape)
            self.build(tuple(inputs.shape))
            object.__setattr__(self, "built", True)
        return KerasTensor(tuple(self.compute_output_shape(tuple(inputs.shape))),
                           self.compute_dtype)


# ---- the base class --------------------------------------------------------------
class BaseConv(ShapeSpecMixin, Layer):
    """Shared construction, checks and config of the convolution layers."""

    rank = None
    _paddings = ("valid", "same")
    _kernel_args = ("kernel",)

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        where = f"{type(self).__name__} {self.name!r}"
        self.rank = rank
        if filters is not None:
            if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) \
                    or filters <= 0:
                raise ValueError(f"{where}: `filters` must be a positive integer, "
                                 f"got {filters!r}.")
            filters = int(filters)
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size", where)
        self.strides = standardize_tuple(strides, rank, "strides", where)
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate", where)
        self.padding = standardize_padding(padding, where, self._paddings)
        self.data_format = standardize_data_format(data_format, where)
        if not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(f"{where}: `groups` must be a positive integer, got {groups!r}.")
        self.groups = int(groups)
        if filters is not None and filters % self.groups:
            raise ValueError(f"{where}: `filters` ({filters}) must be divisible by "
                             f"`groups` ({self.groups}).")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{where}: strides > 1 cannot be combined with dilation_rate "
                             f"> 1, got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}.")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                           bias=(bias_initializer, bias_regularizer, bias_constraint))

    # -- helpers
    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def _check_input(self, shape):
        check_rank(self, shape, self.rank, self.data_format)
        channels = shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}): the channel dimension of the "
                f"inputs must be known, got input shape {tuple(shape)}.")
        if self.padding == "valid":
            for n, k, d in zip(self._spatial(shape), self.kernel_size, self.dilation_rate):
                if n is not None and (k - 1) * d + 1 > n:
                    raise ValueError(
                        f"Layer {self.name!r} ({type(self).__name__}): the kernel "
                        f"{self.kernel_size} (dilation_rate {self.dilation_rate}) is larger "
                        f"than the input's spatial dimensions {self._spatial(shape)} with "
                        "padding='valid'; use a smaller kernel or padding='same'.")
        return int(channels)

    def _check_call(self, inputs):
        if inputs.ndim != self.rank + 2 or inputs.shape[self._channel_axis] != self._in_channels:
            check_rank(self, inputs.shape, self.rank, self.data_format)
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) was built for inputs with "
                f"{self._in_channels} channels, got inputs of shape {tuple(inputs.shape)}.")

    def _add_bias_and_activate(self, x):
        if self.use_bias:
            b = self.bias.value.astype(x.dtype)
            if self.data_format == "channels_first":
                b = b.reshape((-1,) + (1,) * self.rank)
            x = x + b
        if self.activation is not None:
            x = self.activation(x)
        return x

    def _make_kernel(self, shape, name="kernel"):
        return self.add_weight(
            shape=shape, initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, name=name)

    def _make_bias(self, size):
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(size,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias")
        else:
            self.bias = None

    def _padding_arg(self):
        return "SAME" if self.padding == "same" else "VALID"

    def _conv(self, x, kernel, strides, dilation, groups=1, padding=None, kernel_io="IO"):
        return jax.lax.conv_general_dilated(
            x, kernel.astype(x.dtype), window_strides=strides,
            padding=padding or self._padding_arg(), rhs_dilation=dilation,
            dimension_numbers=dimension_numbers(self.rank, self.data_format, kernel_io),
            feature_group_count=groups)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, self.rank, self.data_format)
        spatial = tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in zip(
            self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate))
        return self._output_shape(input_shape[0], spatial, self._out_channels(input_shape))

    def _output_shape(self, batch, spatial, channels):
        if self.data_format == "channels_last":
            return (batch,) + spatial + (channels,)
        return (batch, channels) + spatial

    def _config(self, extra, weights=("kernel", "bias")):
        """The shared config, then `extra`, then the weights' initializers,
        regularizers and constraints (`weights` as in `weight_options_config`)."""
        config = super().get_config()
        config.update({
            "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "activity_regularizer": serialize_keras_object(self.activity_regularizer),
        })
        config.update(extra)
        config.update(weight_options_config(self, *weights))
        return config


class BaseConvND(LoraMixin, BaseConv):
    """Conv1D/2D/3D: `activation(conv(inputs, kernel) + bias)`. With `lora_rank=r`
    (or `enable_lora(r)` once built) the kernel `(*kernel_size, in, filters)` is
    frozen and factors `(*kernel_size, in, r)` and `(r, filters)` are trained (as
    Keras 3, the only convolutions with LoRA)."""

    def __init__(self, *args, lora_rank=None, lora_alpha=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_lora(lora_rank, lora_alpha)

    kernel = lora_weight_property("kernel")

    def build(self, input_shape):
        in_channels = self._check_input(input_shape)
        if in_channels % self.groups:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}): the number of input channels "
                f"({in_channels}) must be divisible by `groups` ({self.groups}); got input "
                f"shape {tuple(input_shape)}.")
        self._in_channels = in_channels
        self.kernel = self._make_kernel(self.kernel_size + (in_channels // self.groups,
                                                            self.filters))
        self._make_bias(self.filters)
        self.built = True
        self._build_lora()

    def _out_channels(self, input_shape):
        return self.filters

    def call(self, inputs):
        self._check_call(inputs)
        x = inputs
        padding = None
        if self.padding == "causal":
            left = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            padding = [(left, 0)]
        x = self._conv(x, self._lora_merged(), self.strides, self.dilation_rate,
                       self.groups, padding)
        return self._add_bias_and_activate(x)

    def get_config(self):
        return self._lora_config(self._config({"filters": self.filters, "groups": self.groups}))


@register_builtin("keras.layers", aliases=["Convolution1D"])
class Conv1D(BaseConvND):
    """1D convolution over (batch, steps, channels); padding may be "causal"
    (left-padded so output t sees only inputs <= t)."""
    _paddings = ("valid", "same", "causal")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, groups, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


@register_builtin("keras.layers", aliases=["Convolution2D"])
class Conv2D(BaseConvND):
    """2D convolution over (batch, height, width, channels)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, groups, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


@register_builtin("keras.layers", aliases=["Convolution3D"])
class Conv3D(BaseConvND):
    """3D convolution over (batch, depth, height, width, channels)."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, groups, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# ---- transposed convolutions ------------------------------------------------------
class BaseConvTranspose(BaseConv):
    """The transpose (gradient) of a strided convolution: a convolution of the
    stride-dilated inputs with the spatially flipped kernel."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, **kwargs):
        super().__init__(rank, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, **kwargs)
        where = f"{type(self).__name__} {self.name!r}"
        if output_padding is not None:
            output_padding = standardize_tuple(output_padding, rank, "output_padding",
                                               where, allow_zero=True)
            for p, s in zip(output_padding, self.strides):
                if p >= s:
                    raise ValueError(f"{where}: each `output_padding` must be smaller than "
                                     f"the stride, got output_padding={output_padding}, "
                                     f"strides={self.strides}.")
        self.output_padding = output_padding

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank, self.data_format)
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}): the channel "
                             f"dimension must be known, got input shape {tuple(input_shape)}.")
        self._in_channels = int(channels)
        self.kernel = self._make_kernel(self.kernel_size + (self.filters, self._in_channels))
        self._make_bias(self.filters)
        self.built = True

    def _out_channels(self, input_shape):
        return self.filters

    def _out_lengths(self, spatial):
        op = self.output_padding or (None,) * self.rank
        return tuple(transpose_output_length(n, k, s, self.padding, p, d) for n, k, s, p, d
                     in zip(spatial, self.kernel_size, self.strides, op, self.dilation_rate))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, self.rank, self.data_format)
        return self._output_shape(input_shape[0], self._out_lengths(self._spatial(input_shape)),
                                  self.filters)

    def call(self, inputs):
        self._check_call(inputs)
        spatial = self._spatial(inputs.shape)
        pads = []
        for n, m, k, s, d in zip(spatial, self._out_lengths(spatial), self.kernel_size,
                                 self.strides, self.dilation_rate):
            ke = (k - 1) * d + 1
            total = m - (n - 1) * s - 1 + ke - 1  # padding of the dilated input
            lo = ke - 1 if self.padding == "valid" else min(total - total // 2, ke - 1)
            pads.append((lo, total - lo))
        kernel = jnp.flip(self.kernel.value, axis=tuple(range(self.rank)))
        x = jax.lax.conv_general_dilated(
            inputs, kernel.astype(inputs.dtype), window_strides=(1,) * self.rank,
            padding=pads, lhs_dilation=self.strides, rhs_dilation=self.dilation_rate,
            dimension_numbers=dimension_numbers(self.rank, self.data_format, "OI"))
        return self._add_bias_and_activate(x)

    def get_config(self):
        return self._config({"filters": self.filters, "output_padding": self.output_padding})


def _transpose_class(rank, doc):
    def __init__(self, filters, kernel_size, strides=(1,) * rank, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1,) * rank,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        BaseConvTranspose.__init__(
            self, rank, filters, kernel_size, strides, padding, output_padding,
            data_format, dilation_rate, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint, **kwargs)
    name = f"Conv{rank}DTranspose"
    cls = type(name, (BaseConvTranspose,), {"__init__": __init__, "__doc__": doc,
                                             "__module__": __name__})
    cls.__qualname__ = name
    return register_builtin("keras.layers", aliases=[f"Convolution{rank}DTranspose"])(cls)


Conv1DTranspose = _transpose_class(1, "Transposed 1D convolution (kernel (k, filters, in)).")
Conv2DTranspose = _transpose_class(
    2, "Transposed 2D convolution (kernel (kh, kw, filters, in)); with strides s and "
       "padding='same' the output is s times larger.")
Conv3DTranspose = _transpose_class(3, "Transposed 3D convolution.")


# ---- depthwise and separable ----------------------------------------------------------
class BaseDepthwiseConv(BaseConv):
    """Each input channel convolved with its own `depth_multiplier` filters:
    output channel `c * depth_multiplier + m`."""

    def __init__(self, rank, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank, None, kernel_size, strides, padding, data_format,
                         dilation_rate, 1, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint,
                         **kwargs)
        if not isinstance(depth_multiplier, (int, np.integer)) or depth_multiplier <= 0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: `depth_multiplier` must "
                             f"be a positive integer, got {depth_multiplier!r}.")
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape):
        self._in_channels = self._check_input(input_shape)
        self.kernel = self._make_kernel(self.kernel_size + (self._in_channels,
                                                            self.depth_multiplier))
        self._make_bias(self._in_channels * self.depth_multiplier)
        self.built = True

    def _out_channels(self, input_shape):
        return input_shape[self._channel_axis] * self.depth_multiplier \
            if input_shape[self._channel_axis] is not None else None

    def _depthwise(self, x, kernel):
        c = self._in_channels
        k = kernel.reshape(self.kernel_size + (1, c * self.depth_multiplier))
        return self._conv(x, k, self.strides, self.dilation_rate, groups=c)

    def call(self, inputs):
        self._check_call(inputs)
        return self._add_bias_and_activate(self._depthwise(inputs, self.kernel.value))

    def get_config(self):
        return self._config({"depth_multiplier": self.depth_multiplier},
                            (("depthwise", "kernel"), "bias"))


@register_builtin("keras.layers")
class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1D convolution (kernel (k, in_channels, depth_multiplier))."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint,
                         **kwargs)


@register_builtin("keras.layers")
class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2D convolution (kernel (kh, kw, in_channels, depth_multiplier))."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint,
                         **kwargs)


class BaseSeparableConv(BaseDepthwiseConv):
    """A depthwise convolution followed by a pointwise (1x1) one to `filters`."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint,
                         **kwargs)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) \
                or filters <= 0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: `filters` must be a "
                             f"positive integer, got {filters!r}.")
        self.filters = int(filters)
        set_weight_options(self, pointwise=(pointwise_initializer, pointwise_regularizer,
                                            pointwise_constraint))

    def build(self, input_shape):
        self._in_channels = c = self._check_input(input_shape)
        self.depthwise_kernel = self._make_kernel(self.kernel_size + (c, self.depth_multiplier),
                                                  "depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * self.rank + (c * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, name="pointwise_kernel")
        self._make_bias(self.filters)
        self.built = True

    def _out_channels(self, input_shape):
        return self.filters

    def call(self, inputs):
        self._check_call(inputs)
        x = self._depthwise(inputs, self.depthwise_kernel.value)
        x = self._conv(x, self.pointwise_kernel.value, (1,) * self.rank, (1,) * self.rank,
                       padding="VALID")
        return self._add_bias_and_activate(x)

    def get_config(self):
        return self._config({"depth_multiplier": self.depth_multiplier, "filters": self.filters},
                            (("depthwise", "kernel"), "pointwise", "bias"))


@register_builtin("keras.layers", aliases=["SeparableConvolution1D"])
class SeparableConv1D(BaseSeparableConv):
    """Depthwise-separable 1D convolution."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, depth_multiplier, activation, use_bias,
                         depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, pointwise_constraint,
                         bias_constraint, **kwargs)


@register_builtin("keras.layers", aliases=["SeparableConvolution2D"])
class SeparableConv2D(BaseSeparableConv):
    """Depthwise-separable 2D convolution."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, depth_multiplier, activation, use_bias,
                         depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, pointwise_constraint,
                         bias_constraint, **kwargs)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose)
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
