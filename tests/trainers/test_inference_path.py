"""evaluate/predict over NumPy arrays: misaligned host batches are copied
through reused aligned buffers (XLA's CPU client reads aligned arrays in
place), with results equal to a NumPy forward pass whatever the alignment,
however many times the buffers are reused; metric resets share zero buffers
that a later training step's donation does not destroy."""
import numpy as np
from jax.tree_util import tree_leaves as jax_leaves
import pytest

import kerax
from kerax.metrics.metric import zeros_of
from kerax.trainers import engine as engine_mod
from kerax.trainers import trainer as trainer_mod

N, BATCH, D = 1000, 16, 40


def aligned(a, offset):
    """A copy of `a` whose data starts `offset` bytes past a 64-byte boundary."""
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset
    return out


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, D)).astype(np.float32)
    y = rng.integers(0, 3, N).astype(np.int32)
    kerax.utils.set_random_seed(1)
    model = kerax.Sequential([kerax.Input((D,)), kerax.layers.Dense(8, activation="relu"),
                              kerax.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, x, y


def numpy_forward(model, x):
    w1, b1, w2, b2 = model.get_weights()
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_scores(model, x, y):
    p = numpy_forward(model, x)
    q = np.clip(p, 1e-7, 1 - 1e-7)
    loss = float(np.mean(-np.log(q[np.arange(len(y)), y])))
    return loss, float(np.mean(p.argmax(-1) == y))


@pytest.mark.parametrize("offset", [0, 16])
def test_predict_and_evaluate_equal_numpy_whatever_the_alignment(setup, monkeypatch, offset):
    model, x, y = setup
    # small groups: the three staging buffers are reused many times in one call
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 8 * BATCH * D * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    xs, ys = aligned(x, offset), aligned(y, offset)
    staged = []
    real = engine_mod.Staging.stage

    def stage(self, batches, start=0):
        out = real(self, batches, start)
        staged.append(out is not batches)
        return out
    monkeypatch.setattr(engine_mod.Staging, "stage", stage)
    for _ in range(2):  # the second call reuses the first call's warm buffers
        np.testing.assert_allclose(model.predict(xs, batch_size=BATCH, verbose=0),
                                   numpy_forward(model, x), rtol=1e-5, atol=1e-6)
        loss, acc = model.evaluate(xs, ys, batch_size=BATCH, verbose=0)
        want = numpy_scores(model, x, y)
        np.testing.assert_allclose([loss, acc], want, rtol=1e-5)
    # misaligned groups are copied; aligned ones are read in place (the
    # probe's padded first group and the partial last batch are new arrays,
    # aligned or not)
    if offset:
        assert sum(staged) >= len(staged) * 3 // 4
    else:
        assert sum(staged) <= len(staged) // 4
    np.testing.assert_array_equal(xs, x)  # the caller's array is untouched


def test_staging_buffers_are_aligned_and_reused(setup, monkeypatch):
    model, x, y = setup
    monkeypatch.setattr(engine_mod, "_STAGING_POOL", [])  # no idle sets from other tests
    eng = model._engine("predict")
    st = eng.staging()
    a = aligned(x, 16)[:512].reshape(32, BATCH, D)
    first = st.stage({"x": a})["x"]
    assert first.ctypes.data % 64 == 0 and np.array_equal(first, a)
    st.dispatched(([], []))
    eng.release_staging(st)
    again = eng.staging()
    assert again is st  # warm buffers kept between passes
    eng.release_staging(again)
    other = model._engine("test").staging()
    assert other is st  # and shared by the engines of every model


def test_shared_zero_buffers_survive_training(setup):
    model, x, y = setup
    model.evaluate(x, y, batch_size=BATCH, verbose=0)  # metrics reset to shared zeros
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # donates the metric state
    assert float(np.asarray(zeros_of((), "float32"))) == 0.0
    loss, acc = model.evaluate(x, y, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)


def test_device_arrays_are_read_in_place(setup, monkeypatch):
    """jax.Array inputs to evaluate/predict are read where they are (no
    padded device copy); the results equal NumPy's."""
    import jax.numpy as jnp
    from kerax.trainers import data_adapter as da
    model, x, y = setup
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    xd, yd = jnp.asarray(x), jnp.asarray(y)
    seen = []
    real = da.ArrayData.on_device

    def on_device(self):
        out = real(self)
        seen.append(out.arrays)
        return out
    monkeypatch.setattr(da.ArrayData, "on_device", on_device)
    np.testing.assert_allclose(model.predict(xd, batch_size=BATCH, verbose=0),
                               numpy_forward(model, x), rtol=1e-5, atol=1e-6)
    assert seen and jax_leaves(seen[-1])[0] is xd
    loss, acc = model.evaluate(xd, yd, batch_size=BATCH, verbose=0)
    assert jax_leaves(seen[-1])[0] is xd and jax_leaves(seen[-1])[1] is yd
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)


def test_staging_leaves_non_numeric_arrays_alone(setup):
    model, _, _ = setup
    st = model._engine("predict").staging()
    strings = np.array(["a"] * 40000, dtype=object).reshape(4, 10000)
    ints = aligned(np.arange(40000, dtype=np.int32), 16).reshape(4, 10000)
    out = st.stage({"s": strings, "i": ints})
    assert out["s"] is strings  # object arrays are not raw memory to copy
    assert out["i"].ctypes.data % 64 == 0 and np.array_equal(out["i"], ints)
    st.done()


def test_grouped_fit_on_a_dataset_of_staged_batches(monkeypatch):
    """fit over a PyDataset: host batches go through the staging buffers while
    the state is donated from dispatch to dispatch; the staging waits on the
    logs, never on donated buffers, and training equals one step at a time."""
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 4 * BATCH * D * 4)
    rng = np.random.default_rng(3)
    x = aligned(rng.normal(size=(320, D)).astype(np.float32), 16)
    y = rng.normal(size=(320, 1)).astype(np.float32)

    class Batches(kerax.utils.PyDataset):
        def __len__(self):
            return 320 // BATCH

        def __getitem__(self, i):
            return x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    def trained(spe):
        kerax.utils.set_random_seed(4)
        model = kerax.Sequential([kerax.Input((D,)), kerax.layers.Dense(4, activation="relu"),
                                  kerax.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", steps_per_execution=spe)
        model.fit(Batches(), epochs=3, verbose=0)
        return model.get_weights()

    for a, b in zip(trained("auto"), trained(1)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dict_inputs_of_misaligned_arrays(monkeypatch):
    """A two-input model fed a dict of misaligned arrays (each staged on its
    own), twice in one process: predict and evaluate equal NumPy's."""
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 8 * BATCH * D * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    rng = np.random.default_rng(5)
    a = aligned(rng.normal(size=(N, D)).astype(np.float32), 16)
    b = aligned(rng.normal(size=(N, 3)).astype(np.float32), 48)
    y = rng.normal(size=(N, 1)).astype(np.float32)
    kerax.utils.set_random_seed(6)
    ia, ib = kerax.Input((D,), name="a"), kerax.Input((3,), name="b")
    out = kerax.layers.Dense(1)(kerax.layers.Concatenate()([ia, ib]))
    model = kerax.Model({"a": ia, "b": ib}, out)
    model.compile(optimizer="sgd", loss="mse")
    w, bias = model.get_weights()
    want = np.concatenate([a, b], axis=1) @ w + bias
    for _ in range(2):
        got = model.predict({"a": a, "b": b}, batch_size=BATCH, verbose=0)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        loss = model.evaluate({"a": a, "b": b}, y, batch_size=BATCH, verbose=0)
        np.testing.assert_allclose(loss, np.mean((want - y) ** 2), rtol=1e-5)
