import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax.optimizers import schedules

STEPS = [0, 1, 2, 3, 5, 7, 10, 15, 20, 33, 50, 99, 100, 101, 150, 250, 400, 1000]

CASES = [
    ("ExponentialDecay", (0.1, 10, 0.9), {}),
    ("ExponentialDecay", (0.1, 10, 0.5), {"staircase": True}),
    ("PiecewiseConstantDecay", ([10, 50, 100], [1.0, 0.5, 0.1, 0.01]), {}),
    ("PolynomialDecay", (0.1, 100), {"end_learning_rate": 0.01, "power": 0.5}),
    ("PolynomialDecay", (0.1, 30), {"cycle": True, "power": 2.0}),
    ("InverseTimeDecay", (0.1, 10, 0.5), {}),
    ("InverseTimeDecay", (0.1, 10, 0.5), {"staircase": True}),
    ("CosineDecay", (0.1, 100), {"alpha": 0.1}),
    ("CosineDecay", (0.0, 100), {"warmup_target": 0.2, "warmup_steps": 20}),
    ("CosineDecayRestarts", (0.1, 20), {}),
    ("CosineDecayRestarts", (0.1, 20), {"t_mul": 1.0, "m_mul": 0.5, "alpha": 0.05}),
    ("CosineDecayRestarts", (0.1, 15), {"t_mul": 1.5, "m_mul": 0.8}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_match_keras(keras, name, args, kwargs):
    ours = getattr(schedules, name)(*args, **kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(*args, **kwargs)
    steps = jnp.asarray(STEPS, jnp.int32)
    # Eager, over many steps at once (vmap runs each op as is).
    np.testing.assert_allclose(np.asarray(jax.vmap(ours)(steps)),
                               np.asarray(jax.vmap(theirs)(steps)), rtol=1e-6, atol=1e-7)
    # Compiled, against Keras compiled too (XLA turns x / constant into
    # x * (1 / constant) for both).
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(ours))(steps)),
                               np.asarray(jax.jit(jax.vmap(theirs))(steps)),
                               rtol=1e-6, atol=1e-7)
    # A Python int step and a kerax Variable step.
    np.testing.assert_allclose(float(ours(33)), float(theirs(33)), rtol=1e-6)
    np.testing.assert_allclose(float(ours(kerax.Variable(7))), float(theirs(7)), rtol=1e-6)


@pytest.mark.parametrize("name,args,kwargs", CASES[::3],
                         ids=[c[0] for c in CASES[::3]])
def test_serialization_matches_keras(keras, name, args, kwargs):
    ours = getattr(schedules, name)(*args, **kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(*args, **kwargs)
    assert schedules.serialize(ours) == keras.saving.serialize_keras_object(theirs)
    back = schedules.deserialize(keras.saving.serialize_keras_object(theirs))
    assert type(back) is type(ours)
    assert back.get_config() == ours.get_config()
    np.testing.assert_allclose(float(back(17)), float(theirs(17)), rtol=1e-6)


def test_schedule_as_learning_rate(keras):
    sched = schedules.PiecewiseConstantDecay([2, 4], [0.1, 0.01, 0.001])
    opt = kerax.optimizers.SGD(learning_rate=sched)
    v = kerax.Variable(np.zeros(1, "float32"))
    step = kerax.function(lambda: opt.apply_gradients([(jnp.ones(1), v)]))
    values = []
    for _ in range(6):
        values.append(float(opt.learning_rate))
        step()
    # The schedule sees the step before the update: 0,1,2 -> 0.1; 3,4 -> 0.01; 5 -> 0.001
    np.testing.assert_allclose(values, [0.1, 0.1, 0.1, 0.01, 0.01, 0.001], rtol=1e-6)
    np.testing.assert_allclose(v.numpy(), [-(0.3 + 0.02 + 0.001)], rtol=1e-5)


def test_custom_schedule_and_errors():
    class Half(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / (2.0 + step)

        def get_config(self):
            return {}

    np.testing.assert_allclose(float(Half()(2)), 0.25)
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ValueError, match="first_decay_steps"):
        schedules.CosineDecayRestarts(0.1, -1)
