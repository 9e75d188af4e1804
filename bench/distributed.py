"""Data-parallel fit speed: kerax's `fit` under `DataParallel` vs a hand-written
`jax.jit` + `NamedSharding` + optax step on the same mesh, in one run.

    python bench/distributed.py [--devices 1,2,4,8] [--epochs 4] [--steps 64]
                                [--batch 512] [--repeats 3] [--write]

On a CPU-only host the devices are simulated (`--xla_force_host_platform_device_count=8`
is set before JAX starts); on a GPU or TPU host the same command uses the
real accelerators (device counts above what the host has are skipped).

For each device count n: the model (an MLP 256-512-512-10, softmax
cross-entropy, Adam) is trained on a mesh of the first n devices with the
global batch split along it. kerax: `model.fit(x, y, batch_size, epochs,
shuffle=False)` under `kerax.distribution.DataParallel`. The limit: the
parameters and Adam state replicated with `NamedSharding(mesh, P())`, the
data put on the devices once as (steps, batch, ...) split with
`P(None, "batch")`, and one jitted, donating step per batch that indexes its
batch inside the program. The per-step time is the median of the epochs after
the first (compile) divided by the steps; the runs alternate and each side
keeps its best of `--repeats`; the ratio kerax/limit is the figure (target
<= 1.15). `--write` puts the table into bench/RESULTS.md's
"Distributed fit" section.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    # simulated CPU devices, one thread each (harmless on GPU/TPU hosts: these only
    # shape the CPU platform). Without single-threaded Eigen, 8 simulated devices
    # on a few busy cores can starve a device thread past XLA's 40 s
    # collective rendezvous timeout.
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=8"
                               " --xla_cpu_multi_thread_eigen=false").strip()

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # noqa: E402

import kerax  # noqa: E402

SIZES = (256, 512, 512, 10)


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n).astype(np.int32)
    return x, y


def kerax_model():
    kerax.utils.set_random_seed(0)
    layers = [kerax.Input((SIZES[0],))]
    layers += [kerax.layers.Dense(s, activation="relu") for s in SIZES[1:-1]]
    layers += [kerax.layers.Dense(SIZES[-1])]
    model = kerax.Sequential(layers)
    model.compile(optimizer=kerax.optimizers.Adam(1e-3),
                  loss=kerax.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class _EpochTimes(kerax.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        float(logs["loss"])  # the epoch's work is done
        self.times.append(time.perf_counter() - self._t)


def run_kerax(devices, x, y, batch, epochs):
    dist = kerax.distribution.DataParallel(devices=devices)
    with dist.scope():
        model = kerax_model()
        timer = _EpochTimes()
        model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0,
                  callbacks=[timer])
    return timer.times


def run_limit(devices, x, y, batch, epochs):
    mesh = Mesh(np.array(devices), ("batch",))
    replicated = NamedSharding(mesh, P())
    keys = jax.random.split(jax.random.key(0), len(SIZES) - 1)
    params = []
    for k, (a, b) in zip(keys, zip(SIZES[:-1], SIZES[1:])):
        limit = np.sqrt(6.0 / (a + b))
        params.append((jax.random.uniform(k, (a, b), jnp.float32, -limit, limit),
                       jnp.zeros((b,), jnp.float32)))
    params = jax.device_put(params, replicated)
    opt = optax.adam(1e-3)
    opt_state = jax.device_put(opt.init(params), replicated)
    steps = x.shape[0] // batch
    data = NamedSharding(mesh, P(None, "batch"))
    xs = jax.device_put(x[:steps * batch].reshape(steps, batch, -1), data)
    ys = jax.device_put(y[:steps * batch].reshape(steps, batch), data)

    def loss_fn(params, xb, yb):
        h = xb
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return optax.softmax_cross_entropy_with_integer_labels(h, yb).mean()

    def step(params, opt_state, xs, ys, i):
        loss, grads = jax.value_and_grad(loss_fn)(params, xs[i], ys[i])
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1),
                   out_shardings=(replicated, replicated, replicated))
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        for i in range(steps):
            params, opt_state, loss = step(params, opt_state, xs, ys, np.int32(i))
        float(loss)
        times.append(time.perf_counter() - t)
    return times


def per_step(times, steps):
    return float(np.median(times[1:] if len(times) > 1 else times)) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", default="1,2,4,8")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--steps", type=int, default=64, help="steps per epoch")
    ap.add_argument("--batch", type=int, default=512, help="global batch size")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one count, JSON out
    args = ap.parse_args()
    available = jax.devices()
    if args.one is None:
        # each device count in a fresh process: on simulated CPU devices, programs
        # for several meshes in one process can stall XLA's collective rendezvous
        rows = []
        for n in (int(c) for c in args.devices.split(",")):
            cmd = [sys.executable, os.path.abspath(__file__), "--one", str(n)] + [
                f"--{k}={getattr(args, k)}" for k in ("epochs", "steps", "batch", "repeats")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            found = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode or not found:
                print(f"{n} device(s): failed (exit {proc.returncode})\n{proc.stderr[-2000:]}")
                continue
            row = json.loads(found[-1])
            if row.get("skipped"):
                print(f"{n} devices: skipped ({row['skipped']})")
                continue
            rows.append((n, row["kerax"], row["limit"], row["ratio"]))
            print(f"{n} device(s): kerax {row['kerax']:.3f} ms/step, jit+NamedSharding+optax "
                  f"{row['limit']:.3f} ms/step, ratio {row['ratio']:.3f}", flush=True)
        if args.write:
            write_results(rows, args, available)
        return
    x, y = make_data(args.steps * args.batch)
    for n in (args.one,):
        if n > len(available):
            print(json.dumps({"skipped": f"this host has {len(available)} devices"}))
            return
        if args.batch % n:
            print(json.dumps({"skipped": f"batch {args.batch} is not divisible by {n}"}))
            return
        devices = available[:n]
        best = {"kerax": np.inf, "limit": np.inf}
        for _ in range(args.repeats):  # alternate, keep each side's best
            best["kerax"] = min(best["kerax"], per_step(
                run_kerax(devices, x, y, args.batch, args.epochs), args.steps))
            best["limit"] = min(best["limit"], per_step(
                run_limit(devices, x, y, args.batch, args.epochs), args.steps))
        print(json.dumps({"kerax": best["kerax"] * 1e3, "limit": best["limit"] * 1e3,
                          "ratio": best["kerax"] / best["limit"]}), flush=True)


def write_results(rows, args, available):
    path = os.path.join(HERE, "RESULTS.md")
    kind = available[0].platform
    lines = [
        "## Distributed fit (bench/distributed.py)", "",
        f"MLP {'-'.join(map(str, SIZES))}, Adam, global batch {args.batch}, "
        f"{args.steps} steps/epoch, median of {args.epochs - 1} epochs after the first, best of "
        f"{args.repeats} alternating runs; {kind} devices"
        + (" simulated on one host (`--xla_force_host_platform_device_count=8`, "
           f"{os.cpu_count()} cores shared by all of them)" if kind == "cpu" else "")
        + f"; {platform.processor() or platform.machine()}, jax {jax.__version__}.", "",
        "| devices | kerax DataParallel fit (ms/step) | jit + NamedSharding + optax (ms/step) "
        "| ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {k:.3f} | {h:.3f} | {r:.2f} |" for n, k, h, r in rows]
    lines += ["", "Target: ratio <= 1.15. On simulated CPU devices every device shares "
              "the same cores, so the absolute times grow with the device count; the ratio "
              "is the figure. Run `python bench/distributed.py --write` on a GPU or TPU host "
              "for real scaling.", ""]
    section = "\n".join(lines)
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    pattern = re.compile(r"## Distributed fit \(bench/distributed\.py\).*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section.rstrip("\n") + "\n", text) if pattern.search(text) else (
        text.rstrip("\n") + "\n\n" + section)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
