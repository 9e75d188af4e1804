"""Intersection-over-union metrics (segmentation): IoU, MeanIoU, BinaryIoU,
OneHotIoU, OneHotMeanIoU. The state is a (num_classes, num_classes) confusion
matrix (rows: labels, columns: predictions)."""
import functools

import jax
import jax.numpy as jnp

from kerax import config
from kerax.metrics.metric import Metric
from kerax.metrics.metrics_utils import confusion_matrix, to_array


@functools.partial(jax.jit, static_argnames=(
    "num_classes", "ignore_class", "sparse_y_true", "sparse_y_pred", "axis", "dtype"))
def _iou_batch_cm(y_true, y_pred, sample_weight, *, num_classes, ignore_class, sparse_y_true,
                  sparse_y_pred, axis, dtype):
    """One batch's weighted confusion matrix; out-of-range and ignored labels drop out."""
    if not sparse_y_true:
        y_true = jnp.argmax(y_true, axis=axis)
    if not sparse_y_pred:
        y_pred = jnp.argmax(y_pred, axis=axis)
    y_true = y_true.astype(dtype).reshape(-1)
    y_pred = y_pred.astype(dtype).reshape(-1)
    sw = jnp.asarray(1 if sample_weight is None else sample_weight).astype(dtype)
    if sw.ndim > 1:
        sw = sw.reshape(-1)
    sw = jnp.broadcast_to(sw, y_true.shape)
    ok = (y_true >= 0) & (y_true < num_classes) & (y_pred >= 0) & (y_pred < num_classes)
    if ignore_class is not None:
        ok = ok & (y_true != ignore_class)
    y_true = jnp.where(ok, y_true, 0)
    y_pred = jnp.where(ok, y_pred, 0)
    sw = jnp.where(ok, sw, 0)
    return confusion_matrix(y_true, y_pred, num_classes, weights=sw, dtype=dtype)


class _IoUBase(Metric):
    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"{type(self).__name__}: `num_classes` must be a positive int, got {num_classes!r}.")
        self._direction = "up"
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(shape=(num_classes, num_classes), initializer="zeros",
                                          dtype=self.dtype, name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        cm = _iou_batch_cm(to_array(y_true), to_array(y_pred),
                           None if sample_weight is None else to_array(sample_weight),
                           num_classes=self.num_classes, ignore_class=self.ignore_class,
                           sparse_y_true=self.sparse_y_true, sparse_y_pred=self.sparse_y_pred,
                           axis=self.axis, dtype=self.dtype)
        self.total_cm.assign(self.total_cm.value + cm)

    def reset_state(self):
        self.total_cm.assign(jnp.zeros(self.total_cm.shape, self.total_cm.dtype))


class IoU(_IoUBase):
    """Mean IoU over `target_class_ids`: IoU = TP / (TP + FP + FN) per class.

    Classes absent from both labels and predictions are left out of the mean.
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None,
                 ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, num_classes=num_classes, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis,
                         dtype=dtype)
        if max(target_class_ids) >= num_classes:
            raise ValueError(
                f"Target class id {max(target_class_ids)} is out of range, which is "
                f"[0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = self.total_cm.value.astype(jnp.float32)
        tp = jnp.diagonal(cm)
        denom = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp
        ids = jnp.asarray(self.target_class_ids, jnp.int32)
        tp, denom = tp[ids], denom[ids]
        valid = denom > 1e-9
        iou = jnp.where(valid, tp / (denom + config.epsilon()), 0.0)
        return jnp.sum(iou, axis=self.axis) / (jnp.sum(valid.astype(jnp.float32))
                                               + config.epsilon())

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU for binary labels, predictions thresholded at `threshold` (>=)."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = (to_array(y_pred, jnp.float32) >= self.threshold).astype(self.dtype)
        return super().update_state(to_array(y_true, self.dtype), y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, num_classes=num_classes,
                         target_class_ids=list(range(num_classes)), axis=axis, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU with one-hot labels (and by default one-hot/probability predictions)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids, name=name,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot labels."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, axis=axis, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}
