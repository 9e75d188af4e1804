"""kerax.export.ExportArchive (Keras 3's API on jax.export) and its loader:
endpoints reloaded in a fresh process give the model's outputs, state
updates and variable collections round trip, errors as Keras words them."""
import doctest
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import kerax
import kerax.export.archive as archive_module
from kerax import layers as L
from kerax.export import ExportArchive
from kerax.saving import keras_file


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A Sequential model (serve, a training-mode endpoint) and a two-input
    functional model (positional and dict endpoints, a symbolic sequence
    length), written to one archive."""
    kerax.utils.set_random_seed(0)
    seq = kerax.Sequential([kerax.Input((3,)), L.Dense(4), L.BatchNormalization(),
                            L.Dropout(0.5), L.Dense(2)])
    seq.compile(kerax.optimizers.Adam(), "mse")
    seq.optimizer.build(seq.trainable_variables)
    a = kerax.Input((3,), name="a")
    b = kerax.Input((None, 5), name="b")
    pooled = L.GlobalAveragePooling1D()(b)
    pair = kerax.Model([a, b], L.Dense(2)(L.Concatenate()([a, pooled])))

    archive = ExportArchive()
    serve = archive.track_and_add_endpoint(
        "serve", seq, [kerax.InputSpec(shape=(None, 3), dtype="float32")])
    archive.add_endpoint("call_training", lambda x: seq(x, training=True),
                         [kerax.InputSpec(shape=(None, 3), dtype="float32")])
    archive.track(pair)
    archive.add_endpoint("pair", lambda x, y: pair([x, y]),
                         [kerax.InputSpec(shape=(None, 3), dtype="float32"),
                          kerax.InputSpec(shape=(None, None, 5), dtype="float32")])
    archive.add_endpoint("pair_dict", lambda d: pair([d["a"], d["b"]]),
                         [{"a": a, "b": b}])
    archive.add_variable_collection("optimizer_variables", seq.optimizer.variables)
    extra = [kerax.Variable(np.arange(4, dtype="float32"), dtype="bfloat16", name="bf"),
             kerax.Variable(np.int32(7), name="count", trainable=False)]
    archive.add_variable_collection("extra", extra)
    path = tmp_path_factory.mktemp("archive") / "model.kxa"
    archive.write_out(path, verbose=False)
    written = {id(v): np.asarray(v.numpy()) for v in
               archive.variables + seq.optimizer.variables + extra}
    return dict(path=path, seq=seq, pair=pair, serve=serve, archive=archive, extra=extra,
                written=written)


def test_endpoints_match_the_model_in_a_fresh_process(exported, tmp_path):
    rng = np.random.default_rng(0)
    x1, x7 = rng.normal(size=(1, 3)).astype("float32"), rng.normal(size=(7, 3)).astype("float32")
    y = rng.normal(size=(7, 4, 5)).astype("float32")
    y9 = rng.normal(size=(7, 9, 5)).astype("float32")
    seq, pair = exported["seq"], exported["pair"]
    expected = {"serve1": seq(x1), "serve7": seq(x7),
                "pair": pair([x7, y]), "pair9": pair([x7, y9])}
    np.savez(tmp_path / "io.npz", x1=x1, x7=x7, y=y, y9=y9,
             **{k: np.asarray(v) for k, v in expected.items()})
    script = f"""
import numpy as np, kerax.export
r = kerax.export.load({str(exported['path'])!r})
d = np.load({str(tmp_path / 'io.npz')!r})
got = dict(serve1=r.serve(d["x1"]), serve7=r.serve(d["x7"]), pair=r.pair(d["x7"], d["y"]),
           pair9=r.pair(d["x7"], d["y9"]), dict9=r.pair_dict({{"a": d["x7"], "b": d["y9"]}}))
np.savez({str(tmp_path / 'got.npz')!r}, **{{k: np.asarray(v) for k, v in got.items()}})
print(sorted(r.endpoints))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "['call_training', 'pair', 'pair_dict', 'serve']" in out.stdout
    got = np.load(tmp_path / "got.npz")
    for k in expected:
        np.testing.assert_allclose(got[k], np.asarray(expected[k]), rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    np.testing.assert_allclose(got["dict9"], got["pair9"], rtol=1e-6)
    # The callable add_endpoint returns runs the same program on the live model.
    np.testing.assert_allclose(exported["serve"](x7), expected["serve7"], rtol=1e-5,
                               atol=1e-6)


def test_training_endpoint_updates_restored_state(exported):
    """A training-mode call (dropout's seed, batch norm's moving statistics)
    updates the reloaded variables as the model's own call updates its."""
    seq = exported["seq"]
    reloaded = kerax.export.load(exported["path"])
    x = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    by_path = {v.path: v for v in reloaded.variables}
    for _ in range(2):
        want = np.asarray(seq(x, training=True))
        np.testing.assert_allclose(np.asarray(reloaded.call_training(x)), want, rtol=1e-5,
                                   atol=1e-6)
    for v in seq.non_trainable_variables:
        np.testing.assert_allclose(by_path[v.path].numpy(), np.asarray(v.numpy()),
                                   rtol=1e-6, err_msg=v.path)
    assert any(not np.allclose(by_path[v.path].numpy(), 0) for v in seq.non_trainable_variables
               if "moving_mean" in v.path)


def test_variables_and_collections_round_trip(exported):
    reloaded = kerax.export.load(exported["path"])
    seq, pair = exported["seq"], exported["pair"]
    tracked = seq.trainable_variables + pair.trainable_variables
    assert [v.path for v in reloaded.trainable_variables] == [v.path for v in tracked]
    assert all(v.trainable for v in reloaded.trainable_variables)
    assert [v.path for v in reloaded.non_trainable_variables] == [
        v.path for v in seq.non_trainable_variables + pair.non_trainable_variables]
    for mine, theirs in [(reloaded.variables, exported["archive"].variables),
                         (reloaded.optimizer_variables, seq.optimizer.variables),
                         (reloaded.extra, exported["extra"])]:
        assert len(mine) == len(theirs)
        for r, v in zip(mine, theirs):
            assert r.shape == tuple(v.shape) and r.dtype == str(v.dtype), v.path
            np.testing.assert_array_equal(np.asarray(r), exported["written"][id(v)])
    assert reloaded.extra[0].dtype == "bfloat16" and reloaded.extra[1].numpy() == 7
    assert reloaded.variable_collections == ["optimizer_variables", "extra"]
    with pytest.raises(ValueError, match="shape"):
        reloaded.extra[0].assign(np.zeros(3))


def test_errors_as_keras(keras, exported, tmp_path):
    # Keras' ExportArchive needs TensorFlow even on the JAX backend; its format
    # check runs first.
    with pytest.raises(ValueError, match="Unsupported format: foo"):
        keras.export.ExportArchive(format="foo")
    with pytest.raises(ValueError, match="Unsupported format: foo"):
        ExportArchive(format="foo")
    with pytest.raises(NotImplementedError, match="TensorFlow"):
        ExportArchive(format="saved_model")
    seq = exported["seq"]
    spec = [kerax.InputSpec(shape=(None, 3), dtype="float32")]
    archive = ExportArchive()
    with pytest.raises(ValueError, match="No endpoints have been set yet"):
        archive.write_out(tmp_path / "x.kxa")
    with pytest.raises(ValueError, match="has not yet been built"):
        archive.track(L.Dense(2))
    with pytest.raises(ValueError, match="Invalid resource type"):
        archive.track(object())
    with pytest.raises(ValueError, match="must provide an `input_signature`"):
        archive.add_endpoint("serve", seq)
    with pytest.raises(ValueError, match="The `shape` and `dtype` must be provided"):
        archive.add_endpoint("serve", seq, [kerax.InputSpec(ndim=2)])
    with pytest.raises(TypeError, match="Supported types are"):
        archive.add_endpoint("serve", seq, ["x"])
    with pytest.raises(TypeError, match="list or tuple"):
        archive.add_endpoint("serve", seq, spec[0])
    with pytest.raises(ValueError, match="could not trace endpoint 'serve'"):
        archive.add_endpoint("serve", seq, [kerax.InputSpec(shape=(None, 4), dtype="float32")])
    with pytest.raises(NotImplementedError, match="jax2tf_kwargs"):
        archive.add_endpoint("serve", seq, spec, jax2tf_kwargs={})
    with pytest.raises(ValueError, match="Invalid endpoint name"):
        archive.add_endpoint("not a name", seq, spec)
    archive.add_endpoint("serve", seq, spec)
    with pytest.raises(ValueError, match="Endpoint name 'serve' is already taken."):
        archive.add_endpoint("serve", seq, spec)
    with pytest.raises(ValueError, match="Expected `variables` to be a list/tuple/set"):
        archive.add_variable_collection("vs", seq.variables[0])
    with pytest.raises(ValueError, match="to be `keras.Variable` instances"):
        archive.add_variable_collection("vs", [np.zeros(2)])
    with pytest.raises(ValueError, match="already used by an endpoint"):
        archive.add_variable_collection("serve", [])
    with pytest.raises(NotImplementedError, match="SaveOptions"):
        archive.write_out(tmp_path / "x.kxa", options=object())
    with pytest.raises(FileNotFoundError):
        archive.write_out(tmp_path / "missing" / "x.kxa")
    assert not os.path.exists(tmp_path / "x.kxa")

    reloaded = kerax.export.load(exported["path"])
    with pytest.raises(ValueError, match="takes 2 positional argument"):
        reloaded.pair(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expects shape \(None, 3\), got \(2, 4\)"):
        reloaded.serve(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="structure"):
        reloaded.pair_dict({"a": np.zeros((2, 3))})


def test_is_static_endpoints_keep_no_updates(exported, tmp_path):
    seq = exported["seq"]
    archive = ExportArchive()
    archive.add_endpoint("train", lambda x: seq(x, training=True),
                         [kerax.InputSpec(shape=(None, 3), dtype="float32")], is_static=True)
    archive.write_out(tmp_path / "s.kxa", verbose=False)
    reloaded = kerax.export.load(tmp_path / "s.kxa")
    assert reloaded.variables == []  # nothing tracked
    before = [np.asarray(v.value) for v in reloaded._all_variables]
    reloaded.train(np.ones((2, 3), "float32"))
    for b, v in zip(before, reloaded._all_variables):
        np.testing.assert_array_equal(b, np.asarray(v.value))


def test_verbose_lists_the_endpoints(exported, tmp_path, capsys):
    exported["archive"].write_out(tmp_path / "v.kxa")
    text = capsys.readouterr().out
    assert "The following endpoints are available" in text
    assert "* Endpoint 'pair'" in text and "float32 (None, None, 5)" in text


def test_corrupt_archives_are_refused(exported, tmp_path, monkeypatch):
    with zipfile.ZipFile(exported["path"]) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["archive.json"])
    manifest["collections"]["extra"] = [10_000]
    for name, data, match in [
            ("bad_json.kxa", b"{", "corrupt"),
            ("bad_index.kxa", json.dumps(manifest).encode(), "unknown variables")]:
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for n, d in members.items():
                zf.writestr(n, data if n == "archive.json" else d)
        with pytest.raises(ValueError, match=match):
            kerax.export.load(tmp_path / name)
    # a decompression bomb (the floor lowered from 256 MiB to keep the test small)
    monkeypatch.setattr(keras_file, "BOMB_FLOOR_BYTES", 1 << 20)
    with zipfile.ZipFile(tmp_path / "bomb.kxa", "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
        zf.writestr("padding.bin", bytes(4 << 20))
    with pytest.raises(ValueError, match="decompression bomb"):
        kerax.export.load(tmp_path / "bomb.kxa")


def test_model_export_files_still_load(tmp_path):
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2)])
    model.export(tmp_path / "m.export", verbose=False)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(kerax.export.load(tmp_path / "m.export")(x), model(x),
                               rtol=1e-6)


def test_docstring_examples_run():
    result = doctest.testmod(archive_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
