"""Normalization layers: BatchNormalization, LayerNormalization, UnitNormalization."""
import jax
import jax.numpy as jnp

from kerax.layers.layer import Layer
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import register_builtin

__all__ = ["BatchNormalization", "LayerNormalization", "UnitNormalization"]


def _moments(x, axes, mask=None):
    """Mean and biased variance over `axes`, in float32 at least; `mask` (the
    shape of `x` without the feature axis) weights the samples."""
    dtype = jnp.promote_types(x.dtype, jnp.float32)
    x = x.astype(dtype)
    if mask is None:
        mean = jnp.mean(x, axis=axes)
        var = jnp.mean(jnp.square(x - jnp.expand_dims(mean, axes)), axis=axes)
        return mean, var
    w = jnp.broadcast_to(mask.astype(dtype)[..., None], x.shape) if mask.ndim < x.ndim \
        else mask.astype(dtype)
    total = jnp.sum(w, axis=axes)
    mean = jnp.sum(x * w, axis=axes) / jnp.maximum(total, 1e-12)
    var = jnp.sum(jnp.square(x - jnp.expand_dims(mean, axes)) * w, axis=axes) \
        / jnp.maximum(total, 1e-12)
    return mean, var


def _axis_arg(axis, where):
    """An int, or a list or tuple of ints (kept as a list)."""
    if isinstance(axis, (list, tuple)):
        return list(axis)
    if not isinstance(axis, int):
        raise TypeError(f"{where}: `axis` must be an int or a list of ints, got {axis!r}.")
    return axis


def add_gamma_beta(layer, shape, gamma=True, beta=True):
    """A normalization layer's scale `layer.gamma`, then offset `layer.beta` (None
    where off), made with its `gamma_*` / `beta_*` options."""
    layer.gamma = layer.add_weight(
        shape=shape, initializer=layer.gamma_initializer, regularizer=layer.gamma_regularizer,
        constraint=layer.gamma_constraint, name="gamma") if gamma else None
    layer.beta = layer.add_weight(
        shape=shape, initializer=layer.beta_initializer, regularizer=layer.beta_regularizer,
        constraint=layer.beta_constraint, name="beta") if beta else None


@register_builtin("keras.layers")
class BatchNormalization(Layer):
    """Normalizes along `axis` (the features) with batch statistics in training
    (updating `moving_mean`/`moving_variance` by `momentum`) and the moving
    statistics in inference or when the layer is frozen (`trainable=False`):
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise TypeError(
                f"BatchNormalization {self.name!r}: `axis` must be an int, got {axis!r}.")
        if renorm:
            raise NotImplementedError(
                f"BatchNormalization {self.name!r}: renorm=True is not supported.")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        set_weight_options(self, beta=(beta_initializer, beta_regularizer, beta_constraint),
                           gamma=(gamma_initializer, gamma_regularizer, gamma_constraint),
                           moving_mean=(moving_mean_initializer,),
                           moving_variance=(moving_variance_initializer,))
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        # One device's batch is the whole batch under jit with sharded data:
        # XLA computes the moments over the global batch, so this is a no-op.
        self.synchronized = synchronized
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or input_shape[self.axis] is None:
            raise ValueError(
                f"BatchNormalization {self.name!r}: axis={self.axis} must be a known "
                f"dimension of the inputs, got input shape {tuple(input_shape)}.")
        self._rank = rank
        shape = (int(input_shape[self.axis]),)
        add_gamma_beta(self, shape, self.scale, self.center)
        self.moving_mean = self.add_weight(
            shape=shape, initializer=self.moving_mean_initializer, trainable=False,
            name="moving_mean")
        self.moving_variance = self.add_weight(
            shape=shape, initializer=self.moving_variance_initializer, trainable=False,
            name="moving_variance")
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if inputs.ndim != self._rank or inputs.shape[self.axis] != self.moving_mean.shape[0]:
            raise ValueError(
                f"Layer {self.name!r} (BatchNormalization) was built for inputs of rank "
                f"{self._rank} with {self.moving_mean.shape[0]} features on axis "
                f"{self.axis}, got inputs of shape {tuple(inputs.shape)}.")
        axis = self.axis % inputs.ndim
        reduce_axes = tuple(i for i in range(inputs.ndim) if i != axis)
        bshape = [1] * inputs.ndim
        bshape[axis] = inputs.shape[axis]
        if training and self.trainable:
            if mask is not None and axis != inputs.ndim - 1:
                mask = None
            mean, var = _moments(inputs, reduce_axes, mask)
            m = self.momentum
            self.moving_mean.assign(
                self.moving_mean.value * m + mean.astype(self.moving_mean.dtype) * (1 - m))
            self.moving_variance.assign(
                self.moving_variance.value * m + var.astype(self.moving_variance.dtype) * (1 - m))
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
        dtype = jnp.promote_types(inputs.dtype, jnp.float32)
        inv = jax.lax.rsqrt(var.astype(dtype) + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.value.astype(dtype)
        shift = -mean.astype(dtype) * inv
        if self.beta is not None:
            shift = shift + self.beta.value.astype(dtype)
        out = inputs.astype(dtype) * inv.reshape(bshape) + shift.reshape(bshape)
        return out.astype(inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **weight_options_config(self, "beta", "gamma", "moving_mean", "moving_variance",
                                    kinds=("initializer",)),
            **weight_options_config(self, "beta", "gamma", kinds=("regularizer", "constraint")),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        })
        return config


@register_builtin("keras.layers")
class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (an int or a list of axes):
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`. `rms_scaling=True` (kept
    for compatibility; Keras 3 deprecates it) divides by `sqrt(var + epsilon)`
    without centering and has no beta."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_arg(axis, f"LayerNormalization {self.name!r}")
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        set_weight_options(self, beta=(beta_initializer, beta_regularizer, beta_constraint),
                           gamma=(gamma_initializer, gamma_regularizer, gamma_constraint))
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank or input_shape[a] is None for a in axes):
            raise ValueError(
                f"LayerNormalization {self.name!r}: axis={self.axis} must name known "
                f"dimensions of the inputs, got input shape {tuple(input_shape)}.")
        self.axis = axes
        shape = tuple(int(input_shape[a]) for a in axes)
        add_gamma_beta(self, shape, gamma=self.scale or self.rms_scaling,
                       beta=self.center and not self.rms_scaling)
        self.built = True

    def call(self, inputs):
        axes = tuple(sorted(a % inputs.ndim for a in self.axis))
        bshape = [inputs.shape[i] if i in axes else 1 for i in range(inputs.ndim)]
        dtype = jnp.promote_types(inputs.dtype, jnp.float32)
        x = inputs.astype(dtype)
        mean, var = _moments(x, axes)
        inv = jax.lax.rsqrt(jnp.expand_dims(var, axes) + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.value.astype(dtype).reshape(bshape)
        if self.rms_scaling:
            out = x * inv
        else:
            out = (x - jnp.expand_dims(mean, axes)) * inv
            if self.beta is not None:
                out = out + self.beta.value.astype(dtype).reshape(bshape)
        return out.astype(inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            **weight_options_config(self, "beta", "gamma"),
        })
        return config


@register_builtin("keras.layers")
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along `axis` (an int or list of ints)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_arg(axis, f"UnitNormalization {self.name!r}")
        self.supports_masking = True

    def call(self, inputs):
        axes = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        dtype = jnp.promote_types(inputs.dtype, jnp.float32)
        x = inputs.astype(dtype)
        sq = jnp.sum(jnp.square(x), axis=axes, keepdims=True)
        return (x * jax.lax.rsqrt(jnp.maximum(sq, 1e-12))).astype(inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
