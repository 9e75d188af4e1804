"""GroupNormalization and the SpectralNormalization wrapper (UnitNormalization
lives in normalization.py)."""
import jax
import jax.numpy as jnp

from kerax import initializers
from kerax.layers.layer import Layer
from kerax.layers.normalization import add_gamma_beta
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.layers.wrapper import Wrapper
from kerax.registry import register_builtin

__all__ = ["GroupNormalization", "SpectralNormalization"]


@register_builtin("keras.layers")
class GroupNormalization(Layer):
    """Normalizes each sample over groups of `groups` channels (along `axis`)
    and the other non-batch axes, then scales by `gamma` and shifts by `beta`
    (Wu & He 2018). `groups=-1` is instance normalization, `groups=1` layer
    normalization over all axes."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(
                f"GroupNormalization {self.name!r}: `groups` must be a positive integer "
                f"or -1, got {groups!r}.")
        if not isinstance(axis, int):
            raise TypeError(
                f"GroupNormalization {self.name!r}: `axis` must be an int, got {axis!r}.")
        self.groups = groups
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        set_weight_options(self, beta=(beta_initializer, beta_regularizer, beta_constraint),
                           gamma=(gamma_initializer, gamma_regularizer, gamma_constraint))
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Layer {self.name!r} (GroupNormalization): `axis`={self.axis} is out of "
                f"range for inputs of shape {input_shape}.")
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(
                f"Layer {self.name!r} (GroupNormalization): axis {self.axis} of the inputs "
                f"must have a known size, got input shape {input_shape}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(
                f"Layer {self.name!r} (GroupNormalization): the number of groups "
                f"({self.groups}) cannot exceed the number of channels ({dim}).")
        if dim % self.groups:
            raise ValueError(
                f"Layer {self.name!r} (GroupNormalization): the number of channels ({dim}) "
                f"must be a multiple of the number of groups ({self.groups}).")
        self._axis = self.axis % rank
        add_gamma_beta(self, (dim,), self.scale, self.center)
        self.built = True

    def call(self, inputs):
        axis = self._axis
        shape = tuple(inputs.shape)
        dim = shape[axis]
        g = self.groups
        grouped_shape = shape[:axis] + (g, dim // g) + shape[axis + 1:]
        dtype = jnp.promote_types(inputs.dtype, jnp.float32)
        x = jnp.reshape(inputs, grouped_shape).astype(dtype)
        reduce_axes = tuple(i for i in range(1, x.ndim) if i != axis)
        mean = jnp.mean(x, axis=reduce_axes, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=reduce_axes, keepdims=True)
        inv = jax.lax.rsqrt(var + self.epsilon)
        bshape = [1] * x.ndim
        bshape[axis], bshape[axis + 1] = g, dim // g
        if self.gamma is not None:
            inv = inv * jnp.reshape(self.gamma.value, bshape).astype(dtype)
        out = x * inv - mean * inv
        if self.beta is not None:
            out = out + jnp.reshape(self.beta.value, bshape).astype(dtype)
        return jnp.reshape(out, shape).astype(inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **weight_options_config(self, "beta", "gamma"),
        })
        return config


def _l2_normalize(x, eps=1e-12):
    return x * jax.lax.rsqrt(jnp.maximum(jnp.sum(jnp.square(x)), eps))


@register_builtin("keras.layers")
class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's `kernel` (or `embeddings`) by its largest
    singular value, estimated by `power_iterations` steps of power iteration
    (Miyato et al. 2018). In training each call refines the estimate `vector_u`
    (a non-trainable Variable) and assigns the normalized kernel, as Keras 3."""

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if not isinstance(power_iterations, int) or power_iterations <= 0:
            raise ValueError(
                f"SpectralNormalization {self.name!r}: `power_iterations` must be a "
                f"positive integer, got {power_iterations!r}.")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        if hasattr(self.layer, "kernel"):
            self.kernel = self.layer.kernel
        elif hasattr(self.layer, "embeddings"):
            self.kernel = self.layer.embeddings
        else:
            raise ValueError(
                f"SpectralNormalization {self.name!r}: the wrapped layer "
                f"{type(self.layer).__name__} has neither `kernel` nor `embeddings`.")
        self.kernel_shape = tuple(self.kernel.shape)
        self.vector_u = self.add_weight(
            shape=(1, self.kernel_shape[-1]), name="vector_u", trainable=False,
            initializer=initializers.TruncatedNormal(stddev=0.02), dtype=self.kernel.dtype)
        self.built = True

    def normalized_weights(self):
        """(new vector_u, kernel / sigma) from the current values."""
        kernel = self.kernel.value
        w = jnp.reshape(kernel, (-1, self.kernel_shape[-1]))
        u = self.vector_u.value
        for _ in range(self.power_iterations):
            v = _l2_normalize(u @ w.T)
            u = _l2_normalize(v @ w)
        u = jax.lax.stop_gradient(u)
        v = jax.lax.stop_gradient(v)
        sigma = (v @ w) @ u.T
        return u.astype(self.vector_u.dtype), (kernel / sigma).astype(kernel.dtype)

    def call(self, inputs, training=False):
        if training:
            new_u, new_kernel = self.normalized_weights()
            zero = jnp.all(self.kernel.value == 0)
            self.vector_u.assign(jnp.where(zero, self.vector_u.value, new_u))
            self.kernel.assign(jnp.where(zero, self.kernel.value, new_kernel))
        return self.layer(inputs).astype(inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config["power_iterations"] = self.power_iterations
        return config
