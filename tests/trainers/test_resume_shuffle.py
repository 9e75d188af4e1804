"""Resuming is exact under the default `shuffle=True` (issue 12, item 7): the
epoch's order derives from the seed and the optimizer's step count, both of
which a resumed run restores, so fit 4 epochs == fit 2, save, load,
fit(initial_epoch=2); and BackupAndRestore resumes exactly too, the shuffle
seed being part of its backup."""
import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(44, 5)).astype(np.float32)  # 5 full batches of 8 and one of 4
Y = (X @ RNG.normal(size=(5, 2))).astype(np.float32)


def _model(seed=1):
    kerax.utils.set_random_seed(seed)
    model = kerax.Sequential([kerax.Input((5,)), kerax.layers.Dense(6, activation="tanh",
                                                                    name="hidden"),
                              kerax.layers.Dense(2, name="out")], name="net")
    model.compile(kerax.optimizers.Adam(0.05, name="opt"), "mse")
    return model


def _fit(model, **kwargs):
    return model.fit(X, Y, batch_size=8, verbose=0, **kwargs)


def _same(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-7)


def _differ(a, b):
    return max(np.abs(wa - wb).max() for wa, wb in zip(a.get_weights(), b.get_weights()))


def test_shuffle_follows_the_seed():
    a = _model(1)
    _fit(a, epochs=3)
    b = _model(1)  # three one-epoch fits continue the orders of one 3-epoch fit
    for _ in range(3):
        _fit(b, epochs=1)
    _same(a, b)
    c = _model(1)
    kerax.utils.set_random_seed(2)  # another seed, the same initial weights
    _fit(c, epochs=3)
    assert _differ(a, c) > 1e-4
    d = _model(1)
    _fit(d, epochs=3, shuffle=False)
    assert _differ(a, d) > 1e-4


def test_resume_from_a_saved_model_is_exact(tmp_path):
    full = _model(1)
    _fit(full, epochs=4)

    part = _model(1)
    _fit(part, epochs=2)
    part.save(tmp_path / "m.keras")
    kerax.utils.set_random_seed(1)  # the same seed in the resumed run
    resumed = kerax.models.load_model(tmp_path / "m.keras")
    _fit(resumed, epochs=4, initial_epoch=2)
    _same(full, resumed)


def test_backup_and_restore_resume_is_exact(tmp_path):
    full = _model(1)
    _fit(full, epochs=4)

    class Interrupt(kerax.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated crash")

    backup = kerax.callbacks.BackupAndRestore(tmp_path / "backup")
    part = _model(1)
    with pytest.raises(KeyboardInterrupt):
        _fit(part, epochs=4, callbacks=[backup, Interrupt()])
    # a new run: another process would have another default seed, and the
    # model is built afresh; the backup restores weights, optimizer and order
    resumed = _model(123)
    history = _fit(resumed, epochs=4, callbacks=[kerax.callbacks.BackupAndRestore(
        tmp_path / "backup")])
    assert len(history.history["loss"]) == 2
    _same(full, resumed)
