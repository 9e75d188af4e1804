"""Colour/intensity augmentation layers against Keras 3: exact outputs of the
deterministic layers and of random layers with a degenerate factor range,
configs, `.keras` files both ways, dict inputs, sample statistics of the
random draws, inference identity and compiled fit without retracing."""
import warnings

import jax
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import plain

CF = {"data_format": "channels_first"}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 9, 7, 3)).astype("float32")
    return x, np.ascontiguousarray(np.moveaxis(x, -1, 1))


# (name, kwargs, which input: "x" (0..255), "cf" (channels first), "unit" (x / 255))
EXACT = [
    ("RandomBrightness", dict(factor=(0.3, 0.3)), "x"),
    ("RandomBrightness", dict(factor=(-0.3, -0.3), value_range=(0, 1)), "unit"),
    ("RandomColorDegeneration", dict(factor=(0.4, 0.4), **CF), "cf"),
    ("RandomGrayscale", dict(factor=1.0), "x"),
    ("RandomGrayscale", dict(factor=1.0, **CF), "cf"),
    ("RandomInvert", dict(factor=(1.0, 1.0)), "x"),
    ("RandomPosterization", dict(factor=(3, 3)), "x"),
    ("RandomPosterization", dict(factor=(5, 5), value_range=(0, 1)), "unit"),
    ("RandomSaturation", dict(factor=(0.3, 0.3)), "x"),
    ("RandomSaturation", dict(factor=(0.8, 0.8), **CF), "cf"),
    ("RandomSharpness", dict(factor=(0.9, 0.9)), "x"),
    ("RandomSharpness", dict(factor=(0.1, 0.1), **CF), "cf"),
    ("RandomColorJitter", dict(brightness_factor=(0.1, 0.1), contrast_factor=0.0,
                               saturation_factor=(0.3, 0.3), hue_factor=0.0), "x"),
    ("AutoContrast", dict(), "x"),
    ("AutoContrast", dict(value_range=(0, 1)), "unit"),
    ("Equalization", dict(bins=64, value_range=(0, 1), **CF), "cf"),
    ("Solarization", dict(), "x"),
    ("Solarization", dict(addition_factor=0.0, threshold_factor=(0, 0), value_range=(0, 1)),
     "unit"),
    ("ContrastLimitedAdaptiveHistogramEqualization", dict(tile_grid_size=(2, 2)), "x"),
    ("ContrastLimitedAdaptiveHistogramEqualization",
     dict(tile_grid_size=(4, 3), clip_limit=2.0, value_range=(0, 1)), "unit"),
    ("ContrastLimitedAdaptiveHistogramEqualization", dict(tile_grid_size=(2, 2), **CF), "cf"),
]


JIT_OK = ("AutoContrast", "ContrastLimitedAdaptiveHistogramEqualization")


def _input(images, which):
    x, cf = images
    return {"x": x * 0.6 + 40, "cf": cf, "unit": x / 255.0}[which]


@pytest.mark.parametrize("name,kwargs,which", EXACT,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(EXACT)])
def test_against_keras(keras, images, name, kwargs, which):
    x = _input(images, which)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_layer = getattr(keras.layers, name)(**kwargs)
        if name in JIT_OK:  # no random state: one compiled program is faster than eager
            expected = np.asarray(jax.jit(lambda v: k_layer(v, training=True))(x))
        else:
            expected = np.asarray(k_layer(x, training=True))
    layer = getattr(L, name)(**kwargs)
    got = np.asarray(layer(x, training=True))
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, atol=1e-4 * (255 if which != "unit" else 1))
    # One image (rank 3) gives the batch's first result where the layer is per image.
    if name != "Equalization":  # Keras' histogram is over the whole batch
        np.testing.assert_allclose(np.asarray(layer(x[0], training=True)), expected[0],
                                   atol=1e-4 * 255)
    config, k_config = layer.get_config(), k_layer.get_config()
    assert set(config) == set(k_config)
    assert {k: plain(v) for k, v in config.items() if k != "name"} == \
        {k: plain(v) for k, v in k_config.items() if k != "name"}
    fresh = type(layer).from_config(config)
    assert plain(fresh.get_config()) == plain(config)


def test_integer_images_keep_dtype_in_clahe_only(keras, images):
    x = images[0].astype("uint8")
    clahe = np.asarray(L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))(x))
    assert clahe.dtype == np.uint8
    k_clahe = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))
    np.testing.assert_array_equal(clahe, np.asarray(jax.jit(k_clahe)(x)))
    auto = np.asarray(L.AutoContrast()(x))
    assert auto.dtype == np.float32
    np.testing.assert_allclose(auto, np.asarray(jax.jit(keras.layers.AutoContrast())(x)),
                               atol=1e-3)


def test_dict_inputs_pass_boxes_masks_and_labels(keras, images):
    x = images[0]
    boxes = {"boxes": np.array([[[1, 2, 3, 4.0]], [[0, 0, 2, 2]]], "float32"),
             "labels": np.array([[1], [2]], "int32")}
    masks = np.random.default_rng(1).integers(0, 3, (2, 9, 7, 1)).astype("float32")
    data = {"images": x, "labels": np.array([0, 1]), "bounding_boxes": boxes,
            "segmentation_masks": masks}
    out = L.RandomColorDegeneration((1.0, 1.0), bounding_box_format="xyxy")(dict(data))
    k_out = keras.layers.RandomColorDegeneration((1.0, 1.0),
                                                 bounding_box_format="xyxy")(dict(data))
    assert set(out) == set(k_out)
    np.testing.assert_allclose(np.asarray(out["images"]), np.asarray(k_out["images"]),
                               atol=1e-3)
    for key in ("boxes", "labels"):
        np.testing.assert_array_equal(np.asarray(out["bounding_boxes"][key]), boxes[key])
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), masks)
    np.testing.assert_array_equal(np.asarray(out["labels"]), [0, 1])
    one = L.Solarization()({"images": x[0], "segmentation_masks": masks[0]})
    np.testing.assert_allclose(np.asarray(one["images"]), 255.0 - x[0], atol=1e-4)
    with pytest.raises(ValueError, match="bounding_box_format"):
        L.RandomBrightness(0.1)(dict(data))
    with pytest.raises(ValueError, match="'images'"):
        L.AutoContrast()({"image": x})


RANDOM = [("RandomBrightness", {"factor": 0.3}), ("RandomColorDegeneration", {"factor": 0.5}),
          ("RandomGrayscale", {"factor": 0.5}), ("RandomHue", {"factor": 0.5}),
          ("RandomInvert", {}), ("RandomPosterization", {"factor": 4}),
          ("RandomSaturation", {"factor": 0.5}), ("RandomSharpness", {"factor": 0.5}),
          ("Solarization", {"addition_factor": 0.2, "threshold_factor": 0.5}),
          ("RandomColorJitter", {"brightness_factor": 0.2, "contrast_factor": 0.3,
                                 "saturation_factor": 0.3, "hue_factor": 0.2})]


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_random_layers_identity_in_inference_and_seeded(name, kwargs):
    x = np.random.default_rng(2).uniform(0, 255, (8, 5, 5, 3)).astype("float32")
    a = getattr(L, name)(seed=3, **kwargs)
    b = getattr(L, name)(seed=3, **kwargs)
    np.testing.assert_array_equal(np.asarray(a(x, training=False)), x)
    first = np.asarray(a(x))
    np.testing.assert_array_equal(first, np.asarray(b(x)))       # same seed, same draws
    assert not np.allclose(first, x)                               # augments in training
    assert not np.allclose(np.asarray(a(x)), first)                # the state advances


def test_random_draws_follow_keras_rules(keras):
    n = 200
    gray = np.full((n, 2, 2, 3), 128.0, "float32")
    delta = np.asarray(L.RandomBrightness(0.2, seed=0)(gray))[:, 0, 0, 0] - 128.0
    assert -51.0 - 1e-3 <= delta.min() < -40 and 40 < delta.max() <= 51.0 + 1e-3
    assert abs(delta.mean()) < 6

    x = np.random.default_rng(3).uniform(0, 255, (n, 2, 2, 3)).astype("float32")
    # RandomInvert's default factor=1.0 is the range (0, 1): probability 1/2.
    inverted = np.isclose(np.asarray(L.RandomInvert(seed=0)(x)), 255.0 - x).all(axis=(1, 2, 3))
    assert 0.35 < inverted.mean() < 0.65
    out = np.asarray(L.RandomGrayscale(0.25, seed=0)(x))
    assert 0.15 < np.isclose(out[..., 0], out[..., 1]).all(axis=(1, 2)).mean() < 0.35

    # factor=4 means bits in randint(1, 4) = {1, 2, 3}, upper excluded as in Keras.
    post = np.asarray(L.RandomPosterization(4, seed=0)(x))
    bits = {8 - int(np.log2(np.gcd.reduce(p.astype(int).ravel() | 256))) for p in post}
    assert bits <= {1, 2, 3} and len(bits) == 3

    # RandomHue shifts by +-factor/2 of a turn, the sign a coin flip: compare
    # with both shifts done by Keras' own colour-space ops.
    ops = keras.ops.image
    rgb = x[:40] / 255.0
    hsv = np.asarray(ops.rgb_to_hsv(rgb))
    plus, minus = hsv.copy(), hsv.copy()
    plus[..., 0] = (hsv[..., 0] + 0.15) % 1.0
    minus[..., 0] = (hsv[..., 0] - 0.15) % 1.0
    plus, minus = (np.asarray(ops.hsv_to_rgb(v)) * 255.0 for v in (plus, minus))
    out = np.asarray(L.RandomHue((0.3, 0.3), seed=0)(x[:40]))
    is_plus = np.abs(out - plus).max(axis=(1, 2, 3)) < 1e-2
    is_minus = np.abs(out - minus).max(axis=(1, 2, 3)) < 1e-2
    assert np.all(is_plus | is_minus) and 8 < is_plus.sum() < 32


def test_keras_files_both_ways(keras, tmp_path, images):
    x = images[0][:, :8, :6]
    kw = [("AutoContrast", {}), ("RandomSharpness", {"factor": 0.3, "seed": 2}),
          ("RandomColorJitter", {"brightness_factor": 0.1, "hue_factor": 0.2}),
          ("ContrastLimitedAdaptiveHistogramEqualization", {"tile_grid_size": (2, 3)})]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_model = keras.Sequential([keras.Input((8, 6, 3))] +
                                   [getattr(keras.layers, n)(**k) for n, k in kw])
        k_model.save(tmp_path / "k.keras")
        expected = k_model.predict(x, verbose=0)
    model = kerax.models.load_model(tmp_path / "k.keras")
    assert [type(layer).__name__ for layer in model.layers] == [n for n, _ in kw]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-3)
    model.save(tmp_path / "x.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = keras.models.load_model(tmp_path / "x.keras")
    for a, b in zip(back.layers, model.layers):
        assert plain({**a.get_config(), "name": 0}) == plain({**b.get_config(), "name": 0})
    np.testing.assert_allclose(back.predict(x, verbose=0), expected, atol=1e-3)


class CountingJitter(L.RandomColorJitter):
    traces = 0

    def call(self, data, training=True):
        CountingJitter.traces += 1
        return super().call(data, training=training)


def test_compiled_fit_traces_once_and_predict_is_identity():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (32, 6, 6, 3)).astype("float32")
    y = rng.uniform(size=(32, 1)).astype("float32")
    aug = CountingJitter(value_range=(0, 1), brightness_factor=0.2, contrast_factor=0.2,
                         saturation_factor=0.2, hue_factor=0.1, seed=1)
    model = kerax.Sequential([kerax.Input((6, 6, 3)), aug,
                              L.RandomSharpness(0.5, value_range=(0, 1), seed=2),
                              L.RandomPosterization(4, value_range=(0, 1), seed=3),
                              L.Solarization(0.1, 0.5, value_range=(0, 1), seed=4)])
    probe = kerax.Sequential([kerax.Input((6, 6, 3)), model, L.Flatten(), L.Dense(1)])
    probe.compile("sgd", "mse")
    before = CountingJitter.traces
    probe.fit(x, y, batch_size=8, epochs=2, verbose=0)    # 8 steps
    assert CountingJitter.traces - before <= 2            # the step's trace, not per batch
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)
    states = [np.asarray(v.value) for v in model.non_trainable_variables]
    before = CountingJitter.traces
    probe.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert CountingJitter.traces == before                # the compiled step is reused
    assert any(not np.array_equal(s, np.asarray(v.value))
               for s, v in zip(states, model.non_trainable_variables))


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"RandomBrightness.*`factor`.*\[-1, 1\]"):
        L.RandomBrightness(1.5)
    with pytest.raises(ValueError, match=r"RandomHue.*`factor`"):
        L.RandomHue("big")
    with pytest.raises(ValueError, match=r"RandomPosterization.*\[1, 8\]"):
        L.RandomPosterization(9)
    with pytest.raises(ValueError, match=r"Solarization.*`threshold_factor`"):
        L.Solarization(threshold_factor=2.0)
    with pytest.raises(ValueError, match=r"AutoContrast.*`value_range`"):
        L.AutoContrast(value_range=(0, 1, 2))
    with pytest.raises(ValueError, match=r"RandomGrayscale.*between 0 and 1"):
        L.RandomGrayscale(1.5)
    with pytest.raises(ValueError, match=r"tile_grid_size"):
        L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=8)
    with pytest.raises(ValueError, match=r"RandomGrayscale.*3 channels, got 1"):
        L.RandomGrayscale(1.0)(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"Equalization.*rank 4.*\(4, 4\)"):
        L.Equalization()(np.zeros((4, 4), "float32"))
