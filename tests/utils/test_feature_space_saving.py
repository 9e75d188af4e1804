"""FeatureSpace and StringLookup/IntegerLookup in `.keras` files, both ways
with Keras 3: a FeatureSpace saved by Keras 3 + TensorFlow
(tests/utils/fixtures/feature_space_keras.keras, made by
make_feature_space_fixtures.py) loads in kerax and encodes as Keras did; a
kerax-saved one has Keras' members (config, weights groups, vocabulary
assets under `assets/<object path>/vocabulary.txt`) and reloads. (That Keras
loads kerax's file is checked with `make_feature_space_fixtures.py --check`,
which needs TensorFlow.)"""
import zipfile

import numpy as np
import pytest

import kerax
from kerax.utils import FeatureSpace as FS

from .test_feature_space import DATA, FIXTURES, REF, ROWS, all_types_space


@pytest.fixture(scope="module")
def space():
    fs = all_types_space()
    fs.adapt(DATA)
    return fs



def _no_build(config):
    if isinstance(config, dict):
        return {k: _no_build(v) for k, v in config.items() if k != "build_config"}
    return config


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return sorted(n for n in zf.namelist() if n != "metadata.json")


def test_loads_a_feature_space_saved_by_keras():
    fs = kerax.saving.load_model(FIXTURES / "feature_space_keras.keras")
    assert isinstance(fs, FS)
    assert fs.preprocessors["s_cat"].get_vocabulary() == REF["feature_space"]["vocab_s_cat"]
    np.testing.assert_allclose(fs(ROWS), REF["feature_space"]["new_out"], rtol=1e-5,
                               atol=1e-5)


def test_save_writes_keras_layout_and_reloads(space, tmp_path):
    path = tmp_path / "fs.keras"
    space.save(path)
    assert _members(path) == _members(FIXTURES / "feature_space_keras.keras")
    with zipfile.ZipFile(path) as zf:
        vocab = zf.read("assets/preprocessors/string_lookup/vocabulary.txt").decode()
    assert vocab.split("\n") == REF["feature_space"]["vocab_s_cat"]
    again = kerax.saving.load_model(path)
    np.testing.assert_allclose(again(ROWS), space(ROWS), rtol=1e-6, atol=1e-6)
    assert _no_build(again.get_config()) == _no_build(space.get_config())
    again.save(tmp_path / "again.keras")  # a reloaded space saves and loads again
    third = kerax.saving.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(third(ROWS), space(ROWS), rtol=1e-6, atol=1e-6)


def test_string_lookup_vocabulary_saved_as_asset_in_a_model(tmp_path):
    # An adapted lookup inside a model: its vocabulary travels as Keras' asset.
    lookup = kerax.layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(np.array([4, 4, 8, 15]))
    inputs = kerax.Input(shape=(1,), dtype="int32")
    model = kerax.Model(inputs, kerax.layers.Dense(2)(lookup(inputs)))
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        text = zf.read("assets/layers/integer_lookup/vocabulary.txt").decode()
    assert text.split("\n") == ["-1", "4", "15", "8"]
    again = kerax.saving.load_model(path)
    x = np.array([[4], [8], [99]], "int32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)



def test_asset_names_escaping_the_folder_are_refused(space, tmp_path):
    good = tmp_path / "fs.keras"
    space.save(good)
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("assets/preprocessors/string_lookup/../../../../evil.txt", b"x")
    with pytest.raises(ValueError, match="unsafe member name|\\.\\."):
        kerax.saving.load_model(bad)
    assert not (tmp_path / "evil.txt").exists()
