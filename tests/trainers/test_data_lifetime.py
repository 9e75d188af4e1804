"""fit/evaluate/predict keep no copy of their data after the call, and the
number of compiled programs does not grow with the dataset's length (issue 12,
item 1): compiles counted with jax.monitoring, against Keras 3 on the same loop."""
import contextlib
import doctest
import gc

import jax
import numpy as np
import pytest

import kerax
from kerax.trainers import data_adapter as da

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FEATURES = 13  # a width no other array of these tests has


@contextlib.contextmanager
def count_compiles():
    """Counts XLA compilations (every jit program, eager op or not) in the block."""
    seen = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def _model(lib):
    model = lib.Sequential([lib.Input((FEATURES,)), lib.layers.Dense(4, activation="relu"),
                            lib.layers.Dense(1)])
    model.compile("adam", "mse")
    return model


def _live_data_copies():
    gc.collect()
    return [a for a in jax.live_arrays() if a.ndim == 2 and a.shape[1] == FEATURES]


def test_no_device_copy_outlives_the_call():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(777, FEATURES)).astype(np.float32)
    y = rng.normal(size=(777, 1)).astype(np.float32)
    model = _model(kerax)
    before = len(_live_data_copies())
    model.fit(x, y, batch_size=64, verbose=0, validation_data=(x[:128], y[:128]))
    assert len(_live_data_copies()) == before
    model.evaluate(x, y, batch_size=64, verbose=0)
    assert len(_live_data_copies()) == before
    out = model.predict(x[:768], batch_size=64, verbose=0)
    assert len(_live_data_copies()) == before
    assert out.shape == (768, 1)
    # the same after a call that fails half-way
    class Stop(kerax.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        model.fit(x, y, batch_size=64, verbose=0, callbacks=[Stop()])
    assert len(_live_data_copies()) == before


def test_rss_stays_flat_over_repeated_fits():
    """12 fits on fresh 20 MB arrays: the process grows by far less than the
    240 MB that keeping each call's device copy would cost."""
    def rss_mb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
        pytest.skip("no /proc/self/status")

    rows = 20 * 2**20 // (4 * (FEATURES + 1))
    model = _model(kerax)

    def one_fit(i):
        x = np.full((rows, FEATURES), i, np.float32)
        y = np.full((rows, 1), i, np.float32)
        model.fit(x, y, batch_size=1024, steps_per_epoch=2, verbose=0)

    one_fit(0)
    gc.collect()
    start = rss_mb()
    for i in range(12):
        one_fit(i)
    gc.collect()
    assert rss_mb() - start < 150


def test_predict_compiles_per_last_batch_size_not_per_length(keras):
    """Keras 3 compiles one program per distinct last-batch size (31 for the
    lengths 1..64 at batch 32); kerax compiles no more than Keras on the same
    loop (no device copy, so no program per dataset length), with the same
    outputs."""
    rng = np.random.default_rng(0)
    model = _model(kerax)
    model.predict(np.zeros((32, FEATURES), np.float32), batch_size=32, verbose=0)
    with count_compiles() as seen:
        for n in range(1, 65):
            assert model.predict(rng.normal(size=(n, FEATURES)).astype(np.float32),
                                 batch_size=32, verbose=0).shape == (n, 1)
    assert len(seen) <= 32, len(seen)

    xs = [rng.normal(size=(n, FEATURES)).astype(np.float32) for n in range(1, 21)]
    counts, outs = {}, {}
    k_model = _model(keras)
    k_model.set_weights(model.get_weights())
    for name, m in (("kerax", model), ("keras", k_model)):
        m.predict(xs[7], batch_size=8, verbose=0)  # warm: one full batch
        with count_compiles() as seen:
            outs[name] = [m.predict(x, batch_size=8, verbose=0) for x in xs]
        counts[name] = len(seen)
    assert counts["kerax"] <= counts["keras"], counts
    for a, b in zip(outs["kerax"], outs["keras"]):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_predict_of_a_batch_coupled_model_equals_keras(keras):
    """A model whose outputs mix the samples of a batch (a similarity matrix
    over the batch) sees the real last batch, never a padded one."""
    def build(lib):
        inp = lib.Input((3,))
        h = lib.layers.Dense(4)(inp)
        return lib.Model(inp, lib.ops.matmul(h, lib.ops.transpose(h)))

    kx, k = build(kerax), build(keras)
    kx.set_weights(k.get_weights())
    x = np.random.default_rng(5).normal(size=(3, 3)).astype(np.float32)
    got, want = kx.predict(x, batch_size=4, verbose=0), k.predict(x, batch_size=4, verbose=0)
    assert got.shape == want.shape == (3, 3)  # a padded batch would give (3, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_evaluate_and_fit_compile_per_last_batch_size():
    """Without padding (the loss of a partial batch is over its own samples),
    evaluate/fit compile one program per distinct last-batch size (as Keras
    3); fit adds one gather program per padded length, evaluate one per
    power-of-two group size, not per dataset length."""
    rng = np.random.default_rng(1)
    model = _model(kerax)
    x = rng.normal(size=(614, FEATURES)).astype(np.float32)
    y = rng.normal(size=(614, 1)).astype(np.float32)
    model.fit(x[:64], y[:64], batch_size=32, verbose=0)
    model.evaluate(x[:64], y[:64], batch_size=32, verbose=0)
    # 6 lengths, last batches of 6 (or none), padded to 576 or 640 rows
    lengths = [518, 550, 544, 576, 582, 614]
    assert {da.padded_rows(n, 32) for n in lengths} == {576, 640}
    with count_compiles() as seen:
        for n in lengths:
            model.evaluate(x[:n], y[:n], batch_size=32, verbose=0)
    # evaluate streams host batches in groups of a power of two at most the
    # number of full batches (16 for all of them here), plus one program for
    # the last batch of 6
    groups = {1 << ((n // 32).bit_length() - 1) for n in lengths}
    assert groups == {16}
    assert len(seen) <= 1 + len(groups), len(seen)
    with count_compiles() as seen:
        for n in lengths:
            model.fit(x[:n], y[:n], batch_size=32, verbose=0)
    # fit: the same, plus one gather program per padded length (576, 640)
    assert len(seen) <= 3, len(seen)


def test_padded_rows_rule():
    assert doctest.testmod(da).failed == 0
    for b in (1, 7, 32):
        prev = 0
        for n in range(1, 3000, 7):
            rows = da.padded_rows(n, b)
            assert rows % b == 0 and rows >= n and rows >= prev
            assert rows <= max(16 * b, n * 1.125 + b), (n, b, rows)
            prev = rows
    # a few lengths per octave
    assert len({da.padded_rows(n, 32) for n in range(1000, 2000)}) <= 9


def test_predict_partial_batches_exactly(keras):
    """Partial last batches: predict of a dict-input,
    two-output model on every length 1..9 at batch 4 equals Keras."""
    def build(lib):
        a = lib.Input((3,), name="a")
        b = lib.Input((2,), name="b")
        h = lib.layers.Concatenate()([a, b])
        return lib.Model({"a": a, "b": b}, [lib.layers.Dense(2)(h), lib.layers.Dense(1)(h)])

    kx, k = build(kerax), build(keras)
    kx.set_weights(k.get_weights())
    rng = np.random.default_rng(2)
    for n in range(1, 10):
        inputs = {"a": rng.normal(size=(n, 3)).astype(np.float32),
                  "b": rng.normal(size=(n, 2)).astype(np.float32)}
        got, want = kx.predict(inputs, batch_size=4, verbose=0), \
            k.predict(inputs, batch_size=4, verbose=0)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_jax_array_inputs():
    """jax.Array inputs stay on the device (padded there) and give the same
    results as NumPy ones, partial batches included."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(45, FEATURES)).astype(np.float32)
    y = rng.normal(size=(45, 1)).astype(np.float32)
    model = _model(kerax)
    for rows in (45, 5):
        np.testing.assert_allclose(
            model.predict(jax.numpy.asarray(x[:rows]), batch_size=8, verbose=0),
            model.predict(x[:rows], batch_size=8, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(
        model.evaluate(jax.numpy.asarray(x), jax.numpy.asarray(y), batch_size=8, verbose=0),
        model.evaluate(x, y, batch_size=8, verbose=0), rtol=1e-6)
