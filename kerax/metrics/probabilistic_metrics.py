"""Probabilistic metrics: running means of kerax.losses' crossentropies, KL
divergence and Poisson deviance."""
from kerax.losses.losses import (
    binary_crossentropy, categorical_crossentropy, kl_divergence, poisson,
    sparse_categorical_crossentropy)
from kerax.metrics.reduction_metrics import BuiltinMeanMetric


class KLDivergence(BuiltinMeanMetric):
    """Mean Kullback-Leibler divergence between `y_true` and `y_pred`."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name, dtype)


class Poisson(BuiltinMeanMetric):
    """Mean Poisson deviance `y_pred - y_true * log(y_pred)`."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name, dtype)


class BinaryCrossentropy(BuiltinMeanMetric):
    """Mean binary crossentropy. Labels of shape (batch,) with predictions of
    shape (batch, 1), or the reverse, are matched as the loss class does."""

    _align_ranks = True

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(binary_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(BuiltinMeanMetric):
    """Mean categorical crossentropy (one-hot labels)."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(BuiltinMeanMetric):
    """Mean categorical crossentropy (integer labels).

    Entries labelled `ignore_class` are left out of the mean (of its total and
    its count). Keras 3 does the same when a `sample_weight` is given, but
    without one it counts them as zero losses; kerax masks in both cases.
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(sparse_categorical_crossentropy, name, dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
