"""kerax.initializers: closed-form statistics, seeds, Keras 3 configs and names."""
import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import initializers
from kerax.saving import object_registration as reg

CLASSES = ["Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal",
           "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal"]

ALIASES = ["zeros", "ones", "constant", "identity", "random_normal", "random_uniform",
           "truncated_normal", "variance_scaling", "glorot_uniform", "glorot_normal",
           "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "orthogonal",
           "uniform", "normal", "one", "zero", "OrthogonalInitializer",
           "IdentityInitializer"]


@pytest.mark.parametrize("name", CLASSES)
def test_signature_matches_keras(keras, name):
    ks = inspect.signature(getattr(keras.initializers, name))
    ours = inspect.signature(getattr(initializers, name))
    assert [(p.name, p.default) for p in ks.parameters.values()] == \
        [(p.name, p.default) for p in ours.parameters.values()]


def test_every_keras_name_exists(keras):
    names = [n for n in dir(keras.initializers) if not n.startswith("_")
             and not n.lower().startswith("stft")]
    assert [n for n in names if not hasattr(initializers, n)] == []
    for n in names:
        if isinstance(getattr(keras.initializers, n), type):
            assert getattr(initializers, n).__name__ == getattr(keras.initializers, n).__name__


@pytest.mark.parametrize("name", ALIASES)
def test_alias_and_serialization_match_keras(keras, name):
    if name == "constant":  # Keras 3.15 cannot build Constant from its bare name
        k_init, ours = keras.initializers.Constant(), initializers.get(name)
    else:
        k_init, ours = keras.initializers.get(name), initializers.get(name)
    assert type(ours).__name__ == type(k_init).__name__
    expected = keras.saving.serialize_keras_object(k_init)
    assert reg.serialize_keras_object(ours) == expected
    assert initializers.serialize(ours) == keras.initializers.serialize(k_init)
    back = initializers.deserialize(expected)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


def test_non_default_configs_match_keras(keras):
    cases = [
        ("RandomNormal", dict(mean=1.0, stddev=2.0, seed=3)),
        ("RandomUniform", dict(minval=-1.0, maxval=2.0, seed=4)),
        ("TruncatedNormal", dict(mean=0.5, stddev=0.1, seed=5)),
        ("VarianceScaling", dict(scale=2.0, mode="fan_avg", distribution="uniform",
                                 seed=6, input_axes=[0], output_axes=[1])),
        ("VarianceScaling", dict(distribution="normal", seed=None)),
        ("GlorotUniform", dict(seed=7)),
        ("HeNormal", dict(seed=8, input_axes=[0, 1], output_axes=[2])),
        ("Orthogonal", dict(gain=2.0, seed=9)),
        ("Identity", dict()),
        ("Constant", dict(value=2.5)),
        ("Constant", dict(value=np.arange(2.0))),
    ]
    for name, kwargs in cases:
        k_init = getattr(keras.initializers, name)(**kwargs)
        ours = getattr(initializers, name)(**kwargs)
        expected = keras.saving.serialize_keras_object(k_init)
        assert reg.serialize_keras_object(ours) == expected, name
        back = reg.deserialize_keras_object(expected)
        assert type(back) is type(ours)
        assert reg.serialize_keras_object(back) == expected
        if kwargs.get("seed", 0) is not None:
            # A config Keras wrote gives the same values after the round trip.
            shape = (3, 4) if name == "Identity" else (3, 4, 2)
            np.testing.assert_array_equal(back(shape), ours(shape))


def test_identity_gain_round_trip(keras):
    # Keras 3.15 writes Identity's config as {} even for a non-default gain;
    # kerax keeps a non-default gain, in a config Keras can load.
    config = reg.serialize_keras_object(initializers.Identity(gain=3.0))
    assert config["config"] == {"gain": 3.0}
    np.testing.assert_array_equal(initializers.deserialize(config)((2, 3)), 3 * np.eye(2, 3))
    np.testing.assert_array_equal(keras.initializers.deserialize(config)((2, 3)),
                                  3 * np.eye(2, 3))


def test_constants():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((4,)), np.ones(4))
    assert initializers.Zeros()((2,), dtype="int32").dtype == jnp.int32
    assert initializers.Ones()((2,)).dtype == jnp.float32
    np.testing.assert_array_equal(initializers.Constant(3)((2, 2)), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(initializers.Constant([1.0, 2.0])((3, 2)),
                                  np.tile([1.0, 2.0], (3, 1)))
    with pytest.raises(ValueError, match="broadcast"):
        initializers.Constant([1.0, 2.0])((3, 4))
    np.testing.assert_array_equal(initializers.Identity(2.0)((2, 3)), 2 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((5,), (5, 5)), ((3, 4), (3, 4)), ((3, 3, 4, 8), (36, 72)),
    ((2, 3, 4), (6, 8)), ((3, 3, 3, 4, 5), (108, 135))])
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_compute_fans_axes():
    f = initializers.compute_fans
    assert f((3, 3, 4, 8), input_axes=[0, 1, 2], output_axes=[3]) == (36, 8)
    assert f((2, 3, 4, 8), input_axes=[0], output_axes=[1, 2]) == (2, 12)
    assert f((2, 3, 4, 8), input_axes=[0]) == (24, 48)  # both needed, as Keras
    assert f((2, 3, 4, 8), input_axes=[-4, 1], output_axes=[-1]) == (6, 8)
    with pytest.raises(ValueError, match="input_axes"):
        f((2, 3), input_axes=[5], output_axes=[0])


# (initializer, shape, kind, closed-form parameter):
#   uniform: |x| <= limit and std = limit / sqrt(3); normal: std.
def _cases():
    dense, conv = (200, 300), (3, 3, 32, 64)
    fi_d, fo_d = dense
    fi_c, fo_c = 3 * 3 * 32, 3 * 3 * 64
    return [
        ("GlorotUniform", dense, "uniform", math.sqrt(6 / (fi_d + fo_d))),
        ("GlorotUniform", conv, "uniform", math.sqrt(6 / (fi_c + fo_c))),
        ("HeUniform", conv, "uniform", math.sqrt(6 / fi_c)),
        ("LecunUniform", dense, "uniform", math.sqrt(3 / fi_d)),
        ("GlorotNormal", dense, "truncated", math.sqrt(2 / (fi_d + fo_d))),
        ("HeNormal", conv, "truncated", math.sqrt(2 / fi_c)),
        ("LecunNormal", dense, "truncated", math.sqrt(1 / fi_d)),
    ]


@pytest.mark.parametrize("name,shape,kind,param", _cases())
def test_variance_scaling_statistics(name, shape, kind, param):
    x = np.asarray(getattr(initializers, name)(seed=1)(shape))
    assert x.shape == shape and x.dtype == np.float32
    if kind == "uniform":
        assert np.abs(x).max() <= param
        assert np.abs(x).max() > 0.99 * param
        np.testing.assert_allclose(x.std(), param / math.sqrt(3), rtol=0.02)
    else:
        # stddev after truncation to 2 standard deviations is `param`.
        np.testing.assert_allclose(x.std(), param, rtol=0.02)
        assert np.abs(x).max() <= 2 * param / 0.87962566103423978 * (1 + 1e-6)
    assert abs(x.mean()) < 0.02 * x.std() * 10


def test_variance_scaling_modes():
    shape = (100, 400)
    for mode, n in (("fan_in", 100), ("fan_out", 400), ("fan_avg", 250)):
        x = np.asarray(initializers.VarianceScaling(
            scale=3.0, mode=mode, distribution="untruncated_normal", seed=0)(shape))
        np.testing.assert_allclose(x.std(), math.sqrt(3.0 / n), rtol=0.02)
    x = np.asarray(initializers.VarianceScaling(
        mode="fan_in", distribution="uniform", input_axes=[0, 1],
        output_axes=[2, 3], seed=0)((10, 20, 30, 40)))
    np.testing.assert_allclose(np.abs(x).max(), math.sqrt(3 / 200), rtol=1e-3)
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=-1)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")


def test_random_statistics():
    x = np.asarray(initializers.RandomNormal(mean=1.0, stddev=2.0, seed=0)((200, 200)))
    np.testing.assert_allclose([x.mean(), x.std()], [1.0, 2.0], rtol=0.02, atol=0.02)
    x = np.asarray(initializers.RandomUniform(minval=-1.0, maxval=3.0, seed=0)((200, 200)))
    assert x.min() >= -1.0 and x.max() < 3.0
    np.testing.assert_allclose([x.mean(), x.std()], [1.0, 4 / math.sqrt(12)], rtol=0.02)
    x = np.asarray(initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=0)((200, 200)))
    assert np.abs(x - 0.5).max() <= 0.2 + 1e-6
    np.testing.assert_allclose(x.std(), 0.1 * 0.87962566103423978, rtol=0.02)
    with pytest.raises(ValueError, match="dtype"):
        initializers.RandomNormal()((2, 2), dtype="int32")


@pytest.mark.parametrize("shape,gain", [((6, 6), 1.0), ((8, 3), 2.0), ((3, 8), 0.5),
                                        ((2, 3, 5), 1.5)])
def test_orthogonal(shape, gain):
    w = np.asarray(initializers.Orthogonal(gain=gain, seed=2)(shape), dtype=np.float64)
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, gain ** 2 * np.eye(m.shape[1]), atol=1e-5)
    else:
        np.testing.assert_allclose(m @ m.T, gain ** 2 * np.eye(m.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="two-dimensional"):
        initializers.Orthogonal()((3,))


def test_seeds():
    a = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(a((4, 4)), a((4, 4)))
    np.testing.assert_array_equal(a((4, 4)), initializers.GlorotUniform(seed=3)((4, 4)))
    assert not np.array_equal(a((4, 4)), initializers.GlorotUniform(seed=4)((4, 4)))
    # Unseeded: each instance draws its own seed (two layers differ), as in Keras
    # one instance returns the same values on every call, and the config keeps None.
    u1, u2 = initializers.get("glorot_uniform"), initializers.get("glorot_uniform")
    assert not np.array_equal(u1((4, 4)), u2((4, 4)))
    np.testing.assert_array_equal(u1((4, 4)), u1((4, 4)))
    assert u1.get_config()["seed"] is None
    # set_random_seed makes unseeded initializers reproducible.
    kerax.utils.set_random_seed(123)
    r1 = initializers.HeNormal()((5, 5))
    kerax.utils.set_random_seed(123)
    r2 = initializers.HeNormal()((5, 5))
    np.testing.assert_array_equal(r1, r2)
    # A SeedGenerator gives fresh values on each call.
    g = initializers.RandomNormal(seed=kerax.random.SeedGenerator(1))
    assert not np.array_equal(g((3,)), g((3,)))
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomUniform(seed="a")


def test_concrete_inside_trace():
    init = initializers.GlorotUniform(seed=0)
    seen = []

    @jax.jit
    def f(x):
        w = init((3, 3))
        seen.append(w)
        return x + w

    f(jnp.zeros((3, 3)))
    assert not isinstance(seen[0], jax.core.Tracer)
    v = kerax.Variable(initializers.get("orthogonal"), shape=(4, 4))
    assert v.shape == (4, 4)


def my_glorot_initializer(shape, dtype=None):  # the TensorFlow chapter's custom initializer
    stddev = math.sqrt(2.0 / (shape[0] + shape[1]))
    return kerax.random.normal(shape, stddev=stddev, dtype=dtype)


def test_custom_function_and_subclass():
    assert initializers.get(my_glorot_initializer) is my_glorot_initializer
    w = initializers.get(my_glorot_initializer)((300, 500), "float32")
    np.testing.assert_allclose(np.asarray(w).std(), math.sqrt(2 / 800), rtol=0.03)
    config = initializers.serialize(my_glorot_initializer)
    assert config["class_name"] == "function" and config["config"] == "my_glorot_initializer"
    assert initializers.deserialize(
        config, custom_objects={"my_glorot_initializer": my_glorot_initializer}) \
        is my_glorot_initializer
    v = kerax.Variable(my_glorot_initializer, shape=(4, 6))
    assert v.shape == (4, 6)

    class Halves(initializers.Initializer):
        def __init__(self, scale=0.5):
            self.scale = scale

        def __call__(self, shape, dtype=None):
            return self.scale * jnp.ones(shape, dtype)

        def get_config(self):
            return {"scale": self.scale}

    h = Halves(0.25)
    config = initializers.serialize(h)
    assert config["class_name"] == "Halves" and config["config"] == {"scale": 0.25}
    back = initializers.deserialize(config, custom_objects={"Halves": Halves})
    np.testing.assert_array_equal(back((2,)), [0.25, 0.25])
    assert initializers.get(Halves).scale == 0.5
    with pytest.raises(NotImplementedError):
        initializers.Initializer()((2,))


def test_get_errors():
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.GlorotUniform), initializers.GlorotUniform)
    inst = initializers.Zeros()
    assert initializers.get(inst) is inst
    with pytest.raises(ValueError, match="Unknown initializer.*glorot_uniform"):
        initializers.get("glorot_uniformm")
    with pytest.raises(ValueError):
        initializers.get(42)
