"""Import time: `import kerax` against `import jax` (and `import jax, optax`,
kerax's two required engines), each in fresh processes with bytecode caches
warm, median of N runs of the process's CPU time and wall time.

    python bench/import_time.py [--runs 9]

Target (issue 14): import kerax <= import jax + 0.15 s. Rewrites the
"Import time" section of bench/RESULTS.md.
"""
import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = {"jax": "import jax", "jax + optax": "import jax, optax", "kerax": "import kerax"}


def one(code):
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have cached bytecode
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return cpu, wall


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args(argv)
    for code in CASES.values():  # warm the bytecode caches
        one(code)
    res = {name: [] for name in CASES}
    for _ in range(args.runs):  # interleaved: the machine's noise hits all alike
        for name, code in CASES.items():
            res[name].append(one(code))
    med = {n: (float(np.median([c for c, _ in v])), float(np.median([w for _, w in v])))
           for n, v in res.items()}
    extra = med["kerax"][0] - med["jax"][0]
    lines = ["| import | CPU s (median) | wall s (median) |", "|---|---|---|"]
    lines += [f"| {n} | {c:.3f} | {w:.3f} |" for n, (c, w) in med.items()]
    table = "\n".join(lines)
    verdict = (f"kerax - jax = {extra:+.3f} s CPU (target <= +0.15 s: "
               f"{'met' if extra <= 0.15 else 'not met'}); kerax - (jax + optax) = "
               f"{med['kerax'][0] - med['jax + optax'][0]:+.3f} s")
    print(table)
    print(verdict)
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}")
    section = (f"## Import time (bench/import_time.py)\n\nMachine: {machine}. Date: "
               f"{time.strftime('%Y-%m-%d')}. {args.runs} interleaved runs per case, fresh "
               f"processes, bytecode cached.\n\n{table}\n\n{verdict}.\n")
    path = os.path.join(HERE, "RESULTS.md")
    old = open(path).read()
    start = old.find("## Import time (bench/import_time.py)")
    if start >= 0:
        end = old.find("\n## ", start + 5)
        old = old[:start] + section + (old[end + 1:] if end >= 0 else "")
    else:
        old = old.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(old)


if __name__ == "__main__":
    main()
