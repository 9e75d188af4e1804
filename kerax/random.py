"""Random numbers whose state is a Variable (Keras 3's `keras.random`).

`seed=` is an int (a fixed key: the same numbers every call), a
`SeedGenerator` (fresh numbers every call, its key kept in a non-trainable
Variable so compiled steps thread it like any other state) or None (the global
generator, reset by `kerax.utils.set_random_seed`).
"""
import random as _pyrandom

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.core.memory import check_allocation
from kerax.variables import Variable

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint",
           "categorical", "dropout", "shuffle", "gamma", "binomial", "beta",
           "make_default_seed", "draw_seed"]


class SeedGenerator:
    """Holds a PRNG key in a non-trainable Variable; `next()` returns a fresh
    subkey and advances the state."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is None:
            seed = make_default_seed()
        if isinstance(seed, SeedGenerator) or not isinstance(seed, (int, np.integer)):
            raise ValueError(
                f"SeedGenerator: `seed` must be an int or None, got {seed!r}.")
        self._initial_seed = int(seed)
        self.name = name or "seed_generator"
        self.state = Variable(
            np.asarray(jax.random.key_data(jax.random.key(int(seed) % (2**32)))),
            trainable=False, name="seed_generator_state", dtype="uint32")

    def next(self, ordered=True):
        key = self.state.value
        new_state, sub = jax.random.split(key)
        self.state.assign(new_state)
        return sub

    def get_config(self):
        return {"seed": self._initial_seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def global_seed_generator():
    """The generator behind `seed=None`, made on first use (so importing
    kerax starts no JAX backend: `kerax.distribution.initialize` may follow)."""
    gen = _GLOBAL["gen"]
    if gen is None:
        gen = _GLOBAL["gen"] = SeedGenerator(_GLOBAL["seed"], name="global_seed_generator")
    return gen


def make_default_seed():
    """A Python-side seed for objects created without one (reproducible after
    `set_random_seed`)."""
    return _pyrandom.randint(1, 2**31 - 1)


def set_random_seed(seed):
    """Seed Python's `random`, NumPy and kerax's global generator."""
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"set_random_seed: `seed` must be an int, got {seed!r}.")
    _pyrandom.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    # Keep the same Variable: compiled functions may already read it.
    gen = global_seed_generator()
    gen._initial_seed = int(seed)
    gen.state.assign(np.asarray(jax.random.key_data(jax.random.key(int(seed) % (2**32)))))


def draw_seed(seed):
    """A JAX key from an int, a SeedGenerator, a key array or None."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        return global_seed_generator().next()
    if isinstance(seed, (int, np.integer)):
        return jax.random.key_data(jax.random.key(int(seed) % (2**32)))
    if hasattr(seed, "dtype") and hasattr(seed, "shape"):
        return seed
    raise ValueError(
        f"`seed` must be an int, a kerax.random.SeedGenerator or None, got {seed!r}.")


def _dtype(dtype):
    return jnp.dtype(dtype or config.floatx())


def _shape(shape, dtype=None, fn=None):
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if fn is not None:  # an impossible size raises here instead of aborting in XLA
        check_allocation(shape, dtype, f"kerax.random.{fn}")
    return shape


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dtype = _dtype(dtype)
    return (jax.random.normal(draw_seed(seed), _shape(shape, dtype, "normal"), dtype=dtype) * stddev
            + mean).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dtype = _dtype(dtype)
    return jax.random.uniform(draw_seed(seed), _shape(shape, dtype, "uniform"), dtype=dtype,
                              minval=minval, maxval=maxval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dtype = _dtype(dtype)
    x = jax.random.truncated_normal(draw_seed(seed), -2.0, 2.0, _shape(shape, dtype, "truncated_normal"), dtype=dtype)
    return (x * stddev + mean).astype(dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    return jax.random.randint(draw_seed(seed), _shape(shape, dtype, "randint"), minval, maxval,
                              dtype=jnp.dtype(dtype))


def categorical(logits, num_samples, dtype="int32", seed=None):
    logits = jnp.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(
            f"categorical: `logits` must have shape (batch, num_classes), got {logits.shape}.")
    out = jax.random.categorical(draw_seed(seed), logits[..., None, :], axis=-1,
                                 shape=(logits.shape[0], int(num_samples)))
    return out.astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    if not 0 <= float(rate) < 1:
        raise ValueError(f"dropout: `rate` must be in [0, 1), got {rate}.")
    inputs = jnp.asarray(inputs)
    if rate == 0:
        return inputs
    keep = 1.0 - rate
    shape = inputs.shape if noise_shape is None else tuple(
        d if n is None else n for n, d in zip(noise_shape, inputs.shape))
    mask = jax.random.bernoulli(draw_seed(seed), keep, shape)
    return jnp.where(mask, inputs / keep, jnp.zeros_like(inputs)).astype(inputs.dtype)


def shuffle(x, axis=0, seed=None):
    return jax.random.permutation(draw_seed(seed), jnp.asarray(x), axis=axis,
                                  independent=False)


def gamma(shape, alpha, dtype=None, seed=None):
    dtype = _dtype(dtype)
    return jax.random.gamma(draw_seed(seed), alpha, _shape(shape, dtype, "gamma"), dtype=dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    dtype = _dtype(dtype)
    return jax.random.binomial(draw_seed(seed), counts, probabilities, _shape(shape, dtype, "binomial"),
                               dtype=dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    dtype = _dtype(dtype)
    return jax.random.beta(draw_seed(seed), alpha, beta, _shape(shape, dtype, "beta"), dtype=dtype)


# Created at import, never inside a trace: compiled functions read it as state.
_GLOBAL = {"gen": None, "seed": make_default_seed()}
