"""Inference speed: kerax's predict / evaluate / model(x) / predict_on_batch
against the hand-written limit (jax.jit + lax.scan over on-device batches) in
the same process, and Keras 3 (JAX backend) in its own process for reference.

    python bench/inference.py [--quick] [--models mlp,cnn] [--no-keras]
                              [--rounds 2] [--repeats 7] [--calls 500] [--no-write]
                              [--note "quiet machine"]

Models: the MLP 784-128-Dropout-10 and the CNN of bench/fit.py's W3, on
10,000 samples at batch 32 (2,000 with --quick). Measures, each the median
of repeated calls after a warm-up call, the contenders interleaved:

- predict: kerax `model.predict(x, batch_size=32, verbose=0)` against the
  same forward pass as ONE jitted `lax.scan` over the batches already on the
  device (last batch padded, result fetched to the host), and a plain Python
  loop calling a jitted forward on each host batch.
- evaluate (compiled with loss + accuracy): against a jitted scan carrying the
  loss and accuracy sums, and a Python loop over a jitted per-batch step.
- model(x) and predict_on_batch(x) on ONE sample (numpy (1, ...)):
  per-call latency with `jax.block_until_ready`, median over `--calls` calls
  after warm-up calls, against a jitted forward of the same weights.

Each framework runs in its own subprocess (no shared state); rounds alternate
and each measure keeps its best round. Prints a table, "target met: yes/no"
per target of issue 14 (predict, evaluate <= 1.10x the scan; model(x) on one
sample <= 3x the jitted call), and rewrites bench/RESULTS.md's inference
section. Runs as is on CPU, GPU or TPU (the devices are printed).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.fit import build, make_data  # noqa: E402

BATCH = 32
MODELS = {"mlp": "MLP 784-128-Dropout-10", "cnn": "CNN Conv2D(32,3)-Flatten-128-10 (fit.py W3)"}
TARGETS = {"predict": 1.10, "evaluate": 1.10, "call1": 3.0}
EPS = 1e-7  # Keras' backend.epsilon(): the clip in crossentropy on probabilities


# ---------------------------------------------------------------- the limit

def forward(kind, params, xb):
    """The models of bench/fit.py in plain jax, weights in get_weights() order
    (inference: Dropout is the identity)."""
    import jax
    if kind == "mlp":
        w1, b1, w2, b2 = params
        return jax.nn.softmax(jax.nn.relu(xb @ w1 + b1) @ w2 + b2)
    k, kb, w1, b1, w2, b2 = params
    h = jax.lax.conv_general_dilated(xb, k, (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    h = jax.nn.relu(h + kb).reshape(xb.shape[0], -1)
    return jax.nn.softmax(jax.nn.relu(h @ w1 + b1) @ w2 + b2)


def batch_sums(kind, params, xb, yb, mb):
    """Sum over the batch's real rows (mask mb) of Keras' sparse categorical
    crossentropy on probabilities, and of the correct predictions."""
    import jax.numpy as jnp
    p = forward(kind, params, xb)
    q = jnp.clip(p / jnp.sum(p, -1, keepdims=True), EPS, 1 - EPS)
    nll = -jnp.log(jnp.take_along_axis(q, yb[:, None], axis=1))[:, 0]
    correct = (jnp.argmax(p, -1) == yb).astype(jnp.float32)
    return jnp.sum(nll * mb), jnp.sum(correct * mb)


def make_limits(kind, params, x, y):
    """Hand-written contenders; each returns what the kerax call returns
    (predictions on the host / (loss, accuracy) floats)."""
    import jax
    import jax.numpy as jnp
    n = len(x)
    nb = -(-n // BATCH)
    pad = nb * BATCH - n
    # the batches, padded and stacked on the host before any timing; the
    # device-fed scans get them on the device before any timing too, the
    # host-fed ones move them inside the timed call (what a hand-written
    # program over NumPy data must do: the transfer, then one dispatch)
    xh = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]).reshape(
        (nb, BATCH) + x.shape[1:])
    yh = np.concatenate([y, np.zeros(pad, y.dtype)]).reshape(nb, BATCH)
    mh = (np.arange(nb * BATCH) < n).astype(np.float32).reshape(nb, BATCH)
    xs, ys, ms = jnp.asarray(xh), jnp.asarray(yh), jnp.asarray(mh)
    jax.block_until_ready((xs, ys, ms))

    @jax.jit
    def scan_predict(params, xs):
        _, out = jax.lax.scan(lambda c, xb: (c, forward(kind, params, xb)), None, xs)
        return out.reshape((nb * BATCH,) + out.shape[2:])[:n]

    @jax.jit
    def scan_evaluate(params, xs, ys, ms):
        def body(carry, batch):
            s_loss, s_acc = batch_sums(kind, params, *batch)
            return (carry[0] + s_loss, carry[1] + s_acc), None
        (tot, acc), _ = jax.lax.scan(body, (jnp.float32(0), jnp.float32(0)), (xs, ys, ms))
        return tot / n, acc / n

    fwd = jax.jit(lambda params, xb: forward(kind, params, xb))
    sums = jax.jit(lambda params, xb, yb: batch_sums(kind, params, xb, yb,
                                                     jnp.ones(xb.shape[0], jnp.float32)))

    def loop_predict():
        outs = [fwd(params, x[i:i + BATCH]) for i in range(0, n, BATCH)]
        return np.concatenate([np.asarray(o) for o in outs])

    def loop_evaluate():
        tot = acc = 0.0
        for i in range(0, n, BATCH):
            s_loss, s_acc = sums(params, x[i:i + BATCH], y[i:i + BATCH])
            tot, acc = tot + s_loss, acc + s_acc
        return float(tot) / n, float(acc) / n

    def scan_eval_floats(xs, ys, ms):
        loss, acc = scan_evaluate(params, xs, ys, ms)
        return float(loss), float(acc)

    return {"scan_predict": lambda: np.asarray(scan_predict(params, xs)),
            "scan_evaluate": lambda: scan_eval_floats(xs, ys, ms),
            "host_scan_predict": lambda: np.asarray(scan_predict(params, xh)),
            "host_scan_evaluate": lambda: scan_eval_floats(xh, yh, mh),
            "loop_predict": loop_predict, "loop_evaluate": loop_evaluate,
            "jit_call1": lambda x1: fwd(params, x1)}


# ---------------------------------------------------------------- measuring

def steady(fns, repeats):
    """{name: fn}: one warm-up call each (its time kept as 'first'), then
    `repeats` rounds calling each in turn; the median per name."""
    first, times, results = {}, {k: [] for k in fns}, {}
    for k, fn in fns.items():
        t0 = time.perf_counter()
        results[k] = fn()
        first[k] = time.perf_counter() - t0
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}, first, results


def latency(fns, x1, calls, warmup=5, chunk=50):
    """{name: fn(x1)}: per-call seconds, `jax.block_until_ready` on every
    result, median over `calls` calls after `warmup` calls; the contenders
    alternate in chunks of `chunk` calls."""
    import jax
    for fn in fns.values():
        for _ in range(warmup):
            jax.block_until_ready(fn(x1))
    times = {k: [] for k in fns}
    done = 0
    while done < calls:
        m = min(chunk, calls - done)
        for k, fn in fns.items():
            for _ in range(m):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(x1))
                times[k].append(time.perf_counter() - t0)
        done += m
    return {k: float(np.median(v)) for k, v in times.items()}


def worker(lib_name, kind, n, repeats, calls):
    """One framework in this process; prints RESULT <json>."""
    if lib_name == "keras":
        import keras as lib
    else:
        import kerax as lib
    x, y = make_data(kind, n)
    lib.utils.set_random_seed(0)
    model = build(lib, kind)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    fns = {"predict": lambda: model.predict(x, batch_size=BATCH, verbose=0),
           "evaluate": lambda: model.evaluate(x, y, batch_size=BATCH, verbose=0)}
    call_fns = {"call1": lambda a: model(a), "predict_on_batch1": model.predict_on_batch}
    limits = None
    if lib_name == "kerax":
        import jax.numpy as jnp
        params = [jnp.asarray(w) for w in model.get_weights()]
        limits = make_limits(kind, params, x, y)
        for k in ("scan_predict", "scan_evaluate", "loop_predict", "loop_evaluate",
                  "host_scan_predict", "host_scan_evaluate"):
            fns[k] = limits[k]
        # kerax on the same data already on the device (jax.Array inputs)
        xd, yd = jnp.asarray(x), jnp.asarray(y)
        fns["device_predict"] = lambda: model.predict(xd, batch_size=BATCH, verbose=0)
        fns["device_evaluate"] = lambda: model.evaluate(xd, yd, batch_size=BATCH, verbose=0)
        call_fns["jit_call1"] = limits["jit_call1"]
    med, first, results = steady(fns, repeats)
    med.update(latency(call_fns, x[:1], calls))
    out = {"median": med, "first": first, "info": device_info()}
    if limits is not None:  # the limit computes what kerax computes
        out["max_abs_diff_predict"] = float(np.max(np.abs(
            np.asarray(results["predict"]) - results["scan_predict"])))
        out["values"] = {"evaluate": list(map(float, results["evaluate"])),
                         "scan_evaluate": list(results["scan_evaluate"])}
    print("RESULT " + json.dumps(out), flush=True)


def run_worker(lib_name, kind, n, repeats, calls):
    env = dict(os.environ, KERAS_BACKEND="jax")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib_name, "--models", kind,
           "--n", str(n), "--repeats", str(repeats), "--calls", str(calls)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{lib_name} {kind} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


# ---------------------------------------------------------------- reporting

def device_info():
    """What a worker runs on (the parent process never starts a JAX backend:
    on a GPU it would hold the memory the workers need)."""
    import jax
    devs = jax.devices()
    return {"jax": jax.__version__, "devices": [str(d) for d in devs],
            "platform": devs[0].platform, "device_kind": devs[0].device_kind}


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine(info, args):
    """The machine line of a RESULTS.md section (`args`: quick, note, load0)."""
    import importlib.metadata
    try:
        keras = "Keras " + importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        keras = "no Keras"
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"jax {info['jax']}, {keras}, {info['platform']} ({len(info['devices'])} x "
            f"{info['device_kind']}), load average {args.load0:.1f} at the start, "
            f"{load_average():.1f} at the end" + (", --quick" if args.quick else "")
            + (f", {args.note}" if args.note else ""))


def write_section(title, body):
    """Replace the section starting `## {title}` of bench/RESULTS.md (up to the
    next `## `) with `body`, or append it."""
    path = os.path.join(HERE, "RESULTS.md")
    section = f"## {title}\n\n{body.strip()}\n"
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    start = old.find(f"## {title}")
    if start >= 0:
        end = old.find("\n## ", start + 3)
        old = old[:start] + section + ("\n" + old[end + 1:] if end >= 0 else "")
    else:
        old = old.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(old)


def yes(ok):
    return "yes" if ok else "no"


def report(rows, args, n):
    lines = ["| model | measure | scan limit | Python loop of jit | kerax | Keras 3 | "
             "kerax / limit | Keras / limit | kerax / Keras | target | met |",
             "|" + "---|" * 11]
    verdicts = []
    for kind, r in rows.items():
        k, ke = r["kerax"], r.get("keras")
        entries = [("predict, NumPy input (s)", "predict", "host_scan_predict", "loop_predict",
                    1.0, "predict"),
                   ("predict, on-device input (s)", "device_predict", "scan_predict", None,
                    1.0, "predict"),
                   ("predict, NumPy input, vs the device-fed scan (s)", "predict",
                    "scan_predict", None, 1.0, None),
                   ("evaluate, NumPy input (s)", "evaluate", "host_scan_evaluate",
                    "loop_evaluate", 1.0, "evaluate"),
                   ("evaluate, on-device input (s)", "device_evaluate", "scan_evaluate", None,
                    1.0, "evaluate"),
                   ("evaluate, NumPy input, vs the device-fed scan (s)", "evaluate",
                    "scan_evaluate", None, 1.0, None),
                   ("model(x), 1 sample (us)", "call1", "jit_call1", None, 1e6, "call1"),
                   ("predict_on_batch, 1 sample (us)", "predict_on_batch1", "jit_call1", None,
                    1e6, None)]
        for label, key, lim_key, loop_key, scale, target in entries:
            lim, val = k[lim_key], k[key]
            kv = ke[key] if ke and key in ke else float("nan")
            loop = f"{k[loop_key] * scale:.4g}" if loop_key else "-"
            ratio = val / lim
            met = "-"
            if target:
                ok = ratio <= TARGETS[target]
                met = yes(ok)
                verdicts.append(f"{MODELS[kind]}: {label.split(' (')[0]} <= "
                                f"{TARGETS[target]:.2f}x the limit: {ratio:.2f}x, "
                                f"target met: {met}")
            def num(v, fmt):
                return "-" if v != v else format(v, fmt)  # NaN: not measured
            lines.append(
                f"| {kind} | {label} | {lim * scale:.4g} | {loop} | {val * scale:.4g} | "
                f"{num(kv * scale, '.4g')} | {ratio:.2f} | {num(kv / lim, '.2f')} | "
                f"{num(val / kv, '.2f')} | "
                f"{'<= %.2f' % TARGETS[target] if target else '-'} | {met} |")
    table = "\n".join(lines)
    checks = []
    for kind, r in rows.items():
        k = r["kerax"]
        checks.append(f"{kind}: kerax predict vs the scan, max |diff| "
                      f"{k['max_abs_diff_predict']:.1e}; evaluate kerax "
                      f"{k['values']['evaluate'][0]:.5f}/{k['values']['evaluate'][1]:.4f}, scan "
                      f"{k['values']['scan_evaluate'][0]:.5f}/"
                      f"{k['values']['scan_evaluate'][1]:.4f} (loss/accuracy); "
                      f"first (warm-up) call kerax predict {k['first']['predict']:.2f} s, "
                      f"evaluate {k['first']['evaluate']:.2f} s")
    print(table)
    print("\n".join(checks))
    print("\n".join(verdicts))
    some = next(iter(rows.values()))
    desc = (f"Machine: {machine(some['kerax']['info'], args)}. "
            f"Date: {time.strftime('%Y-%m-%d')}. {n} samples at batch {BATCH}; "
            f"median of {args.repeats} calls after a warm-up (single sample: of {args.calls} "
            f"calls), best of {args.rounds} alternating rounds.")
    body = (f"{desc}\n\n{table}\n\n"
            "*scan limit*: one jitted `lax.scan` over the batches (predict: the forward "
            "pass, last batch padded, result fetched to the host; evaluate: loss and "
            "accuracy sums in the carry), stacked and padded before timing. For NumPy "
            "input the scan is called on the host batches, so the call includes their "
            "transfer to the device, as any program over NumPy data must; for on-device "
            "input (kerax given `jax.Array`s) the scan's batches are on the device "
            "already. The third row of each compares kerax on NumPy input with the "
            "device-fed scan (no target). For the single-sample rows, a "
            "jitted forward of the same weights called on the numpy sample. *Python loop of "
            "jit*: a jitted forward (or per-batch loss/accuracy sums) called on each host "
            "batch. Keras 3 runs in its own process with its defaults.\n\n"
            + "\n".join(f"- {c}" for c in checks) + "\n"
            + "\n".join(f"- {v}" for v in verdicts) + "\n")
    if not args.no_write:
        write_section("inference (bench/inference.py)", body)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer samples, calls and rounds")
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (best kept)")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls per measure")
    ap.add_argument("--calls", type=int, default=None, help="single-sample calls per contender")
    ap.add_argument("--n", type=int, default=None, help="samples (default 10000, quick 2000)")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--note", default="", help="words for the machine line (e.g. 'loaded')")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.load0 = load_average()
    n = args.n or (2000 if args.quick else 10000)
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.calls = args.calls or (200 if args.quick else 500)
    args.rounds = args.rounds or (1 if args.quick else 2)
    if args.worker:
        worker(args.worker, args.models, n, args.repeats, args.calls)
        return
    rows = {}
    for kind in args.models.split(","):
        if kind not in MODELS:
            raise SystemExit(f"--models: unknown model {kind!r}; expected some of {list(MODELS)}")
        row = {}
        for rnd in range(args.rounds):
            libs = ["kerax"] + ([] if args.no_keras else ["keras"])
            for lib_name in (libs if rnd % 2 == 0 else libs[::-1]):
                res = run_worker(lib_name, kind, n, args.repeats, args.calls)
                if not rows and not row:
                    print(f"devices ({lib_name} worker): {res['info']['devices']}", flush=True)
                if lib_name not in row:
                    row[lib_name] = res
                else:  # best round per measure
                    for key, v in res["median"].items():
                        row[lib_name]["median"][key] = min(row[lib_name]["median"][key], v)
        row = {lib_name: dict(r, **r.pop("median")) for lib_name, r in row.items()}
        rows[kind] = row
        print(f"{kind}: " + json.dumps({lib: {k: round(v, 6) for k, v in r.items()
                                              if isinstance(v, float)}
                                        for lib, r in row.items()}),
              flush=True)
    report(rows, args, n)


if __name__ == "__main__":
    main()
