"""`TerminateOnNaN`: stop training when the loss becomes NaN or infinite."""
import numpy as np

from kerax.callbacks.callback import Callback
from kerax.io import io_utils

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stops training when a NaN or infinite loss is seen.

    The loss is checked at every `on_train_batch_end` (with
    `steps_per_execution=k`, every `k` steps: the reported batch is the last
    step of the group). Reading the loss waits for the device, so this
    callback makes `fit` synchronize once per batch call.

    Args:
        raise_error: raise a `RuntimeError` instead of setting
            `model.stop_training`.
    """

    # checks once per group of steps (the loss is a running mean: a NaN in
    # any step of the group shows at its end)
    accepts_grouped_batches = True

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(np.asarray(loss)) if np.ndim(loss) == 0 else np.asarray(loss)
        if np.all(np.isfinite(value)):
            return
        shown = value
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                               f"{shown}. Terminating training immediately.")
        io_utils.print_msg(f"Batch {batch}: Invalid loss {shown}, terminating training")
        self.model.stop_training = True
