"""Dtype policies, mixed precision training and dynamic loss scaling."""
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import mixed_precision as mp


@pytest.fixture
def policy():
    yield
    mp.set_global_policy("float32")


def test_policy_names_and_layer_dtypes(policy):
    p = mp.DTypePolicy("mixed_bfloat16")
    assert (p.variable_dtype, p.compute_dtype) == ("float32", "bfloat16")
    with pytest.raises(ValueError, match="unknown policy"):
        mp.DTypePolicy("mixed_int3")
    d = kerax.layers.Dense(4, dtype="mixed_bfloat16")
    y = d(np.ones((2, 3), np.float32))
    assert d.kernel.dtype == jnp.float32 and y.dtype == jnp.bfloat16
    assert d.dtype == "float32" and d.compute_dtype == "bfloat16"
    assert d.get_config()["dtype"]["config"]["name"] == "mixed_bfloat16"
    # the value computed in bf16 equals the float32 math rounded through bf16
    k = d.kernel.numpy().astype(jnp.bfloat16).astype(np.float32)
    np.testing.assert_allclose(np.asarray(y, np.float32), np.ones((2, 3)) @ k, rtol=1e-2)
    mp.set_global_policy("mixed_bfloat16")
    assert kerax.layers.Dense(2).compute_dtype == "bfloat16"
    assert kerax.activations.softmax(jnp.ones((2, 3), jnp.bfloat16)).dtype == jnp.float32


def _digits_accuracy(policy_name, seed=3):
    mp.set_global_policy(policy_name)
    kerax.utils.set_random_seed(seed)
    (x, y), (xt, yt) = kerax.datasets.load_digits()
    model = kerax.Sequential([kerax.layers.Flatten(input_shape=(8, 8)),
                              kerax.layers.Dense(64, activation="relu"),
                              kerax.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    np.random.seed(seed)
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert all(v.dtype == jnp.float32 for v in model.weights)
    return model.evaluate(xt, yt, verbose=0)[1], model


def test_mixed_bfloat16_matches_float32_accuracy(policy):
    acc32, _ = _digits_accuracy("float32")
    acc16, model = _digits_accuracy("mixed_bfloat16")
    assert model.layers[1].compute_dtype == "bfloat16"
    assert acc32 > 0.9
    assert abs(acc32 - acc16) <= 0.01 + 1e-9


def test_mixed_float16_uses_loss_scaling(policy):
    mp.set_global_policy("mixed_float16")
    model = kerax.Sequential([kerax.Input((8,)), kerax.layers.Dense(16, activation="relu"),
                              kerax.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, kerax.optimizers.LossScaleOptimizer)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = x[:, :1] * 2
    h = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_loss_scale_optimizer_skips_non_finite_steps():
    w = kerax.Variable([1.0, 2.0])
    opt = kerax.optimizers.LossScaleOptimizer(kerax.optimizers.SGD(0.1), initial_scale=8.0,
                                             dynamic_growth_steps=2)
    assert float(opt.scale_loss(jnp.float32(1.0))) == 8.0
    opt.apply([jnp.array([jnp.inf, 1.0])], [w])
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])  # skipped
    assert float(opt.dynamic_scale.numpy()) == 4.0
    opt.apply([jnp.array([4.0, 8.0])], [w])  # unscaled: [1, 2]
    np.testing.assert_allclose(w.numpy(), [0.9, 1.8], rtol=1e-6)
    opt.apply([jnp.array([4.0, 8.0])], [w])  # second finite step in a row: scale grows
    assert float(opt.dynamic_scale.numpy()) == 8.0

    @kerax.function
    def step(g):
        opt.apply([g], [w])

    step(jnp.array([jnp.nan, 0.0]))
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6], rtol=1e-6)
    assert float(opt.dynamic_scale.numpy()) == 4.0
