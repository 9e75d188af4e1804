"""kerax.callbacks, kerax.utils.Progbar and the atomic writer.

The callbacks are driven by hand (a fake model and hand-written logs, no
trainer); where Keras 3 has the same callback, the same sequence of calls is
run through Keras' and the results are compared.
"""
import glob
import io
import os
import re
import struct
import sys

import numpy as np
import pytest

from kerax import callbacks as kcb
from kerax.utils.io_utils import atomic_write
from kerax.utils.progbar import Progbar


# ---- fakes -----------------------------------------------------------------------
class FakeOptimizer:
    def __init__(self, lr=0.1):
        self.learning_rate = lr
        self.iterations = 0


class FakeModel:
    """What callbacks see of a model: weights, stop_training, save, optimizer."""

    def __init__(self, lr=0.1):
        self.stop_training = False
        self.weights_value = [np.zeros((2,), np.float32), np.float32(0.0)]
        self.optimizer = FakeOptimizer(lr)
        self.saved = []
        self.history = None
        self.built = True
        self._initial_epoch = None

    def get_weights(self):
        return [np.array(w, copy=True) for w in self.weights_value]

    def set_weights(self, ws):
        self.weights_value = [np.array(w, copy=True) for w in ws]

    def save(self, filepath, overwrite=True):
        self.saved.append(("model", filepath))
        with open(filepath, "w") as f:
            f.write("model")

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("weights", filepath))
        with open(filepath, "w") as f:
            f.write("weights")

    # The BackupAndRestore contract.
    def _backup_state(self):
        return {"dense/kernel": self.weights_value[0], "dense/bias": self.weights_value[1],
                "optimizer/iteration": np.int64(self.optimizer.iterations)}

    def _restore_state(self, state):
        self.weights_value = [np.asarray(state["dense/kernel"]),
                              np.asarray(state["dense/bias"])]
        self.optimizer.iterations = int(state["optimizer/iteration"])


def run_epochs(cb, model, val_losses, key="val_loss", weights_per_epoch=True):
    """Drive `cb` over epochs with the given monitored values; returns the
    epoch after which training stopped (or None)."""
    cb.set_model(model)
    cb.set_params({"epochs": len(val_losses), "steps": 1, "verbose": 0})
    cb.on_train_begin()
    stopped = None
    for epoch, v in enumerate(val_losses):
        if weights_per_epoch:
            model.weights_value = [np.full((2,), epoch, np.float32), np.float32(epoch)]
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"loss": 1.0, key: v})
        if model.stop_training:
            stopped = epoch
            break
    cb.on_train_end()
    return stopped


# ---- atomic_write -----------------------------------------------------------------
def test_atomic_write_replaces_and_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "data.bin"
    with atomic_write(target) as f:
        f.write(b"first")
    assert target.read_bytes() == b"first"
    os.chmod(target, 0o640)

    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target, "wb") as f:
            f.write(b"half-written")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"first"
    assert sorted(os.listdir(tmp_path)) == ["data.bin"]  # no temp file left

    with atomic_write(str(target), "w") as f:
        f.write("second ✓")
    assert target.read_text(encoding="utf-8") == "second ✓"
    assert os.stat(target).st_mode & 0o777 == 0o640  # permissions kept
    assert sorted(os.listdir(tmp_path)) == ["data.bin"]


def test_atomic_write_errors(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "a"):
            pass
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with atomic_write(tmp_path / "missing" / "x"):
            pass
    assert os.listdir(tmp_path) == []


# ---- Progbar / ProgbarLogger ----------------------------------------------------------
class TTY(io.StringIO):
    def isatty(self):
        return True


def _drive_fit(n_epochs=2, steps=88, verbose=1, logs_factory=None):
    model = FakeModel()
    cl = kcb.CallbackList(None, add_history=True, add_progbar=verbose != 0, model=model,
                          verbose=verbose, epochs=n_epochs, steps=steps)
    cl.on_train_begin()
    for epoch in range(n_epochs):
        cl.on_epoch_begin(epoch)
        for b in range(steps):
            cl.on_train_batch_begin(b)
            logs = logs_factory(b) if logs_factory else {"loss": np.float32(0.42),
                                                          "mae": np.float32(0.48)}
            cl.on_train_batch_end(b, logs)
        cl.on_epoch_end(epoch, {"loss": 0.42, "mae": 0.48, "val_loss": 0.5,
                                "val_mae": 0.00012345})
    cl.on_train_end()
    return model


BAR_LINE = re.compile(
    r"^88/88 ━{20} \d+s \d+(s|ms|us)/step - loss: 0\.4200 - mae: 0\.4800 - "
    r"val_loss: 0\.5000 - val_mae: 1\.2345e-04$")


def test_progbar_not_a_terminal_prints_one_line_per_epoch(capsys):
    model = _drive_fit(verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert BAR_LINE.match(lines[1]), lines[1]
    assert BAR_LINE.match(lines[3]), lines[3]
    assert model.history.history["loss"] == [0.42, 0.42]
    assert model.history.epoch == [0, 1]


def test_progbar_verbose_2_and_0(capsys):
    _drive_fit(n_epochs=1, verbose=2)
    out = capsys.readouterr().out
    # One epoch: no "Epoch 1/1" header, as in Keras.
    assert re.fullmatch(r"88/88 - \d+s - \d+(s|ms|us)/step - loss: 0\.4200 - mae: 0\.4800 - "
                        r"val_loss: 0\.5000 - val_mae: 1\.2345e-04\n", out), out
    _drive_fit(verbose=0)
    assert capsys.readouterr().out == ""


class CountingValue:
    """A stand-in for a device scalar that counts how often it is read."""
    reads = 0

    def __init__(self, v):
        self.v = v

    def __array__(self, dtype=None, copy=None):
        CountingValue.reads += 1
        return np.asarray(self.v, dtype=dtype)

    def __float__(self):
        CountingValue.reads += 1
        return float(self.v)


def test_progbar_logger_reads_batch_values_only_when_drawing(capsys, monkeypatch):
    CountingValue.reads = 0
    _drive_fit(logs_factory=lambda b: {"loss": CountingValue(0.5)})
    assert CountingValue.reads == 0  # not a terminal: batch values never drawn
    capsys.readouterr()

    monkeypatch.setattr(sys, "stdout", TTY())
    CountingValue.reads = 0
    _drive_fit(n_epochs=1, steps=500, logs_factory=lambda b: {"loss": CountingValue(0.5)})
    # On a terminal only the redraws (at most every 0.1 s) read a value.
    assert 1 <= CountingValue.reads < 50


def _normalize_times(s):
    s = re.sub(r"\d+(s|ms|us)/step", "T/step", s)
    s = re.sub(r"\x1b\[1m\d+s\x1b\[0m", "ELAPSED", s)
    return s


def test_progbar_terminal_layout_matches_keras(keras, monkeypatch):
    """The in-place bar: the same characters, colours and fields as Keras 3's."""
    def final_line(cls):
        out = TTY()
        monkeypatch.setattr(sys, "stdout", out)
        bar = cls(target=12, stateful_metrics=["acc"])
        for i in range(1, 13):
            bar.update(i, [("loss", 0.5 + i), ("acc", 0.25), ("tiny", 1e-5)])
        text = out.getvalue()
        monkeypatch.undo()
        return text.replace("\b", "").split("\r")

    ours, theirs = final_line(Progbar), final_line(keras.utils.Progbar)
    assert _normalize_times(ours[-1].rstrip()) == _normalize_times(theirs[-1].rstrip())
    assert ours[-1].endswith("\n")
    # As in Keras, the final update shows the values it is given.
    assert "loss: 12.5000 - acc: 0.2500 - tiny: 1.0000e-05" in ours[-1]
    # Intermediate (first) redraw: the ETA field and a partly filled bar.
    assert _normalize_times(ours[1]).startswith("\x1b[1m 1/12\x1b[0m \x1b[32m━\x1b[0m\x1b[37m")


def test_progbar_verbose_2_matches_keras(keras, capsys):
    for cls in (Progbar, keras.utils.Progbar):
        bar = cls(target=5, verbose=2)
        for i in range(1, 6):
            bar.update(i, [("loss", float(i))])
    ours, theirs = capsys.readouterr().out.splitlines()
    assert _normalize_times(ours) == _normalize_times(theirs)
    assert re.fullmatch(r"5/5 - \d+s - \d+(s|ms|us)/step - loss: 5\.0000", ours)


def test_progbar_add_and_unknown_target(capsys):
    bar = Progbar(None, verbose=1)
    bar.add(3, [("loss", 1.0)])
    bar.add(2, [("loss", 2.0)])
    bar.update(5, finalize=True)
    out = capsys.readouterr().out
    assert re.fullmatch(r"      5/Unknown \d+s \d+(s|ms|us)/step - loss: 1\.4000\n", out), out
    with pytest.raises(ValueError, match="stateful_metrics"):
        Progbar(10, stateful_metrics=["a"], stateless_metrics=["b"])


def test_progbar_logger_evaluate_and_predict(capsys):
    model = FakeModel()
    cl = kcb.CallbackList(None, add_progbar=True, model=model, verbose=1, epochs=1, steps=4)
    cl.on_test_begin()
    for b in range(4):
        cl.on_test_batch_end(b, {"loss": np.float32(0.25)})
    cl.on_test_end({"loss": 0.25})
    cl.on_predict_begin()
    for b in range(4):
        cl.on_predict_batch_end(b, {"outputs": np.zeros((3, 2))})
    cl.on_predict_end()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"4/4 ━{20} \d+s \d+(s|ms|us)/step - loss: 0\.2500", lines[0])
    assert re.fullmatch(r"4/4 ━{20} \d+s \d+(s|ms|us)/step", lines[1])


# ---- EarlyStopping --------------------------------------------------------------------
EARLY_STOPPING_CASES = [
    (dict(patience=0), [1.0, 0.9, 0.95, 0.8]),
    (dict(patience=2), [1.0, 0.9, 0.95, 0.96, 0.5, 0.4]),
    (dict(patience=2, restore_best_weights=True), [1.0, 0.7, 0.95, 0.96, 0.97, 0.4]),
    (dict(patience=1, min_delta=0.1), [1.0, 0.95, 0.92, 0.5, 0.49]),
    (dict(patience=2, baseline=0.5, restore_best_weights=True), [1.0, 0.9, 0.8, 0.7, 0.6]),
    (dict(patience=1, start_from_epoch=3, restore_best_weights=True),
     [1.0, 2.0, 3.0, 0.9, 0.95, 0.96, 0.2]),
    (dict(patience=1, mode="max", monitor="val_accuracy"), [0.5, 0.6, 0.55, 0.52, 0.7]),
    (dict(patience=1, monitor="val_accuracy"), [0.5, 0.6, 0.55, 0.52, 0.7]),
]


@pytest.mark.parametrize("kwargs,values", EARLY_STOPPING_CASES)
def test_early_stopping_matches_keras(keras, kwargs, values):
    key = kwargs.get("monitor", "val_loss")
    results = []
    for cls in (kcb.EarlyStopping, keras.callbacks.EarlyStopping):
        if cls is keras.callbacks.EarlyStopping and key == "val_accuracy" and "mode" not in kwargs:
            # Keras infers "max" for accuracy from the compiled metric objects,
            # which the fake model lacks; kerax also infers it from the name.
            cb = cls(**{**kwargs, "mode": "max"})
        else:
            cb = cls(**kwargs)
        model = FakeModel()
        stopped = run_epochs(cb, model, values, key=key)
        results.append((stopped, cb.stopped_epoch, cb.best_epoch, cb.wait,
                        [w.tolist() for w in model.get_weights()]))
    assert results[0] == results[1]


def test_early_stopping_closed_form():
    # patience 2: best at epoch 1, no improvement on epochs 2 and 3 -> stop after 3.
    cb = kcb.EarlyStopping(patience=2, restore_best_weights=True)
    model = FakeModel()
    assert run_epochs(cb, model, [1.0, 0.5, 0.6, 0.7, 0.1]) == 3
    assert model.get_weights()[1] == 1.0  # weights of the best epoch (1)
    with pytest.warns(UserWarning, match="not available"):
        run_epochs(kcb.EarlyStopping(monitor="val_auc_typo", mode="min"), FakeModel(), [1.0])
    with pytest.raises(ValueError, match="mode='max'"):
        run_epochs(kcb.EarlyStopping(monitor="val_custom"), FakeModel(), [1.0],
                   key="val_custom")


# ---- ReduceLROnPlateau / LearningRateScheduler ------------------------------------------
REDUCE_CASES = [
    (dict(patience=1, factor=0.5), [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]),
    (dict(patience=2, factor=0.1, cooldown=2, min_lr=0.0005),
     [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0]),
    (dict(patience=1, min_delta=0.2), [1.0, 0.9, 0.85, 0.5, 0.45, 0.44]),
    (dict(patience=1, mode="max", monitor="val_acc"), [0.1, 0.2, 0.2, 0.3, 0.3, 0.3]),
]


@pytest.mark.parametrize("kwargs,values", REDUCE_CASES)
def test_reduce_lr_on_plateau_matches_keras(keras, kwargs, values):
    key = kwargs.get("monitor", "val_loss")
    runs = []
    for cls in (kcb.ReduceLROnPlateau, keras.callbacks.ReduceLROnPlateau):
        cb = cls(**kwargs)
        model = FakeModel(lr=0.01)
        cb.set_model(model)
        cb.on_train_begin()
        lrs, logged = [], []
        for epoch, v in enumerate(values):
            logs = {"loss": 1.0, key: v}
            cb.on_epoch_end(epoch, logs)
            lrs.append(model.optimizer.learning_rate)
            logged.append(logs["learning_rate"])
        runs.append((lrs, logged))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-12)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)


def test_reduce_lr_closed_form_and_errors():
    cb = kcb.ReduceLROnPlateau(patience=2, factor=0.5)
    model = FakeModel(lr=0.1)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0]):
        cb.on_epoch_end(epoch, {"val_loss": v})
        lrs.append(model.optimizer.learning_rate)
    # best at epoch 0; epochs 1, 2 don't improve -> halved after epoch 2, again after 4.
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05, 0.025])
    with pytest.raises(ValueError, match="factor"):
        kcb.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler_matches_keras(keras):
    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    runs = []
    for cls in (kcb.LearningRateScheduler, keras.callbacks.LearningRateScheduler):
        cb = cls(schedule)
        model = FakeModel(lr=0.1)
        cb.set_model(model)
        lrs = []
        for epoch in range(5):
            cb.on_epoch_begin(epoch)
            logs = {"loss": 1.0}
            cb.on_epoch_end(epoch, logs)
            lrs.append((model.optimizer.learning_rate, logs["learning_rate"]))
        runs.append(lrs)
    assert runs[0] == runs[1]
    np.testing.assert_allclose([a for a, _ in runs[0]], [0.1, 0.1, 0.05, 0.025, 0.0125])

    cb = kcb.LearningRateScheduler(lambda epoch: 0.5 ** epoch)  # the one-argument form
    model = FakeModel()
    cb.set_model(model)
    cb.on_epoch_begin(3)
    assert model.optimizer.learning_rate == 0.125
    cb = kcb.LearningRateScheduler(lambda epoch, lr: "fast")
    cb.set_model(model)
    with pytest.raises(ValueError, match="should be a float"):
        cb.on_epoch_begin(0)


def test_learning_rate_with_kerax_optimizer():
    """The real optimizer keeps its learning rate in a Variable: read and set it."""
    opt_mod = pytest.importorskip("kerax.optimizers")
    model = FakeModel()
    model.optimizer = opt_mod.SGD(learning_rate=0.1)
    cb = kcb.ReduceLROnPlateau(patience=0, factor=0.5, monitor="loss")
    cb.set_model(model)
    cb.on_train_begin()
    logs = {"loss": 1.0}
    cb.on_epoch_end(0, logs)
    cb.on_epoch_end(1, {"loss": 1.0})
    assert logs["learning_rate"] == pytest.approx(0.1)
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.05)


# ---- CSVLogger -----------------------------------------------------------------------
def _csv_run(cls, path, epochs_logs, append=False, separator=","):
    cb = cls(str(path), separator=separator, append=append)
    cb.set_model(FakeModel())
    cb.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        cb.on_epoch_end(epoch, dict(logs))
    cb.on_train_end()
    return path.read_bytes()


def test_csv_logger_matches_keras(keras, tmp_path):
    with_val = [{"loss": 0.5, "acc": 0.75, "val_loss": 0.625, "val_acc": 0.7},
                {"loss": 0.25, "acc": 0.875, "val_loss": 0.5, "val_acc": 0.8}]
    no_val = [{"loss": 0.5, "mae": np.float32(0.125)}, {"loss": 0.25, "mae": 0.1}]
    for logs, sep in ((with_val, ","), (no_val, ";")):
        ours = _csv_run(kcb.CSVLogger, tmp_path / "ours.csv", logs, separator=sep)
        theirs = _csv_run(keras.callbacks.CSVLogger, tmp_path / "keras.csv", logs, separator=sep)
        assert ours == theirs
        # appending a second run keeps one header
        ours = _csv_run(kcb.CSVLogger, tmp_path / "ours.csv", logs, append=True, separator=sep)
        theirs = _csv_run(keras.callbacks.CSVLogger, tmp_path / "keras.csv", logs, append=True,
                          separator=sep)
        assert ours == theirs
    text = (tmp_path / "ours.csv").read_text()
    assert text.splitlines()[0] == "epoch;loss;mae;val_loss;val_mae"
    assert text.splitlines()[1] == "0;0.5;0.125;NA;NA"
    assert len(text.splitlines()) == 5


def test_csv_logger_file_is_complete_after_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    cb = kcb.CSVLogger(path)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.5, "val_loss": 2.0})
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.5,2.0"]
    cb.on_epoch_end(1, {"loss": 1.25, "val_loss": 1.75})
    assert path.read_text().splitlines()[-1] == "1,1.25,1.75"
    assert sorted(os.listdir(tmp_path)) == ["log.csv"]


# ---- ModelCheckpoint -------------------------------------------------------------------
def _checkpoint_run(cls, tmp_path, epochs_val_loss, steps=0, spe=1, **kwargs):
    model = FakeModel()
    cb = cls(**kwargs)
    cb.set_model(model)
    if cls is not kcb.ModelCheckpoint:
        cb._set_monitor_op()  # Keras sets it only at the first epoch end
    cb.on_train_begin()
    for epoch, v in enumerate(epochs_val_loss):
        cb.on_epoch_begin(epoch)
        for b in range(spe - 1, steps, spe):
            cb.on_train_batch_end(b, {"loss": np.float32(v + b)})
        cb.on_epoch_end(epoch, {"loss": v, "val_loss": v})
    cb.on_train_end()
    return [(kind, os.path.relpath(p, tmp_path)) for kind, p in model.saved]


CHECKPOINT_CASES = [
    dict(filepath="m.{epoch:02d}-{val_loss:.2f}.keras"),
    dict(filepath="w-{epoch}.weights.h5", save_weights_only=True),
    dict(filepath="best.keras", save_best_only=True),
    dict(filepath="best-{epoch}.keras", save_best_only=True, initial_value_threshold=0.75),
    dict(filepath="sub/b{epoch}-{batch}.keras", save_freq=3),
    dict(filepath="sub/b{epoch}-{batch}-{loss:.1f}.keras", save_freq=4, monitor="loss",
         save_best_only=True),
]


@pytest.mark.parametrize("kwargs", CHECKPOINT_CASES)
def test_model_checkpoint_matches_keras(keras, tmp_path, kwargs):
    spe = 2 if kwargs.get("save_freq", "epoch") != "epoch" else 1
    runs = []
    for cls in (kcb.ModelCheckpoint, keras.callbacks.ModelCheckpoint):
        kw = dict(kwargs, filepath=str(tmp_path / kwargs["filepath"]))
        runs.append(_checkpoint_run(cls, tmp_path, [0.9, 0.7, 0.8, 0.6], steps=8, spe=spe, **kw))
    assert runs[0] == runs[1]
    assert runs[0]


def test_model_checkpoint_file_names(tmp_path):
    saved = _checkpoint_run(kcb.ModelCheckpoint, tmp_path, [0.9, 0.7, 0.8],
                            filepath=str(tmp_path / "m.{epoch:02d}-{val_loss:.2f}.keras"))
    assert saved == [("model", "m.01-0.90.keras"), ("model", "m.02-0.70.keras"),
                     ("model", "m.03-0.80.keras")]
    saved = _checkpoint_run(kcb.ModelCheckpoint, tmp_path, [0.9, 0.7, 0.8, 0.6],
                            filepath=str(tmp_path / "best.weights.h5"), save_best_only=True,
                            save_weights_only=True)
    assert saved == [("weights", "best.weights.h5")] * 3  # epochs 1, 2 and 4 improve
    with pytest.raises(ValueError, match=r"\.keras"):
        kcb.ModelCheckpoint(str(tmp_path / "model.pkl"))
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        kcb.ModelCheckpoint(str(tmp_path / "model.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match="save_freq"):
        kcb.ModelCheckpoint(str(tmp_path / "model.keras"), save_freq="batch")
    with pytest.raises(KeyError, match="val_acc"):
        _checkpoint_run(kcb.ModelCheckpoint, tmp_path, [0.9],
                        filepath=str(tmp_path / "m{val_acc}.keras"))


# ---- TerminateOnNaN / LambdaCallback ------------------------------------------------------
def test_terminate_on_nan(capsys):
    model = FakeModel()
    cl = kcb.CallbackList([kcb.TerminateOnNaN()], model=model, verbose=0, epochs=1, steps=12)
    cl.on_train_begin()
    stopped_at = None
    for b in range(3, 12, 4):  # steps_per_execution=4: batches 3, 7, 11
        loss = np.float32(np.nan) if b == 7 else np.float32(1.0)
        cl.on_train_batch_end(b, {"loss": loss})
        if model.stop_training:
            stopped_at = b
            break
    assert stopped_at == 7
    assert "Batch 7: Invalid loss nan" in capsys.readouterr().out

    cb = kcb.TerminateOnNaN(raise_error=True)
    cb.set_model(FakeModel())
    with pytest.raises(RuntimeError, match="batch 5. Loss value: inf"):
        cb.on_train_batch_end(5, {"loss": np.float32(np.inf)})


def test_lambda_callback_and_callback_list_order():
    events = []
    cb = kcb.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: events.append(("eb", epoch)),
        on_epoch_end=lambda epoch, logs: events.append(("ee", epoch, logs["loss"])),
        on_train_begin=lambda logs: events.append(("tb",)),
        on_train_end=lambda logs: events.append(("te",)),
        on_train_batch_end=lambda batch, logs: events.append(("be", batch)),
        on_test_end=lambda logs: events.append(("test_end", logs["loss"])))
    sched = kcb.LearningRateScheduler(lambda e, lr: lr * 0.5)
    model = FakeModel(lr=1.0)
    cl = kcb.CallbackList([sched, cb], add_history=True, model=model, verbose=0, epochs=1,
                          steps=2)
    cl.on_train_begin()
    cl.on_epoch_begin(0)
    cl.on_train_batch_end(1, {"loss": np.float32(2.0)})
    logs = {"loss": 2.0}
    cl.on_epoch_end(0, logs)
    cl.on_test_end({"loss": 3.0})
    cl.on_train_end()
    assert events == [("tb",), ("eb", 0), ("be", 1), ("ee", 0, 2.0), ("test_end", 3.0), ("te",)]
    # The scheduler's learning_rate entry reaches History (added after it), not
    # the caller's dict.
    assert model.history.history == {"loss": [2.0], "learning_rate": [0.5]}
    assert logs == {"loss": 2.0}
    with pytest.raises(TypeError, match="Callback"):
        kcb.CallbackList([object()])


# ---- BackupAndRestore -----------------------------------------------------------------
def test_backup_and_restore(tmp_path):
    backup_dir = tmp_path / "backup"

    def train(model, epochs, crash_at=None, **kwargs):
        cb = kcb.BackupAndRestore(str(backup_dir), **kwargs)
        cl = kcb.CallbackList([cb], model=model, verbose=0, epochs=epochs, steps=4)
        model._initial_epoch = None
        cl.on_train_begin()
        start = model._initial_epoch or 0
        done = []
        for epoch in range(start, epochs):
            cl.on_epoch_begin(epoch)
            for b in range(4):
                if crash_at == (epoch, b):
                    raise KeyboardInterrupt
                model.weights_value[0] = model.weights_value[0] + 1
                model.optimizer.iterations += 1
                cl.on_train_batch_end(b, {"loss": np.float32(1.0)})
            cl.on_epoch_end(epoch, {"loss": 1.0})
            done.append(epoch)
        cl.on_train_end()
        return done

    model = FakeModel()
    with pytest.raises(KeyboardInterrupt):
        train(model, 5, crash_at=(2, 1))
    assert os.listdir(backup_dir) == ["latest.npz"]  # no temp files

    fresh = FakeModel()  # a new process: state comes from the backup
    assert train(fresh, 5) == [2, 3, 4]
    # 2 epochs restored (8 steps) + 3 more epochs (12 steps)
    assert fresh.optimizer.iterations == 20
    np.testing.assert_array_equal(fresh.weights_value[0], [20.0, 20.0])
    assert not backup_dir.exists()  # deleted at the end of a completed fit

    # Batch-level backups restart the interrupted epoch from its saved state.
    model = FakeModel()
    with pytest.raises(KeyboardInterrupt):
        train(model, 3, crash_at=(1, 3), save_freq=2, delete_checkpoint=False)
    fresh = FakeModel()
    assert train(fresh, 3, save_freq=2, delete_checkpoint=False) == [1, 2]
    assert fresh.optimizer.iterations == 6 + 8  # backup after step 6, then epochs 1 and 2
    assert backup_dir.exists()

    with pytest.raises(ValueError, match="save_freq"):
        kcb.BackupAndRestore(str(backup_dir), save_freq="batch")
    with pytest.raises(ValueError, match="backup_dir"):
        kcb.BackupAndRestore("")


def test_backup_keeps_bfloat16_and_reports_corrupt_file(tmp_path):
    import jax.numpy as jnp

    class BF16Model(FakeModel):
        def _backup_state(self):
            return {"w": np.asarray(jnp.arange(3, dtype=jnp.bfloat16))}

        def _restore_state(self, state):
            self.restored = state

    model = BF16Model()
    cb = kcb.BackupAndRestore(str(tmp_path), delete_checkpoint=False)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0)
    cb.on_train_begin()
    assert model.restored["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(model.restored["w"].astype(np.float32), [0, 1, 2])
    assert model._initial_epoch == 1

    (tmp_path / "latest.npz").write_bytes(b"not a zip file")
    with pytest.raises(OSError, match="could not read the backup"):
        cb.on_train_begin()


# ---- TensorBoard ---------------------------------------------------------------------
def _read_scalars(folder):
    """{tag: [(step, value)]} from the event files under `folder`, parsing the
    TFRecord framing and the Event protos tensorboardX ships."""
    from tensorboardX.proto import event_pb2

    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            record = data[pos + 12:pos + 12 + length]
            pos += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for v in event.summary.value:
                if v.HasField("simple_value"):
                    out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out


def test_tensorboard_writes_epoch_and_batch_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    log_dir = tmp_path / "logs"
    model = FakeModel(lr=0.25)
    cb = kcb.TensorBoard(log_dir=str(log_dir), update_freq=2)
    cl = kcb.CallbackList([cb], model=model, verbose=0, epochs=2, steps=4)
    cl.on_train_begin()
    for epoch in range(2):
        cl.on_epoch_begin(epoch)
        for b in range(4):
            cl.on_train_batch_begin(b)
            cl.on_train_batch_end(b, {"loss": np.float32(epoch * 4 + b)})
        cl.on_test_begin()
        cl.on_test_end({"loss": 0.5})
        cl.on_epoch_end(epoch, {"loss": 1.0 - epoch / 4, "mae": 0.5, "val_loss": 2.0 - epoch,
                                "val_mae": 0.75})
    cl.on_train_end()

    train = _read_scalars(log_dir / "train")
    val = _read_scalars(log_dir / "validation")
    assert train["epoch_loss"] == [(0, 1.0), (1, 0.75)]
    assert train["epoch_mae"] == [(0, 0.5), (1, 0.5)]
    assert train["epoch_learning_rate"] == [(0, 0.25), (1, 0.25)]
    assert train["batch_loss"] == [(2, 1.0), (4, 3.0), (6, 5.0), (8, 7.0)]
    assert val["epoch_loss"] == [(0, 2.0), (1, 1.0)]
    assert val["epoch_mae"] == [(0, 0.75), (1, 0.75)]
    assert val["evaluation_loss_vs_iterations"] == [(0, 0.5), (0, 0.5)]
    assert not any(tag.startswith("epoch_val_") for tag in train)


class FakeWeight:
    def __init__(self, path, value):
        self.path = path
        self.value = np.asarray(value, np.float32)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)


def test_tensorboard_histograms(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2

    model = FakeModel()
    model.weights = [FakeWeight("dense/kernel", [[1.0, 2.0], [3.0, 4.0]])]
    cb = kcb.TensorBoard(log_dir=str(tmp_path), histogram_freq=2)
    cb.set_model(model)
    cb.on_train_begin()
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"loss": 1.0})
    cb.on_train_end()
    histos = []
    for path in glob.glob(str(tmp_path / "train" / "events.out.tfevents.*")):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            histos += [(v.tag, event.step, v.histo.num, v.histo.sum)
                       for v in event.summary.value if v.HasField("histo")]
    assert histos == [("dense/kernel/histogram", 0, 4.0, 10.0),
                      ("dense/kernel/histogram", 2, 4.0, 10.0)]
    assert tbx is not None


def test_callback_model_property_syncs_state():
    class SyncModel(FakeModel):
        syncs = 0

        def _sync_state_for_callbacks(self):
            SyncModel.syncs += 1

    cb = kcb.Callback()
    model = SyncModel()
    cb.set_model(model)
    assert cb.model is model and SyncModel.syncs == 1


def test_progbar_with_jax_values(monkeypatch):
    import jax.numpy as jnp

    out = TTY()
    monkeypatch.setattr(sys, "stdout", out)
    bar = Progbar(4, interval=0.0)
    for i in range(1, 4):
        bar.update(i, [("loss", jnp.float32(i))])  # averaged on the device
    bar.update(4, [("loss", jnp.float32(0.5))])
    lines = out.getvalue().split("\r")
    assert "loss: 2.0000" in lines[3]  # mean of 1, 2, 3
    assert "loss: 0.5000" in lines[4]


def test_tensorboard_profile_batch(tmp_path):
    pytest.importorskip("tensorboardX")
    cb = kcb.TensorBoard(log_dir=str(tmp_path), profile_batch=(2, 3))
    cb.set_model(FakeModel())
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    tracing = []
    for b in range(5):
        cb.on_train_batch_begin(b)
        tracing.append(cb._is_tracing)
        cb.on_train_batch_end(b, {"loss": 1.0})
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_train_end()
    assert tracing == [False, True, True, False, False]  # global batches 2..3, 1-based
    assert glob.glob(str(tmp_path / "train" / "plugins" / "profile" / "*" / "*.xplane.pb"))
    with pytest.raises(ValueError, match="profile_batch"):
        kcb.TensorBoard(log_dir=str(tmp_path), profile_batch=(3, 2))


def test_tensorboard_needs_tensorboardx(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install kerax\[tensorboard\]"):
        kcb.TensorBoard(log_dir=str(tmp_path))
