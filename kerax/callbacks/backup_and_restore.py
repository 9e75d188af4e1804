"""`BackupAndRestore`: resume an interrupted `fit` from its last backup."""
import json
import os
import shutil
import zipfile

import numpy as np

from kerax.callbacks._save_freq import should_save_on_batch
from kerax.callbacks.callback import Callback
from kerax.io.io_utils import atomic_write

__all__ = ["BackupAndRestore"]

_META_KEY = "__kerax_backup__"
_FORMAT_VERSION = 2  # 2: keys are structural (kerax.saving.training_state)


def _write_backup(path, state, epoch, batch):
    if not isinstance(state, dict):
        raise TypeError("BackupAndRestore: `model._backup_state()` must return a dict of "
                        f"name -> array. Received: {type(state).__name__}")
    names, arrays, dtypes = [], {}, []
    for i, (name, value) in enumerate(state.items()):
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"BackupAndRestore: state entry {name!r} is not a numeric array "
                            f"(dtype object).")
        dtypes.append(str(arr.dtype))
        if arr.dtype.kind == "V":  # bfloat16, float8, ...: store the raw bits
            arr = arr.view(f"u{arr.dtype.itemsize}")
        names.append(str(name))
        arrays[f"a{i}"] = arr
    meta = {"format": _FORMAT_VERSION, "epoch": int(epoch), "batch": int(batch),
            "names": names, "dtypes": dtypes}
    arrays[_META_KEY] = np.array(json.dumps(meta))
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def _read_backup(path):
    import jax.numpy as jnp  # the dtype names of bfloat16 & co.

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data[_META_KEY][()]))
        if meta.get("format") != _FORMAT_VERSION:
            raise ValueError(f"{path}: unknown backup format {meta.get('format')!r}")
        state = {}
        for i, (name, dtype) in enumerate(zip(meta["names"], meta["dtypes"])):
            arr = data[f"a{i}"]
            if str(arr.dtype) != dtype:
                arr = arr.view(jnp.dtype(dtype))
            state[name] = arr
    return state, meta


class BackupAndRestore(Callback):
    """Backs up the training state so an interrupted `fit` can resume.

    At the end of each epoch (or every `save_freq` batches) the callback saves
    the model weights, the optimizer state and the epoch reached into
    `backup_dir/latest.npz`, atomically (a crash while saving leaves the
    previous backup intact). When `fit` starts and a backup exists, the state
    is restored and training resumes from the saved epoch. When `fit`
    finishes, the backup is deleted (unless `delete_checkpoint=False`);
    an interrupted `fit` leaves it in place, so running the same script again
    resumes.

    Args:
        backup_dir: the folder for the backup (created when needed). Use a
            different folder for each training run.
        save_freq: `"epoch"` or an int: back up every that many batches (the
            resumed `fit` then restarts the interrupted epoch).
        double_checkpoint: also keep the previous backup (`latest.npz.bkp`),
            used if the latest one cannot be read.
        delete_checkpoint: delete the backup at the end of a completed `fit`
            (the callback's own files; `backup_dir` too if that empties it).

    What is saved: every model variable (trainable or not), every optimizer
    variable (including its iteration count) and the seed-generator states,
    each keyed by its structural position in the model (the walk the
    weights file uses, see `kerax.saving.training_state`), never by
    auto-generated names. So the same program resumes in a new process, or in
    the same process with the model built again (a re-run notebook cell, a
    retry loop), and layers that share an explicit name are kept apart.

    The folder holds only the callback's own files (`latest.npz`,
    `latest.npz.bkp`); at the end of a completed `fit` only those are
    deleted, and the folder itself only when that leaves it empty.

    The contract with the model (kerax's trainer implements it with
    `kerax.saving.training_state`): `model._backup_state() -> dict[str,
    numpy.ndarray]` returns every value needed to resume, under structural
    keys; `model._restore_state(state)` checks and assigns such a dict
    (building the optimizer first if needed). After `on_train_begin`, `fit`
    reads `model._initial_epoch`: when not None it is the 0-based epoch to
    resume from, replacing the `initial_epoch` argument; the callback sets it
    on restore.

    Example:

    ```python
    callback = kerax.callbacks.BackupAndRestore(backup_dir="/tmp/backup")
    model.fit(x, y, epochs=10, callbacks=[callback])  # interrupted at epoch 4
    model.fit(x, y, epochs=10, callbacks=[callback])  # resumes at epoch 4
    ```
    """

    @property
    def accepts_grouped_batches(self):
        """Saving once per epoch needs no batch hook; saving every `n` batches
        needs each batch (the weights saved are those after batch `n`)."""
        return self.save_freq == "epoch"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError("Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq!r}. Expected either 'epoch' or a positive "
                             "integer.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._backup_path = os.path.join(self.backup_dir, "latest.npz")
        self._prev_backup_path = self._backup_path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1
        self._current_epoch = 0

    def _model_method(self, name):
        fn = getattr(self.model, name, None)
        if fn is None:
            raise TypeError(f"BackupAndRestore needs `model.{name}()`, which "
                            f"{type(self.model).__name__} does not provide.")
        return fn

    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1
        self._current_epoch = 0
        candidates = [p for p in (self._backup_path, self._prev_backup_path)
                      if os.path.exists(p)]
        errors = []
        for path in candidates:
            try:
                state, meta = _read_backup(path)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
                errors.append(f"{path}: {e}")
                continue
            self._model_method("_restore_state")(state)
            self._current_epoch = meta["epoch"]
            self.model._initial_epoch = meta["epoch"]
            return
        if errors:
            raise OSError("BackupAndRestore could not read the backup in "
                          f"{self.backup_dir!r} ({'; '.join(errors)}). Delete the folder to "
                          "start training from scratch.")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = -1
        if self.save_freq == "epoch":
            self._save(batch=0)

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save(batch=batch + 1)

    _should_save_on_batch = should_save_on_batch

    def _save(self, batch):
        state = self._model_method("_backup_state")()
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._backup_path):
            with open(self._backup_path, "rb") as src, \
                    atomic_write(self._prev_backup_path, "wb") as dst:
                shutil.copyfileobj(src, dst)
        _write_backup(self._backup_path, state, self._current_epoch, batch)

    def _own_files(self):
        """The files of this callback in `backup_dir`: the backups and the
        temporary files of saves that were interrupted."""
        names = {os.path.basename(self._backup_path), os.path.basename(self._prev_backup_path)}
        try:
            listing = os.listdir(self.backup_dir)
        except OSError:
            return []
        return [os.path.join(self.backup_dir, f) for f in listing
                if f in names or (f.endswith(".tmp") and any(
                    f.startswith(f".{n}.") for n in names))]

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not os.path.isdir(self.backup_dir):
            return
        for path in self._own_files():
            os.remove(path)
        if not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)
