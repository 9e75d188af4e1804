"""Bridge overhead: an MLP training step written with kerax Variables and run
through kerax.function, against the same step as a pure jax.jit function over a
params pytree. Prints per-call times, their ratio, and whether the optimized
HLO of the two programs has the same instructions.

    python bench/bridge.py [--batch 32] [--iters 2000]
"""
import argparse
import platform
import re
import time

import jax
import jax.numpy as jnp
import numpy as np

import kerax


def init_params(rng, sizes):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out)).astype(np.float32),
                       np.zeros(fan_out, np.float32)))
    return params


def loss_fn(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return jnp.mean(jax.nn.logsumexp(h, -1) - jnp.take_along_axis(h, y[:, None], -1)[:, 0])


def timeit_pair(fa, fb, iters, rounds=7):
    """Best per-call time of each, measured in alternating rounds (the machine is noisy)."""
    jax.block_until_ready(fa())
    jax.block_until_ready(fb())
    best = [float("inf"), float("inf")]
    n = max(1, iters // rounds)
    for _ in range(rounds):
        for i, fn in enumerate((fa, fb)):
            t0 = time.perf_counter()
            for _ in range(n):
                out = fn()
            jax.block_until_ready(out)
            best[i] = min(best[i], (time.perf_counter() - t0) / n)
    return best


def hlo_ops(lowered):
    text = lowered.compile().as_text()
    ops = re.findall(r"= \S+ (\w[\w-]*)\(", text)
    return sorted(o for o in ops if o not in ("parameter", "tuple", "get-tuple-element", "copy", "bitcast"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--sizes", default="784,128,10")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(args.batch, sizes[0])).astype(np.float32))
    y = jnp.asarray(rng.integers(0, sizes[-1], args.batch).astype(np.int32))
    lr = 0.01

    # (a) pure JAX: params pytree in, params out
    params = jax.tree_util.tree_map(jnp.asarray, init_params(rng, sizes))

    @jax.jit
    def pure_step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

    state = {"p": params}

    def run_pure():
        state["p"], loss = pure_step(state["p"], x, y)
        return loss

    # (b) kerax: Variables, kerax.function, kerax.value_and_grad
    variables = [(kerax.Variable(w), kerax.Variable(b)) for w, b in init_params(rng, sizes)]
    flat = [v for pair in variables for v in pair]

    @kerax.function
    def kerax_step(x, y):
        loss, grads = kerax.value_and_grad(lambda: loss_fn(variables, x, y), flat)()
        for v, g in zip(flat, grads):
            v.assign(v - lr * g)
        return loss

    t_pure, t_kerax = timeit_pair(run_pure, lambda: kerax_step(x, y), args.iters)
    same = hlo_ops(pure_step.lower(state["p"], x, y)) == hlo_ops(kerax_step.lower(x, y))
    ratio = t_kerax / t_pure
    print(f"machine: {platform.processor() or platform.machine()}, {jax.devices()[0].platform}, "
          f"jax {jax.__version__}")
    print(f"MLP {sizes}, batch {args.batch}")
    print(f"pure jax.jit step : {t_pure * 1e6:8.1f} us/call")
    print(f"kerax.function    : {t_kerax * 1e6:8.1f} us/call")
    print(f"ratio kerax/pure  : {ratio:.3f}  (target <= 1.2)")
    print(f"same optimized HLO instructions: {same}")
    return ratio, same


if __name__ == "__main__":
    main()
