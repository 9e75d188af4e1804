"""Sizes that cannot fit are refused before XLA is asked (issue 12, item 3):
`Dense(10**12)`, a huge Embedding or Conv2D, a `.keras` config declaring
such a size, a built-in initializer or a kerax.random function called
directly raise a catchable
`AllocationTooLargeError` (a MemoryError and a ValueError) naming the
variable, its shape and size, instead of aborting the interpreter.

The attempts run in a subprocess, so a regression (SIGABRT) fails the test
instead of killing pytest."""
import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import kerax
from kerax.core.memory import AllocationTooLargeError, check_allocation, device_memory_bytes

CHILD = textwrap.dedent("""
    import json, sys, zipfile
    import kerax
    from kerax import layers as L

    path = sys.argv[1]

    def custom_init(shape, dtype=None):
        raise AssertionError("the initializer must not run")

    attempts = {
        "dense": lambda: L.Dense(10**12).build((None, 4)),
        "embedding": lambda: L.Embedding(10**12, 8).build((None,)),
        "conv2d": lambda: L.Conv2D(10**6, (1000, 1000)).build((None, 2000, 2000, 3)),
        "sequential": lambda: kerax.Sequential([kerax.Input((4,)), L.Dense(10**12)]),
        "config": lambda: kerax.models.load_model(path),
        "initializer": lambda: kerax.initializers.GlorotUniform()((10**12, 4)),
        "variable": lambda: kerax.Variable(custom_init, shape=(10**13,), name="big"),
        "random": lambda: kerax.random.uniform((10**12, 4)),
        "randint": lambda: kerax.random.randint((10**13,), 0, 5),
    }
    for key, attempt in attempts.items():
        try:
            attempt()
            print(key, "NO ERROR")
        except (MemoryError, ValueError) as e:
            print(key, type(e).__name__, isinstance(e, MemoryError) and isinstance(e, ValueError),
                  str(e).replace("\\n", " "))
""")


def test_huge_sizes_raise_a_catchable_error_in_a_subprocess(tmp_path):
    model = kerax.Sequential([kerax.Input((4,)), kerax.layers.Dense(3, name="wide")])
    model.save(tmp_path / "small.keras")
    with zipfile.ZipFile(tmp_path / "small.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][-1]["config"]["units"] = 10**12
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "huge.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)

    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "huge.keras")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    results = {line.split()[0]: line for line in proc.stdout.splitlines()}
    expected = {
        "dense": ["kernel", "(4, 1000000000000)", "14.55 TiB"],
        "embedding": ["embeddings", "(1000000000000, 8)"],
        "conv2d": ["kernel", "(1000, 1000, 3, 1000000)"],
        "sequential": ["kernel", "(4, 1000000000000)"],
        "config": ["wide", "kernel", "(4, 1000000000000)"],
        "initializer": ["GlorotUniform", "(1000000000000, 4)"],
        "variable": ["big", "(10000000000000,)"],
        "random": ["kerax.random.uniform", "(1000000000000, 4)"],
        "randint": ["kerax.random.randint", "(10000000000000,)"],
    }
    for key, words in expected.items():
        line = results.get(key, "")
        assert "AllocationTooLargeError True" in line, (key, line, proc.stderr[-2000:])
        for word in words:
            assert word in line, (key, word, line)


def test_the_limit_is_the_devices_memory():
    limit = device_memory_bytes()
    assert limit is not None and limit > 0
    check_allocation((limit // 4,), "float32", "fits")  # exactly the memory: allowed
    with pytest.raises(AllocationTooLargeError, match="'w'.*needs"):
        check_allocation((limit // 4 + 1,), "float32", "'w'")
    with pytest.raises(AllocationTooLargeError):
        check_allocation((limit // 2 + 1,), "bfloat16", "'w'")
    check_allocation((10, 10), "float32", "small")


def test_ordinary_sizes_are_unaffected():
    layer = kerax.layers.Dense(16)
    layer.build((None, 8))
    assert layer.kernel.shape == (8, 16)
    x = kerax.initializers.Zeros()((3, 2))
    np.testing.assert_array_equal(np.asarray(x), np.zeros((3, 2)))
