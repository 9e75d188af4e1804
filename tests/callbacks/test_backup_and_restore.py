"""BackupAndRestore keys the training state by structure (issue 12, item 4):
a model built again in the same process, or with two layers sharing an
explicit name, resumes exactly where an uninterrupted run would be."""
import os

import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax.callbacks import BackupAndRestore, Callback

X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


class Twins(kerax.Model):
    """Two layers with the same explicit name, and dropout (RNG state)."""

    def __init__(self):
        super().__init__()
        self.first = L.Dense(4, name="same")
        self.second = L.Dense(4, name="same")
        self.drop = L.Dropout(0.25)
        self.head = L.Dense(1)

    def call(self, x, training=False):
        return self.head(self.drop(self.second(self.first(x)), training=training))


def make_twins(seed):
    kerax.utils.set_random_seed(seed)
    model = Twins()
    model.compile(optimizer="adam", loss="mse")
    return model


def make_sequential(seed):
    kerax.utils.set_random_seed(seed)
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(5, activation="relu"),
                              L.BatchNormalization(), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


class CrashAfterEpoch(Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


def fit(model, callbacks=(), epochs=4):
    return model.fit(X, Y, epochs=epochs, batch_size=8, shuffle=False, verbose=0,
                     callbacks=list(callbacks))


def weights(model):
    return [np.asarray(w) for w in model.get_weights()] + [
        np.asarray(v.numpy()) for v in model.optimizer.variables]


def test_resume_in_the_same_process_matches_an_uninterrupted_run(tmp_path):
    make = make_twins
    reference = make(0)
    fit(reference)

    backup_dir = tmp_path / "backup"
    crashed = make(0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(crashed, [BackupAndRestore(backup_dir), CrashAfterEpoch(1)])
    assert os.listdir(backup_dir) == ["latest.npz"]

    # The retry builds the model again in the same process (new auto names,
    # e.g. `adam_7`), from different initial weights: all state must come
    # from the backup.
    resumed = make(123)
    history = fit(resumed, [BackupAndRestore(backup_dir)])
    assert history.epoch == [2, 3]
    for got, want in zip(weights(resumed), weights(reference), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not backup_dir.exists()


def test_a_backup_of_another_model_is_a_clear_error(tmp_path):
    fit(make_sequential(0), [BackupAndRestore(tmp_path / "b", delete_checkpoint=False)],
        epochs=1)
    with pytest.raises(ValueError, match=r"does not match this model.*"
                                         r"first/vars/0 \(Dense .same.: kernel \(3, 4\)\)"):
        fit(make_twins(0), [BackupAndRestore(tmp_path / "b")], epochs=1)


def test_only_the_callbacks_own_files_are_deleted(tmp_path):
    backup_dir = tmp_path / "mine"
    backup_dir.mkdir()
    (backup_dir / "notes.txt").write_text("the user's file")
    (backup_dir / ".latest.npz.abc123.tmp").write_bytes(b"left by a killed save")
    model = make_sequential(0)
    fit(model, [BackupAndRestore(backup_dir)], epochs=1)
    assert sorted(os.listdir(backup_dir)) == ["notes.txt"]
    empty = tmp_path / "empty"
    fit(model, [BackupAndRestore(empty)], epochs=1)
    assert not empty.exists()
