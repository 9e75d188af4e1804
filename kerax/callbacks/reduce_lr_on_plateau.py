"""`ReduceLROnPlateau`: lower the learning rate when a metric stops improving."""
import warnings

import numpy as np

from kerax.callbacks import _lr
from kerax.callbacks.monitor_callback import MonitorCallback, _to_float
from kerax.io import io_utils

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a metric has stopped improving.

    After `patience` epochs without an improvement of at least `min_delta`,
    the learning rate is multiplied by `factor` (never below `min_lr`); then
    `cooldown` epochs pass before counting resumes. The current learning rate
    is added to the epoch logs as `"learning_rate"`.

    Args:
        monitor: the quantity to monitor (default `"val_loss"`).
        factor: the multiplier of the learning rate, in [0, 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message on each reduction.
        mode: `"auto"`, `"min"` or `"max"`.
        min_delta: the smallest change counted as an improvement.
        cooldown: epochs to wait after a reduction before resuming.
        min_lr: the lower bound of the learning rate.

    Example:

    ```python
    reduce_lr = kerax.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2,
                                                  patience=5, min_lr=0.001)
    model.fit(x, y, callbacks=[reduce_lr])
    ```
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if "epsilon" in kwargs:  # the Keras 1 name of min_delta
            self.min_delta = abs(kwargs.pop("epsilon"))
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}")
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _reduce_optimizer_lr(self, optimizer, epoch, name=""):
        old_lr = _lr.get_learning_rate(optimizer)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            _lr.set_learning_rate(optimizer, new_lr)
            if self.verbose > 0:
                which = f" {name}" if name else ""
                io_utils.print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{which} "
                                   f"learning rate to {new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if logs is None:
            logs = {}
        model = self.model
        _lr.add_learning_rates(model, logs)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: "
                          f"{','.join(logs.keys())}.", stacklevel=2)
            return
        current = _to_float(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for name, opt in _lr.optimizers_of(model):
                    reduced = self._reduce_optimizer_lr(opt, epoch, name) or reduced
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
