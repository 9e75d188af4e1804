"""Regularization layers: Dropout, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization.

The random layers draw from `self.seed_generator` (its key is a non-trainable
Variable, so compiled steps thread it) and only when `training` is true; in
inference they return their inputs unchanged.
"""
import math

import jax.numpy as jnp

from kerax import random as _random
from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout",
           "ActivityRegularization"]


def _check_rate(rate, layer, arg="rate"):
    try:
        ok = 0 <= float(rate) <= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"{layer}: `{arg}` must be a float between 0 and 1, got {rate!r}.")
    return float(rate)


class _NoiseLayer(Layer):
    """A layer that draws noise in training: its strength `arg` (a float in
    [0, 1]), `seed` and a seed generator when the strength is positive; masks
    pass through. `kind` names the layer in errors. The config holds
    `_config_keys`."""

    _config_keys = ("rate", "seed")

    def __init__(self, kind, strength, seed, arg="rate", **kwargs):
        super().__init__(**kwargs)
        strength = _check_rate(strength, f"{kind} {self.name!r}", arg)
        setattr(self, arg, strength)
        self.seed = seed
        if strength > 0:
            self.seed_generator = _random.SeedGenerator(seed)
        self.supports_masking = True

    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config


@register_builtin("keras.layers")
class Dropout(_NoiseLayer):
    """In training, zeroes each input with probability `rate` and scales the
    others by `1 / (1 - rate)`; `noise_shape` (None entries follow the input)
    shares one draw along axes of size 1."""

    _config_keys = ("rate", "seed", "noise_shape")

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__("Dropout", rate, seed, **kwargs)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate >= 1:
            return jnp.zeros_like(inputs)
        noise_shape = None
        if self.noise_shape is not None:
            if len(self.noise_shape) != inputs.ndim:
                raise ValueError(
                    f"Layer {self.name!r} (Dropout): noise_shape={self.noise_shape} must "
                    f"have the rank of the inputs, got inputs of shape {tuple(inputs.shape)}.")
            noise_shape = self.noise_shape
        return _random.dropout(inputs, self.rate, noise_shape=noise_shape,
                               seed=self.seed_generator)


@register_builtin("keras.layers")
class GaussianNoise(_NoiseLayer):
    """In training, adds zero-mean Gaussian noise of standard deviation `stddev`."""

    _config_keys = ("stddev", "seed")

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__("GaussianNoise", stddev, seed, arg="stddev", **kwargs)

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        return inputs + _random.normal(inputs.shape, stddev=self.stddev, dtype=inputs.dtype,
                                       seed=self.seed_generator)


@register_builtin("keras.layers")
class GaussianDropout(_NoiseLayer):
    """In training, multiplies by Gaussian noise of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))`."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__("GaussianDropout", rate, seed, **kwargs)

    def call(self, inputs, training=False):
        if not training or not 0 < self.rate < 1:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * _random.normal(inputs.shape, mean=1.0, stddev=stddev,
                                       dtype=inputs.dtype, seed=self.seed_generator)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@register_builtin("keras.layers")
class AlphaDropout(_NoiseLayer):
    """Dropout for SELU networks: dropped inputs are set to SELU's negative
    saturation value and an affine correction keeps mean and variance."""

    _config_keys = ("rate", "seed", "noise_shape")

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__("AlphaDropout", rate, seed, **kwargs)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or not 0 < self.rate < 1:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, inputs.shape))
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        kept = _random.uniform(shape, dtype=inputs.dtype, seed=self.seed_generator) >= self.rate
        kept = jnp.broadcast_to(kept, inputs.shape)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = jnp.where(kept, inputs, jnp.asarray(alpha_p, inputs.dtype))
        return (a * x + b).astype(inputs.dtype)


@register_builtin("keras.layers")
class ActivityRegularization(Layer):
    """Returns its inputs and adds the loss `(l1 * sum|x| + l2 * sum x^2) /
    batch_size` (as Keras 3 normalizes activity regularization by the batch)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.supports_masking = True

    def call(self, inputs):
        x = inputs
        loss = jnp.zeros((), dtype=jnp.float32)
        if self.l1:
            loss = loss + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            loss = loss + self.l2 * jnp.sum(jnp.square(x))
        if x.ndim > 0 and x.shape[0]:
            loss = loss / x.shape[0]
        self.add_loss(loss)
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config
