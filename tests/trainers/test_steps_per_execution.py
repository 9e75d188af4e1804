"""`steps_per_execution=k` runs the same steps as k single steps: the same
weights (within 1e-6) and logs, with a partial last batch and with leftover
batches that do not fill a block of k."""
import numpy as np
import pytest

import kerax
from kerax import layers

N, BATCH = 100, 8            # 12 full batches and one of 4 samples
rng = np.random.default_rng(0)
X = rng.normal(size=(N, 5)).astype(np.float32)
Y = (X @ rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(N, 1))).astype(np.float32)


def _mlp():
    return kerax.Sequential([kerax.Input((5,)), layers.Dense(16, activation="relu"),
                             layers.Dense(1)])


def _bn_dropout():
    return kerax.Sequential([kerax.Input((5,)), layers.Dense(16), layers.BatchNormalization(),
                             layers.Activation("relu"), layers.Dropout(0.3),
                             layers.Dense(8, activation="tanh"), layers.Dropout(0.2, seed=3),
                             layers.Dense(1)])


def _train(make, optimizer, k, data="arrays", epochs=2):
    kerax.utils.set_random_seed(7)      # same initial weights and dropout masks
    model = make()
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"], steps_per_execution=k)
    if data == "arrays":
        h = model.fit(X, Y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    else:
        def batches():
            for i in range(0, N, BATCH):
                yield X[i:i + BATCH], Y[i:i + BATCH]
        h = model.fit(_Reiterable(batches), epochs=epochs, verbose=0)
    return model.get_weights(), h.history


class _Reiterable:
    def __init__(self, gen):
        self.gen = gen

    def __iter__(self):
        return self.gen()


def _assert_same(ref, got):
    (w_ref, h_ref), (w_got, h_got) = ref, got
    assert len(w_ref) == len(w_got)
    for a, b in zip(w_ref, w_got):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    for key in h_ref:
        np.testing.assert_allclose(h_got[key], h_ref[key], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mlp_steps_per_execution_matches_single_steps(optimizer):
    ref = _train(_mlp, optimizer, 1)
    for k in (3, 8):
        _assert_same(ref, _train(_mlp, optimizer, k))
    # the reference itself is reproducible (k=1 twice)
    _assert_same(ref, _train(_mlp, optimizer, 1))


def test_batchnorm_dropout_steps_per_execution_matches_single_steps():
    ref = _train(_bn_dropout, "adam", 1)
    for k in (3, 8):
        _assert_same(ref, _train(_bn_dropout, "adam", k))


def test_iterable_steps_per_execution_matches_single_steps():
    ref = _train(_bn_dropout, "sgd", 1, data="iterable")
    for k in (3, 8):
        _assert_same(ref, _train(_bn_dropout, "sgd", k, data="iterable"))
    # arrays and an iterable of the same batches train alike
    _assert_same(ref, _train(_bn_dropout, "sgd", 3))


def test_epoch_iterator_blocks():
    """The blocks themselves: data order kept, full groups of k, leftovers and
    the partial batch as single steps (the partial one sliced on the host, so
    its program depends on its size only, not on the dataset's length)."""
    from kerax.trainers import data_adapter as da
    data = da.ArrayData(X, Y, batch_size=BATCH)
    blocks = list(da.EpochIterator(data, steps_per_execution=5))
    assert [(b.kind, b.steps) for b in blocks] == \
        [("indexed", 5), ("indexed", 5), ("indexed", 1), ("indexed", 1), ("stacked", 1)]
    order = np.concatenate([b.index.reshape(-1) for b in blocks[:-1]])
    np.testing.assert_array_equal(order, np.arange(N - 4))
    np.testing.assert_array_equal(blocks[-1].data[0], X[None, N - 4:])
    eager = list(da.EpochIterator(data, steps_per_execution=5, eager=True, steps=3))
    assert [(b.kind, b.steps) for b in eager] == [("eager", 1)] * 3
    np.testing.assert_array_equal(eager[1].data[0], X[8:16])
    it = da.IterableData([(X[i:i + BATCH], Y[i:i + BATCH]) for i in range(0, N, BATCH)])
    blocks = list(da.EpochIterator(it, steps_per_execution=5))
    assert [(b.kind, b.steps) for b in blocks] == \
        [("stacked", 5), ("stacked", 5), ("stacked", 1), ("stacked", 1), ("stacked", 1)]
    np.testing.assert_array_equal(blocks[1].data[0][0], X[40:48])
