"""Ftrl, Lamb, Muon and ScheduleFreeAdamW against Keras 3: weights after 20
steps, configs, and `.keras` files that resume training identically both ways."""
import numpy as np
import pytest

import kerax
from kerax import optimizers
from tests.test_optimizers import _assert_close, _data, _run_keras, _run_kerax

CASES = [
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.01,
              "l2_regularization_strength": 0.1, "l2_shrinkage_regularization_strength": 0.05,
              "beta": 0.1}),
    ("Lamb", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("ScheduleFreeAdamW", {"warmup_steps": 5, "weight_decay": 0.01}),
    ("Muon", {"nesterov": False, "rms_rate": None, "adam_lr_ratio": 0.5,
              "learning_rate": 0.01, "exclude_layers": ["w0"]}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras_after_20_steps(keras, name, kwargs):
    w0, grads = _data()
    names = ["w0", "w1", "w2"]
    ref, _ = _run_keras(keras, getattr(keras.optimizers, name)(**kwargs), w0, grads, names)
    got, _ = _run_kerax(getattr(optimizers, name)(**kwargs), w0, grads, names)
    _assert_close(ref, got)


@pytest.mark.parametrize("name", ["Ftrl", "Lamb", "Muon", "ScheduleFreeAdamW"])
def test_config_matches_keras_and_round_trips(keras, name):
    kwargs = dict(next(kw for n, kw in CASES if n == name))
    ours = getattr(optimizers, name)(**kwargs)
    theirs = getattr(keras.optimizers, name)(**kwargs)
    config = ours.get_config()
    assert config == theirs.get_config()
    assert type(ours).from_config(config).get_config() == config
    assert optimizers.deserialize(optimizers.serialize(ours)).get_config() == config
    assert type(optimizers.get(name.lower())) is type(ours)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        optimizers.Ftrl(initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)


def _model(m):
    return m.Sequential([m.Input((3,)), m.layers.Dense(4, name="dense_a"),
                         m.layers.Dense(2, name="dense_b")])


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")


@pytest.mark.parametrize("name", ["Lamb", "Muon"])  # optax state; Keras-style slots
def test_keras_files_resume_identically_both_ways(keras, name, batch, tmp_path):
    """Keras trains 3 steps and saves; kerax loads (weights and optimizer
    state) and one more step in each agrees; then kerax saves, Keras loads,
    and one more step in each agrees again."""
    x, y = batch
    kwargs = {"learning_rate": 0.05}
    kmodel = _model(keras)
    kmodel.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss="mse")
    for _ in range(3):
        kmodel.train_on_batch(x, y)
    kmodel.save(tmp_path / "k.keras")
    model = kerax.models.load_model(tmp_path / "k.keras")
    assert type(model.optimizer) is getattr(optimizers, name)
    kmodel.train_on_batch(x, y)
    model.train_on_batch(x, y)
    _assert_close(kmodel.get_weights(), model.get_weights(), atol=1e-6)
    model.save(tmp_path / "x.keras")
    back = keras.models.load_model(tmp_path / "x.keras")
    back.train_on_batch(x, y)
    model.train_on_batch(x, y)
    _assert_close(back.get_weights(), model.get_weights(), atol=1e-6)


def test_train_inside_compiled_fit(batch):
    x, y = batch
    for name in ["Ftrl", "ScheduleFreeAdamW"]:  # (Lamb and Muon: train_on_batch above)
        kerax.utils.set_random_seed(0)  # the same start whatever ran before
        model = _model(kerax)
        model.compile(optimizer=getattr(optimizers, name)(learning_rate=0.1), loss="mse")
        history = model.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0], name
