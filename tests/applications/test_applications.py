"""kerax.applications against Keras 3's: the same layer names and parameter
counts (so Keras' published weight files load), and, with the same weights in
both, the same outputs. The smallest variant of each family runs; the larger
ones are only built (no forward pass).

Building an application draws each variable's initial value with JAX's
random functions, which compile one XLA program per weight shape (tens of
seconds per architecture on a small CPU). The values do not matter here (the
test sets the same weights in both models), so a module fixture swaps both
libraries' random draws for NumPy ones while the models are built."""
import re

import jax.numpy as jnp
import numpy as np
import pytest

import kerax
import kerax.applications as A
import kerax.random as kerax_random

# Auto-named layers (no explicit name in Keras' builders) end in a per-process
# counter; compare them without it.
_AUTO = re.compile(r"_\d+$")


def _numpy_random(rng):
    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.uniform(minval, maxval, shape), dtype or "float32")

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.normal(mean, stddev, shape), dtype or "float32")

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        x = np.clip(rng.normal(0.0, 1.0, shape), -2.0, 2.0)
        return jnp.asarray(x * stddev + mean, dtype or "float32")

    return {"uniform": uniform, "normal": normal, "truncated_normal": truncated_normal}


@pytest.fixture(scope="module", autouse=True)
def numpy_initial_values(keras):
    from keras.src.backend import random as keras_random
    fns = _numpy_random(np.random.default_rng(0))
    with pytest.MonkeyPatch.context() as mp:
        for module in (kerax_random, keras_random):
            for name, fn in fns.items():
                mp.setattr(module, name, fn)
        yield


def _names(model):
    return [_AUTO.sub("", layer.name) for layer in model.layers]


def _structure(kmodel, model):
    assert model.name == kmodel.name
    assert _names(model) == _names(kmodel)
    assert model.count_params() == kmodel.count_params()
    assert [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in kmodel.weights]


def _random_weights(model, rng):
    """The model's weights with every constant-initialised one (biases, BN
    statistics, scales) perturbed, so each enters the comparison."""
    out = []
    for w in model.get_weights():
        w = np.asarray(w)
        if w.size and np.all(w == w.flat[0]):
            w = w + rng.uniform(0.0 if w.flat[0] == 1 else -0.1, 0.1, w.shape).astype(w.dtype)
        out.append(w)
    return out


def _compare(keras, name, kwargs, shape, tol=1e-4):
    kmodel = getattr(keras.applications, name)(weights=None, **kwargs)
    model = getattr(A, name)(weights=None, **kwargs)
    _structure(kmodel, model)
    rng = np.random.default_rng(1)
    weights = _random_weights(model, rng)
    model.set_weights(weights)
    kmodel.set_weights(weights)
    x = rng.uniform(0, 255, (2,) + shape).astype("float32")
    # predict: one compiled program each (an eager call compiles op by op, slower)
    want = kmodel.predict(x, verbose=0)
    got = model.predict(x, verbose=0)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, atol=tol * scale, rtol=tol)
    return kmodel, model


S32 = dict(input_shape=(32, 32, 3))
CASES = [
    ("ResNet50", dict(S32, classes=10), (32, 32, 3)),
    ("ResNet50V2", dict(S32, include_top=False, pooling="avg"), (32, 32, 3)),
    ("VGG16", dict(S32, include_top=False, pooling="max"), (32, 32, 3)),
    ("MobileNet", dict(S32, alpha=0.5, depth_multiplier=2, classes=10), (32, 32, 3)),
    ("MobileNetV2", dict(S32, alpha=0.35, classes=10), (32, 32, 3)),
    ("MobileNetV3Small", dict(S32, classes=10), (32, 32, 3)),
    ("DenseNet121", dict(S32, include_top=False), (32, 32, 3)),
    ("Xception", dict(input_shape=(71, 71, 3), classes=10), (71, 71, 3)),
    ("InceptionV3", dict(input_shape=(75, 75, 3), include_top=False, pooling="avg"),
     (75, 75, 3)),
    ("InceptionResNetV2", dict(input_shape=(75, 75, 3), classes=10), (75, 75, 3)),
    ("EfficientNetB0", dict(S32, classes=10), (32, 32, 3)),
    ("EfficientNetV2B0", dict(S32, include_top=False, pooling="avg"), (32, 32, 3)),
    ("ConvNeXtTiny", dict(S32, classes=10), (32, 32, 3)),
    ("NASNetMobile", dict(S32, include_top=False, pooling="avg"), (32, 32, 3)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=[c[0] for c in CASES])
def test_outputs_match_keras(keras, name, kwargs, shape):
    _compare(keras, name, kwargs, shape)


BUILD_ONLY = [  # the largest variant of each family (the middle ones share its code)
    ("ResNet152", S32),
    ("ResNet152V2", dict(S32, include_top=False)),
    ("VGG19", S32),
    ("MobileNetV3Large", dict(alpha=0.75, minimalistic=True, include_preprocessing=False)),
    ("DenseNet201", dict(S32, include_top=False, pooling="max")),
    ("EfficientNetB7", dict(S32, include_top=False)),
    ("EfficientNetV2L", S32),
    ("ConvNeXtXLarge", dict(S32, include_top=False, pooling="avg")),
    ("NASNetLarge", dict(S32, include_top=False)),
]


@pytest.mark.parametrize("name,kwargs", BUILD_ONLY, ids=[c[0] for c in BUILD_ONLY])
def test_structure_matches_keras(keras, name, kwargs):
    _structure(getattr(keras.applications, name)(weights=None, **kwargs),
               getattr(A, name)(weights=None, **kwargs))


def test_keras_files_load_both_ways(keras, tmp_path):
    """An application saved as `.keras` by Keras loads in kerax and the
    reverse (ConvNeXt: its own layer classes under Keras' module names,
    Sequential stems, op nodes such as `inputs + x`)."""
    kw = dict(weights=None, input_shape=(32, 32, 3), include_top=False)
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    kmodel = keras.applications.ConvNeXtTiny(**kw)
    kmodel.set_weights(_random_weights(kmodel, np.random.default_rng(3)))
    kmodel.save(tmp_path / "keras.keras")
    loaded = kerax.saving.load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)
    model = A.ConvNeXtTiny(**kw)
    model.set_weights(_random_weights(model, np.random.default_rng(4)))
    model.save(tmp_path / "kerax.keras")
    kloaded = keras.saving.load_model(tmp_path / "kerax.keras")
    np.testing.assert_allclose(kloaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)


def test_input_tensor_from_another_layer(keras):
    """`input_tensor` may be any symbolic tensor: the model's inputs are its
    sources (as Keras' get_source_inputs)."""
    def build(lib, apps):
        inputs = lib.Input((32, 32, 3))
        x = lib.layers.Rescaling(0.5)(inputs)
        return apps.VGG16(weights=None, include_top=False, input_tensor=x, pooling="avg")

    kmodel, model = build(keras, keras.applications), build(kerax, A)
    _structure(kmodel, model)
    weights = _random_weights(model, np.random.default_rng(5))
    model.set_weights(weights)
    kmodel.set_weights(weights)
    x = np.random.default_rng(6).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    want = kmodel.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-4,
                               atol=1e-4 * max(1.0, float(np.abs(want).max())))
