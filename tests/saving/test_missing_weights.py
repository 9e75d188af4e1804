"""A `.keras` file without its weights, and weights files that lack some
layers (issue 12, item 5), checked against Keras 3 on the same files."""
import os
import warnings
import zipfile

import numpy as np
import pytest

import kerax
from kerax import layers as L


def without_weights(src, dst, rename=None):
    """Copy the `.keras` archive `src`, dropping model.weights.h5 (or
    storing it under the name `rename`)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name == "model.weights.h5":
                if rename is None:
                    continue
                zout.writestr(rename, zin.read(name))
            else:
                zout.writestr(name, zin.read(name))
    return dst


def keras_refuses(path):
    import keras
    with pytest.raises(ValueError, match="model.weights.h5"):
        keras.saving.load_model(path)


@pytest.mark.parametrize("case", ["dropped", "renamed", "no_weights_model"])
def test_keras_file_without_weights_member_is_refused(tmp_path, case):
    if case == "no_weights_model":  # Keras raises even when the model has no weights
        model = kerax.Sequential([kerax.Input((4,)), L.ReLU()])
    else:
        model = kerax.Sequential([kerax.Input((4,)), L.Dense(3), L.Dense(2)])
    model.save(tmp_path / "full.keras")
    path = without_weights(tmp_path / "full.keras", tmp_path / "bad.keras",
                           rename="weights.h5" if case == "renamed" else None)
    keras_refuses(path)
    with pytest.raises(ValueError, match=r"has no model\.weights\.h5.*randomly initialised"):
        kerax.models.load_model(path)
    target = kerax.Sequential([kerax.Input((4,)), L.Dense(3), L.Dense(2)])
    with pytest.raises(ValueError, match=r"has no model\.weights\.h5"):
        target.load_weights(path)


def test_keras_written_file_without_weights_is_refused(tmp_path):
    import keras
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.save(tmp_path / "k.keras")
    path = without_weights(tmp_path / "k.keras", tmp_path / "bad.keras")
    keras_refuses(path)
    with pytest.raises(ValueError, match="weights.h5"):
        kerax.models.load_model(path)


def _outcome(model, path, skip_mismatch):
    """('error' | 'warning' | 'silent', message) of load_weights."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path, skip_mismatch=skip_mismatch)
        except ValueError as e:
            return "error", str(e)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return ("warning", msgs[0]) if msgs else ("silent", "")


def _stack(lib, n):
    return lib.Sequential([lib.Input((4,))] + [lib.layers.Dense(3) for _ in range(n)])


@pytest.mark.parametrize("saved,loaded", [(2, 3), (3, 2)])
@pytest.mark.parametrize("skip_mismatch", [False, True])
def test_load_weights_with_layers_missing_from_the_file_matches_keras(
        tmp_path, saved, loaded, skip_mismatch):
    """A file lacking a layer's weights: an error naming the layer, or a
    warning with skip_mismatch=True; extra weights in the file are ignored.
    As Keras 3 on the same file."""
    import keras
    outcomes = {}
    for lib, name in ((keras, "keras"), (kerax, "kerax")):
        src = _stack(lib, saved)
        path = os.path.join(tmp_path, f"{name}.weights.h5")
        src.save_weights(path)
        dst = _stack(lib, loaded)
        kind, msg = _outcome(dst, path, skip_mismatch)
        outcomes[name] = kind
        if kind != "silent":
            assert dst.layers[-1].name in msg, msg
        common = min(saved, loaded)
        for a, b in zip(src.layers[:common], dst.layers[:common]):
            if kind != "error":
                np.testing.assert_array_equal(np.asarray(a.kernel), np.asarray(b.kernel))
    assert outcomes["kerax"] == outcomes["keras"]
    expected = "silent" if saved > loaded else ("warning" if skip_mismatch else "error")
    assert outcomes["kerax"] == expected
