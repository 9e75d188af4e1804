"""`EarlyStopping`: stop training when a monitored metric stops improving."""
import warnings

from kerax.callbacks.monitor_callback import MonitorCallback, _to_float
from kerax.io import io_utils

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored metric has stopped improving.

    Args:
        monitor: the quantity to monitor (default `"val_loss"`).
        min_delta: the smallest change counted as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping/restoring.
        mode: `"auto"`, `"min"` or `"max"`.
        baseline: a value to reach; training stops if the model does not beat
            it within `patience` epochs.
        restore_best_weights: at the end of training, set the weights of the
            best epoch (if any epoch was monitored).
        start_from_epoch: epochs to wait before monitoring starts.

    Example:

    ```python
    callback = kerax.callbacks.EarlyStopping(monitor="loss", patience=3)
    model.fit(x, y, epochs=10, callbacks=[callback])
    ```
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # The same instance may be reused across fit() calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # No best yet: the weights of this epoch are the best so far.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Restart the wait only when the baseline is beaten as well.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            io_utils.print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                io_utils.print_msg("Restoring model weights from the end of the best epoch: "
                                   f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs.keys())}",
                          stacklevel=2)
            return None
        return _to_float(value)
