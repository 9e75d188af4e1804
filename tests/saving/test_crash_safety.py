"""Crash-safe writes (temporary file + fsync + os.replace) and clear errors
for bad paths and files."""
import multiprocessing
import os
import random
import sys
import time
import zipfile

import h5py
import numpy as np
import pytest

import kerax
from kerax import layers as L

HERE = os.path.dirname(os.path.abspath(__file__))


def _model(bias=0.0):
    model = kerax.Sequential([kerax.Input((4,)), L.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.layers[0].bias.assign(np.full((3,), bias, "float32"))
    return model


def _bias_of_file(path):
    loaded = kerax.models.load_model(path)
    b = loaded.layers[0].bias.numpy()
    assert np.all(b == b[0]) and float(b[0]).is_integer()
    return float(b[0])


@pytest.mark.slow
def test_killed_saves_leave_a_loadable_file(tmp_path):
    """Kill a process that saves in a loop at 20 random moments: every time
    the `.keras` and `.weights.h5` files on disk load (the previous complete
    save, or the new one), never a torn file."""
    path, wpath = str(tmp_path / "m.keras"), str(tmp_path / "m.weights.h5")
    first = _model(bias=0.0)
    first.save(path)
    first.save_weights(wpath)
    sys.path.insert(0, HERE)
    import crash_child
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "jax", "h5py", "optax"])
    rnd = random.Random(0)
    probe = _model()

    def start():
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=crash_child.save_forever, args=(theirs, path, wpath),
                           daemon=True)
        proc.start()
        return proc, ours

    pending = start()
    seen = set()
    try:
        for _ in range(20):
            proc, conn = pending
            assert conn.poll(60), "the saving child did not start"
            conn.recv()
            pending = start()  # warm the next child while this one saves
            # kill at a random moment of the save loop (each save takes ms)
            time.sleep(rnd.uniform(0.0, 0.05))
            proc.kill()
            proc.join()
            seen.add(_bias_of_file(path))
            probe.load_weights(wpath)
            b = probe.layers[0].bias.numpy()
            assert np.all(b == b[0])
    finally:
        pending[0].kill()
        pending[0].join()
    # the children really did overwrite the file (each reports its first
    # complete save before it may be killed, so this holds on a loaded machine)
    assert seen and 0.0 not in seen


def test_save_writes_through_a_temp_file_and_replace(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    _model(1.0).save(path)
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.path.dirname(os.fspath(src)), os.fspath(dst)))
        # complete before it is renamed
        assert zipfile.is_zipfile(src) if dst.endswith(".keras") else h5py.is_hdf5(src)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    _model(2.0).save(path)
    _model(2.0).save_weights(tmp_path / "m.weights.h5")
    assert calls == [(str(tmp_path), str(path)),
                     (str(tmp_path), str(tmp_path / "m.weights.h5"))]
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "m.weights.h5"]


def test_failed_save_leaves_previous_file(tmp_path):
    path = tmp_path / "m.keras"
    _model(1.0).save(path)
    before = path.read_bytes()

    class Unsaveable(L.Layer):
        def __init__(self, fn, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

        def call(self, x):
            return x

        def get_config(self):
            return {**super().get_config(), "fn": object()}

    bad = kerax.Sequential([kerax.Input((4,)), Unsaveable(len)])
    with pytest.raises((TypeError, ValueError)):
        bad.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]


@pytest.mark.parametrize("kind", ["missing", "directory", "not_zip", "truncated", "version",
                                  "no_config", "weights_file", "empty"])
def test_load_model_bad_files_give_clear_errors(tmp_path, kind):
    good = tmp_path / "good.keras"
    _model(1.0).save(good)
    data = good.read_bytes()
    path = tmp_path / "bad.keras"
    match = {
        "missing": "not found", "directory": "is a directory", "not_zip": "not a `.keras` file",
        "truncated": "truncated|corrupt|not a `.keras` file",
        "version": "unknown file format version", "no_config": "no config.json",
        "weights_file": "weights file", "empty": "not a `.keras` file",
    }[kind]
    if kind == "directory":
        path.mkdir()
    elif kind == "not_zip":
        path.write_text("hello")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind in ("version", "no_config"):
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for name in src.namelist():
                if kind == "no_config" and name == "config.json":
                    continue
                payload = src.read(name)
                if kind == "version" and name == "metadata.json":
                    payload = b'{"keras_version": "4.0.0"}'
                dst.writestr(name, payload)
    elif kind == "weights_file":
        path = tmp_path / "bad.weights.h5"
        _model().save_weights(path)
    listing = sorted(os.listdir(tmp_path))
    stamp = {p: os.stat(tmp_path / p).st_mtime_ns for p in listing}
    with pytest.raises(ValueError, match=match):
        kerax.models.load_model(path)
    assert sorted(os.listdir(tmp_path)) == listing
    assert {p: os.stat(tmp_path / p).st_mtime_ns for p in listing} == stamp
    if kind == "missing":
        with pytest.raises(FileNotFoundError):
            kerax.models.load_model(path)


def test_truncated_weights_member_is_a_clear_error(tmp_path):
    good = tmp_path / "good.keras"
    _model(1.0).save(good)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tmp_path / "t.keras", "w") as dst:
        for name in src.namelist():
            payload = src.read(name)
            dst.writestr(name, payload[:100] if name == "model.weights.h5" else payload)
    with pytest.raises(ValueError, match="HDF5"):
        kerax.models.load_model(tmp_path / "t.keras")


def test_save_into_missing_or_unwritable_folder_says_so(tmp_path, monkeypatch):
    model = _model()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save(tmp_path / "nope" / "m.keras")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save_weights(tmp_path / "nope" / "m.weights.h5")
    assert not (tmp_path / "nope").exists()
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    # (tests may run as root, who can write anywhere: simulate a read-only folder)
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == str(ro)
                        else real_access(p, mode))
    with pytest.raises(PermissionError, match="not writable"):
        model.save(ro / "m.keras")
    with pytest.raises(PermissionError, match="not writable"):
        model.save_weights(ro / "m.weights.h5")
    assert os.listdir(ro) == []


def test_save_argument_errors(tmp_path):
    model = _model()
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(tmp_path / "m.h5")
    (tmp_path / "d.keras").mkdir()
    with pytest.raises(IsADirectoryError):
        model.save(tmp_path / "d.keras")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)
    unbuilt = kerax.Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        unbuilt.save(tmp_path / "u.keras")
    assert not (tmp_path / "u.keras").exists()
