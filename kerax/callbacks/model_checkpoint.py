"""`ModelCheckpoint`: save the model or its weights during training."""
import os
import re
import warnings

import numpy as np

from kerax.callbacks._save_freq import should_save_on_batch
from kerax.callbacks.monitor_callback import MonitorCallback, _to_float
from kerax.io import io_utils

__all__ = ["ModelCheckpoint"]


def _pythonify(logs):
    """Batch logs hold device arrays: read them (only when a file is saved)."""
    out = {}
    for k, v in (logs or {}).items():
        if isinstance(v, (str, int, float)) or v is None:
            out[k] = v
            continue
        try:
            arr = np.asarray(v)
        except Exception:  # noqa: BLE001 - keep anything unconvertible as is
            out[k] = v
            continue
        out[k] = arr.item() if arr.ndim == 0 else arr
    return out


class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) at some frequency during training.

    Args:
        filepath: where to save; may hold format fields filled from the epoch
            number (1-based) and the logs, e.g.
            `"weights.{epoch:02d}-{val_loss:.2f}.keras"`; with an integer
            `save_freq`, `{batch}` (1-based) is available too. It must end in
            `.keras` (or `.h5`), or in `.weights.h5` with
            `save_weights_only=True`.
        monitor: the quantity compared when `save_best_only=True`.
        verbose: 1 prints a message for each save.
        save_best_only: save only when `monitor` improves on the best value so
            far (with a fixed `filepath` the file always holds the best model).
        save_weights_only: call `model.save_weights` instead of `model.save`.
        mode: `"auto"`, `"min"` or `"max"`.
        save_freq: `"epoch"` to save after each epoch, or an int `n` to save
            every `n` batches (counted in steps, so `steps_per_execution`
            groups are handled).
        initial_value_threshold: the initial "best" value for
            `save_best_only`.

    The files are written by `model.save` / `model.save_weights`, which write
    atomically: a checkpoint on disk is either complete or the previous one.
    """

    @property
    def accepts_grouped_batches(self):
        """Saving once per epoch needs no batch hook; saving every `n` batches
        needs each batch (the weights saved are those after batch `n`)."""
        return self.save_freq == "epoch"

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or a positive integer (a number of batches).")
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). "
                             f"Received: filepath={self.filepath}")

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=_pythonify(logs))

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    _should_save_on_batch = should_save_on_batch

    def _should_save_model(self, epoch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                io_utils.print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=2)
            return True
        current = _to_float(current)
        if current is None:
            warnings.warn("Can save best model only when `monitor` is a scalar value. "
                          f"Received: {logs.get(self.monitor)}. Falling back to "
                          "`save_best_only=False`.", stacklevel=2)
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                io_utils.print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                                   f"{best_str} to {current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            io_utils.print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                               f"{best_str}")
        return False

    def _save_model(self, epoch, batch, logs):
        if self.save_best_only and self.monitor_op is None:
            self._set_monitor_op()
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        if not self._should_save_model(epoch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        model = self.model
        if self.save_weights_only:
            model.save_weights(filepath)
        else:
            model.save(filepath)
        if self.verbose > 0:
            io_utils.print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        logs = dict(logs or {})
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(**{**logs, "epoch": epoch + 1})
            return self.filepath.format(**{**logs, "epoch": epoch + 1, "batch": batch + 1})
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e} is not in the logs (available: "
                           f"{', '.join(['epoch'] + sorted(logs))}).") from None

    def _get_most_recently_modified_file_matching_pattern(self, pattern):
        """The most recently modified file matching `pattern` (a filepath with
        format fields), ties broken by the largest name; None if none match."""
        dir_name = os.path.dirname(pattern) or "."
        base_regex = "^" + re.sub(r"\\{.*?\\}", ".*", re.escape(os.path.basename(pattern))) + "$"
        best = None
        if os.path.isdir(dir_name):
            for name in os.listdir(dir_name):
                if re.match(base_regex, name):
                    path = os.path.join(os.path.dirname(pattern), name)
                    key = (os.path.getmtime(path), path)
                    if best is None or key > best:
                        best = key
        return None if best is None else best[1]
