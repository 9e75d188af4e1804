"""JAX's persistent compilation cache is on by default at `import kerax`, in
a per-user folder (`KERAX_CACHE_DIR` moves it, `KERAX_COMPILATION_CACHE=0`
or `kerax.config.disable_compilation_cache()` turns it off): a second run of
the same program in a new process compiles nothing."""
import json
import os
import subprocess
import sys

PROGRAM = r"""
import json, sys
import jax
import numpy as np
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
import kerax
model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(4), kerax.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
x = np.ones((32, 3), np.float32)
model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)
print(json.dumps({"dir": kerax.config.compilation_cache_dir(),
                  "hits": events.count("/jax/compilation_cache/cache_hits"),
                  "misses": events.count("/jax/compilation_cache/cache_misses")}))
"""


def run(env):
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_run_loads_every_program_from_the_cache(tmp_path):
    env = dict(os.environ, KERAX_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("KERAX_COMPILATION_CACHE", None)
    first = run(env)
    assert first["dir"] == str(tmp_path / "cache" / "jax")
    files = sorted(os.listdir(first["dir"]))
    assert files and first["misses"] >= 3  # fit's program among them
    second = run(env)
    assert second["misses"] == 0 and second["hits"] >= first["misses"]
    assert sorted(os.listdir(first["dir"])) == files  # nothing new compiled


def test_cache_can_be_turned_off(tmp_path):
    env = dict(os.environ, KERAX_CACHE_DIR=str(tmp_path / "cache"), KERAX_COMPILATION_CACHE="0")
    got = run(env)
    assert got["dir"] is None and not (tmp_path / "cache").exists()
