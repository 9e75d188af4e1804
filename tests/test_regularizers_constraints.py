"""kerax.regularizers and kerax.constraints against Keras 3."""
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import constraints, regularizers
from kerax.saving import object_registration as reg


@pytest.fixture(scope="module")
def w():
    return np.random.default_rng(3).normal(size=(5, 4)).astype("float32")


# ---- regularizers ------------------------------------------------------------
REG_CASES = [
    ("L1", {}), ("L1", {"l1": 0.3}), ("L2", {}), ("L2", {"l2": 0.2}),
    ("L1L2", {}), ("L1L2", {"l1": 0.1, "l2": 0.05}),
    ("OrthogonalRegularizer", {}),
    ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}),
]


@pytest.mark.parametrize("name,kwargs", REG_CASES)
def test_regularizer_values_and_config_match_keras(keras, w, name, kwargs):
    k_reg = getattr(keras.regularizers, name)(**kwargs)
    ours = getattr(regularizers, name)(**kwargs)
    w = jnp.asarray(w)  # (Keras' NumPy path of l2-normalize fails for axis=0)
    np.testing.assert_allclose(float(ours(w)), float(k_reg(w)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(ours(kerax.Variable(w))), float(k_reg(w)), rtol=1e-6)
    expected = keras.saving.serialize_keras_object(k_reg)
    assert reg.serialize_keras_object(ours) == expected
    assert regularizers.serialize(ours) == keras.regularizers.serialize(k_reg)
    back = regularizers.deserialize(expected)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    # Jit-compatible, and kerax's config loads in Keras with the same value.
    np.testing.assert_allclose(float(jax.jit(ours)(w)), float(k_reg(w)), rtol=1e-6)
    k_back = keras.regularizers.deserialize(reg.serialize_keras_object(ours))
    np.testing.assert_allclose(float(k_back(w)), float(k_reg(w)), rtol=1e-6)


@pytest.mark.parametrize("name", ["l1", "l2", "orthogonal_regularizer", "L1", "L1L2"])
def test_regularizer_aliases_match_keras(keras, name):
    ours = regularizers.get(name)
    k_reg = keras.regularizers.get(name)
    assert type(ours).__name__ == type(k_reg).__name__
    assert reg.serialize_keras_object(ours) == keras.saving.serialize_keras_object(k_reg)


def test_regularizer_signatures_and_names(keras):
    for name in ("L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
                 "orthogonal_regularizer"):
        ks = inspect.signature(getattr(keras.regularizers, name))
        ours = inspect.signature(getattr(regularizers, name))
        assert [(p.name, p.default) for p in ks.parameters.values()] == \
            [(p.name, p.default) for p in ours.parameters.values()], name
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)


def test_regularizer_closed_forms(w):
    np.testing.assert_allclose(float(regularizers.L1L2(l1=0.1, l2=0.2)(w)),
                               0.1 * np.abs(w).sum() + 0.2 * (w ** 2).sum(), rtol=1e-6)
    q = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0].astype("float32")
    assert float(regularizers.OrthogonalRegularizer(1.0)(q)) < 1e-6
    assert float(regularizers.OrthogonalRegularizer(1.0, mode="columns")(q)) < 1e-6
    # factor * mean |cosine similarity| over distinct pairs of rows.
    ones = np.ones((3, 3), "float32")
    np.testing.assert_allclose(float(regularizers.OrthogonalRegularizer(0.3)(ones)), 0.3,
                               rtol=1e-6)
    m = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]], "float32")
    c = np.sqrt(0.5)
    np.testing.assert_allclose(float(regularizers.OrthogonalRegularizer(1.0)(m)),
                               (c + 0.0 + c) / 3, rtol=1e-6)


def test_regularizer_errors():
    with pytest.raises(ValueError, match="l1"):
        regularizers.L1(-1.0)
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(float("inf"))
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Unknown regularizer.*l1_l2"):
        regularizers.get("l3")
    with pytest.raises(NotImplementedError):
        regularizers.Regularizer().get_config()
    assert regularizers.get(None) is None
    assert float(regularizers.Regularizer()(np.ones(3))) == 0.0
    # None means the default factor, as in Keras.
    assert regularizers.L1(None).get_config() == {"l1": float(np.float32(0.01))}
    assert regularizers.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}


def my_l1_regularizer(weights):  # the TensorFlow chapter's custom regularizer
    return jnp.sum(jnp.abs(0.01 * weights))


class MyL1Regularizer(regularizers.Regularizer):  # ... and its subclass version
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, weights):
        return jnp.sum(jnp.abs(self.factor * weights))

    def get_config(self):
        return {"factor": self.factor}


def test_custom_regularizers(keras, w):
    assert regularizers.get(my_l1_regularizer) is my_l1_regularizer
    np.testing.assert_allclose(float(my_l1_regularizer(w)),
                               float(keras.regularizers.L1(0.01)(w)), rtol=1e-5)
    config = regularizers.serialize(my_l1_regularizer)
    assert config["class_name"] == "function" and config["config"] == "my_l1_regularizer"
    assert regularizers.deserialize(
        config, custom_objects={"my_l1_regularizer": my_l1_regularizer}) is my_l1_regularizer

    r = MyL1Regularizer(0.01)
    assert regularizers.get(r) is r
    np.testing.assert_allclose(float(r(w)), float(keras.regularizers.L1(0.01)(w)), rtol=1e-5)
    config = regularizers.serialize(r)
    assert config["class_name"] == "MyL1Regularizer" and config["config"] == {"factor": 0.01}
    back = regularizers.deserialize(config, custom_objects={"MyL1Regularizer": MyL1Regularizer})
    assert isinstance(back, MyL1Regularizer) and back.factor == 0.01
    with kerax.saving.custom_object_scope({"MyL1Regularizer": MyL1Regularizer}):
        assert isinstance(regularizers.get(config), MyL1Regularizer)
    with pytest.raises(ValueError):
        regularizers.deserialize(config)


# ---- constraints -------------------------------------------------------------
CON_CASES = [
    ("MaxNorm", {}), ("MaxNorm", {"max_value": 0.5, "axis": 1}),
    ("MaxNorm", {"max_value": 1.5, "axis": [0, 1]}),
    ("MinMaxNorm", {}), ("MinMaxNorm", {"min_value": 1.0, "max_value": 2.0, "rate": 0.5}),
    ("MinMaxNorm", {"min_value": 2.5, "max_value": 3.0, "axis": 1}),
    ("NonNeg", {}), ("UnitNorm", {}), ("UnitNorm", {"axis": 1}),
]


@pytest.mark.parametrize("name,kwargs", CON_CASES)
def test_constraint_values_and_config_match_keras(keras, w, name, kwargs):
    k_con = getattr(keras.constraints, name)(**kwargs)
    ours = getattr(constraints, name)(**kwargs)
    expected_w = np.asarray(k_con(w))
    np.testing.assert_allclose(np.asarray(ours(w)), expected_w, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ours(kerax.Variable(w))), expected_w,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(ours)(w)), expected_w, rtol=1e-6,
                               atol=1e-6)
    expected = keras.saving.serialize_keras_object(k_con)
    assert reg.serialize_keras_object(ours) == expected
    assert constraints.serialize(ours) == keras.constraints.serialize(k_con)
    back = constraints.deserialize(expected)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


@pytest.mark.parametrize("name", ["max_norm", "min_max_norm", "non_neg", "unit_norm",
                                  "MaxNorm", "NonNeg"])
def test_constraint_aliases_match_keras(keras, name):
    ours, k_con = constraints.get(name), keras.constraints.get(name)
    assert type(ours).__name__ == type(k_con).__name__
    assert reg.serialize_keras_object(ours) == keras.saving.serialize_keras_object(k_con)
    sig_k = inspect.signature(getattr(keras.constraints, name))
    sig = inspect.signature(getattr(constraints, name))
    assert [(p.name, p.default) for p in sig_k.parameters.values()] == \
        [(p.name, p.default) for p in sig.parameters.values()]


def test_constraint_closed_forms(w):
    out = np.asarray(constraints.UnitNorm()(w))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), 1.0, rtol=1e-5)
    out = np.asarray(constraints.MaxNorm(1.0)(w * 10))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), 1.0, rtol=1e-5)
    small = w * 1e-2
    np.testing.assert_allclose(constraints.MaxNorm(1.0)(small), small, rtol=1e-4)
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.where(w < 0, 0, w))
    np.testing.assert_array_equal(constraints.NonNeg()(np.array([-1, 2])), [0, 2])


def test_constraint_errors_and_get():
    assert constraints.get(None) is None
    assert isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)
    with pytest.raises(ValueError, match="Unknown constraint.*max_norm"):
        constraints.get("max_nrm")
    with pytest.raises(ValueError, match="axis"):
        constraints.UnitNorm(axis="rows")
    with pytest.raises(ValueError, match="max_value"):
        constraints.MaxNorm(max_value="big")
    np.testing.assert_array_equal(constraints.Constraint()(np.ones(2)), np.ones(2))
    assert constraints.Constraint().get_config() == {}


def my_positive_weights(weights):  # the TensorFlow chapter's custom constraint
    return jnp.where(weights < 0.0, jnp.zeros_like(weights), weights)


def test_custom_constraint(keras, w):
    assert constraints.get(my_positive_weights) is my_positive_weights
    np.testing.assert_allclose(my_positive_weights(w), np.asarray(keras.constraints.NonNeg()(w)))
    config = constraints.serialize(my_positive_weights)
    assert config["class_name"] == "function" and config["config"] == "my_positive_weights"
    assert constraints.deserialize(
        config, custom_objects={"my_positive_weights": my_positive_weights}) \
        is my_positive_weights
    # As a Variable constraint.
    v = kerax.Variable(w, constraint=constraints.get(my_positive_weights))
    v.assign(v.constraint(v.value))
    assert float(np.asarray(v.numpy()).min()) >= 0.0
