"""Functional graphs with op nodes (slicing, broadcasting arithmetic, kerax.ops,
activations) saved to `.keras` as Keras 3 writes them: a file made by Keras
loads in kerax and predicts the same, and the other way round; loading only
ever names kerax's own ops."""
import json
import re
import zipfile

import numpy as np
import pytest

import kerax


def _build(lib):
    """A diffusion-style block: time embedding broadcast onto a cropped feature map."""
    img = lib.Input((12, 12, 3), name="img")
    time = lib.Input((4,), name="time")
    z = lib.layers.Conv2D(4, 3, padding="same", name="conv")(img)
    z = lib.ops.relu(z)[:, 2:-2, 2:-2]
    z = time[:, None, None, :] + z
    t = lib.layers.Dense(4, name="t_dense")(time)
    pooled = lib.ops.mean(z, axis=[1, 2])
    h = lib.ops.concatenate([pooled, lib.activations.gelu(t), t * 0.5], axis=-1)
    mask = lib.ops.not_equal(lib.ops.argmax(h, axis=-1), 0)
    out = lib.layers.Dense(2, name="head")(lib.activations.relu(h, max_value=6.0))
    return lib.Model([img, time], [out, lib.ops.where(mask, 1.0, 0.0), -z[..., ::2]])


def _inputs():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(2, 12, 12, 3)).astype(np.float32),
            rng.normal(size=(2, 4)).astype(np.float32)]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-5)


def _op_entries(path):
    """config.json's op entries, tensor names and node names aside."""
    layers = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]
    out = []
    for entry in layers:
        if not entry["module"].startswith("keras.src."):
            continue
        text = json.dumps({k: v for k, v in entry.items() if k != "name"}, sort_keys=True)
        out.append(re.sub(r'"(keras_history|name)": (\[[^\]]*\]|"[^"]*")', "", text))
    return sorted(out)


def test_kerax_file_with_op_nodes_loads_in_keras(keras, tmp_path):
    model = _build(kerax)
    x = _inputs()
    expected = model.predict(x, verbose=0)
    path = tmp_path / "ops.keras"
    model.save(path)
    _assert_same(kerax.models.load_model(path).predict(x, verbose=0), expected)
    _assert_same(keras.models.load_model(path).predict(x, verbose=0), expected)


def test_keras_file_with_op_nodes_loads_in_kerax(keras, tmp_path):
    k_model = _build(keras)
    x = _inputs()
    path = tmp_path / "keras_ops.keras"
    k_model.save(path)
    loaded = kerax.models.load_model(path)
    _assert_same(loaded.predict(x, verbose=0), k_model.predict(x, verbose=0))
    # and kerax writes it back as Keras wrote it
    again = tmp_path / "again.keras"
    loaded.save(again)
    assert _op_entries(again) == _op_entries(path)


def test_op_nodes_written_as_keras_writes_them(keras, tmp_path):
    kerax_path, keras_path = tmp_path / "kx.keras", tmp_path / "k.keras"
    _build(kerax).save(kerax_path)
    _build(keras).save(keras_path)
    ours, theirs = _op_entries(kerax_path), _op_entries(keras_path)
    assert len(ours) == 14
    assert ours == theirs


def test_op_with_a_lambda_cannot_be_saved(tmp_path):
    x = kerax.Input((3,))
    model = kerax.Model(x, kerax.ops.map(lambda v: v * 2, x))
    path = tmp_path / "map.keras"
    with pytest.raises(ValueError, match=r"operation 'map(_\d+)?'.*<lambda>"):
        model.save(path)
    assert not path.exists()


def _file_with_op(tmp_path, op_entry):
    """A saved `Model(x, -x)` whose op entry is replaced by `op_entry`."""
    x = kerax.Input((3,), name="x")
    path = tmp_path / "base.keras"
    kerax.Model(x, kerax.ops.negative(x)).save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    for i, entry in enumerate(config["config"]["layers"]):
        if entry["class_name"] == "Negative":
            op_entry.setdefault("name", entry["name"])
            op_entry.setdefault("inbound_nodes", entry["inbound_nodes"])
            config["config"]["layers"][i] = op_entry
    members["config.json"] = json.dumps(config).encode()
    hostile = tmp_path / "hostile.keras"
    with zipfile.ZipFile(hostile, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return hostile


def test_file_naming_an_op_kerax_lacks_is_refused(tmp_path):
    path = _file_with_op(tmp_path, {"module": "keras.src.ops.numpy", "class_name": "Eval",
                                    "config": {"name": "negative"}, "registered_name": "Eval"})
    with pytest.raises(ValueError, match="Eval"):
        kerax.models.load_model(path)


def test_file_naming_code_outside_keras_is_refused(tmp_path):
    path = _file_with_op(tmp_path, {"module": "os", "class_name": "system",
                                    "config": {"name": "negative"}, "registered_name": "system"})
    with pytest.raises(kerax.saving.SafeModeError, match="'os'"):
        kerax.models.load_model(path)


def test_op_with_unknown_argument_is_refused(tmp_path):
    path = _file_with_op(tmp_path, {"module": "keras.src.ops.numpy", "class_name": "Negative",
                                    "config": {"name": "negative", "code": "print(1)"},
                                    "registered_name": "Negative"})
    with pytest.raises(ValueError, match="Negative.*unknown arguments \\['code'\\]"):
        kerax.models.load_model(path)
