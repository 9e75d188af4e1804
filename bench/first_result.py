"""Time to first result: a notebook cell (build, compile, fit 2 epochs on 512
samples at batch 32, evaluate, predict, all verbose=0), each in a FRESH
process, kerax against Keras 3 (JAX backend).

    python bench/first_result.py [--quick] [--cells mlp,deep100,gru,cnn,wide_deep]
                                 [--rounds 2] [--no-keras] [--no-write]
                                 [--note "quiet machine"]

Cells: (a) mlp: MLP 784-128-10; (b) deep100: 100 x Dense(64, relu) on 64
features, then Dense(1), mse; (c) gru: Embedding(1000, 16, mask_zero=True) ->
GRU(32) -> Dense(1, sigmoid) on zero-padded int sequences of length 20;
(d) cnn: the CNN of bench/fit.py's W3; (e) wide_deep: two inputs (wide 5,
deep 6), two outputs (main, aux), two mse losses weighted 0.9 / 0.1.

The cell is timed from before building the model to after predict returns;
imports (`import jax`, then the framework) and making the data are timed
apart. kerax runs each cell twice, in two new processes sharing a fresh empty
compilation cache folder (KERAX_CACHE_DIR): "first run" (cold cache) and
"second run" (warm cache). Keras runs once, with no JAX persistent cache (the
JAX_COMPILATION_CACHE_* / JAX_PERSISTENT_CACHE_* variables removed and the
cache switched off; the script checks that no cache request was made).
Every process counts, with jax.monitoring listeners, its XLA compiles
(`/jax/core/compile/backend_compile_duration` events less persistent-cache
hits), their seconds, the cache hits and misses, and the tracing and lowering
seconds, per phase of the cell.

Rounds alternate the order of the contenders; each keeps its best round.
Prints the tables and "target met: yes/no" per target of issue 14 (first run
<= 1.0x Keras on every cell and <= 0.85x in geometric mean; second run <= 0.5x
Keras' first run), and rewrites bench/RESULTS.md's first-result section.
Runs as is on CPU, GPU or TPU (each process reports its devices).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.fit import build  # noqa: E402
from bench.inference import device_info, load_average, machine, write_section  # noqa: E402

CELLS = {
    "mlp": "MLP 784-128-10, adam, sparse CE + accuracy",
    "deep100": "100-layer MLP: Dense(64, relu) x100 + Dense(1), adam, mse",
    "gru": "Embedding(mask_zero=True) -> GRU(32) -> Dense(1), padded int sequences, "
           "adam, binary CE + accuracy",
    "cnn": "CNN Conv2D(32,3)-Flatten-128-10 (fit.py W3), adam, sparse CE + accuracy",
    "wide_deep": "wide & deep: 2 inputs, 2 outputs, 2 mse losses (0.9/0.1) + mae, adam",
}
N, BATCH, EPOCHS = 512, 32, 2
PHASES = ("build", "compile", "fit", "evaluate", "predict")
TARGET_FIRST, TARGET_GEOMEAN, TARGET_SECOND = 1.0, 0.85, 0.5

# the events counted (names as in jax/_src/dispatch.py, compiler.py, compilation_cache.py)
EV_COMPILE = "/jax/core/compile/backend_compile_duration"  # wraps compile-or-cache-read
EV_TRACE = "/jax/core/compile/jaxpr_trace_duration"
EV_LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
EV_HIT = "/jax/compilation_cache/cache_hits"
EV_MISS = "/jax/compilation_cache/cache_misses"
EV_REQUEST = "/jax/compilation_cache/compile_requests_use_cache"


def make_cell_data(cell, seed=0):
    rng = np.random.default_rng(seed)
    if cell == "mlp":
        return rng.random((N, 784), dtype=np.float32), rng.integers(0, 10, N).astype(np.int32)
    if cell == "deep100":
        x = rng.normal(size=(N, 64)).astype(np.float32)
        return x, (x[:, :1] - x[:, 1:2]).astype(np.float32)
    if cell == "gru":
        lengths = rng.integers(3, 21, N)
        x = rng.integers(1, 1000, (N, 20)).astype(np.int32)
        x[np.arange(20)[None, :] >= lengths[:, None]] = 0  # zero-padded at the end
        return x, (lengths > 11).astype(np.float32)[:, None]
    if cell == "cnn":
        return (rng.random((N, 28, 28, 1), dtype=np.float32),
                rng.integers(0, 10, N).astype(np.int32))
    xw = rng.normal(size=(N, 5)).astype(np.float32)
    xd = rng.normal(size=(N, 6)).astype(np.float32)
    y = (xw[:, :1] + np.sin(xd[:, :1])).astype(np.float32)
    return (xw, xd), (y, y)


def build_cell(lib, cell):
    L = lib.layers
    if cell in ("mlp", "cnn"):
        model = (build(lib, "cnn") if cell == "cnn" else lib.Sequential(
            [lib.Input((784,)), L.Dense(128, activation="relu"),
             L.Dense(10, activation="softmax")]))
        return model, dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"])
    if cell == "deep100":
        model = lib.Sequential([lib.Input((64,))]
                               + [L.Dense(64, activation="relu") for _ in range(100)]
                               + [L.Dense(1)])
        return model, dict(optimizer="adam", loss="mse")
    if cell == "gru":
        model = lib.Sequential([lib.Input((20,), dtype="int32"),
                                L.Embedding(1000, 16, mask_zero=True), L.GRU(32),
                                L.Dense(1, activation="sigmoid")])
        return model, dict(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    wide, deep = lib.Input((5,), name="wide"), lib.Input((6,), name="deep")
    h = L.Dense(30, activation="relu")(deep)
    h = L.Dense(30, activation="relu")(h)
    main = L.Dense(1, name="main")(L.Concatenate()([wide, h]))
    aux = L.Dense(1, name="aux")(h)
    model = lib.Model(inputs=[wide, deep], outputs=[main, aux])
    return model, dict(optimizer="adam", loss=("mse", "mse"), loss_weights=(0.9, 0.1),
                       metrics=[["mae"], ["mae"]])


# ---------------------------------------------------------------- one process

def worker(lib_name, cell):
    """Runs one cell in this (fresh) process; prints RESULT <json>."""
    t = time.perf_counter()
    import jax
    t_jax = time.perf_counter() - t
    counters = {}

    def on_event(event, **kwargs):
        counters[event] = counters.get(event, 0) + 1

    def on_duration(event, duration, **kwargs):
        counters[event] = counters.get(event, 0) + 1
        counters[event + ":s"] = counters.get(event + ":s", 0.0) + duration

    jax.monitoring.register_event_listener(on_event)
    jax.monitoring.register_event_duration_secs_listener(on_duration)
    t = time.perf_counter()
    if lib_name == "keras":
        import keras as lib
    else:
        import kerax as lib
    t_lib = time.perf_counter() - t
    phases = {}

    def mark(name, t0, c0):
        d = {k: v - c0.get(k, 0) for k, v in counters.items()}
        phases[name] = {
            "s": time.perf_counter() - t0,
            "compiles": d.get(EV_COMPILE, 0) - d.get(EV_HIT, 0),
            "compile_s": d.get(EV_COMPILE + ":s", 0.0),
            "hits": d.get(EV_HIT, 0), "misses": d.get(EV_MISS, 0),
            "requests": d.get(EV_REQUEST, 0),
            "traces": d.get(EV_TRACE, 0), "trace_s": d.get(EV_TRACE + ":s", 0.0),
            "lower_s": d.get(EV_LOWER + ":s", 0.0)}
        return time.perf_counter(), dict(counters)

    t0, c0 = time.perf_counter(), dict(counters)
    lib.utils.set_random_seed(0)
    x, y = make_cell_data(cell)
    t0, c0 = mark("setup", t0, c0)
    start = t0
    model, compile_kwargs = build_cell(lib, cell)
    t0, c0 = mark("build", t0, c0)
    model.compile(**compile_kwargs)
    t0, c0 = mark("compile", t0, c0)
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    t0, c0 = mark("fit", t0, c0)
    model.evaluate(x, y, batch_size=BATCH, verbose=0)
    t0, c0 = mark("evaluate", t0, c0)
    model.predict(x, batch_size=BATCH, verbose=0)
    end, _ = mark("predict", t0, c0)
    cell_totals = {k: sum(phases[p][k] for p in PHASES) for k in phases["fit"]}
    cell_totals["s"] = end - start
    cache_dir = jax.config.jax_compilation_cache_dir if jax.config.jax_enable_compilation_cache \
        else None
    print("RESULT " + json.dumps({
        "import_jax_s": t_jax, "import_lib_s": t_lib, "cell": cell_totals, "phases": phases,
        "cache_dir": cache_dir, "cache_requests": counters.get(EV_REQUEST, 0),
        "info": device_info()}), flush=True)


def clean_env(cache_dir=None):
    """No inherited persistent-cache settings; kerax gets `cache_dir`, Keras none."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE", "KERAX_"))
                   or k == "JAX_ENABLE_COMPILATION_CACHE")}
    env["KERAS_BACKEND"] = "jax"
    if cache_dir is None:
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    else:
        env["KERAX_CACHE_DIR"] = cache_dir
    return env


def run_worker(lib_name, cell, cache_dir=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib_name, "--cells", cell]
    out = subprocess.run(cmd, env=clean_env(cache_dir), capture_output=True, text=True,
                         timeout=1800)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            if lib_name == "keras" and (res["cache_requests"] or res["cache_dir"]):
                raise RuntimeError(f"Keras used a persistent compilation cache: {res}")
            if lib_name == "kerax" and not (res["cache_dir"] or "").startswith(cache_dir):
                raise RuntimeError(f"kerax did not use the cache folder {cache_dir}: "
                                   f"{res['cache_dir']}")
            return res
    raise RuntimeError(f"{lib_name} {cell} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


# ---------------------------------------------------------------- reporting

def geomean(xs):
    return math.exp(sum(math.log(v) for v in xs) / len(xs))


def yes(ok):
    return "yes" if ok else "no"


def report(rows, args):
    names = [c for c in rows if "keras" in rows[c]]
    t1 = ["| cell | kerax first run (s) | kerax second run (s) | Keras 3 (s) | first / Keras | "
          "second / Keras | first <= 1.0 | second <= 0.5 |", "|" + "---|" * 8]
    for c, r in rows.items():
        k1, k2 = r["cold"]["cell"]["s"], r["warm"]["cell"]["s"]
        ke = r["keras"]["cell"]["s"] if "keras" in r else float("nan")
        t1.append(f"| {c} | {k1:.2f} | {k2:.2f} | {ke:.2f} | {k1 / ke:.2f} | {k2 / ke:.2f} | "
                  f"{yes(k1 / ke <= TARGET_FIRST)} | {yes(k2 / ke <= TARGET_SECOND)} |")
    verdicts = []
    if names:
        first = [rows[c]["cold"]["cell"]["s"] / rows[c]["keras"]["cell"]["s"] for c in names]
        second = [rows[c]["warm"]["cell"]["s"] / rows[c]["keras"]["cell"]["s"] for c in names]
        t1.append(f"| geometric mean | | | | {geomean(first):.2f} | {geomean(second):.2f} | | |")
        worst1 = max(zip(first, names))
        worst2 = max(zip(second, names))
        verdicts = [
            f"first run <= {TARGET_FIRST:.2f}x Keras on every cell: worst {worst1[1]} "
            f"{worst1[0]:.2f}x, target met: {yes(worst1[0] <= TARGET_FIRST)}",
            f"first run <= {TARGET_GEOMEAN:.2f}x Keras in geometric mean: "
            f"{geomean(first):.2f}x, target met: {yes(geomean(first) <= TARGET_GEOMEAN)}",
            f"second run (warm cache) <= {TARGET_SECOND:.2f}x Keras' first run on every cell: "
            f"worst {worst2[1]} {worst2[0]:.2f}x, target met: {yes(worst2[0] <= TARGET_SECOND)}"]

    def stats(res):
        if res is None:
            return "-"
        t = res["cell"]
        return (f"{t['compiles']} (+{t['hits']} hits) / {t['compile_s']:.2f} / {t['traces']} / "
                f"{t['trace_s'] + t['lower_s']:.2f}")

    t2 = ["| cell | kerax first run | kerax second run | Keras 3 |", "|" + "---|" * 4]
    for c, r in rows.items():
        t2.append(f"| {c} | {stats(r['cold'])} | {stats(r['warm'])} | "
                  f"{stats(r.get('keras'))} |")

    t3 = ["| cell | run | " + " | ".join(PHASES) + " |", "|" + "---|" * (len(PHASES) + 2)]
    for c, r in rows.items():
        for label, key in (("kerax first", "cold"), ("kerax second", "warm"),
                           ("Keras", "keras")):
            if key in r:
                ph = r[key]["phases"]
                t3.append(f"| {c} | {label} | " + " | ".join(
                    f"{ph[p]['s']:.2f} ({ph[p]['compiles']})" for p in PHASES) + " |")
    imports = {}
    for label, key in (("kerax", "cold"), ("Keras", "keras")):
        got = [(r[key]["import_jax_s"], r[key]["import_lib_s"]) for r in rows.values()
               if key in r]
        if got:
            imports[label] = (min(g[0] for g in got), min(g[1] for g in got))
    imp = "; ".join(f"{k}: import jax {a:.2f} s, then import {k.lower()} {b:.2f} s"
                    for k, (a, b) in imports.items())
    tables = ("\n".join(t1) + "\n\nOver the cell: XLA compiles (+ persistent-cache hits) / "
              "their seconds (cache reads included) / jaxpr traces / tracing + lowering "
              "seconds:\n\n" + "\n".join(t2)
              + "\n\nSeconds per phase (XLA compiles in brackets):\n\n" + "\n".join(t3)
              + f"\n\nImports (not in the cell; fastest process): {imp}.")
    print(tables)
    print("\n".join(verdicts))
    info = next(iter(rows.values()))["cold"]["info"]
    body = (f"Machine: {machine(info, args)}. Date: {time.strftime('%Y-%m-%d')}. "
            f"Best of {args.rounds} alternating round(s); every run a fresh process.\n\n"
            f"Cells: " + "; ".join(f"*{c}*: {CELLS[c]}" for c in rows) + ". Each: build, "
            f"compile, fit {EPOCHS} epochs on {N} samples (batch {BATCH}), evaluate, predict "
            "(verbose=0), timed from before building to after predict. *first run*: a new "
            "process with an empty compilation cache folder (KERAX_CACHE_DIR); *second run*: "
            "another new process on the same folder. Keras 3 runs with no persistent cache.\n\n"
            f"{tables}\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n")
    if not args.no_write:
        write_section("first result (bench/first_result.py)", body)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one round")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (best kept)")
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--note", default="", help="words for the machine line (e.g. 'loaded')")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.load0 = load_average()
    if args.worker:
        worker(args.worker, args.cells)
        return
    args.rounds = args.rounds or (1 if args.quick else 2)
    cells = args.cells.split(",")
    for c in cells:
        if c not in CELLS:
            raise SystemExit(f"--cells: unknown cell {c!r}; expected some of {list(CELLS)}")
    best = {c: {} for c in cells}
    for rnd in range(args.rounds):
        for c in cells:
            cache = tempfile.mkdtemp(prefix="kerax-first-result-cache-")
            try:
                order = ["kerax", "keras"] if rnd % 2 == 0 else ["keras", "kerax"]
                got = {}
                for lib_name in order:
                    if lib_name == "keras":
                        if not args.no_keras:
                            got["keras"] = run_worker("keras", c)
                    else:
                        got["cold"] = run_worker("kerax", c, cache)
                        got["warm"] = run_worker("kerax", c, cache)
            finally:
                shutil.rmtree(cache, ignore_errors=True)
            if rnd == 0 and c == cells[0]:
                print(f"devices: {got['cold']['info']['devices']}", flush=True)
            for k, res in got.items():
                if k not in best[c] or res["cell"]["s"] < best[c][k]["cell"]["s"]:
                    best[c][k] = res
            print(f"{c} round {rnd + 1}: " + ", ".join(
                f"{k} {v['cell']['s']:.2f}s ({v['cell']['compiles']} compiles)"
                for k, v in got.items()), flush=True)
    report(best, args)


if __name__ == "__main__":
    main()
