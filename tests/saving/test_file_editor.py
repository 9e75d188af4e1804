"""kerax.saving.KerasFileEditor against Keras 3's: the same edits of a
Keras-written file give the same weights file; edited files load in Keras
and kerax; hostile files are refused before anything is read."""
import doctest
import zipfile

import h5py
import numpy as np
import pytest

import kerax
import kerax.saving.file_editor as file_editor_module
from kerax.saving import KerasFileEditor


def h5_datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                     else None)
    return out


def assert_same_datasets(a, b):
    da, db = h5_datasets(a), h5_datasets(b)
    assert sorted(da) == sorted(db)
    for k in da:
        np.testing.assert_array_equal(da[k], db[k], err_msg=k)
        assert da[k].dtype == db[k].dtype, k


def from_keras(keras, model):
    """The same architecture in kerax (through its JSON config)."""
    return kerax.models.model_from_json(model.to_json())


@pytest.fixture(scope="module")
def files(keras, tmp_path_factory):
    """A Keras-written trained model: `.keras` and `.weights.h5`."""
    d = tmp_path_factory.mktemp("editor")
    keras.utils.set_random_seed(0)
    inp = keras.Input((3,))
    x = keras.layers.Dense(4, name="d1")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    out = keras.layers.Dense(2, name="d2")(x)
    model = keras.Model(inp, out)
    model.compile("adam", "mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(3)
    model.save(d / "m.keras")
    model.save_weights(d / "m.weights.h5")
    return d, model


def edit(editor, extra):
    editor.rename_object("layers/dense", "dense_x")
    editor.delete_weight("layers/batch_normalization", "3")
    editor.add_weights("layers/dense_1", {"2": extra})
    editor.add_object("layers/new_layer", {"0": extra[:2], "1": np.int32(7)})
    editor.delete_object("optimizer")


@pytest.mark.parametrize("name", ["m.keras", "m.weights.h5"])
def test_same_edits_give_the_same_file_as_keras(keras, files, name, capsys):
    d, _ = files
    extra = np.arange(3, dtype="float32")
    ours = KerasFileEditor(d / name)
    theirs = keras.saving.KerasFileEditor(str(d / name))
    assert ours.object_metadata == {k: {a: str(v) for a, v in m.items()}
                                    for k, m in theirs.object_metadata.items()}
    if name.endswith(".keras"):
        assert ours.config == theirs.config and ours.metadata == theirs.metadata
    else:
        assert ours.config is None and ours.metadata is None
    edit(ours, extra)
    edit(theirs, extra)
    ours.save(d / f"ours_{name}.weights.h5")
    theirs.save(str(d / f"theirs_{name}.weights.h5"))
    assert_same_datasets(d / f"ours_{name}.weights.h5", d / f"theirs_{name}.weights.h5")
    # Printed summaries list the same weights.
    capsys.readouterr()
    ours.summary()
    text = capsys.readouterr().out
    assert "dense_x ('d1')" in text and "0: shape=(3, 4), dtype=float32" in text
    assert "optimizer" not in text


def test_unedited_resave_keeps_every_weight_and_name(files):
    d, _ = files
    KerasFileEditor(d / "m.weights.h5").resave_weights(d / "same.weights.h5")
    assert_same_datasets(d / "same.weights.h5", d / "m.weights.h5")
    with h5py.File(d / "same.weights.h5") as f, h5py.File(d / "m.weights.h5") as g:
        assert f["layers/dense/vars"].attrs["name"] == "d1"
        # the optimizer's name as written (adam, or adam_1 after an earlier Adam)
        assert f["optimizer/vars"].attrs["name"] == g["optimizer/vars"].attrs["name"]
        assert str(f["optimizer/vars"].attrs["name"]).startswith("adam")


def test_adapting_a_file_to_a_new_architecture_loads_in_keras_and_kerax(keras, files,
                                                                         capsys):
    """The editor's use: a layer inserted in the middle of a model."""
    d, old = files
    keras.utils.set_random_seed(1)
    inp = keras.Input((3,))
    x = keras.layers.Dense(4, name="d1")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Dense(4, name="inserted")(x)
    new = keras.Model(inp, keras.layers.Dense(2, name="d2")(x))
    new_kx = from_keras(keras, new)

    editor = KerasFileEditor(d / "m.keras")
    before = editor.compare(new_kx)
    theirs = keras.saving.KerasFileEditor(str(d / "m.keras")).compare(new)
    assert before["status"] == theirs["status"] == "error"
    # dense_1 is (4, 2) in the file and (4, 4) in the new model; dense_2 is new;
    # the file's optimizer is not in an uncompiled model.
    assert before["error_count"] == theirs["error_count"] == 4
    kernel = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    editor.rename_object("layers/dense_1", "dense_2")
    editor.add_object("layers/dense_1", {"0": kernel, "1": np.zeros(4, "float32")})
    editor.delete_object("optimizer")
    capsys.readouterr()
    after = editor.compare(new_kx)
    assert after == {"status": "success", "error_count": 0, "match_count": 10}
    assert "Comparison successful" in capsys.readouterr().out
    editor.save(d / "adapted.weights.h5")

    new.load_weights(d / "adapted.weights.h5")
    new_kx.load_weights(d / "adapted.weights.h5")
    np.testing.assert_array_equal(new.get_layer("inserted").kernel.numpy(), kernel)
    np.testing.assert_array_equal(new.get_layer("d2").kernel.numpy(),
                                  old.get_layer("d2").kernel.numpy())
    for a, b in zip(new_kx.get_weights(), new.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_nested_objects_are_kept(keras, tmp_path):
    """A nested model keeps its layers (Keras 3.15's editor drops objects whose
    own `vars` group is empty, with everything below them)."""
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="i1")],
                             name="inner")
    model = keras.Sequential([keras.Input((3,)), inner, keras.layers.Dense(1, name="o")])
    model.save_weights(tmp_path / "a.weights.h5")
    kx = from_keras(keras, model)
    editor = KerasFileEditor(tmp_path / "a.weights.h5")
    assert list(editor.weights_dict["layers"]["sequential"]["layers"]) == ["dense"]
    assert editor.object_metadata["/layers/sequential/layers/dense"] == {"name": "i1"}
    assert editor.compare(kx) == {"status": "success", "error_count": 0, "match_count": 4}
    editor.rename_object("layers/dense", "dense")  # a no-op, not a deletion
    editor.save(tmp_path / "b.weights.h5")
    assert_same_datasets(tmp_path / "a.weights.h5", tmp_path / "b.weights.h5")
    model.load_weights(tmp_path / "b.weights.h5")
    kx.load_weights(tmp_path / "b.weights.h5")
    for a, b in zip(kx.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_kerax_files_keep_their_extras(tmp_path):
    """kerax's own optimizer layout mark and seed-generator states survive."""
    model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dropout(0.5),
                              kerax.layers.Dense(2)])
    model.compile(kerax.optimizers.Adam(), "mse")
    model.optimizer.build(model.trainable_variables)
    model.save_weights(tmp_path / "k.weights.h5")
    editor = KerasFileEditor(tmp_path / "k.weights.h5")
    assert editor.compare(model)["status"] == "success"  # the seed states are not weights
    editor.save(tmp_path / "k2.weights.h5")
    assert_same_datasets(tmp_path / "k.weights.h5", tmp_path / "k2.weights.h5")
    with h5py.File(tmp_path / "k.weights.h5") as a, h5py.File(tmp_path / "k2.weights.h5") as b:
        assert dict(a["optimizer/vars"].attrs) == dict(b["optimizer/vars"].attrs)


def test_errors_as_keras(keras, files):
    d, _ = files
    ours = KerasFileEditor(d / "m.weights.h5")
    theirs = keras.saving.KerasFileEditor(str(d / "m.weights.h5"))
    cases = [
        ("rename_object", ("nope", "x"), "does not appear in the model"),
        ("rename_object", ("layers/nope", "x"), "Path 'layers/nope' not found"),
        ("rename_object", ("layers/dense", "a/b"), "should be a leaf name"),
        ("delete_weight", ("layers/dense", "9"), "Weight 9 not found"),
        ("add_weights", ("layers/dense", [1]), "should be a dict"),
        ("add_object", ("zz/new", {}), "Path 'zz' not found"),
        ("add_object", ("x", [1]), "should be a dict"),
        ("save", (str(d / "x.h5"),), "weights.h5"),
    ]
    for method, args, match in cases:
        with pytest.raises(ValueError) as kerr:
            getattr(theirs, method)(*args)
        with pytest.raises(ValueError, match=match):
            getattr(ours, method)(*args)
        assert match.split("'")[0] in str(kerr.value) or match == "weights.h5"
    for bad in ("m.h5", "m.zip"):
        with pytest.raises(ValueError):
            keras.saving.KerasFileEditor(str(d / bad))
        with pytest.raises(ValueError, match="expected a `.keras` `.weights.h5`"):
            KerasFileEditor(d / bad)
    with pytest.raises(FileNotFoundError):
        KerasFileEditor(d / "missing.keras")
    # kerax-only: a name given once is found (Keras miscounts it), and edits that
    # would silently drop an entry raise.
    ours.delete_weight("batch_normalization", "3")
    assert sorted(ours.weights_dict["layers"]["batch_normalization"]) == ["0", "1", "2"]
    ours.add_object("layers/dense/sub", {"0": np.zeros(1)})
    ours.add_object("optimizer/sub", {"0": np.zeros(1)})
    with pytest.raises(ValueError, match="occurs more than once"):
        ours.delete_object("sub")
    with pytest.raises(ValueError, match="does not appear"):
        ours.delete_object("0")  # a weight, not an object
    with pytest.raises(ValueError, match="already exists"):
        ours.rename_object("layers/dense", "dense_1")
    with pytest.raises(ValueError, match="already exists"):
        ours.add_object("layers/dense", {"0": np.zeros(1)})
    with pytest.raises(ValueError, match="already has weight"):
        ours.add_weights("layers/dense", {"0": np.zeros(1)})
    with pytest.raises(ValueError, match="numeric array"):
        ours.add_weights("layers/dense", {"5": np.array(["a"])})
    with pytest.raises(ValueError, match="weight names"):
        ours.add_weights("layers/dense", {0: np.zeros(1)})


# ---- hostile files ----------------------------------------------------------------------
def _write_h5(path, build):
    with h5py.File(path, "w", libver="latest") as f:  # "latest": large attributes
        build(f)
    return path


@pytest.mark.parametrize("kind", ["soft_link", "external_link", "external_data", "bomb", "huge",
                                  "too_deep", "strings", "huge_attr", "not_layout"])
def test_hostile_weights_files_are_refused(tmp_path, kind):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["k"] = np.ones((3, 2), "float32")
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(6, "float32").tobytes())

    def build(f):
        g = f.create_group("layers/dense/vars")
        g["1"] = np.zeros(2, "float32")
        if kind == "soft_link":
            f["layers/dense/vars/0"] = h5py.SoftLink("/layers/dense/vars/1")
        elif kind == "external_link":
            g["0"] = h5py.ExternalLink(str(secret), "k")
        elif kind == "external_data":
            g.create_dataset("0", shape=(3, 2), dtype="float32", external=[(str(raw), 0, 24)])
        elif kind == "bomb":  # declares 1 GiB, stores nothing
            g.create_dataset("0", shape=(1 << 14, 1 << 14), dtype="float32",
                             chunks=(1, 1024))
        elif kind == "huge":  # declares 4 TiB
            g.create_dataset("0", shape=(1 << 20, 1 << 20), dtype="float32",
                             chunks=(1, 1024))
        elif kind == "too_deep":
            f.create_group("/".join(["a"] * 80) + "/vars")["0"] = np.zeros(1)
        elif kind == "strings":
            g["0"] = np.array([b"x"])
        elif kind == "huge_attr":
            g.attrs.create("name", np.zeros(1 << 15), dtype="float64")
        elif kind == "not_layout":
            f["layers/dense/kernel:0"] = np.zeros(2)

    path = _write_h5(tmp_path / "bad.weights.h5", build)
    match = {"soft_link": "SoftLink", "external_link": "outside the weights file",
             "external_data": "outside the weights file", "bomb": "bomb",
             "huge": "limit 4294967296",
             "too_deep": "nested more than", "strings": "expected numbers",
             "huge_attr": "declares", "not_layout": "outside a `vars` group"}[kind]
    with pytest.raises(ValueError, match=match):
        KerasFileEditor(path)


def test_hostile_keras_archives_are_refused(tmp_path, files):
    d, _ = files
    with zipfile.ZipFile(d / "m.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(ValueError, match="unsafe member name"):
        KerasFileEditor(path)
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a `.keras` file"):
        KerasFileEditor(tmp_path / "junk.keras")
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a valid HDF5"):
        KerasFileEditor(tmp_path / "junk.weights.h5")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_docstring_example_runs():
    result = doctest.testmod(file_editor_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
