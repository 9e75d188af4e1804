"""Correlation metrics: PearsonCorrelation and ConcordanceCorrelation."""
import jax.numpy as jnp

from kerax import config
from kerax.metrics.metrics_utils import squeeze_or_expand_to_same_rank, to_array
from kerax.metrics.reduction_metrics import BuiltinMeanMetric


def _prepare(y_true, y_pred):
    y_pred = to_array(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(config.floatx())
    return squeeze_or_expand_to_same_rank(to_array(y_true).astype(y_pred.dtype), y_pred)


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's r along `axis`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    t = y_true - jnp.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - jnp.mean(y_pred, axis=axis, keepdims=True)
    t = t / jnp.std(t, axis=axis, keepdims=True)
    p = p / jnp.std(p, axis=axis, keepdims=True)
    return jnp.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation coefficient along `axis`:
    2 cov(t, p) / (var(t) + var(p) + (mean(t) - mean(p))^2 + epsilon).

    (Keras 3.15 centres `y_true` on `y_pred`'s mean in the covariance; kerax
    uses the textbook formula.)"""
    y_true, y_pred = _prepare(y_true, y_pred)
    mt = jnp.mean(y_true, axis=axis, keepdims=True)
    mp = jnp.mean(y_pred, axis=axis, keepdims=True)
    vt = jnp.var(y_true, axis=axis, keepdims=True)
    vp = jnp.var(y_pred, axis=axis, keepdims=True)
    covar = (y_true - mt) * (y_pred - mp)
    norm = vt + vp + jnp.square(mt - mp)
    return jnp.mean(2 * covar / (norm + config.epsilon()), axis=axis)


class PearsonCorrelation(BuiltinMeanMetric):
    """Mean Pearson correlation along `axis`."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, direction="up", axis=axis)


class ConcordanceCorrelation(BuiltinMeanMetric):
    """Mean concordance correlation along `axis`."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, direction="up", axis=axis)
