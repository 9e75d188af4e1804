"""Ops on symbolic tensors are graph nodes saved as Keras 3 saves them."""
import json
import zipfile

import numpy as np
import pytest

import kerax


def test_keras_functional_with_mask_op_loads(keras, tmp_path):
    i = keras.Input((5,), dtype="int32")
    e = keras.layers.Embedding(10, 4, mask_zero=True)(i)
    k_model = keras.Model(i, keras.layers.LSTM(3)(e))
    path = tmp_path / "mask.keras"
    k_model.save(path)
    names = [l["class_name"] for l in json.loads(
        zipfile.ZipFile(path).read("config.json"))["config"]["layers"]]
    assert "NotEqual" in names  # Keras recorded the mask as an op node
    x = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 0]], np.int32)
    model = kerax.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), k_model.predict(x, verbose=0),
                               atol=1e-6)


def test_symbolic_arithmetic_saves_and_loads_in_both(keras, tmp_path):
    i = kerax.Input((3,))
    y = 1.0 - kerax.layers.Dense(2)(i * 2.0 + 1.0)
    model = kerax.Model(i, -y / 4.0)
    x = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    d = [l for l in model.layers if isinstance(l, kerax.layers.Dense)][0]
    expect = -(1.0 - ((x * 2.0 + 1.0) @ d.kernel.numpy() + d.bias.numpy())) / 4.0
    np.testing.assert_allclose(model.predict(x, verbose=0), expect, rtol=1e-6)
    path = tmp_path / "ops.keras"
    model.save(path)
    np.testing.assert_allclose(kerax.models.load_model(path).predict(x, verbose=0), expect,
                               rtol=1e-6)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), expect,
                               rtol=1e-6)


def test_unknown_op_node_is_refused(tmp_path):
    from kerax.saving.object_registration import deserialize_keras_object
    with pytest.raises(ValueError, match="Eval"):
        deserialize_keras_object({"module": "keras.src.ops.numpy", "class_name": "Eval",
                                  "config": {"name": "x"}, "registered_name": "Eval"})
