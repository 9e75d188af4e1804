"""`History`: records each epoch's logs; `fit` returns it."""
from kerax.callbacks.callback import Callback

__all__ = ["History"]


class History(Callback):
    """Records the epoch-level logs of `fit`.

    Attributes:
        history: a dict mapping each log name (`"loss"`, `"val_loss"`, ...) to
            the list of its values, one per epoch.
        epoch: the list of epoch indices seen.

    `fit` adds one automatically and returns it (also as `model.history`).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        if self._model is not None:
            self._model.history = self
