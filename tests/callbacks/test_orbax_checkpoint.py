"""OrbaxCheckpoint on one device (the sharded, cross-mesh checks run in
tests/distribution/test_8_devices.py). Skipped without orbax-checkpoint."""
import inspect
import os

import numpy as np
import pytest

import kerax
from kerax.callbacks.orbax_checkpoint import OrbaxCheckpoint, restore_checkpoint

pytest.importorskip("orbax.checkpoint", reason="orbax-checkpoint is not installed (kerax[orbax])")

X = np.random.RandomState(0).rand(32, 3).astype("float32")
Y = np.random.RandomState(1).rand(32, 1).astype("float32")


def make(seed=1):
    kerax.utils.set_random_seed(seed)
    model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(4, activation="relu"),
                              kerax.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def state(model):
    return [v.numpy() for v in model.variables + model.optimizer.variables]


class Snapshots(kerax.callbacks.Callback):
    """The state after each epoch, read after the checkpoint callback ran."""

    def __init__(self):
        super().__init__()
        self.by_epoch = {}

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch[epoch] = state(self.model)


def test_signature_matches_keras(keras):
    ours = inspect.signature(OrbaxCheckpoint.__init__)
    theirs = inspect.signature(keras.callbacks.OrbaxCheckpoint.__init__)
    assert [(p.name, p.default) for p in ours.parameters.values()] == [
        (p.name, p.default) for p in theirs.parameters.values()]


def test_async_checkpoints_keep_n_and_restore_the_saved_state(tmp_path):
    model, snaps = make(), Snapshots()
    cb = OrbaxCheckpoint(tmp_path / "ckpt", max_to_keep=2)   # save_on_background=True
    model.fit(X, Y, batch_size=8, epochs=4, verbose=0, callbacks=[cb, snaps])
    assert cb.all_steps() == [2, 3]
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["2", "3"]
    for step in (2, 3):   # the values of that epoch, though training went on
        other = make(seed=7)
        other.fit(X[:8], Y[:8], epochs=1, verbose=0)
        meta = restore_checkpoint(other, tmp_path / "ckpt", step=step)
        assert meta["epoch"] == step
        for a, b in zip(state(other), snaps.by_epoch[step]):
            np.testing.assert_array_equal(a, b)


def test_save_freq_in_batches_uses_the_batch_count_as_step(tmp_path):
    model = make()
    cb = OrbaxCheckpoint(tmp_path / "c", save_freq=3, max_to_keep=None,
                         save_on_background=False)
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])  # 4 batches/epoch
    assert cb.all_steps() == [3, 6]


def test_save_best_only_and_weights_only(tmp_path):
    model = make()
    cb = OrbaxCheckpoint(tmp_path / "c", monitor="loss", save_best_only=True,
                         save_weights_only=True, max_to_keep=None)
    history = model.fit(X, Y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
    losses = history.history["loss"]
    expected = [e for e in range(3) if losses[e] == min(losses[:e + 1])]
    assert cb.all_steps() == expected
    fresh = make(seed=9)
    restore_checkpoint(fresh, tmp_path / "c")
    for a, b in zip(fresh.variables, model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="save_weights_only=True"):
        restore_checkpoint(fresh, tmp_path / "c", weights_only=False)


def test_mismatched_model_and_missing_checkpoint_are_clear_errors(tmp_path):
    model = make()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0,
              callbacks=[OrbaxCheckpoint(tmp_path / "c")])
    other = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(2), kerax.layers.Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="shapes differ"):
        restore_checkpoint(other, tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        restore_checkpoint(model, tmp_path / "empty")
    with pytest.raises(ValueError, match="save_freq"):
        OrbaxCheckpoint(tmp_path / "d", save_freq="batch")
