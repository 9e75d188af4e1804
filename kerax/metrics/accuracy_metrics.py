"""Accuracy metrics and their per-sample functions."""
import jax.numpy as jnp

from kerax import config
from kerax.metrics.metrics_utils import squeeze_or_expand_to_same_rank, to_array
from kerax.metrics.reduction_metrics import BuiltinMeanMetric


def _floatx():
    return config.floatx()


def accuracy(y_true, y_pred):
    """1.0 where `y_pred == y_true`, else 0.0."""
    y_pred = to_array(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return jnp.equal(y_true, y_pred).astype(_floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `(y_pred > threshold) == y_true`, else 0.0."""
    y_pred = to_array(y_pred)
    y_true = to_array(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = (y_pred > threshold).astype(y_true.dtype)
    return jnp.equal(y_true, y_pred).astype(_floatx())


def _argmax_matches(y_true, y_pred, squeeze):
    """1.0 where `argmax(y_pred)` equals the class ids `y_true`, else 0.0. With
    `squeeze`, y_true's trailing axis is dropped first and the matches take
    y_true's shape."""
    org_shape = y_true.shape
    if squeeze:
        y_true = jnp.squeeze(y_true, -1)
    y_pred = jnp.argmax(y_pred, axis=-1).astype(y_true.dtype)
    matches = jnp.equal(y_true, y_pred).astype(_floatx())
    return matches.reshape(org_shape) if squeeze else matches


def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_pred) == argmax(y_true)` (one-hot labels), else 0.0."""
    y_pred = to_array(y_pred)
    y_true = jnp.argmax(to_array(y_true), axis=-1)
    return _argmax_matches(y_true, y_pred, squeeze=y_true.ndim == y_pred.ndim)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_pred) == y_true` (integer labels), else 0.0."""
    y_pred = to_array(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype)
    squeeze = y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
    matches = _argmax_matches(y_true, y_pred, squeeze)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = jnp.squeeze(matches, -1)
    return matches


def in_top_k(targets, predictions, k):
    """Whether `targets` (integer ids) are among the `k` largest `predictions`
    (ties count in the target's favour; NaN is never in the top k)."""
    at_label = jnp.take_along_axis(predictions, jnp.expand_dims(targets, -1), axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(predictions > at_label, axis=-1)
    return rank <= k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target is among the top `k` predictions."""
    return sparse_top_k_categorical_accuracy(jnp.argmax(to_array(y_true), axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer target is among the top `k` predictions (or, with
    `from_sorted_ids=True`, among the first `k` ids of `y_pred`)."""
    y_pred = to_array(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype if from_sorted_ids else jnp.int32)
    org_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    if reshape:
        y_true = y_true.reshape(-1)
    if from_sorted_ids:
        matches = jnp.any(jnp.expand_dims(y_true, 1) == y_pred[:, :k], axis=1)
    else:
        matches = in_top_k(y_true, y_pred, k)
    matches = matches.astype(_floatx())
    return matches.reshape(org_shape) if reshape else matches


class Accuracy(BuiltinMeanMetric):
    """How often `y_pred` equals `y_true`."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype, direction="up")


class BinaryAccuracy(BuiltinMeanMetric):
    """How often `y_pred > threshold` matches binary labels."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, direction="up", threshold=threshold)


class CategoricalAccuracy(BuiltinMeanMetric):
    """How often the argmax of `y_pred` matches one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype, direction="up")


class SparseCategoricalAccuracy(BuiltinMeanMetric):
    """How often the argmax of `y_pred` matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype, direction="up")


class TopKCategoricalAccuracy(BuiltinMeanMetric):
    """How often one-hot targets are in the top `k` predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, direction="up", k=k)


class SparseTopKCategoricalAccuracy(BuiltinMeanMetric):
    """How often integer targets are in the top `k` predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, direction="up",
                         k=k, from_sorted_ids=from_sorted_ids)

    def get_config(self):
        config = super().get_config()
        if not self.from_sorted_ids:  # Keras writes it only when set
            del config["from_sorted_ids"]
        return config
