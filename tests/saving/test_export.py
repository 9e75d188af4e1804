"""`model.export(path, format="jax")` / `kerax.export.load`: a serialized
jax.export artifact with a symbolic batch dimension that runs in a fresh
process without the model's Python code."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kerax
from kerax import layers as L

pytest.importorskip("flatbuffers")  # needed by jax.export serialization


class Twice(L.Layer):
    """A custom layer only this test module defines."""

    def call(self, x):
        return x * 2.0


def _model():
    wide, deep = kerax.Input((5,), name="wide"), kerax.Input((6,), name="deep")
    h = L.BatchNormalization()(L.Dense(8, activation="relu")(deep))
    h = Twice()(L.Dropout(0.5)(h))
    out = L.Dense(2)(L.Concatenate()([wide, h]))
    model = kerax.Model([wide, deep], out)
    model.layers[2].moving_mean.assign(np.linspace(-1, 1, 8).astype("float32"))
    return model


def test_export_runs_in_a_fresh_process_without_model_code(tmp_path):
    model = _model()
    path = tmp_path / "model.jaxexport"
    model.export(path, format="jax", verbose=False)
    rng = np.random.default_rng(0)
    inputs = {}
    for n in (1, 37):
        xw = rng.normal(size=(n, 5)).astype("float32")
        xd = rng.normal(size=(n, 6)).astype("float32")
        np.save(tmp_path / f"xw{n}.npy", xw)
        np.save(tmp_path / f"xd{n}.npy", xd)
        inputs[n] = (xw, xd, np.asarray(model([xw, xd], training=False)))
    # A fresh interpreter that never sees this test module (so not `Twice`):
    # only kerax.export.load, which needs JAX and NumPy.
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from kerax.export import load
        f = load({str(path)!r})
        for n in (1, 37):
            y = f(np.load({str(tmp_path)!r} + f"/xw{{n}}.npy"),
                  np.load({str(tmp_path)!r} + f"/xd{{n}}.npy"))
            np.save({str(tmp_path)!r} + f"/y{{n}}.npy", np.asarray(y))
        assert "test_export" not in sys.modules
    """)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(tmp_path), env=env,
                   timeout=120)
    for n, (_, _, expected) in inputs.items():
        got = np.load(tmp_path / f"y{n}.npy")
        assert got.shape == (n, 2)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_export_artifact_contents_and_errors(tmp_path):
    import zipfile
    seq = kerax.Sequential([kerax.Input((3,)), L.Dense(2)])
    path = tmp_path / "s.jaxexport"
    kerax.export.export_model(seq, path, verbose=False)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["exported.bin", "signature.json", "weights.npz"]
        meta = json.loads(zf.read("signature.json"))
    assert meta["inputs"] == [{"name": meta["inputs"][0]["name"], "shape": [None, 3],
                               "dtype": "float32"}]
    f = kerax.export.load(path)
    assert str(f.exported.in_avals[-1].shape[0]) == "b"  # symbolic batch dimension
    x = np.ones((4, 3), "float32")
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(seq(x)), rtol=1e-6)
    with pytest.raises(ValueError, match="expects shape"):
        f(np.ones((4, 5), "float32"))
    with pytest.raises(ValueError, match="unsupported format"):
        seq.export(tmp_path / "x", format="tf_saved_model")
    with pytest.raises(FileNotFoundError):
        seq.export(tmp_path / "missing" / "x.jaxexport", verbose=False)
    (tmp_path / "junk").write_text("junk")
    with pytest.raises(ValueError, match="not an exported artifact"):
        kerax.export.load(tmp_path / "junk")


def test_export_subclassed_model_with_input_signature(tmp_path):
    class Sub(kerax.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3)

        def call(self, x):
            return self.d(x)

    m = Sub()
    with pytest.raises(ValueError, match="input_signature"):
        m.export(tmp_path / "m.jaxexport", verbose=False)
    m(np.ones((2, 4), "float32"))
    m.export(tmp_path / "m.jaxexport", verbose=False, input_signature=(None, 4))
    f = kerax.export.load(tmp_path / "m.jaxexport")
    x = np.random.default_rng(1).normal(size=(7, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(m(x)), rtol=1e-6)
