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
    shape, key = _shape(shape, dtype, "normal"), draw_seed(seed)
    fast = _one_program("normal", key, shape, dtype, mean, stddev)
    if fast is not None:
        return fast
    return (jax.random.normal(key, shape, dtype=dtype) * stddev + mean).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dtype = _dtype(dtype)
    shape, key = _shape(shape, dtype, "uniform"), draw_seed(seed)
    fast = _one_program("uniform", key, shape, dtype, minval, maxval)
    if fast is not None:
        return fast
    return jax.random.uniform(key, shape, dtype=dtype, minval=minval, maxval=maxval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dtype = _dtype(dtype)
    shape, key = _shape(shape, dtype, "truncated_normal"), draw_seed(seed)
    fast = _one_program("truncated_normal", key, shape, dtype, mean, stddev)
    if fast is not None:
        return fast
    x = jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype=dtype)
    return (x * stddev + mean).astype(dtype)


# ---- one compiled program per distribution, whatever the shape ----------------------
# jax.random compiles its sampler once per shape: building a model with many
# weight shapes pays a compile per shape. With JAX's partitionable threefry
# (the default), element i of a sample depends only on the key and on i, so
# a float32 sample of any shape is the first n values of fixed-size chunks
# computed by one program per distribution (the chunk's first index an
# argument), joined on the host: the same values as jax.random, bit for bit
# (tests/test_random.py), with three compiles in all.
_CHUNK = 1 << 16
_MAX_FAST = 1 << 24  # larger samples: jax.random on the device, no host round trip
_SQRT2 = np.float32(np.sqrt(2.0))


def _sample_chunk(key, offset, a, b, kind):
    """`_CHUNK` float32 values, for flat indices offset, offset + 1, ... of a
    `kind` sample from `key` (raw uint32[2] threefry key data)."""
    from jax.extend.random import threefry2x32_p  # jax.extend (with pallas) loads on use
    if kind == "truncated_normal":  # the range of jax.random.truncated_normal(key, -2, 2)
        a = jax.lax.erf(np.float32(-2.0) / _SQRT2)
        b = jax.lax.erf(np.float32(2.0) / _SQRT2)
    lo = offset + jax.lax.iota(jnp.uint32, _CHUNK)
    b1, b2 = threefry2x32_p.bind(key[0], key[1], jnp.zeros_like(lo), lo)
    bits = (b1 ^ b2) >> np.uint32(32 - 23) | np.uint32(0x3F800000)
    u = jax.lax.bitcast_convert_type(bits, jnp.float32) - np.float32(1.0)
    u = jax.lax.max(a, u * (b - a) + a)  # uniform in [a, b), as jax.random.uniform
    if kind == "uniform":
        return u
    x = _SQRT2 * jax.lax.erf_inv(u)
    if kind == "truncated_normal":  # as jax.random.truncated_normal(key, -2, 2)
        x = jnp.clip(x, jax.lax.nextafter(np.float32(-2.0), np.float32(np.inf)),
                     jax.lax.nextafter(np.float32(2.0), np.float32(-np.inf)))
    return x  # scaled on the host: `x * scale + loc` as two float32 ops, as eager code


_sample_chunk_jit = jax.jit(_sample_chunk, static_argnames=("kind",))


def _one_program(kind, key, shape, dtype, p, q):
    """The sample through `_sample_chunk`, or None where that does not apply
    (inside a trace, another dtype or key type, a huge sample, the original
    threefry scheme)."""
    n = int(np.prod(shape))
    if dtype != jnp.float32 or not 0 < n <= _MAX_FAST or isinstance(key, jax.core.Tracer) or \
            not jax.config.jax_threefry_partitionable or getattr(key, "dtype", None) != jnp.uint32 \
            or getattr(key, "shape", None) != (2,) or \
            jax.config.jax_default_prng_impl != "threefry2x32" or \
            not all(isinstance(v, (int, float, np.floating, np.integer)) for v in (p, q)):
        return None
    if kind == "uniform":
        a, b, loc, scale = np.float32(p), np.float32(q), np.float32(0), np.float32(1)
    elif kind == "normal":
        a, b = np.nextafter(np.float32(-1), np.float32(0)), np.float32(1)
        loc, scale = np.float32(p), np.float32(q)
    else:  # the range is computed in the program, as jax.random does
        a, b, loc, scale = np.float32(0), np.float32(0), np.float32(p), np.float32(q)
    if kind == "uniform" and n <= _HOST_UNIFORM:  # no program at all
        flat = _uniform_host(np.asarray(key), n, a, b)
        return jax.device_put(flat.reshape(shape))
    chunks = [np.asarray(_sample_chunk_jit(key, np.uint32(start), a, b, kind=kind))
              for start in range(0, n, _CHUNK)]
    flat = (chunks[0] if len(chunks) == 1 else np.concatenate(chunks))[:n]
    if kind != "uniform":
        flat = flat * scale + loc
    return jax.device_put(flat.reshape(shape))


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


# Uniform samples up to this size are computed on the host in NumPy: the same
# threefry-2x32 bits and float conversion, with no XLA program to compile.
_HOST_UNIFORM = 1 << 20
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _threefry2x32_host(k0, k1, x0, x1):
    """Threefry-2x32 (20 rounds; Salmon et al., "Parallel random numbers: as
    easy as 1, 2, 3", 2011) on uint32 NumPy arrays, as XLA computes it."""
    ks = (np.uint32(k0), np.uint32(k1), np.uint32(k0) ^ np.uint32(k1) ^ np.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for group in range(5):
        for r in _ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = (x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + np.uint32(group + 1)
    return x0, x1


def _uniform_host(key, n, a, b):
    """`jax.random.uniform(key, (n,), float32, a, b)`, bit for bit, in NumPy."""
    with np.errstate(over="ignore"):
        lo = np.arange(n, dtype=np.uint32)
        b1, b2 = _threefry2x32_host(key[0], key[1], np.zeros_like(lo), lo)
    bits = (b1 ^ b2) >> np.uint32(32 - 23) | np.uint32(0x3F800000)
    u = bits.view(np.float32) - np.float32(1.0)
    return np.maximum(a, u * (b - a) + a)

