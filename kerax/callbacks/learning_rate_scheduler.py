"""`LearningRateScheduler`: set the learning rate at the start of each epoch."""
import numpy as np

from kerax.callbacks import _lr
from kerax.callbacks.callback import Callback
from kerax.io import io_utils

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the beginning of every epoch.

    Args:
        schedule: a function `schedule(epoch, lr) -> new_lr` (epoch 0-based,
            `lr` the current learning rate as a float). A one-argument
            `schedule(epoch)` is accepted too.
        verbose: 1 prints the new learning rate each epoch.

    The epoch's learning rate is also added to the epoch logs as
    `"learning_rate"` (so `History` records it).

    Example:

    ```python
    def scheduler(epoch, lr):
        return lr if epoch < 10 else lr * 0.9

    callback = kerax.callbacks.LearningRateScheduler(scheduler)
    ```
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: argument `schedule` must be a callable "
                            f"schedule(epoch, lr) -> float. Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        lr = _lr.get_learning_rate(optimizer)
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:  # the older schedule(epoch) form
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, np.ndarray) and new_lr.ndim == 0 and new_lr.dtype.kind == "f":
            new_lr = new_lr[()]
        if not isinstance(new_lr, (float, np.floating)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: "
                             f"{new_lr!r}")
        _lr.set_learning_rate(optimizer, float(new_lr))
        return new_lr

    def on_epoch_begin(self, epoch, logs=None):
        for name, opt in _lr.optimizers_of(self.model):
            new_lr = self._update_optimizer_lr(opt, epoch)
            if self.verbose > 0:
                which = f"{name} " if name else ""
                io_utils.print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                                   f"{which}learning rate to {new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        _lr.add_learning_rates(self.model, logs)
