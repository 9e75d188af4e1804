"""Regression metrics: running means of kerax.losses' regression functions,
RootMeanSquaredError and R2Score."""
import jax.numpy as jnp

from kerax import losses
from kerax.losses.losses import (
    log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
    mean_squared_logarithmic_error)
from kerax.metrics.metric import Metric
from kerax.metrics.metrics_utils import squeeze_or_expand_to_same_rank, to_array
from kerax.metrics.reduction_metrics import BuiltinMeanMetric, Mean


def cosine_similarity(y_true, y_pred, axis=-1):
    """`sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`: the negative
    of the loss `kerax.losses.cosine_similarity`."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class MeanSquaredError(BuiltinMeanMetric):
    """Mean of `mean_squared_error(y_true, y_pred)`."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)


class MeanAbsoluteError(BuiltinMeanMetric):
    """Mean of `mean_absolute_error(y_true, y_pred)`."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)


class MeanAbsolutePercentageError(BuiltinMeanMetric):
    """Mean of `mean_absolute_percentage_error(y_true, y_pred)`."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype)


class MeanSquaredLogarithmicError(BuiltinMeanMetric):
    """Mean of `mean_squared_logarithmic_error(y_true, y_pred)`."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean of `(y_pred - y_true) ** 2` over all elements."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = to_array(y_true, self.dtype)
        y_pred = to_array(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return super().update_state(jnp.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return jnp.sqrt(super().result())


class CosineSimilarity(BuiltinMeanMetric):
    """Mean cosine similarity between `y_true` and `y_pred` along `axis`."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name, dtype, direction="up", axis=axis)

    def get_config(self):
        return Metric.get_config(self)  # Keras leaves `axis` out


class LogCoshError(BuiltinMeanMetric):
    """Mean of `log_cosh(y_true, y_pred)`."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name, dtype)


class R2Score(Metric):
    """The coefficient of determination, per output then aggregated.

    Args:
      class_aggregation: "uniform_average" (default), "variance_weighted_average"
        or None (one score per output).
      num_regressors: p of the adjusted R2 `1 - (1 - R2) (n - 1) / (n - p - 1)`;
        0 gives the plain R2. Where n - 1 <= p, the plain R2 is returned.

    Inputs have shape (batch, outputs); the state is built on the first update.
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0,
                 name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(
                f"R2Score: invalid `class_aggregation`. Expected one of {valid}, "
                f"received class_aggregation={class_aggregation!r}.")
        if not isinstance(num_regressors, int) or num_regressors < 0:
            raise ValueError(
                "R2Score: `num_regressors` must be an int >= 0, received "
                f"num_regressors={num_regressors!r}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable(shape=(), initializer="zeros",
                                             name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim). "
                f"Received input shapes: y_pred.shape={y_pred_shape} and "
                f"y_true.shape={y_true_shape}.")
        n = y_pred_shape[-1]
        self.squared_sum = self.add_variable(shape=(n,), initializer="zeros", name="squared_sum")
        self.sum = self.add_variable(shape=(n,), initializer="zeros", name="sum")
        self.total_mse = self.add_variable(shape=(n,), initializer="zeros", name="residual")
        self.count = self.add_variable(shape=(n,), initializer="zeros", name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = to_array(y_true, self.dtype)
        y_pred = to_array(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        sw = jnp.asarray(1.0 if sample_weight is None else to_array(sample_weight), self.dtype)
        if sw.ndim == 1:
            sw = jnp.expand_dims(sw, 1)
        sw = jnp.broadcast_to(sw, y_true.shape)
        weighted = y_true * sw
        self.sum.assign(self.sum.value + jnp.sum(weighted, axis=0))
        self.squared_sum.assign(self.squared_sum.value + jnp.sum(y_true * weighted, axis=0))
        self.total_mse.assign(self.total_mse.value
                              + jnp.sum(jnp.square(y_true - y_pred) * sw, axis=0))
        self.count.assign(self.count.value + jnp.sum(sw, axis=0))
        self.num_samples.assign(self.num_samples.value + y_true.size)

    def result(self):
        if not self._built:
            return jnp.zeros((), self.dtype)
        s, count = self.sum.value, self.count.value
        mean = s / count
        total = self.squared_sum.value - s * mean
        raw = 1 - (self.total_mse.value / total)
        raw = jnp.where(jnp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = jnp.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = jnp.sum(total * raw) / jnp.sum(total)
        else:
            r2 = raw
        if self.num_regressors != 0:
            n = self.num_samples.value.astype(jnp.float32)
            p = jnp.float32(self.num_regressors)
            adjusted = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
            r2 = jnp.where(p < n - 1.0, adjusted, r2)
        return r2

    def reset_state(self):
        for v in self.variables:
            v.assign(jnp.zeros(v.shape, v.dtype))

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
