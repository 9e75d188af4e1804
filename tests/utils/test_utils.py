"""kerax.utils against Keras 3's keras.utils: same outputs on the same inputs."""
import doctest
import hashlib
import importlib
import logging
import os
import sys
import tarfile
import zipfile

import numpy as np
import pytest

import kerax
from kerax import utils

UTILS_MODULES = ["kerax.utils.numerical_utils", "kerax.utils.sequence_utils",
                 "kerax.utils.config", "kerax.utils.dataset_utils", "kerax.utils.graph_utils", "kerax.utils.file_utils",
                 "kerax.utils.image_utils",
                 "kerax.io.io_utils"]


@pytest.mark.parametrize("name", UTILS_MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_names_of_keras_utils_exist(keras):
    names = ["to_categorical", "pad_sequences", "normalize", "pack_x_y_sample_weight",
             "unpack_x_y_sample_weight", "register_keras_serializable", "custom_object_scope",
             "CustomObjectScope", "get_custom_objects", "serialize_keras_object",
             "deserialize_keras_object", "get_registered_name", "get_registered_object",
             "get_source_inputs", "is_keras_tensor", "clear_session", "standardize_dtype",
             "Sequence", "PyDataset", "Config", "split_dataset", "Progbar",
             "enable_interactive_logging", "disable_interactive_logging",
             "is_interactive_logging_enabled", "timeseries_dataset_from_array",
             "set_random_seed"]
    for n in names:
        assert hasattr(keras.utils, n), n
        assert hasattr(utils, n), n
    assert utils.Sequence is utils.PyDataset
    assert utils.io_utils.atomic_write is kerax.io.io_utils.atomic_write
    from kerax.utils.progbar import Progbar
    assert Progbar is utils.Progbar


# ---- numerical ------------------------------------------------------------------
@pytest.mark.parametrize("x,num_classes", [
    ([0, 2, 1, 2], None), ([0, 2, 1, 2], 5), ([[1], [0], [3]], None),
    (np.array([[0, 1], [2, 0]]), 4), (np.array(3), None), (np.array([[[1]], [[2]]]), 3)])
def test_to_categorical_matches_keras(keras, x, num_classes):
    ours = utils.to_categorical(x, num_classes)
    theirs = keras.utils.to_categorical(x, num_classes)
    assert type(ours) is type(theirs) and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_on_jax_arrays(keras):
    import jax.numpy as jnp
    x = jnp.array([[1], [0], [2]])
    ours = utils.to_categorical(x, 3)
    theirs = keras.utils.to_categorical(x, 3)
    assert ours.shape == theirs.shape == (3, 3) and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize("axis,order", [(-1, 2), (1, 1), (-1, np.inf), (None, 2)])
def test_normalize_numpy_matches_keras(keras, rng, axis, order):
    x = rng.normal(size=(4, 5))
    x[1] = 0.0
    if axis is None:
        x = x[0]
    ours = utils.normalize(x, axis=axis, order=order) if axis is not None else \
        utils.normalize(x, order=order)
    theirs = keras.utils.normalize(x, axis=axis, order=order) if axis is not None else \
        keras.utils.normalize(x, order=order)
    assert isinstance(ours, np.ndarray)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_normalize_axis_0_closed_form(rng):
    # Keras 3's NumPy path fails on axis=0 (it expands the norm on axis -1).
    x = rng.normal(size=(4, 5))
    np.testing.assert_allclose(utils.normalize(x, axis=0),
                               x / np.linalg.norm(x, axis=0, keepdims=True), rtol=1e-12)


def test_normalize_tensor_matches_keras(keras, rng):
    import jax.numpy as jnp
    x = jnp.asarray(rng.normal(size=(3, 4)).astype("float32"))
    np.testing.assert_allclose(np.asarray(utils.normalize(x, axis=0)),
                               np.asarray(keras.utils.normalize(x, axis=0)), rtol=1e-6)


# ---- pad_sequences ----------------------------------------------------------------
SEQS = [[1, 2, 3, 4], [5], [], [6, 7]]


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 2}, {"maxlen": 6, "padding": "post"}, {"maxlen": 3, "truncating": "post"},
    {"maxlen": 3, "padding": "post", "truncating": "post", "value": -1},
    {"dtype": "float32", "value": 0.5}, {"dtype": "int64"}])
def test_pad_sequences_matches_keras(keras, kwargs):
    ours = utils.pad_sequences(SEQS, **kwargs)
    theirs = keras.utils.pad_sequences(SEQS, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_multidim_and_strings(keras):
    seqs = [np.ones((2, 3)), np.zeros((4, 3))]
    np.testing.assert_array_equal(utils.pad_sequences(seqs, maxlen=3, dtype="float32"),
                                  keras.utils.pad_sequences(seqs, maxlen=3, dtype="float32"))
    words = [["a", "bc"], ["d"]]
    np.testing.assert_array_equal(
        utils.pad_sequences(words, dtype=object, value="<pad>"),
        keras.utils.pad_sequences(words, dtype=object, value="<pad>"))


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="padding"):
        utils.pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="truncating"):
        utils.pad_sequences(SEQS, truncating="middle")
    with pytest.raises(ValueError, match="iterables"):
        utils.pad_sequences([[1], 3])
    with pytest.raises(ValueError, match="dtype=object"):
        utils.pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match="shape"):
        utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))], dtype="float32")


# ---- pack / unpack --------------------------------------------------------------
@pytest.mark.parametrize("args", [(1,), (1, 2), (1, 2, 3), ((1, 2),), ([1, 2],), (1, None, 3)])
def test_pack_x_y_sample_weight_matches_keras(keras, args):
    assert utils.pack_x_y_sample_weight(*args) == keras.utils.pack_x_y_sample_weight(*args)


@pytest.mark.parametrize("data", [1, (1,), (1, 2), (1, 2, 3), [1, 2]])
def test_unpack_x_y_sample_weight_matches_keras(keras, data):
    assert utils.unpack_x_y_sample_weight(data) == keras.utils.unpack_x_y_sample_weight(data)
    with pytest.raises(ValueError):
        utils.unpack_x_y_sample_weight((1, 2, 3, 4))


# ---- registration and serialization ---------------------------------------------------
def test_registration_and_custom_object_scope(keras):
    @utils.register_keras_serializable(package="UtilsTest")
    def my_fn(x):
        return x

    assert utils.get_registered_name(my_fn) == "UtilsTest>my_fn"
    assert utils.get_registered_object("UtilsTest>my_fn") is my_fn
    assert utils.get_custom_objects()["UtilsTest>my_fn"] is my_fn

    class Thing:
        pass

    assert utils.get_registered_name(Thing) == keras.utils.get_registered_name(Thing) == "Thing"
    assert utils.get_registered_object("Thing") is None
    with utils.custom_object_scope({"Thing": Thing}):
        assert utils.get_registered_object("Thing") is Thing
    with utils.CustomObjectScope({"Thing": Thing}):
        assert utils.get_registered_object("Thing") is Thing
    assert utils.get_registered_object("Thing") is None


def test_serialize_keras_object_matches_keras(keras):
    ours = utils.serialize_keras_object(kerax.layers.Dense(3, name="d"))
    theirs = keras.utils.serialize_keras_object(keras.layers.Dense(3, name="d"))
    assert ours["class_name"] == theirs["class_name"] == "Dense"
    assert ours["module"] == theirs["module"]
    assert ours["config"]["units"] == theirs["config"]["units"] == 3
    layer = utils.deserialize_keras_object(theirs)
    assert isinstance(layer, kerax.layers.Dense) and layer.units == 3 and layer.name == "d"
    assert utils.serialize_keras_object("relu") == keras.utils.serialize_keras_object("relu")


# ---- graph, backend names ---------------------------------------------------------
def test_get_source_inputs_and_is_keras_tensor(keras):
    def build(lib):
        a, b, c = lib.Input((2,)), lib.Input((2,)), lib.Input((2,))
        h = lib.layers.Dense(2)(b)
        y = lib.layers.Add()([h, a, lib.layers.Dense(2)(h)])
        return (a, b, c), y

    (a, b, c), y = build(kerax)
    (ka, kb, kc), ky = build(keras)
    ours, theirs = utils.get_source_inputs(y), keras.utils.get_source_inputs(ky)
    assert len(ours) == len(theirs) == 2
    assert ours[0] is b and ours[1] is a and theirs[0] is kb and theirs[1] is ka
    assert utils.get_source_inputs(a) == [a]
    assert utils.get_source_inputs(3) == keras.utils.get_source_inputs(3) == 3
    assert utils.is_keras_tensor(y) and not utils.is_keras_tensor(np.ones(2))
    assert keras.utils.is_keras_tensor(ky) and not keras.utils.is_keras_tensor(np.ones(2))


def test_clear_session_and_standardize_dtype(keras):
    utils.clear_session()
    assert kerax.layers.Dense(1).name == "dense"
    for d in [None, int, float, bool, "float16", np.int8, "bfloat16", np.dtype("uint32")]:
        assert utils.standardize_dtype(d) == keras.utils.standardize_dtype(d)


# ---- Config ----------------------------------------------------------------------
def test_config_matches_keras(keras):
    for cls in (utils.Config, keras.utils.Config):
        c = cls(learning_rate=0.1, momentum=0.9)
        c.batch = 32
        c["epochs"] = 3
        assert (c.learning_rate, c["batch"], c.get("nope", 7), len(c)) == (0.1, 32, 7, 4)
        assert list(c) == ["batch", "epochs", "learning_rate", "momentum"]
        assert "batch" in c and c.as_dict() == dict(c.items())
        assert c.to_json() == '{"learning_rate": 0.1, "momentum": 0.9, "batch": 32, "epochs": 3}'
        with pytest.raises(AttributeError, match="Did you mean 'momentum'"):
            c.momentun  # noqa: B018
        c.freeze()
        assert c.frozen
        with pytest.raises(ValueError, match="frozen"):
            c.batch = 1
        with pytest.raises(ValueError, match="frozen"):
            c.update(a=1)
        with pytest.raises(ValueError, match="frozen"):
            del c["batch"]
        c.unfreeze()
        assert c.pop("batch") == 32
        assert repr(c) == "<Config {'learning_rate': 0.1, 'momentum': 0.9, 'epochs': 3}>"


# ---- split_dataset ---------------------------------------------------------------
def _keras_split_reference(dataset, left_size, right_size, shuffle, seed):
    """Keras' split (which needs tf.data to run) replayed with its own helpers."""
    import random

    from keras.src.utils import dataset_utils as kdu
    arrays = [dataset] if isinstance(dataset, np.ndarray) else list(dataset)
    samples = list(range(len(arrays[0])))
    if shuffle:
        random.seed(seed)
        random.shuffle(samples)
    left, right = kdu._rescale_dataset_split_sizes(left_size, right_size, len(samples))
    return samples[:left], samples[-right:]


@pytest.mark.parametrize("left_size,right_size,shuffle", [
    (0.8, None, False), (None, 3, False), (4, 5, False), (0.25, 0.5, True), (7, None, True)])
def test_split_dataset_matches_keras_rules(keras, rng, left_size, right_size, shuffle):
    x, y = rng.normal(size=(10, 3)), np.arange(10)
    left, right = utils.split_dataset((x, y), left_size, right_size, shuffle=shuffle, seed=3)
    li, ri = _keras_split_reference((x, y), left_size, right_size, shuffle, 3)
    np.testing.assert_array_equal(left[0], x[li])
    np.testing.assert_array_equal(left[1], y[li])
    np.testing.assert_array_equal(right[1], y[ri])
    single_l, single_r = utils.split_dataset(x, left_size, right_size, shuffle=shuffle, seed=3)
    np.testing.assert_array_equal(single_l, x[li])
    np.testing.assert_array_equal(single_r, x[ri])
    lst = utils.split_dataset([x, y], left_size, right_size)
    assert isinstance(lst[0], tuple) and len(lst[0]) == 2


def test_split_dataset_errors_and_fit(keras):
    x = np.arange(10, dtype="float32").reshape(10, 1)
    for bad in [dict(), dict(left_size=0, right_size=0), dict(left_size=10),
                dict(left_size=0.6, right_size=0.6), dict(left_size=6, right_size=6)]:
        with pytest.raises(ValueError):
            utils.split_dataset(x, **bad)
    with pytest.raises(TypeError):
        utils.split_dataset(x, left_size="5")
    with pytest.raises(TypeError):
        utils.split_dataset({"x": x}, left_size=5)
    with pytest.raises(ValueError, match="different lengths"):
        utils.split_dataset((x, x[:5]), left_size=2)
    (xl, yl), _ = utils.split_dataset((x, 2 * x), left_size=0.8)
    model = kerax.Sequential([kerax.Input((1,)), kerax.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(xl, yl, epochs=1, verbose=0)


# ---- interactive logging ---------------------------------------------------------
def test_interactive_logging(capsys, caplog):
    assert utils.is_interactive_logging_enabled()
    utils.io_utils.print_msg("to stdout")
    assert capsys.readouterr().out == "to stdout\n"
    utils.disable_interactive_logging()
    try:
        assert not utils.is_interactive_logging_enabled()
        with caplog.at_level(logging.INFO, logger="kerax"):
            utils.io_utils.print_msg("to the log")
        assert capsys.readouterr().out == ""
        assert "to the log" in caplog.text
    finally:
        utils.enable_interactive_logging()
    assert utils.is_interactive_logging_enabled()


# ---- timeseries_dataset_from_array -------------------------------------------------
def _grain_batches(keras, *args, **kwargs):
    pytest.importorskip("grain", reason="Keras' timeseries reference needs grain or tf")
    ds = keras.utils.timeseries_dataset_from_array(*args, format="grain", **kwargs)
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple) else np.asarray(b)
            for b in ds]


@pytest.mark.parametrize("kwargs", [
    dict(sequence_length=5),
    dict(sequence_length=10, sampling_rate=2, sequence_stride=3, batch_size=7),
    dict(sequence_length=4, batch_size=16, start_index=10, end_index=80),
    dict(sequence_length=3, sequence_stride=5, batch_size=None),
    dict(sequence_length=6, sampling_rate=3, start_index=5, batch_size=9),
])
@pytest.mark.parametrize("with_targets", [True, False])
def test_timeseries_matches_keras(keras, kwargs, with_targets):
    data = np.arange(99 * 2, dtype="float32").reshape(99, 2)
    targets = np.arange(99) * 10 if with_targets else None
    ours = list(utils.timeseries_dataset_from_array(data, targets, **kwargs))
    theirs = _grain_batches(keras, data, targets, **kwargs)
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        if with_targets:
            assert len(a) == 2
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
        else:
            np.testing.assert_array_equal(a, b)


def test_timeseries_closed_form_and_shuffle():
    data = np.arange(99)  # Keras' docstring example: indices 0..98
    ds = utils.timeseries_dataset_from_array(data, None, sequence_length=10, sampling_rate=2,
                                             sequence_stride=3, batch_size=128)
    (batch,) = list(ds)
    assert batch[0].tolist() == list(range(0, 20, 2))
    assert batch[1].tolist() == list(range(3, 23, 2))
    assert batch[-1].tolist() == list(range(78, 98, 2))
    sh = utils.timeseries_dataset_from_array(data, data, sequence_length=4, batch_size=8,
                                             shuffle=True, seed=1)
    xs, ys = zip(*list(sh))
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    np.testing.assert_array_equal(xs[:, 0], ys)  # each window keeps its own target
    assert sorted(ys.tolist()) == list(range(96)) and ys.tolist() != list(range(96))
    again = utils.timeseries_dataset_from_array(data, data, sequence_length=4, batch_size=8,
                                                shuffle=True, seed=1)
    np.testing.assert_array_equal(again[0][1], ys[:8])  # same seed, same first epoch
    with pytest.raises(ValueError, match="sampling_rate"):
        utils.timeseries_dataset_from_array(data, None, 3, sampling_rate=0)
    with pytest.raises(ValueError, match="end_index"):
        utils.timeseries_dataset_from_array(data, None, 3, start_index=10, end_index=5)


def test_timeseries_feeds_fit():
    t = np.linspace(0, 20, 300).astype("float32")
    series = np.sin(t)[:, None]
    ds = utils.timeseries_dataset_from_array(series[:-10], series[10:, 0], sequence_length=10,
                                             batch_size=32)
    assert isinstance(ds, utils.PyDataset)
    model = kerax.Sequential([kerax.Input((10, 1)), kerax.layers.Flatten(),
                              kerax.layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(ds, verbose=0).shape == (281, 1)


# ---- get_file -----------------------------------------------------------------
def _archives(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    tgz = tmp_path / "pack.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(src / "a.txt", arcname="pack/a.txt")
    zp = tmp_path / "pack.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.write(src / "a.txt", arcname="pack/a.txt")
    return src / "a.txt", tgz, zp


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.name.startswith(".download-"))


@pytest.mark.parametrize("case", ["plain", "tar_fname", "zip_no_fname", "untar", "subdir"])
def test_get_file_matches_keras_layout(keras, tmp_path, case):
    plain, tgz, zp = _archives(tmp_path)
    kwargs = {"plain": dict(origin=plain.as_uri()),
              "tar_fname": dict(fname="pack.tar.gz", origin=tgz.as_uri(), extract=True),
              "zip_no_fname": dict(origin=zp.as_uri(), extract=True),
              "untar": dict(fname="pack", origin=tgz.as_uri(), untar=True),
              "subdir": dict(fname="x.txt", origin=plain.as_uri(), cache_subdir="models",
                             file_hash=hashlib.sha256(b"alpha").hexdigest())}[case]
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()  # Keras falls back to /tmp/.keras for a cache_dir that is missing
    ours = utils.get_file(cache_dir=str(ours_dir), **kwargs)
    theirs = keras.utils.get_file(cache_dir=str(theirs_dir), **kwargs)
    assert os.path.relpath(ours, ours_dir) == os.path.relpath(theirs, theirs_dir)
    assert _tree(ours_dir) == _tree(theirs_dir)
    # cached: a second call does not download again
    plain.write_text("changed")
    tgz.unlink()
    zp.unlink()
    assert utils.get_file(cache_dir=str(ours_dir), **kwargs) == ours


def test_get_file_hash_checks(tmp_path, capsys):
    plain, _, _ = _archives(tmp_path)
    md5 = hashlib.md5(b"alpha").hexdigest()
    cache = str(tmp_path / "cache")
    path = utils.get_file("a.txt", plain.as_uri(), md5_hash=md5, cache_dir=cache)
    assert open(path).read() == "alpha"
    with pytest.raises(ValueError, match="corrupted"):
        utils.get_file("b.txt", plain.as_uri(), file_hash="0" * 64, cache_dir=cache)
    assert not os.path.exists(os.path.join(cache, "datasets", "b.txt"))
    # a stale cached copy is re-downloaded
    plain.write_text("beta")
    path = utils.get_file("a.txt", plain.as_uri(), file_hash=hashlib.sha256(b"beta").hexdigest(),
                          cache_dir=cache)
    assert open(path).read() == "beta"
    assert "re-download" in capsys.readouterr().out


def test_get_file_unreachable_and_bad_args(tmp_path):
    with pytest.raises(Exception, match="URL fetch failure.*network"):
        utils.get_file("x", "http://127.0.0.1:9/x", cache_dir=str(tmp_path))
    assert _tree(tmp_path / "datasets") == []
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("x")
    with pytest.raises(ValueError, match="not a path"):
        utils.get_file("a/b", "file:///x", cache_dir=str(tmp_path))


def test_get_file_extraction_is_safe(tmp_path):
    evil = tmp_path / "evil.tar"
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    with tarfile.open(evil, "w") as t:
        t.add(payload, arcname="../escaped.txt")
        t.add(payload, arcname="ok.txt")
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(link)
    with pytest.warns(UserWarning, match="unsafe"):
        out = utils.get_file("evil.tar", evil.as_uri(), extract=True,
                             cache_dir=str(tmp_path / "c"))
    assert sorted(os.listdir(out)) == ["ok.txt"]
    assert not (tmp_path / "c" / "datasets" / "escaped.txt").exists()


# ---- image helpers (Pillow optional) ----------------------------------------------------
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_image_helpers_match_keras(keras, tmp_path, rng, data_format, channels):
    pytest.importorskip("PIL")
    x = rng.uniform(-1, 3, size=(6, 8, channels)).astype("float32")
    if data_format == "channels_first":
        x = x.transpose(2, 0, 1)
    ours = utils.array_to_img(x, data_format=data_format)
    theirs = keras.utils.array_to_img(x, data_format=data_format)
    assert ours.mode == theirs.mode
    a = utils.img_to_array(ours, data_format=data_format)
    np.testing.assert_array_equal(a, keras.utils.img_to_array(theirs, data_format=data_format))
    path = tmp_path / "im.png"
    utils.save_img(path, x, data_format=data_format)
    for kwargs in [{}, {"color_mode": "grayscale"}, {"color_mode": "rgba"},
                   {"target_size": (3, 5), "interpolation": "bilinear"},
                   {"target_size": (4, 4), "keep_aspect_ratio": True}]:
        np.testing.assert_array_equal(
            utils.img_to_array(utils.load_img(path, **kwargs)),
            keras.utils.img_to_array(keras.utils.load_img(path, **kwargs)))


def test_image_helpers_without_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        utils.load_img("x.png")
    with pytest.raises(ImportError, match="pip install pillow"):
        utils.array_to_img(np.zeros((2, 2, 3)))
    assert utils.img_to_array(np.zeros((2, 2))).shape == (2, 2, 1)  # needs no Pillow
