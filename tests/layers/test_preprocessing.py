"""Image preprocessing / augmentation and categorical layers against Keras 3
(deterministic settings), closed forms and sample statistics."""
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import compare_layer, plain

CF = {"data_format": "channels_first"}
TRAIN = {"training": True}

# Random layers with lower == upper factors draw a fixed transform, so their
# training-mode outputs are comparable with Keras'.
CASES = [
    ("Resizing", dict(height=4, width=5), (2, 8, 7, 3), None),
    ("Resizing", dict(height=4, width=6, crop_to_aspect_ratio=True, **CF), (2, 3, 8, 7), None),
    ("Resizing", dict(height=4, width=6, pad_to_aspect_ratio=True, fill_value=1.0),
     (2, 8, 7, 3), None),
    ("Resizing", dict(height=5, width=3, interpolation="nearest"), (2, 8, 7, 3), None),
    ("CenterCrop", dict(height=4, width=5), (2, 8, 7, 3), None),
    ("CenterCrop", dict(height=10, width=5, **CF), (2, 3, 8, 7), None),
    ("RandomFlip", dict(mode="horizontal"), (2, 4, 5, 3), {"training": False}),
    ("RandomRotation", dict(factor=(0.1, 0.1)), (2, 8, 7, 3), TRAIN),
    ("RandomRotation", dict(factor=(-0.3, -0.3), fill_mode="constant",
                            interpolation="nearest", **CF), (2, 3, 8, 7), TRAIN),
    ("RandomZoom", dict(height_factor=(-0.3, -0.3), width_factor=(0.2, 0.2),
                        fill_mode="nearest", **CF), (2, 3, 8, 7), TRAIN),
    ("RandomTranslation", dict(height_factor=(0.25, 0.25), width_factor=(-0.3, -0.3),
                               fill_mode="constant", fill_value=2.0), (2, 8, 7, 3), TRAIN),
    ("RandomContrast", dict(factor=(-0.5, 0.5), value_range=(0, 1), **CF), (2, 3, 8, 7),
     TRAIN),
]


@pytest.mark.parametrize("name,kwargs,shape,call", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_keras(keras, rng, name, kwargs, shape, call):
    compare_layer(keras, name, kwargs, shape, rng, call_kwargs=call, low=0.0, high=1.0)


def test_unbatched_image(keras, rng):
    x = rng.uniform(size=(6, 5, 2)).astype("float32")
    for name, kw in [("RandomZoom", dict(height_factor=(0.3, 0.3), fill_mode="wrap")),
                     ("Resizing", dict(height=3, width=4))]:
        np.testing.assert_allclose(np.asarray(getattr(L, name)(**kw)(x)),
                                   np.asarray(getattr(keras.layers, name)(**kw)(x)),
                                   atol=1e-5)


RANDOM = [("RandomFlip", {}), ("RandomRotation", {"factor": 0.2}),
          ("RandomZoom", {"height_factor": 0.3}),
          ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.2}),
          ("RandomContrast", {"factor": 0.5, "value_range": (0, 1)})]


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_random_layers_identity_in_inference_and_seeded(keras, rng, name, kwargs):
    x = rng.uniform(size=(8, 6, 6, 2)).astype("float32")
    a = getattr(L, name)(seed=3, **kwargs)
    b = getattr(L, name)(seed=3, **kwargs)
    np.testing.assert_array_equal(np.asarray(a(x, training=False)), x)
    out_a1, out_b1 = np.asarray(a(x, training=True)), np.asarray(b(x, training=True))
    np.testing.assert_array_equal(out_a1, out_b1)        # same seed, same draws
    assert not np.allclose(out_a1, x)                    # augments in training
    assert not np.allclose(np.asarray(a(x, training=True)), out_a1)  # state advances
    assert plain(a.get_config()) == plain({**getattr(keras.layers, name)(
        seed=3, **kwargs).get_config(), "name": a.name})

    # Compiled: the seed generator's state is threaded through kerax.function.
    step = kerax.function(lambda v: a(v, training=True))
    assert not np.allclose(np.asarray(step(x)), np.asarray(step(x)))
    if name not in ("RandomFlip", "RandomRotation"):
        return
    # In a model, predict (inference) leaves the images unchanged.
    model = kerax.Sequential([kerax.Input((6, 6, 2)), getattr(L, name)(seed=1, **kwargs)])
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)


def test_random_flip_and_contrast_statistics(rng):
    x = np.tile(np.arange(2, dtype="float32")[None, None, :, None], (400, 1, 1, 1))
    out = np.asarray(L.RandomFlip("horizontal", seed=0)(x))
    flipped = out[:, 0, 0, 0] == 1
    assert np.all(out[flipped, 0, :, 0] == [1, 0]) and np.all(out[~flipped, 0, :, 0] == [0, 1])
    assert 0.4 < flipped.mean() < 0.6

    img = rng.uniform(0.3, 0.7, size=(400, 4, 4, 1)).astype("float32")
    out = np.asarray(L.RandomContrast((0.5, 0.5), value_range=(0, 1), seed=0)(img))
    mean = img.mean(axis=(1, 2), keepdims=True)
    c = ((out - mean) / (img - mean))[:, 0, 0, 0]
    assert c.min() >= 0.5 - 1e-4 and c.max() <= 1.5 + 1e-4
    assert abs(c.mean() - 1.0) < 0.05 and c.std() > 0.2   # uniform(0.5, 1.5)


def test_random_rotation_statistics():
    # Rotations about the centre keep a centred dot in place and move a dot on
    # the edge to many places.
    x = np.zeros((60, 9, 9, 1), "float32")
    x[:30, 4, 4] = 1.0
    x[30:, 4, 8] = 1.0
    out = np.asarray(L.RandomRotation(0.5, seed=0, interpolation="nearest",
                                      fill_mode="constant")(x))
    np.testing.assert_array_equal(out[:30, 4, 4], 1.0)
    positions = {tuple(np.argwhere(o[..., 0] > 0.5)[0]) for o in out[30:] if o.max() > 0.5}
    assert len(positions) > 5


def test_bad_image_input():
    with pytest.raises(ValueError, match=r"RandomFlip.*rank 4.*\(4, 5\)"):
        L.RandomFlip()(np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="fill_mode"):
        L.RandomRotation(0.1, fill_mode="mirror-ish")
    with pytest.raises(ValueError, match="mode"):
        L.RandomFlip(mode="diagonal")
    with pytest.raises(ValueError, match="factor"):
        L.RandomContrast(1.5)
    with pytest.raises(ValueError, match="height"):
        L.Resizing(0, 3)


# ---- categorical ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_against_keras(keras, mode):
    x = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]], "float32")
    k = keras.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    m = L.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    for xi in (x, x[0]):
        expected, got = np.asarray(k(xi)), np.asarray(m(xi))
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    assert plain(m.get_config()) == plain({**k.get_config(), "name": m.name})
    assert L.Discretization.from_config(m.get_config()).get_config() == m.get_config()


def test_discretization_adapt_against_keras(keras, rng):
    data = rng.normal(size=(200,)).astype("float32")
    for num_bins, eps in [(4, 0.01), (3, 0.3)]:
        k = keras.layers.Discretization(num_bins=num_bins, epsilon=eps)
        k.update_state(data)   # Keras' adapt() itself needs TensorFlow
        k.finalize_state()
        m = L.Discretization(num_bins=num_bins, epsilon=eps)
        m.adapt(data)
        np.testing.assert_allclose(m.bin_boundaries, k.bin_boundaries, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(m(data)), np.asarray(k(data)))


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_against_keras(keras, mode):
    k = keras.layers.CategoryEncoding(num_tokens=4, output_mode=mode)
    m = L.CategoryEncoding(num_tokens=4, output_mode=mode)
    for x in (np.array([1, 3, 0]), np.array([[1], [3]]), np.array([[1, 2, 2], [3, 0, 0]]),
              np.array(2), np.array([[-1, 1, 7]])):
        expected, got = np.asarray(k(x)), np.asarray(m(x))
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    if mode == "count":
        w = np.array([[0.5, 1, 2], [1, 1, 3]], "float32")
        x = np.array([[1, 2, 2], [3, 0, 0]])
        np.testing.assert_allclose(np.asarray(m(x, count_weights=w)),
                                   np.asarray(k(x, count_weights=w)))
    assert plain(m.get_config()) == plain({**k.get_config(), "name": m.name})


def test_hashed_crossing_matches_tensorflow_hash():
    # Values from Keras' own tests (computed by tf.sparse.cross_hashed).
    layer = L.HashedCrossing(num_bins=5)
    out = layer((np.array(["A", "B", "A", "B", "A"]),
                   np.array([101, 101, 101, 102, 102])))
    np.testing.assert_array_equal(np.asarray(out), [1, 4, 1, 1, 3])


def test_hashed_crossing_shapes_and_errors():
    layer = L.HashedCrossing(num_bins=7, output_mode="one_hot")
    out = np.asarray(layer((np.array([[1], [2]]), np.array([[4], [5]]))))
    assert out.shape == (2, 7) and np.all(out.sum(-1) == 1)
    ids = np.asarray(L.HashedCrossing(num_bins=7)((np.array([1, 2, 1]), np.array([4, 5, 4]))))
    assert ids.shape == (3,) and ids[0] == ids[2] and np.all((ids >= 0) & (ids < 7))
    assert L.HashedCrossing(num_bins=7).get_config()["dtype"] == "int32"
    with pytest.raises(ValueError, match="at least two"):
        L.HashedCrossing(num_bins=3)([np.array([1])])
    with pytest.raises(ValueError, match="integers or strings"):
        L.HashedCrossing(num_bins=3)((np.array([1.0]), np.array([1.0])))


def test_integer_lookup_documented_examples():
    # The examples of Keras' IntegerLookup documentation.
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    np.testing.assert_array_equal(np.asarray(L.IntegerLookup(vocabulary=vocab)(data)),
                                  [[1, 3, 4], [4, 0, 2]])
    two_oov = L.IntegerLookup(vocabulary=vocab, num_oov_indices=2)
    np.testing.assert_array_equal(np.asarray(two_oov(np.array([[12, 1138, 42],
                                                                [37, 1000, 36]]))),
                                  [[2, 4, 5], [1, 0, 3]])
    multi = L.IntegerLookup(vocabulary=vocab, output_mode="multi_hot")
    np.testing.assert_array_equal(np.asarray(multi(np.array([[12, 1138, 42, 42],
                                                              [42, 7, 36, 7]]))),
                                  [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    tfidf = L.IntegerLookup(output_mode="tf_idf", vocabulary=vocab,
                            idf_weights=[0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(np.asarray(tfidf(np.array([[12, 1138, 42, 42],
                                                           [42, 7, 36, 7]]))),
                               [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], rtol=1e-6)
    inverse = L.IntegerLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(np.asarray(inverse(np.array([[1, 3, 4], [4, 0, 2]]))),
                                  [[12, 1138, 42], [42, -1, 36]])
    adapted = L.IntegerLookup()
    adapted.adapt(data)
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    masked = L.IntegerLookup(vocabulary=vocab, mask_token=0)
    np.testing.assert_array_equal(np.asarray(masked(np.array([0, 12, 5]))), [0, 2, 1])
    config = masked.get_config()
    assert L.IntegerLookup.from_config(config).get_vocabulary() == masked.get_vocabulary()
    # The lookup runs inside compiled programs.
    step = kerax.function(lambda v: L.IntegerLookup(vocabulary=vocab)(v))
    np.testing.assert_array_equal(np.asarray(step(data)), [[1, 3, 4], [4, 0, 2]])
    with pytest.raises(ValueError, match="integers"):
        L.IntegerLookup(vocabulary=["a", "b"])
