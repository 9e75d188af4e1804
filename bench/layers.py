"""Layer overhead: Conv2D (+ ReLU) and MaxPooling2D forward+backward through
the kerax layers, run with kerax.function and kerax.value_and_grad, against
the same computation written directly with jax.lax in jax.jit. Prints per-call
times and their ratio (target <= 1.1), and whether the optimized HLO of the two
programs has the same instructions.

    python bench/layers.py [--batch 32] [--size 32] [--channels 16] [--filters 32]
                           [--iters 200] [--data-format channels_last]
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


def lax_forward(kernel, bias, x, data_format, pool):
    nd = ("NHWC", "HWIO", "NHWC") if data_format == "channels_last" else \
        ("NCHW", "HWIO", "NCHW")
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=nd)
    y = y + (bias if data_format == "channels_last" else bias[:, None, None])
    y = jax.nn.relu(y)
    if pool:
        window = (1, 2, 2, 1) if data_format == "channels_last" else (1, 1, 2, 2)
        y = jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, window, window, "VALID")
    return y


def run_case(args, pool):
    rng = np.random.default_rng(0)
    shape = (args.batch, args.size, args.size, args.channels)
    if args.data_format == "channels_first":
        shape = (args.batch, args.channels, args.size, args.size)
    x = jnp.asarray(rng.normal(size=shape).astype(np.float32))

    conv = kerax.layers.Conv2D(args.filters, 3, padding="same", activation="relu",
                               data_format=args.data_format)
    layers = [conv] + ([kerax.layers.MaxPooling2D(data_format=args.data_format)]
                       if pool else [])
    conv(x)
    kernel = jnp.asarray(conv.kernel.numpy())
    bias = jnp.asarray(conv.bias.numpy())
    wrt = [conv.kernel, conv.bias]

    def kerax_loss(x):
        y = x
        for layer in layers:
            y = layer(y)
        return jnp.sum(y * y)

    @kerax.function
    def kerax_step(x):
        return kerax.value_and_grad(lambda: kerax_loss(x), wrt)()

    @jax.jit
    def lax_step(kernel, bias, x):
        def loss(k, b):
            y = lax_forward(k, b, x, args.data_format, pool)
            return jnp.sum(y * y)
        return jax.value_and_grad(loss, argnums=(0, 1))(kernel, bias)

    (v1, g1), (v2, g2) = kerax_step(x), lax_step(kernel, bias, x)
    np.testing.assert_allclose(float(v1), float(v2), rtol=1e-4)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-3)

    t_lax, t_kerax = timeit_pair(lambda: lax_step(kernel, bias, x), lambda: kerax_step(x),
                                 args.iters)
    same = hlo_ops(lax_step.lower(kernel, bias, x)) == hlo_ops(kerax_step.lower(x))
    name = "Conv2D+ReLU" + (" -> MaxPooling2D" if pool else "")
    print(f"{name:28s} lax {t_lax * 1e3:8.3f} ms  kerax {t_kerax * 1e3:8.3f} ms  "
          f"ratio {t_kerax / t_lax:.3f}  same HLO ops: {same}")
    return t_kerax / t_lax, same


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--filters", type=int, default=32)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--data-format", default="channels_last",
                    choices=["channels_last", "channels_first"])
    args = ap.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{jax.devices()[0].platform}, jax {jax.__version__}")
    print(f"input {args.batch}x{args.size}x{args.size}x{args.channels} ({args.data_format}), "
          f"3x3 kernel, {args.filters} filters; forward+backward (grads of kernel and bias); "
          "target ratio <= 1.1")
    return [run_case(args, pool) for pool in (False, True)]


if __name__ == "__main__":
    main()
