"""Layer overhead of the recurrent and attention layers: LSTM and
MultiHeadAttention forward+backward through the kerax layers (kerax.function +
kerax.value_and_grad with respect to the layer's Variables) against the same
computation written directly with jax.lax.scan / jax.nn in jax.jit. Prints
per-call times and their ratio (target <= 1.1) and whether the optimized HLO
of the two programs has the same instructions.

    python bench/layers_rnn.py [--batch 32] [--steps 50] [--features 32] [--units 64]
                               [--heads 4] [--key-dim 16] [--seq 64] [--iters 200]
"""
import argparse
import os
import platform
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge import hlo_ops, timeit_pair  # noqa: E402

import kerax  # noqa: E402


def _check(kerax_out, jax_out):
    (v1, g1), (v2, g2) = kerax_out, jax_out
    np.testing.assert_allclose(float(v1), float(v2), rtol=1e-4)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-3)


def _report(name, lax_step, lax_args, kerax_step, kerax_args, iters):
    t_lax, t_kerax = timeit_pair(lambda: lax_step(*lax_args), lambda: kerax_step(*kerax_args),
                                 iters)
    same = hlo_ops(lax_step.lower(*lax_args)) == hlo_ops(kerax_step.lower(*kerax_args))
    print(f"{name:34s} jax {t_lax * 1e3:8.3f} ms  kerax {t_kerax * 1e3:8.3f} ms  "
          f"ratio {t_kerax / t_lax:.3f}  same HLO ops: {same}")
    return t_kerax / t_lax, same


# ---- LSTM ------------------------------------------------------------------------------
def lstm_forward(kernel, recurrent_kernel, bias, x):
    """Keras' LSTM (gates i, f, c, o; tanh/sigmoid) with lax.scan; last output."""
    batch, units = x.shape[0], recurrent_kernel.shape[0]
    z = jnp.einsum("btd,dg->tbg", x, kernel) + bias

    def step(carry, z_t):
        h, c = carry
        z_t = z_t + h @ recurrent_kernel
        i, f, g, o = jnp.split(z_t, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((batch, units), x.dtype)
    (h, _), _ = jax.lax.scan(step, (zeros, zeros), z)
    return h


def run_lstm(args):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(args.batch, args.steps, args.features)).astype(np.float32))
    layer = kerax.layers.LSTM(args.units)
    layer(x)
    wrt = [layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias]
    params = [jnp.asarray(v.numpy()) for v in wrt]

    @kerax.function
    def kerax_step(x):
        return kerax.value_and_grad(lambda: jnp.sum(layer(x) ** 2), wrt)()

    @jax.jit
    def lax_step(kernel, recurrent_kernel, bias, x):
        def loss(k, rk, b):
            return jnp.sum(lstm_forward(k, rk, b, x) ** 2)
        return jax.value_and_grad(loss, argnums=(0, 1, 2))(kernel, recurrent_kernel, bias)

    _check(kerax_step(x), lax_step(*params, x))
    return _report(f"LSTM({args.units}) on {args.batch}x{args.steps}x{args.features}",
                   lax_step, (*params, x), kerax_step, (x,), args.iters)


# ---- MultiHeadAttention ---------------------------------------------------------------
def mha_forward(p, x, key_dim):
    q = jnp.einsum("btd,dhk->bthk", x, p[0]) + p[1]
    k = jnp.einsum("bsd,dhk->bshk", x, p[2]) + p[3]
    v = jnp.einsum("bsd,dhk->bshk", x, p[4]) + p[5]
    scores = jnp.einsum("bshk,bthk->bhts", k, q / np.sqrt(key_dim))
    probs = jax.nn.softmax(scores, axis=-1)
    out = jnp.einsum("bhts,bshk->bthk", probs, v)
    return jnp.einsum("bthk,hkd->btd", out, p[6]) + p[7]


def run_mha(args):
    rng = np.random.default_rng(1)
    d = args.heads * args.key_dim
    x = jnp.asarray(rng.normal(size=(args.batch, args.seq, d)).astype(np.float32))
    layer = kerax.layers.MultiHeadAttention(args.heads, args.key_dim)
    layer(x, x)
    wrt = list(layer.trainable_weights)
    params = [jnp.asarray(v.numpy()) for v in wrt]

    @kerax.function
    def kerax_step(x):
        return kerax.value_and_grad(lambda: jnp.sum(layer(x, x) ** 2), wrt)()

    @jax.jit
    def lax_step(params, x):
        return jax.value_and_grad(
            lambda p: jnp.sum(mha_forward(p, x, args.key_dim) ** 2))(params)

    _check(kerax_step(x), lax_step(params, x))
    return _report(f"MultiHeadAttention({args.heads}x{args.key_dim}) on "
                   f"{args.batch}x{args.seq}x{d}", lax_step, (params, x), kerax_step, (x,),
                   args.iters)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--key-dim", type=int, default=16)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--iters", type=int, default=200)
    args = ap.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{jax.devices()[0].platform}, jax {jax.__version__}")
    print("forward+backward (grads of all the layer's weights); target ratio <= 1.1")
    return [run_lstm(args), run_mha(args)]


if __name__ == "__main__":
    main()
