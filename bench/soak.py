"""Soak: fit/evaluate/predict called many times on fresh arrays of varying
lengths, kerax vs Keras 3 (JAX backend), each in its own process.

    python bench/soak.py [--calls 200] [--max-len 2000] [--big-mb 50] [--big-fits 30]

Reports, per framework: the RSS growth and the number of XLA compilations
over the calls (counted with jax.monitoring), the wall time, and the RSS
growth over repeated fits on fresh large arrays. Prints a Markdown table to
paste into bench/RESULTS.md (the script does not edit it).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = textwrap.dedent("""
    import gc, json, sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    import jax
    compiles = [0]
    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles[0] += 1
    jax.monitoring.register_event_duration_secs_listener(listener)
    if {lib!r} == "keras":
        import keras as lib
    else:
        import kerax as lib

    def rss_mb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024

    lib.utils.set_random_seed(0)
    model = lib.Sequential([lib.Input((16,)), lib.layers.Dense(32, activation="relu"),
                            lib.layers.Dense(1)])
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)

    def data(n):
        return (rng.normal(size=(n, 16)).astype(np.float32),
                rng.normal(size=(n, 1)).astype(np.float32))

    x, y = data(64)  # warm up: every call kind once
    model.fit(x, y, batch_size=32, verbose=0)
    model.evaluate(x, y, batch_size=32, verbose=0)
    model.predict(x, batch_size=32, verbose=0)
    gc.collect()
    rss0, c0, t0 = rss_mb(), compiles[0], time.perf_counter()
    lengths = rng.integers(1, {max_len} + 1, {calls})
    for i, n in enumerate(lengths):
        x, y = data(int(n))
        kind = i % 3
        if kind == 0:
            model.fit(x, y, batch_size=32, verbose=0)
        elif kind == 1:
            model.evaluate(x, y, batch_size=32, verbose=0)
        else:
            model.predict(x, batch_size=32, verbose=0)
    gc.collect()
    out = {{"calls_rss_mb": rss_mb() - rss0, "calls_compiles": compiles[0] - c0,
            "calls_s": time.perf_counter() - t0}}
    rows = {big_mb} * 2**20 // (4 * 17)
    rss0 = rss_mb()
    for i in range({big_fits}):
        x = np.full((rows, 16), i % 7, np.float32)
        y = np.full((rows, 1), i % 5, np.float32)
        model.fit(x, y, batch_size=4096, steps_per_epoch=2, verbose=0)
        del x, y
    gc.collect()
    out["big_rss_mb"] = rss_mb() - rss0
    print("RESULT " + json.dumps(out))
""")


def run(lib, args):
    code = SCRIPT.format(root=os.path.dirname(HERE), lib=lib, calls=args.calls,
                         max_len=args.max_len, big_mb=args.big_mb, big_fits=args.big_fits)
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{lib} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--max-len", type=int, default=2000)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--big-fits", type=int, default=30)
    ap.add_argument("--no-keras", action="store_true")
    args = ap.parse_args(argv)
    libs = ["kerax"] + ([] if args.no_keras else ["keras"])
    res = {lib: run(lib, args) for lib in libs}
    import jax
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, jax {jax.__version__}, {jax.default_backend()}.")
    print(f"{args.calls} calls (fit/evaluate/predict in turn, lengths 1..{args.max_len}, "
          f"batch 32, a 16-32-1 MLP); then {args.big_fits} fits on fresh "
          f"{args.big_mb} MB arrays (2 steps each).\n")
    print("| framework | compiles over the calls | RSS growth over the calls (MB) | "
          "time (s) | RSS growth over the big fits (MB) |")
    print("|---|---|---|---|---|")
    for lib in libs:
        r = res[lib]
        print(f"| {lib} | {r['calls_compiles']} | {r['calls_rss_mb']:.0f} | "
              f"{r['calls_s']:.1f} | {r['big_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
