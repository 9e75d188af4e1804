"""`ProgbarLogger`: the progress output of `fit`, `evaluate` and `predict`."""
from kerax.callbacks.callback import Callback
from kerax.io import io_utils
from kerax.io.progbar import Progbar

__all__ = ["ProgbarLogger"]


class ProgbarLogger(Callback):
    """Prints the progress bar and the metrics to stdout.

    `fit` adds one automatically when `verbose != 0`; its `verbose` decides
    the display: 1 a progress bar (redrawn in place on a terminal, one line
    per epoch otherwise), 2 one summary line per epoch. Batch values are read
    from the device only when the bar is actually redrawn.
    """

    #: Seconds between two redraws on a terminal; each redraw waits for the device.
    interval = 0.1

    accepts_grouped_batches = True  # the bar moves once per group of steps

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        params = params or {}
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        # Inside fit, the validation passes are silent.
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            io_utils.print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # never show the predictions

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(None)

    # ---- helpers ----------------------------------------------------------------
    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            # The logs already hold running means: show them as given.
            self.progbar = Progbar(target=self.target, verbose=self.verbose,
                                   interval=self.interval, unit_name="step",
                                   stateless_metrics=())

    def _update_progbar(self, batch, logs):
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs):
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)
