"""kerax.utils.{image,text,audio}_dataset_from_directory. Keras 3's loaders need
TensorFlow (not installed), so file order, labels and splits are compared with
Keras' own TF-free `keras.src.utils.dataset_utils.index_directory` /
`get_training_or_validation_split`, and pixels with Pillow's resize."""
import os
import wave

import numpy as np
import pytest

import kerax
from kerax.utils import (PyDataset, audio_dataset_from_directory,
                         image_dataset_from_directory, text_dataset_from_directory)

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _keras_dataset_utils():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        from keras.src.utils import dataset_utils
    except Exception as e:  # pragma: no cover
        pytest.skip(f"keras not importable: {e}")
    return dataset_utils


def _make_images(root, counts=(("cat", 5), ("dog", 4), ("zebra", 3))):
    rng = np.random.RandomState(0)
    for c, n in counts:
        os.makedirs(root / c / "sub", exist_ok=True)
        for i in range(n):
            h, w = 5 + i * 3, 7 + i * 2
            arr = rng.randint(0, 256, (h, w, 3)).astype("uint8")
            where = root / c / ("sub" if i == 0 else "") / f"IMG_{i}.{'PNG' if i == 1 else 'png'}"
            Image.fromarray(arr).save(where)
    (root / counts[0][0] / "notes.md").write_text("ignored")
    os.makedirs(root / ".hidden", exist_ok=True)
    Image.fromarray(np.zeros((4, 4, 3), "uint8")).save(root / ".hidden" / "x.png")
    return root


@pytest.mark.parametrize("shuffle", [False, True])
def test_image_order_labels_split_match_keras(tmp_path, shuffle):
    root = _make_images(tmp_path)
    du = _keras_dataset_utils()
    ref_paths, ref_labels, ref_names = du.index_directory(
        str(root), "inferred", formats=(".bmp", ".gif", ".jpeg", ".jpg", ".png"),
        shuffle=shuffle, seed=7, verbose=False)
    for subset in ("training", "validation"):
        ds = image_dataset_from_directory(str(root), image_size=(8, 8), batch_size=4,
                                          shuffle=shuffle, seed=7, validation_split=0.25,
                                          subset=subset, verbose=False)
        p, lab = du.get_training_or_validation_split(ref_paths, ref_labels, 0.25, subset)
        assert isinstance(ds, PyDataset)
        assert ds.class_names == ref_names == ["cat", "dog", "zebra"]
        assert ds.file_paths == list(p)
        ys = np.concatenate([b[1] for b in ds])
        np.testing.assert_array_equal(ys, lab)
        assert ys.dtype == np.int32
    tr, va = image_dataset_from_directory(str(root), image_size=(8, 8), shuffle=shuffle,
                                          seed=7, validation_split=0.25, subset="both",
                                          verbose=False)
    assert len(tr.file_paths) == 12 - int(0.25 * 12) and len(va.file_paths) == 3
    assert set(tr.file_paths).isdisjoint(va.file_paths)


@pytest.mark.parametrize("interpolation,flt", [("bilinear", "BILINEAR"),
                                               ("nearest", "NEAREST"),
                                               ("bicubic", "BICUBIC"), ("area", "BOX")])
def test_image_pixels_vs_pillow(tmp_path, interpolation, flt):
    root = _make_images(tmp_path)
    ds = image_dataset_from_directory(str(root), image_size=(6, 9), batch_size=5,
                                      shuffle=False, interpolation=interpolation,
                                      verbose=False)
    x, y = ds[0]
    assert x.shape == (5, 6, 9, 3) and x.dtype == np.float32
    for i, path in enumerate(ds.file_paths[:5]):
        img = Image.open(path).convert("RGB")
        if img.size != (9, 6):
            img = img.resize((9, 6), resample=getattr(Image.Resampling, flt))
        np.testing.assert_array_equal(x[i], np.asarray(img, "float32"))


def test_image_modes_and_label_modes(tmp_path):
    root = _make_images(tmp_path, (("a", 3), ("b", 2)))
    g = image_dataset_from_directory(str(root), color_mode="grayscale", image_size=4,
                                     label_mode="binary", shuffle=False, verbose=False)
    x, y = g[0]
    assert x.shape == (5, 4, 4, 1) and y.shape == (5, 1) and y.dtype == np.float32
    np.testing.assert_array_equal(y[:, 0], [0, 0, 0, 1, 1])
    c = image_dataset_from_directory(str(root), color_mode="rgba", image_size=(3, 5),
                                     label_mode="categorical", shuffle=False,
                                     class_names=["b", "a"], verbose=False)
    x, y = c[0]
    assert x.shape == (5, 3, 5, 4)
    np.testing.assert_array_equal(y, np.eye(2, dtype="float32")[[0, 0, 1, 1, 1]])
    assert c.class_names == ["b", "a"]
    n = image_dataset_from_directory(str(root), labels=None, image_size=4, shuffle=False,
                                     batch_size=2, verbose=False)
    assert n.class_names is None and isinstance(n[0], np.ndarray) and len(n) == 3
    import shutil
    shutil.rmtree(root / ".hidden")  # explicit labels index every file, hidden dirs too
    m = image_dataset_from_directory(str(root), labels=[1, 0, 1, 0, 1], image_size=4,
                                     shuffle=False, verbose=False)
    np.testing.assert_array_equal(m[0][1], [1, 0, 1, 0, 1])
    assert m.class_names == ["0", "1"]


def test_image_crop_and_pad(tmp_path):
    os.makedirs(tmp_path / "a")
    arr = np.arange(10 * 20 * 3, dtype="uint8").reshape(10, 20, 3)
    Image.fromarray(arr).save(tmp_path / "a" / "x.png")
    crop = image_dataset_from_directory(str(tmp_path), image_size=(10, 10),
                                        crop_to_aspect_ratio=True, verbose=False)[0][0][0]
    np.testing.assert_array_equal(crop, arr[:, 5:15].astype("float32"))
    pad = image_dataset_from_directory(str(tmp_path), image_size=(20, 20),
                                       pad_to_aspect_ratio=True, verbose=False)[0][0][0]
    np.testing.assert_array_equal(pad[5:15], arr.astype("float32"))
    assert not pad[:5].any() and not pad[15:].any()
    with pytest.raises(ValueError, match="Only one of"):
        image_dataset_from_directory(str(tmp_path), crop_to_aspect_ratio=True,
                                     pad_to_aspect_ratio=True)


def test_argument_errors(tmp_path):
    root = _make_images(tmp_path)
    with pytest.raises(ValueError, match="seed"):
        image_dataset_from_directory(str(root), validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="exactly 2"):
        image_dataset_from_directory(str(root), label_mode="binary", verbose=False)
    with pytest.raises(ValueError, match="color_mode"):
        image_dataset_from_directory(str(root), color_mode="cmyk")
    with pytest.raises(ValueError, match="class_names"):
        image_dataset_from_directory(str(root), class_names=["nope"], verbose=False)


def test_missing_pillow_message(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no PIL")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match="pip install pillow"):
        image_dataset_from_directory(str(tmp_path))


def _tiny_model(input_shape, n_out, act=None):
    inp = kerax.Input(input_shape)
    x = kerax.layers.Flatten()(inp)
    out = kerax.layers.Dense(n_out, activation=act)(x)
    m = kerax.Model(inp, out)
    return m


def test_image_fit(tmp_path):
    root = _make_images(tmp_path)
    tr, va = image_dataset_from_directory(str(root), image_size=(8, 8), batch_size=4,
                                          seed=1, validation_split=0.25, subset="both",
                                          label_mode="categorical", verbose=False)
    m = _tiny_model((8, 8, 3), 3, "softmax")
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    h = m.fit(tr, validation_data=va, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2 and "val_loss" in h.history


# ---------------------------------------------------------------- text

def _make_texts(root):
    texts = {"neg": ["bad movie", "awful plot here", "héllo wörld ünïcode"],
             "pos": ["great film", "loved it"]}
    for c, items in texts.items():
        os.makedirs(root / c)
        for i, t in enumerate(items):
            (root / c / f"{i}.txt").write_text(t, encoding="utf-8")
        (root / c / "skip.csv").write_text("x")
    return root


def test_text_dataset(tmp_path):
    root = _make_texts(tmp_path)
    du = _keras_dataset_utils()
    ref_paths, ref_labels, ref_names = du.index_directory(
        str(root), "inferred", formats=(".txt",), shuffle=True, seed=3, verbose=False)
    ds = text_dataset_from_directory(str(root), batch_size=2, seed=3, max_length=5,
                                     verbose=False)
    assert ds.file_paths == ref_paths and ds.class_names == ref_names
    xs = np.concatenate([b[0] for b in ds])
    ys = np.concatenate([b[1] for b in ds])
    np.testing.assert_array_equal(ys, ref_labels)
    # format="tf" (the default): tf.string contents, i.e. bytes cut to 5 bytes
    # ("héllo..." is cut inside the "é"-free prefix by bytes, not characters).
    expected = [open(p, "rb").read()[:5] for p in ref_paths]
    assert list(xs) == expected and all(type(t) is bytes for t in xs)
    tr, va = text_dataset_from_directory(str(root), seed=3, validation_split=0.4,
                                         subset="both", verbose=False)
    assert tr.file_paths == ref_paths[:3] and va.file_paths == ref_paths[3:]
    b = text_dataset_from_directory(str(root), label_mode="binary", shuffle=False,
                                    verbose=False)[0][1]
    np.testing.assert_array_equal(b[:, 0], [0, 0, 0, 1, 1])


def test_text_dataset_grain_format_matches_keras(tmp_path):
    """format="grain": str read as UTF-8, cut in characters, as Keras' grain path."""
    pytest.importorskip("grain")
    import keras
    root = _make_texts(tmp_path)
    ours = text_dataset_from_directory(str(root), batch_size=8, shuffle=False, max_length=7,
                                       format="grain", verbose=False)
    ref = keras.utils.text_dataset_from_directory(str(root), batch_size=8, shuffle=False,
                                                  max_length=7, format="grain", verbose=False)
    ref_x, ref_y = [], []
    for bx, by in ref:
        ref_x.extend(bx)
        ref_y.extend(np.asarray(by).tolist())
    x, y = ours[0]
    assert list(x) == list(ref_x) and all(type(t) is str for t in x)
    np.testing.assert_array_equal(y, ref_y)
    assert "héllo w" in list(x)  # 7 characters, not 7 bytes


def test_text_fit(tmp_path):
    root = _make_texts(tmp_path)
    ds = text_dataset_from_directory(str(root), batch_size=2, seed=0,
                                     label_mode="binary", verbose=False)

    class Vectorized(PyDataset):  # kerax has no string layers: featurize in NumPy
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            x, y = ds[i]
            feats = np.array([[len(t), t.count(b" "), sum(t) % 97] for t in x],
                             "float32")
            return feats, y

    m = _tiny_model((3,), 1, "sigmoid")
    m.compile(optimizer="adam", loss="binary_crossentropy")
    assert len(m.fit(Vectorized(), epochs=2, verbose=0).history["loss"]) == 2


# ---------------------------------------------------------------- audio

def _write_wav(path, samples, rate=8000):
    samples = np.asarray(samples, "int16")
    if samples.ndim == 1:
        samples = samples[:, None]
    with wave.open(str(path), "wb") as f:
        f.setnchannels(samples.shape[1])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(samples.astype("<i2").tobytes())


def _make_audio(root):
    rng = np.random.RandomState(0)
    for c, lengths in (("no", (30, 50)), ("yes", (40, 20, 60))):
        os.makedirs(root / c)
        for i, n in enumerate(lengths):
            _write_wav(root / c / f"{i}.wav", rng.randint(-32768, 32767, n))
    return root


def test_audio_dataset(tmp_path):
    root = _make_audio(tmp_path)
    du = _keras_dataset_utils()
    ref_paths, ref_labels, _ = du.index_directory(
        str(root), "inferred", formats=(".wav",), shuffle=False, verbose=False)
    ds = audio_dataset_from_directory(str(root), batch_size=2, shuffle=False,
                                      verbose=False)
    assert ds.file_paths == ref_paths and ds.class_names == ["no", "yes"]
    x, y = ds[0]
    assert x.shape == (2, 50, 1) and x.dtype == np.float32  # padded to longest
    with wave.open(ref_paths[0]) as f:
        raw = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    np.testing.assert_array_equal(x[0, :30, 0], raw / 32768.0)
    assert not x[0, 30:].any()
    np.testing.assert_array_equal(np.concatenate([b[1] for b in ds]), ref_labels)
    fixed = audio_dataset_from_directory(str(root), output_sequence_length=35,
                                         shuffle=False, verbose=False)[0][0]
    assert fixed.shape == (5, 35, 1)
    np.testing.assert_array_equal(fixed[0, :30, 0], raw / 32768.0)
    rs = audio_dataset_from_directory(str(root), output_sequence_length=40,
                                      sampling_rate=4000, shuffle=False,
                                      verbose=False)[0][0]
    assert rs.shape == (5, 20, 1)
    with pytest.raises(ValueError, match="ragged"):
        audio_dataset_from_directory(str(root), ragged=True, output_sequence_length=4)


def test_audio_fit(tmp_path):
    root = _make_audio(tmp_path)
    tr, va = audio_dataset_from_directory(str(root), batch_size=2, seed=4,
                                          output_sequence_length=32,
                                          validation_split=0.4, subset="both",
                                          verbose=False)
    assert len(tr.file_paths) == 3 and len(va.file_paths) == 2
    m = _tiny_model((32, 1), 2, "softmax")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    h = m.fit(tr, validation_data=va, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
