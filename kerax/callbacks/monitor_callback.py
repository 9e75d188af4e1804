"""`MonitorCallback`: shared logic of the callbacks that watch one metric
(EarlyStopping, ModelCheckpoint, ReduceLROnPlateau)."""
import warnings

import numpy as np

from kerax.callbacks.callback import Callback

__all__ = ["MonitorCallback"]

# Name fragments that tell the direction of a metric when the model cannot.
_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2",
              "true_positives", "true_negatives", "specificity", "sensitivity",
              "cosine_similarity")
_MIN_HINTS = ("loss", "error", "crossentropy", "hinge", "poisson", "divergence",
              "false_positives", "false_negatives", "mse", "mae", "mape", "msle",
              "logcosh")


def _to_float(value):
    """A monitored value as a Python float (reads a device value)."""
    arr = np.asarray(value)
    if arr.ndim != 0:
        return None
    return float(arr)


def _iter_metrics(model):
    stack = list(getattr(model, "metrics", None) or ())
    seen = set()
    while stack:
        m = stack.pop(0)
        if id(m) in seen:
            continue
        seen.add(id(m))
        yield m
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)


class MonitorCallback(Callback):
    """Base of the callbacks that monitor a quantity and detect improvements.

    Args:
        monitor: the name of the monitored log entry (default `"val_loss"`).
        mode: `"auto"`, `"min"` or `"max"`. With `"auto"` the direction comes
            from the metric (losses are minimized; a metric object with a
            `_direction` of `"up"`/`"down"` says so; otherwise the name:
            accuracy-like names are maximized, error-like names minimized).
        baseline: the initial best value, or None to take the first value.
        min_delta: the smallest change that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to "
                          "auto mode.", stacklevel=3)
            mode = "auto"
        if not isinstance(monitor, str):
            raise TypeError(f"{type(self).__name__}: argument `monitor` must be the name of "
                            f"a log entry (a str). Received: monitor={monitor!r}")
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None
        self._lower_is_better = None

    def _infer_lower_is_better(self):
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        if name == "loss" or name.endswith("_loss"):
            return True
        for m in _iter_metrics(self._model):
            if getattr(m, "name", None) == name and hasattr(m, "_direction"):
                return m._direction != "up"
        lowered = name.lower()
        if any(h in lowered for h in _MIN_HINTS):
            return True
        if any(h in lowered for h in _MAX_HINTS):
            return False
        raise ValueError(
            f"{type(self).__name__} callback received monitor={self.monitor}, but kerax "
            "can't determine whether that metric should be maximized or minimized. Pass "
            "`mode='max'` to monitor the highest value, or `mode='min'` for the lowest.")

    def _set_monitor_op(self):
        if self.mode == "min":
            lower = True
        elif self.mode == "max":
            lower = False
        else:
            lower = self._infer_lower_is_better()
        self._lower_is_better = lower
        self.monitor_op = np.less if lower else np.greater
        if lower:
            self.min_delta = -abs(self.min_delta)

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
