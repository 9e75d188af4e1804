"""Safe loading: one test per attack class of Keras' security advisories
(see KERAS_FORMAT.md), each showing the attack fails against kerax."""
import builtins
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax.saving import SafeModeError, keras_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")


def write_zip(path, config=None, weights=b"", members=None, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        if config is not None:
            zf.writestr("config.json", config if isinstance(config, (str, bytes))
                        else json.dumps(config))
        if weights is not None:
            zf.writestr("model.weights.h5", weights)
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return path


def empty_h5():
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")
    return buf.getvalue()


def seq_config(*layers, batch_shape=(None, 3)):
    entries = [{"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": list(batch_shape), "dtype": "float32",
                           "name": "in"}, "registered_name": None}]
    entries.extend(layers)
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "seq", "trainable": True, "layers": entries}}


def dense(**overrides):
    config = {"name": "d", "units": 2, "activation": "linear"}
    config.update(overrides)
    return {"module": "keras.layers", "class_name": "Dense", "config": config,
            "registered_name": None}


@pytest.fixture
def opened_files(monkeypatch):
    """Every path passed to open() while loading."""
    seen = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        seen.append(os.fspath(file) if isinstance(file, (str, bytes, os.PathLike)) else file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    return seen


# ---- CVE-2024-3660: Lambda bytecode --------------------------------------------------
def test_lambda_bytecode_is_refused_in_safe_mode(tmp_path):
    marker = tmp_path / "pwned"
    evil = L.Lambda(eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"))
    model = kerax.Sequential([kerax.Input((3,)), evil])
    model.save(tmp_path / "evil.keras")
    marker.unlink()  # building the model ran the lambda once
    with pytest.raises(SafeModeError, match="safe_mode"):
        kerax.models.load_model(tmp_path / "evil.keras")
    # the Keras-written lambda file too
    with pytest.raises(SafeModeError, match="safe_mode=False"):
        kerax.models.load_model(os.path.join(FIX, "lambda.keras"))
    assert not marker.exists()
    # no switch overrides an explicit safe_mode=True
    with kerax.saving.SafeModeScope(False):
        with pytest.raises(SafeModeError):
            kerax.models.load_model(tmp_path / "evil.keras", safe_mode=True)
    with pytest.raises(TypeError, match="safe_mode"):
        kerax.models.load_model(tmp_path / "evil.keras", safe_mode="no")
    assert not marker.exists()


def test_trusted_lambda_loads_with_safe_mode_false(tmp_path):
    model = kerax.Sequential([kerax.Input((3,)), L.Lambda(lambda x: x * 2.0 + 1.0),
                              L.Dense(2)])
    model.save(tmp_path / "lam.keras")
    loaded = kerax.models.load_model(tmp_path / "lam.keras", safe_mode=False)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    config = kerax.saving.serialize_function(lambda x: x + 1)
    assert config["class_name"] == "__lambda__"
    with pytest.raises(SafeModeError):
        kerax.saving.deserialize_function(config)
    assert kerax.saving.deserialize_function(config, safe_mode=False)(1) == 2


# ---- CVE-2025-1550: arbitrary modules and functions -----------------------------------
@pytest.mark.parametrize("attack", [
    {"module": "os", "class_name": "system", "config": {"command": "touch {marker}"},
     "registered_name": None},
    {"module": "builtins", "class_name": "eval", "config": {"source": "open('{marker}','w')"},
     "registered_name": None},
    {"module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", "{marker}"]},
     "registered_name": None},
    {"module": "smtplib", "class_name": "SMTP", "config": {}, "registered_name": None},
])
def test_config_naming_foreign_modules_is_refused_before_import(tmp_path, attack):
    marker = tmp_path / "pwned"
    attack = json.loads(json.dumps(attack).replace("{marker}", str(marker)))
    modules_before = set(sys.modules)
    for config in (attack, seq_config(attack), seq_config(dense(activation={
            "module": attack["module"], "class_name": "function", "config": attack["class_name"],
            "registered_name": "function"}))):
        path = write_zip(tmp_path / "a.keras", config, empty_h5())
        with pytest.raises(ValueError) as info:
            kerax.models.load_model(path)
        assert attack["class_name"] in str(info.value)
    assert set(sys.modules) - modules_before == set()  # nothing was imported
    assert not marker.exists()


# ---- CVE-2025-8747 / CVE-2025-9906: Keras' own non-modelling functions ----------------
@pytest.mark.parametrize("gadget", [
    {"module": "keras.utils", "class_name": "get_file",
     "config": {"fname": "{marker}", "origin": "http://127.0.0.1:9/x"}},
    {"module": "keras.utils", "class_name": "function", "config": "get_file",
     "registered_name": "function"},
    {"module": "keras.config", "class_name": "function",
     "config": "enable_unsafe_deserialization", "registered_name": "function"},
    {"module": "keras.src.saving.serialization_lib", "class_name": "enable_unsafe_deserialization",
     "config": {}},
])
def test_non_modelling_keras_functions_are_refused(tmp_path, gadget):
    marker = tmp_path / "downloaded"
    gadget = json.loads(json.dumps(gadget).replace("{marker}", str(marker)))
    lam = L.Lambda(lambda x: x)
    lam_config = kerax.saving.serialize_keras_object(lam)
    lam_config["build_config"] = {"input_shape": [None, 3]}
    for config in (seq_config(gadget, lam_config),
                   seq_config(dense(kernel_initializer=gadget), lam_config)):
        path = write_zip(tmp_path / "g.keras", config, empty_h5())
        with pytest.raises(ValueError):
            kerax.models.load_model(path)
    assert not marker.exists()
    # and whatever a file contains, safe mode stays on for the next load
    assert kerax.saving.in_safe_mode()
    path = write_zip(tmp_path / "l.keras", seq_config(lam_config), empty_h5())
    with pytest.raises(SafeModeError):
        kerax.models.load_model(path)


# ---- CVE-2025-9905: legacy .h5 model files ---------------------------------------------
def test_legacy_h5_model_files_are_refused(tmp_path):
    path = tmp_path / "legacy.h5"
    lam = {"class_name": "Lambda", "config": {"function": ["4wEAAAAAAAAA", None, None],
                                             "function_type": "lambda"}}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential",
                                              "config": {"layers": [lam]}})
        f.attrs["keras_version"] = "2.15.0"
        f.create_group("model_weights")
    for safe in (True, False):
        with pytest.raises(ValueError, match="legacy"):
            kerax.models.load_model(path, safe_mode=safe)
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2)])
    with pytest.raises(ValueError, match="legacy"):
        model.load_weights(path)


# ---- CVE-2025-12058: file paths in configs (vocabularies) -----------------------------
def test_file_path_vocabularies_are_never_read(tmp_path, opened_files):
    secret = tmp_path / "secret.txt"
    secret.write_text("token\n")
    attacks = [
        {"module": "keras.layers", "class_name": "StringLookup",
         "config": {"vocabulary": str(secret), "name": "lookup"}, "registered_name": None},
        {"module": "keras.layers", "class_name": "TextVectorization",
         "config": {"vocabulary": str(secret), "name": "tv"}, "registered_name": None},
        {"module": "keras.layers", "class_name": "Normalization",
         "config": {"mean": str(secret), "variance": str(secret), "name": "norm"},
         "registered_name": None},
    ]
    for i, attack in enumerate(attacks):
        path = str(write_zip(tmp_path / f"v{i}.keras", seq_config(attack), empty_h5()))
        del opened_files[:]
        with pytest.raises((ValueError, TypeError)):
            kerax.models.load_model(path)
        assert all(f == path for f in opened_files if isinstance(f, str)), opened_files


# ---- CVE-2026-0897: HDF5 shape bombs ----------------------------------------------------
def test_hdf5_shape_bomb_is_checked_before_reading(tmp_path):
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2, name="d")])
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense/vars")
        # declares 4 TiB; chunked with no data written, so the file stays tiny
        g.create_dataset("0", shape=(1 << 20, 1 << 20), dtype="float32", chunks=(1, 1024))
        g.create_dataset("1", data=np.zeros(2, "float32"))
        f.create_group("vars")
    data = buf.getvalue()
    assert len(data) < 1 << 20
    path = write_zip(tmp_path / "bomb.keras", kerax.saving.serialize_keras_object(model), data)
    with pytest.raises(ValueError, match=r"'kernel'.*\(3, 2\).*\(1048576, 1048576\)"):
        kerax.models.load_model(path)
    with open(tmp_path / "bomb.weights.h5", "wb") as f:
        f.write(data)
    with pytest.raises(ValueError, match="1048576"):
        model.load_weights(tmp_path / "bomb.weights.h5")


def test_hdf5_links_outside_the_file_are_refused(tmp_path):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["k"] = np.ones((3, 2), "float32")
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(6, "float32").tobytes())
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2, name="d")])
    # an external link, then a dataset whose raw data lives in another file
    for kind in ("link", "external"):
        path = tmp_path / f"{kind}.weights.h5"
        with h5py.File(path, "w") as f:
            g = f.create_group("layers/dense/vars")
            if kind == "link":
                g["0"] = h5py.ExternalLink(str(secret), "k")
            else:
                g.create_dataset("0", shape=(3, 2), dtype="float32",
                                 external=[(str(raw), 0, 24)])
            g["1"] = np.zeros(2, "float32")
            f.create_group("vars")
        with pytest.raises(ValueError, match="outside the weights file"):
            model.load_weights(path)


# ---- CVE-2026-12479: path traversal through names ---------------------------------------
@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt",
                                    "C:/evil.txt", "a\\..\\evil.txt"])
def test_zip_members_with_unsafe_paths_are_refused(tmp_path, member):
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2)])
    model.save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[member] = b"x"
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    before = set(os.listdir(tmp_path.parent))
    with pytest.raises(ValueError, match="unsafe member name"):
        kerax.models.load_model(path)
    assert set(os.listdir(tmp_path.parent)) == before


def test_layer_names_cannot_traverse_paths(tmp_path):
    inp = {"module": "keras.layers", "class_name": "InputLayer", "name": "../../x",
           "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "../../x"},
           "registered_name": None, "inbound_nodes": []}
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "registered_name": "Functional",
              "config": {"name": "f", "trainable": True, "layers": [inp],
                         "input_layers": ["../../x", 0, 0], "output_layers": ["../../x", 0, 0]}}
    path = write_zip(tmp_path / "t.keras", config, empty_h5())
    with pytest.raises(ValueError, match="invalid layer name"):
        kerax.models.load_model(path)
    # Weight paths come from attribute names, never from layer names.
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2, name="..")])
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert "layers/dense/vars" in f


# ---- oversized members, malformed JSON / HDF5 ----------------------------------------------
def test_oversized_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_file, "MAX_JSON_BYTES", 1 << 20)
    bomb = " " * (4 << 20) + json.dumps(seq_config(dense()))
    path = write_zip(tmp_path / "zipbomb.keras", bomb, empty_h5(),
                     compression=zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < 100_000
    with pytest.raises(ValueError, match="over the limit"):
        kerax.models.load_model(path)


@pytest.mark.parametrize("config,match", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    (json.dumps({"config": {}}), "not a serialized model"),
])
def test_malformed_json_gives_clear_value_error(tmp_path, config, match):
    path = write_zip(tmp_path / "m.keras", config, empty_h5())
    with pytest.raises(ValueError, match=match):
        kerax.models.load_model(path)


def test_malformed_hdf5_gives_clear_value_error(tmp_path):
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2)])
    path = write_zip(tmp_path / "m.keras", kerax.saving.serialize_keras_object(model),
                     b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(ValueError, match="not a valid HDF5"):
        kerax.models.load_model(path)
    (tmp_path / "g.weights.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a valid HDF5"):
        model.load_weights(tmp_path / "g.weights.h5")
    # a dataset where a group should be, and a string dataset
    for bad in ("group", "dtype"):
        p = tmp_path / f"{bad}.weights.h5"
        with h5py.File(p, "w") as f:
            if bad == "group":
                f["layers/dense/vars"] = np.zeros(3)
            else:
                g = f.create_group("layers/dense/vars")
                g["0"] = np.array([b"a", b"b"])
                g["1"] = np.zeros(2, "float32")
        with pytest.raises(ValueError):
            model.load_weights(p)
