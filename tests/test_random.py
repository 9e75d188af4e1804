import jax.numpy as jnp
import numpy as np
import pytest

import kerax


def test_int_seed_is_fixed_and_generator_advances():
    a = kerax.random.normal((3,), seed=7)
    b = kerax.random.normal((3,), seed=7)
    np.testing.assert_array_equal(a, b)
    gen = kerax.random.SeedGenerator(1)
    x, y = kerax.random.uniform((4,), seed=gen), kerax.random.uniform((4,), seed=gen)
    assert not np.array_equal(x, y)
    assert gen.state.trainable is False


def test_set_random_seed_reproducible_eager_and_compiled():
    def draw():
        return kerax.random.normal((5,))

    compiled = kerax.function(draw)
    kerax.utils.set_random_seed(42)
    e1, e2 = draw(), draw()
    kerax.utils.set_random_seed(42)
    c1, c2 = compiled(), compiled()
    np.testing.assert_array_equal(e1, c1)
    np.testing.assert_array_equal(e2, c2)
    assert not np.array_equal(c1, c2)
    kerax.utils.set_random_seed(42)
    py = [__import__("random").random(), np.random.rand()]
    kerax.utils.set_random_seed(42)
    assert py == [__import__("random").random(), np.random.rand()]


def test_distributions_statistics():
    n = 20000
    x = np.asarray(kerax.random.normal((n,), mean=2.0, stddev=3.0, seed=1))
    assert abs(x.mean() - 2.0) < 0.1 and abs(x.std() - 3.0) < 0.1
    u = np.asarray(kerax.random.uniform((n,), minval=-1, maxval=3, seed=2))
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 0.05
    t = np.asarray(kerax.random.truncated_normal((n,), stddev=1.0, seed=3))
    assert np.abs(t).max() <= 2.0
    r = np.asarray(kerax.random.randint((n,), 0, 5, seed=4))
    assert r.dtype == np.int32 and set(np.unique(r)) == {0, 1, 2, 3, 4}
    c = np.asarray(kerax.random.categorical(jnp.log(jnp.array([[0.1, 0.9]])), 5000, seed=5))
    assert c.shape == (1, 5000) and abs(c.mean() - 0.9) < 0.03
    d = np.asarray(kerax.random.dropout(jnp.ones((n,)), 0.25, seed=6))
    assert abs((d == 0).mean() - 0.25) < 0.02 and np.allclose(d[d != 0], 1 / 0.75)
    s = np.asarray(kerax.random.shuffle(jnp.arange(10), seed=7))
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))


def test_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        kerax.random.normal((2,), seed="x")


def test_float32_samples_of_any_shape_equal_jax_random_bit_for_bit():
    """uniform/normal/truncated_normal take one program per distribution (or
    none: uniform on the host) for every shape, with jax.random's values."""
    import jax

    from kerax import random as kr
    shapes = [(3,), (128, 10), (5, 7, 9), (70_001,), (1 << 20) + 3]
    for seed in (0, 12345):
        key = jax.random.key_data(jax.random.key(seed))
        for shape in shapes:
            shape = (shape,) if isinstance(shape, int) else shape
            pairs = [
                (kr.uniform(shape, -0.3, 0.7, seed=seed),
                 jax.random.uniform(key, shape, minval=-0.3, maxval=0.7)),
                (kr.normal(shape, 0.5, 2.0, seed=seed),
                 jax.random.normal(key, shape) * 2.0 + 0.5),
                (kr.truncated_normal(shape, 0.5, 2.0, seed=seed),
                 jax.random.truncated_normal(key, -2.0, 2.0, shape) * 2.0 + 0.5)]
            for ours, want in pairs:
                assert ours.shape == want.shape and ours.dtype == want.dtype
                np.testing.assert_array_equal(np.asarray(ours), np.asarray(want))


def test_initializing_many_shapes_compiles_one_sampler_program():
    import jax

    compiled = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **kw: compiled.append(name)
        if name == "/jax/core/compile/backend_compile_duration" else None)
    # the first use of each sampler compiles its one program
    kerax.initializers.HeNormal(seed=2)((2, 2))
    kerax.initializers.GlorotUniform(seed=2)((2, 2))
    kerax.initializers.RandomNormal(seed=2)((2, 2))
    before = len(compiled)
    for shape in [(3, 5), (17, 4), (6, 6, 6), (1, 99), (250, 3)]:
        kerax.initializers.HeNormal(seed=2)(shape)
        kerax.initializers.GlorotUniform(seed=2)(shape)
        kerax.initializers.RandomNormal(seed=2)(shape)
        kerax.Variable(np.ones(shape, np.float64))  # NumPy values: no program per shape
    assert len(compiled) == before
