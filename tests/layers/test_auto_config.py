"""Keras 3's automatic `get_config` for Layer (and Model) subclasses that do
not write one (issue 11 item 6): the constructor's arguments are captured when
every value is a str/int/float/bool/None (nested in lists, tuples, dicts), and
get_config raises NotImplementedError with Keras' advice otherwise. Compared
with Keras 3, and through `.keras` files both ways."""
import warnings

import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::UserWarning")


def _classes(lib):
    Layer = lib.layers.Layer

    class WithKwargs(Layer):
        def __init__(self, units=4, act="relu", **kwargs):
            super().__init__(**kwargs)
            self.units = units

    class Required(Layer):
        def __init__(self, units, init=None, **kwargs):
            super().__init__(**kwargs)

    class NoInit(Layer):
        pass

    class Nested(Layer):
        def __init__(self, sizes=(2, 3), mapping=None, **kwargs):
            super().__init__(**kwargs)

    class NoName(Layer):
        def __init__(self, units):
            super().__init__()

    class NameOnly(Layer):
        def __init__(self, units, name=None):
            super().__init__(name=name)

    class VarArgs(Layer):
        def __init__(self, *args, **kwargs):
            super().__init__(**kwargs)

    class Explicit(Layer):  # its own get_config: nothing is added
        def __init__(self, units=1, **kwargs):
            super().__init__(**kwargs)

        def get_config(self):
            return super().get_config()

    return {c.__name__: c for c in (WithKwargs, Required, NoInit, Nested, NoName, NameOnly,
                                    VarArgs, Explicit)}


CASES = [
    ("WithKwargs", (), {}),
    ("WithKwargs", (3,), {"name": "w1", "trainable": False}),
    ("WithKwargs", (), {"dtype": "float16", "act": None}),
    ("Required", (2,), {}),
    ("NoInit", (), {}),
    ("Nested", (), {"mapping": {"a": [1, 2.5], "b": (True, None)}}),
    ("NoName", (3,), {}),
    ("NameOnly", (2,), {"name": "n"}),
    ("VarArgs", (), {}),
    ("Explicit", (5,), {}),
]


@pytest.mark.parametrize("cls,args,kwargs", CASES)
def test_auto_config_matches_keras(keras, cls, args, kwargs):
    expected = _classes(keras)[cls](*args, **kwargs).get_config()
    got = _classes(kerax)[cls](*args, **kwargs).get_config()
    if "name" not in kwargs:  # auto-generated names differ by counter only
        assert ("name" in got) == ("name" in expected)
        got.pop("name", None)
        expected.pop("name", None)
    assert got == expected


@pytest.mark.parametrize("cls,args,kwargs", [
    ("WithKwargs", (np.int64(3),), {}),                    # NumPy scalars are not plain
    ("WithKwargs", (np.float32(3),), {}),
    ("Required", (2,), {"init": "INITIALIZER"}),           # an object argument
    ("Nested", (), {"mapping": {"a": np.zeros(2)}}),       # nested array
    ("VarArgs", (1, 2), {}),                               # *args cannot be given back
])
def test_auto_config_raises_where_keras_raises(keras, cls, args, kwargs):
    def make(lib):
        if kwargs.get("init") == "INITIALIZER":
            return _classes(lib)[cls](*args, init=lib.initializers.Ones())
        return _classes(lib)[cls](*args, **kwargs)

    with pytest.raises(NotImplementedError) as k_info:
        make(keras).get_config()
    with pytest.raises(NotImplementedError) as kx_info:
        make(kerax).get_config()
    k_msg, kx_msg = " ".join(str(k_info.value).split()), " ".join(str(kx_info.value).split())
    # the same diagnosis and the same advice (an example get_config)
    key = "positional only" if cls == "VarArgs" else "non-serializable argument values"
    assert key in k_msg and key in kx_msg
    assert "Please implement `get_config()`" in kx_msg or "override `get_config()`" in kx_msg
    assert "def get_config(self):" in kx_msg and "super().get_config()" in kx_msg


def test_model_subclass_with_required_argument_raises_as_keras(keras):
    def make(lib):
        class NoConfig(lib.Model):
            def __init__(self, units):
                super().__init__()
                self.dense = lib.layers.Dense(units)

            def call(self, x):
                return self.dense(x)

        return NoConfig(2)

    with pytest.raises(NotImplementedError):
        make(keras).get_config()
    with pytest.raises(NotImplementedError, match=r"without defaults \['units'\]"):
        make(kerax).get_config()


def test_from_config_error_names_the_class(keras):
    for lib in (keras, kerax):
        cls = _classes(lib)["NoName"]
        with pytest.raises(TypeError, match="Error when deserializing class 'NoName'"):
            cls.from_config(cls(3).get_config())


# ---- .keras files both ways -------------------------------------------------------------
_DEFINED = {}


def _define(lib):
    """A registered layer with constructor arguments and no get_config."""
    if lib.__name__ not in _DEFINED:
        @lib.saving.register_keras_serializable(package="kerax_auto_config")
        class ScaledDense(lib.layers.Layer):
            def __init__(self, units=4, scale=1.0, activation=None, **kwargs):
                super().__init__(**kwargs)
                self.units, self.scale = units, scale
                self.activation = lib.activations.get(activation)

            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                         initializer="glorot_uniform", name="w")

            def call(self, x):
                return self.activation(self.scale * lib.ops.matmul(x, self.w))

        @lib.saving.register_keras_serializable(package="kerax_auto_config")
        class Regressor(lib.Model):
            def __init__(self, hidden=8, **kwargs):
                super().__init__(**kwargs)
                self.hidden = hidden
                self.body = ScaledDense(hidden, scale=0.5, activation="tanh")
                self.head = lib.layers.Dense(1)

            def call(self, x):
                return self.head(self.body(x))

        _DEFINED[lib.__name__] = (ScaledDense, Regressor)
    return _DEFINED[lib.__name__]


def _functional(lib):
    ScaledDense, _ = _define(lib)
    i = lib.Input((3,))
    h = ScaledDense(5, scale=2.0, activation="relu", name="scaled")(i)
    return lib.Model(i, lib.layers.Dense(2, name="out")(h))


X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)


def _load_keras(keras, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return keras.saving.load_model(path)


def test_functional_model_with_auto_config_layer_both_ways(keras, tmp_path):
    _define(keras)  # registered in both libraries
    model = _functional(kerax)
    model.save(tmp_path / "kx.keras")
    for loaded in (kerax.saving.load_model(tmp_path / "kx.keras"),
                   _load_keras(keras, tmp_path / "kx.keras")):
        layer = loaded.get_layer("scaled")
        assert (layer.units, layer.scale) == (5, 2.0)
        np.testing.assert_allclose(np.asarray(loaded(X)), np.asarray(model(X)), atol=1e-5)

    k_model = _functional(keras)
    k_model.save(tmp_path / "k.keras")
    loaded = kerax.saving.load_model(tmp_path / "k.keras")
    assert loaded.get_layer("scaled").get_config() == {
        k: v for k, v in k_model.get_layer("scaled").get_config().items()}
    np.testing.assert_allclose(np.asarray(loaded(X)), np.asarray(k_model(X)), atol=1e-5)


def test_subclassed_model_with_defaulted_argument_round_trips(keras, tmp_path):
    _define(keras)  # registered in both libraries
    _, Regressor = _define(kerax)
    model = Regressor(hidden=6)
    model(X)
    model.save(tmp_path / "m.keras")
    loaded = kerax.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, Regressor) and loaded.hidden == 6
    np.testing.assert_allclose(np.asarray(loaded(X)), np.asarray(model(X)), atol=1e-6)
    k_loaded = _load_keras(keras, tmp_path / "m.keras")
    assert k_loaded.hidden == 6
    np.testing.assert_allclose(np.asarray(k_loaded(X)), np.asarray(model(X)), atol=1e-5)
