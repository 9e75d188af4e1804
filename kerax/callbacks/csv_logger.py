"""`CSVLogger`: stream epoch results to a CSV file."""
import collections.abc
import csv
import io
import os

import numpy as np

from kerax.callbacks.callback import Callback
from kerax.io.io_utils import atomic_write

__all__ = ["CSVLogger"]


def _csv_value(v):
    if isinstance(v, str):
        return v
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v.item()
    if isinstance(v, collections.abc.Iterable) or (hasattr(v, "ndim") and v.ndim > 0):
        return f'"[{", ".join(map(str, np.ravel(np.asarray(v)).tolist()))}]"'
    if hasattr(v, "ndim"):  # 0-d device array
        return np.asarray(v).item()
    return v


class CSVLogger(Callback):
    """Writes the epoch results to a CSV file: a header
    `epoch,<sorted log names>` then one row per epoch (0-based epoch index).
    When the first epoch's logs have no `val_` entries, `val_<name>` columns
    are added anyway (filled with `NA`), as Keras does.

    The file is rewritten atomically after every epoch (it is small), so it is
    always complete, even if training is interrupted.

    Args:
        filename: the CSV file path.
        separator: the field separator.
        append: append to an existing file (its header is kept) instead of
            overwriting it.

    Example:

    ```python
    csv_logger = CSVLogger("training.log")
    model.fit(x, y, callbacks=[csv_logger])
    ```
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.keys = None
        self.append_header = True
        self._prefix = ""
        self._buffer = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._prefix = ""
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="", encoding="utf-8") as f:
                self._prefix = f.read()
            self.append_header = not self._prefix.split("\n", 1)[0]
        self.keys = None
        self._buffer = io.StringIO()
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._buffer is None:  # used without on_train_begin
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend(f"val_{k}" for k in list(self.keys))
        if self._writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self._writer = csv.DictWriter(self._buffer, fieldnames=["epoch"] + self.keys,
                                          dialect=_Dialect)
            if self.append_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self._writer.writerow(row)
        with atomic_write(self.filename, "w", newline="") as f:
            f.write(self._prefix)
            f.write(self._buffer.getvalue())

    def on_train_end(self, logs=None):
        self._writer = None
        self._buffer = None
