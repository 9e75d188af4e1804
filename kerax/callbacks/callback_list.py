"""`CallbackList`: calls every callback of a `fit`/`evaluate`/`predict` run."""
from kerax.callbacks.callback import Callback
from kerax.callbacks.history import History
from kerax.callbacks.progbar_logger import ProgbarLogger

__all__ = ["CallbackList"]

_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _overrides(cb, mode):
    """Whether `cb` overrides (in its class or as an instance attribute, as
    LambdaCallback does) one of `mode`'s batch-level hooks."""
    return any(h in vars(cb) or getattr(type(cb), h, None) is not getattr(Callback, h)
               for h in _BATCH_HOOKS[mode])


def _flatten(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    out = []
    for cb in callbacks:
        if isinstance(cb, (list, tuple)):
            out.extend(_flatten(cb))
        elif isinstance(cb, Callback):
            out.append(cb)
        else:
            raise TypeError("Each callback must be an instance of `kerax.callbacks.Callback`. "
                            f"Received: {cb!r} of type {type(cb).__name__}")
    return out


class CallbackList(Callback):
    """A container that calls a list of callbacks as one.

    Args:
        callbacks: a list of `Callback` instances.
        add_history: add a `History` callback if the list has none.
        add_progbar: add a `ProgbarLogger` if the list has none.
        model: the model the callbacks are used with (its `history` attribute
            is set to the History callback).
        **params: passed to each callback's `set_params` (`verbose`,
            `epochs`, `steps`).

    The `logs` dict is passed through as it is: batch-level values stay
    device arrays (no host synchronization here); each callback converts
    what it needs. Epoch-level `logs` are the same dict for every callback,
    so entries one adds (`learning_rate`) are seen by the ones after it.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = _flatten(callbacks)
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)),
                             None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def append(self, callback):
        self.callbacks.extend(_flatten([callback]))

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def reads_batch_outputs(self, mode):
        """Whether a callback other than the progress bar overrides a batch
        hook of `mode` (predict: it may read `logs["outputs"]`)."""
        return any(not isinstance(cb, ProgbarLogger) and _overrides(cb, mode)
                   for cb in self.callbacks)

    def needs_every_batch(self, mode):
        """Whether a callback must see every batch of `mode` ("train", "test",
        "predict"): it overrides one of that mode's batch hooks and does not
        declare `accepts_grouped_batches`."""
        for cb in self.callbacks:
            ok = cb.accepts_grouped_batches
            if not ok and (ok is not None or _overrides(cb, mode)):
                return True
        return False

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    # ---- the hooks --------------------------------------------------------------
    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch, logs=None):
        # One copy shared by all callbacks: entries a callback adds
        # (`learning_rate`) reach the ones after it, not the caller's dict.
        self._call("on_epoch_end", epoch, {} if logs is None else dict(logs))

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)
