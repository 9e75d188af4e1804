"""kerax.datasets' Keras loaders: small files written in each dataset's cached
format into a temporary Keras cache, loaded by kerax and by Keras 3 itself
(whose `get_file` is pointed at the same cache, with the small files' hashes
in place of the published ones), and compared. Nothing is downloaded."""
import gzip
import hashlib
import importlib
import io
import json
import os
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

import kerax
from kerax.datasets import _common

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _ragged(rng, n, vocab=30, lengths=(2, 9)):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(v) for v in rng.integers(1, vocab, rng.integers(*lengths))]
    return out


def _pickle_batch(path, data, labels, label_keys=("labels",)):
    d = {b"data": data, b"batch_label": b"x", b"filenames": [b"f"] * len(data)}
    for k in label_keys:
        d[k.encode()] = labels if k != "coarse_labels" else [v % 20 for v in labels]
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=4)


def _tar(path, root, names):
    with tarfile.open(path, "w:gz") as t:
        for name in names:
            t.add(os.path.join(root, name), arcname=name)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A Keras cache folder with every dataset's files, small; and the map of
    Keras' published hashes to these files' hashes."""
    home = tmp_path_factory.mktemp("keras_home")
    d = home / "datasets"
    os.makedirs(d / "fashion-mnist")
    rng = np.random.default_rng(0)
    u8 = lambda *s: rng.integers(0, 256, s).astype(np.uint8)  # noqa: E731
    np.savez(d / "mnist.npz", x_train=u8(6, 28, 28), y_train=u8(6) % 10,
             x_test=u8(3, 28, 28), y_test=u8(3) % 10)
    for name, n in (("train", 5), ("t10k", 2)):
        labels, images = u8(n) % 10, u8(n, 28, 28)
        with gzip.open(d / "fashion-mnist" / f"{name}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0\0\x08\x01" + n.to_bytes(4, "big") + labels.tobytes())
        with gzip.open(d / "fashion-mnist" / f"{name}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0\0\x08\x03" + n.to_bytes(4, "big") + b"\0\0\0\x1c" * 2
                    + images.tobytes())
    src = home / "src"
    os.makedirs(src / "cifar-100-python")
    os.makedirs(src / "cifar-10-batches-py")
    for part, n in (("train", 7), ("test", 3)):
        _pickle_batch(src / "cifar-100-python" / part, u8(n, 3072),
                      [int(v) for v in rng.integers(0, 100, n)], ("fine_labels", "coarse_labels"))
    _tar(d / "cifar-100-python-target_archive", src, ["cifar-100-python"])
    for i in range(1, 6):
        _pickle_batch(src / "cifar-10-batches-py" / f"data_batch_{i}", u8(2, 3072),
                      [int(v) for v in rng.integers(0, 10, 2)])
    _pickle_batch(src / "cifar-10-batches-py" / "test_batch", u8(3, 3072), [1, 2, 3])
    _tar(d / "cifar-10-batches-py-target_archive", src, ["cifar-10-batches-py"])
    np.savez(d / "imdb.npz", x_train=_ragged(rng, 12), y_train=rng.integers(0, 2, 12),
             x_test=_ragged(rng, 8), y_test=rng.integers(0, 2, 8))
    np.savez(d / "reuters.npz", x=_ragged(rng, 20), y=rng.integers(0, 46, 20))
    for name in ("imdb", "reuters"):
        (d / f"{name}_word_index.json").write_text(json.dumps({"the": 1, "a": 2, "é": 3}))
    np.savez(d / "boston_housing.npz", x=rng.normal(size=(11, 13)), y=rng.normal(size=11))
    np.savez(d / "california_housing.npz", x=rng.normal(size=(700, 8)).astype("float32"),
             y=rng.normal(size=700).astype("float32"))
    published = {  # Keras 3.15's hashes -> these files'
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1": "mnist.npz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce":
            "cifar-10-batches-py-target_archive",
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7":
            "cifar-100-python-target_archive",
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f": "imdb.npz",
        "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916": "reuters.npz",
        "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5":
            "boston_housing.npz",
        "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f":
            "california_housing.npz",
        "bfafd718b763782e994055a2d397834f": "imdb_word_index.json",
        "4d44cc38712099c9e383dc6e5f11a921": "reuters_word_index.json",
    }
    hashes = {k: (_sha256 if len(k) == 64 else _md5)(d / v) for k, v in published.items()}
    return home, hashes


def _offline(monkeypatch):
    def refuse(url, *a, **k):
        raise urllib.error.URLError("offline test")
    monkeypatch.setattr("urllib.request.urlretrieve", refuse)
    monkeypatch.setattr("kerax.utils.file_utils.urllib.request.urlretrieve", refuse)


def _swap_hash(real, hashes, **fixed):
    def get_file(*args, file_hash=None, **kwargs):
        assert file_hash is None or file_hash in hashes, f"unknown hash {file_hash}"
        return real(*args, file_hash=hashes.get(file_hash), **kwargs, **fixed)
    return get_file


@pytest.fixture
def loaders(cache, keras, monkeypatch):
    """(kerax module, Keras module) pairs reading the small cache, offline."""
    home, hashes = cache
    _offline(monkeypatch)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(_common, "get_file", _swap_hash(_common.get_file, hashes))

    def pair(name):
        mod = importlib.import_module(f"keras.src.datasets.{name}")
        monkeypatch.setattr(mod, "get_file", _swap_hash(mod.get_file, hashes,
                                                        cache_dir=str(home)))
        return getattr(kerax.datasets, name), getattr(keras.datasets, name)
    return pair


def _same(a, b):
    if isinstance(a, (tuple, list)) and not isinstance(a, np.ndarray):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    if a.dtype == object:
        assert [list(v) for v in a.reshape(-1)] == [list(v) for v in b.reshape(-1)]
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,kwargs", [
    ("mnist", {}), ("fashion_mnist", {}), ("cifar100", {}), ("cifar100", {"label_mode": "coarse"}),
    ("boston_housing", {}), ("boston_housing", {"test_split": 0.5, "seed": 3}),
    ("california_housing", {}), ("california_housing", {"version": "small", "test_split": 0.1}),
    ("imdb", {}), ("imdb", {"num_words": 12, "skip_top": 5, "maxlen": 8, "seed": 1}),
    ("imdb", {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 20}),
    ("reuters", {}), ("reuters", {"num_words": 15, "maxlen": 9, "test_split": 0.3}),
    ("reuters", {"start_char": None, "index_from": 0, "oov_char": None, "skip_top": 4}),
])
def test_load_data_matches_keras(loaders, name, kwargs):
    ours, theirs = loaders(name)
    _same(ours.load_data(**kwargs), theirs.load_data(**kwargs))


def test_word_index_and_labels_match_keras(loaders):
    for name in ("imdb", "reuters"):
        ours, theirs = loaders(name)
        assert ours.get_word_index() == theirs.get_word_index() == {"the": 1, "a": 2, "é": 3}
    ours, theirs = loaders("reuters")
    assert ours.get_label_names() == theirs.get_label_names()


def test_cifar10_reads_the_python_batches(cache, loaders):
    """Keras' cifar10 needs batches of exactly 10,000 images, so the small
    file is checked against the arrays written into it (the layout and
    reading are those of cifar100, compared with Keras above)."""
    home, _ = cache
    (x_train, y_train), (x_test, y_test) = kerax.datasets.cifar10.load_data()
    root = home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    batches = [pickle.load(open(root / f"data_batch_{i}", "rb"), encoding="bytes")
               for i in range(1, 6)]
    expect = np.concatenate([b[b"data"] for b in batches]).reshape(10, 3, 32, 32)
    np.testing.assert_array_equal(x_train, expect.transpose(0, 2, 3, 1))
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_test.ravel().tolist() == [1, 2, 3]
    assert x_test.shape == (3, 32, 32, 3)


def test_offline_without_the_file_says_where_to_put_it(tmp_path, monkeypatch):
    _offline(monkeypatch)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(OSError, match="mnist.npz") as e:
        kerax.datasets.mnist.load_data()
    assert os.path.join(str(tmp_path), "datasets", "mnist.npz") in str(e.value)
    assert "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1" in str(e.value)
    with pytest.raises(OSError, match="cifar-10-batches-py-target_archive"):
        kerax.datasets.cifar10.load_data()
    # a cached file whose hash does not match is not used silently either
    (tmp_path / "datasets" / "boston_housing.npz").write_bytes(b"not the data")
    with pytest.raises(OSError, match="its sha256 must be f553886a"):
        kerax.datasets.boston_housing.load_data()


def test_bad_arguments():
    with pytest.raises(ValueError, match="label_mode"):
        kerax.datasets.cifar100.load_data(label_mode="medium")
    with pytest.raises(ValueError, match="test_split"):
        kerax.datasets.boston_housing.load_data(test_split=1.0)
    with pytest.raises(TypeError, match="nb_words"):
        kerax.datasets.imdb.load_data(nb_words=3)


def test_hostile_npz_is_refused(tmp_path):
    """Ragged sequences are pickled object arrays: only NumPy's array globals
    may be unpickled, so a file carrying another object runs nothing."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    x = np.empty(2, dtype=object)
    x[0], x[1] = [1, 2], Evil()
    buf = io.BytesIO()
    np.savez(buf, x=x, y=np.zeros(2))
    path = tmp_path / "reuters.npz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="system"):
        _common.load_npz(path)
    good = tmp_path / "good.npz"
    np.savez(good, x=_ragged(np.random.default_rng(1), 3), y=np.arange(3))
    assert _common.load_npz(good)["y"].tolist() == [0, 1, 2]
