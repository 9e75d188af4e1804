"""RandAugment and AugMix against Keras 3: with factor 0 every operation is
either the identity or a fixed transform, so each output must be one of the
candidates Keras' own layers compute (RandAugment) or a blend of the image
with one (AugMix); configs and `.keras` files both ways; compiled fit
without retracing; dict inputs."""
import warnings

import jax
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import plain


@pytest.fixture(scope="module")
def candidates(keras):
    """x and the fixed results of the factor-0 operations, computed by Keras."""
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    k = keras.layers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = {
            "identity": x,
            "auto_contrast": jax.jit(k.AutoContrast())(x),
            "equalization": k.Equalization()(x),
            "solarization": k.Solarization(addition_factor=0.0, threshold_factor=0.0)(x),
            "posterization": k.RandomPosterization(factor=(1, 1))(x),
            "sharpness": k.RandomSharpness(factor=(0.0, 0.0))(x),
        }
    return x, {name: np.asarray(v) for name, v in fixed.items()}


def _which(out, fixed):
    hits = [name for name, v in fixed.items() if np.allclose(out, v, atol=1e-2)]
    assert hits, "output matches none of Keras' candidate results"
    return hits[0]


def test_rand_augment_outputs_are_keras_candidates(candidates):
    x, fixed = candidates
    layer = L.RandAugment(num_ops=1, factor=0.0, seed=3)
    seen = {_which(np.asarray(layer(x)), fixed) for _ in range(16)}
    assert "identity" in seen and len(seen) >= 3
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    two = L.RandAugment(num_ops=2, factor=0.0, seed=3)
    assert all(np.asarray(two(x)).shape == x.shape for _ in range(2))
    assert np.asarray(L.RandAugment(num_ops=0, seed=1)(x[0])).shape == x[0].shape


def test_aug_mix_blends_the_image_with_one_candidate(candidates):
    x, fixed = candidates
    layer = L.AugMix(num_chains=1, chain_depth=1, factor=0.0, all_ops=False, seed=5)
    kinds = set()
    for _ in range(6):
        out = np.asarray(layer(x))
        for name, c in fixed.items():
            d = (x - c).ravel()
            if not d.any():
                continue
            a = float(np.dot((out - c).ravel(), d) / np.dot(d, d))  # out = a x + (1 - a) c
            if 0 <= a <= 1 and np.allclose(out, a * x + (1 - a) * c, atol=1e-2):
                kinds.add(name)
                break
        else:
            np.testing.assert_allclose(out, x, atol=1e-3)
            kinds.add("identity")
    assert len(kinds - {"identity"}) >= 1
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_configs_and_keras_files_both_ways(keras, tmp_path):
    kw = [("RandAugment", dict(value_range=(0, 1), num_ops=3, factor=0.2, seed=1)),
          ("AugMix", dict(value_range=(0, 1), num_chains=2, chain_depth=2, factor=(0.1, 0.4),
                          alpha=0.5, all_ops=False, interpolation="nearest", seed=2))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_model = keras.Sequential([keras.Input((8, 8, 3))] +
                                   [getattr(keras.layers, n)(**k) for n, k in kw])
        k_model.save(tmp_path / "k.keras")
    model = kerax.models.load_model(tmp_path / "k.keras")
    for a, b in zip(model.layers, k_model.layers):
        assert type(a).__name__ == type(b).__name__
        assert plain({**a.get_config(), "name": 0}) == plain({**b.get_config(), "name": 0})
        assert plain(type(a).from_config(a.get_config()).get_config()) == \
            plain(a.get_config())
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)
    model.save(tmp_path / "x.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = keras.models.load_model(tmp_path / "x.keras")
    for a, b in zip(back.layers, model.layers):
        assert plain({**a.get_config(), "name": 0}) == plain({**b.get_config(), "name": 0})


class CountingRandAugment(L.RandAugment):
    traces = 0

    def call(self, data, training=True):
        CountingRandAugment.traces += 1
        return super().call(data, training=training)


def test_compiled_fit_traces_once():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (24, 6, 6, 3)).astype("float32")
    y = rng.uniform(size=(24, 1)).astype("float32")
    model = kerax.Sequential([
        kerax.Input((6, 6, 3)), CountingRandAugment(value_range=(0, 1), factor=0.3, seed=1),
        L.AugMix(value_range=(0, 1), num_chains=1, chain_depth=2, all_ops=False, seed=2),
        L.Flatten(), L.Dense(1)])
    model.compile("sgd", "mse")
    before = CountingRandAugment.traces
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)     # 6 steps
    assert CountingRandAugment.traces - before <= 2         # the step's trace, not per batch
    before = CountingRandAugment.traces
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert CountingRandAugment.traces == before


def test_dict_inputs_and_bad_arguments(candidates):
    x, _ = candidates
    masks = np.random.default_rng(2).integers(0, 3, (2, 8, 8, 1)).astype("int32")
    out = L.RandAugment(num_ops=2, seed=0)({"images": x, "segmentation_masks": masks,
                                            "labels": np.array([1, 0])})
    assert out["segmentation_masks"].dtype == masks.dtype
    assert set(np.unique(np.asarray(out["segmentation_masks"]))) <= {0, 1, 2}
    boxes = {"boxes": np.zeros((2, 1, 4), "float32"), "labels": np.zeros((2, 1), "int32")}
    with pytest.raises(NotImplementedError, match="RandAugment.*bounding boxes"):
        L.RandAugment(bounding_box_format="xyxy")({"images": x, "bounding_boxes": boxes})
    mixed = L.AugMix(num_chains=1, chain_depth=1, all_ops=False, bounding_box_format="xyxy",
                     seed=0)(
        {"images": x, "bounding_boxes": boxes})
    np.testing.assert_array_equal(np.asarray(mixed["bounding_boxes"]["boxes"]), boxes["boxes"])
    with pytest.raises(ValueError, match="RandAugment.*`num_ops`"):
        L.RandAugment(num_ops=-1)
    with pytest.raises(ValueError, match="RandAugment.*`factor`"):
        L.RandAugment(factor=2.0)
    with pytest.raises(ValueError, match="AugMix.*`interpolation`"):
        L.AugMix(interpolation="bicubic")
    with pytest.raises(ValueError, match="AugMix.*`alpha`"):
        L.AugMix(alpha=0)
