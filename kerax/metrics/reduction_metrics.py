"""Sum, Mean and MeanMetricWrapper: (weighted) running reductions."""
import jax.numpy as jnp

from kerax.metrics.metric import Metric
from kerax.metrics.metrics_utils import divide_no_nan, squeeze_or_expand_to_same_rank, to_array


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Weight `values` and reduce them to one value per sample (Keras' rule).

    `sample_weight` is matched to `values`' rank (a trailing 1 squeezed or
    expanded), `values` is reduced with `reduce_fn` over the axes the weight
    does not have, the weight is broadcast and multiplied in, and both are
    reduced to shape (batch,). Returns (values, sample_weight or None)."""
    values = to_array(values).astype(dtype)
    if sample_weight is not None:
        sample_weight = to_array(sample_weight).astype(dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, v_ndim)))
        try:
            sample_weight = jnp.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(
                f"`sample_weight` of shape {tuple(sample_weight.shape)} cannot be "
                f"broadcast to the metric values of shape {tuple(values.shape)}.") from None
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the given values.

    `Sum()([1, 3, 5, 7])` is 16; with `sample_weight=[1, 1, 0, 0]` it is 4.
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, jnp.sum, self.dtype)
        self.total.assign(self.total.value + jnp.sum(values))

    def reset_state(self):
        self.total.assign(jnp.zeros((), self.total.dtype))

    def result(self):
        return self.total.value.astype(self.dtype)


class Mean(Metric):
    """The (weighted) mean of the given values: `total / count`.

    `Mean()([1, 3, 5, 7])` is 4; with `sample_weight=[1, 1, 0, 0]` it is 2.
    Values of rank > 1 are first averaged per sample.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype,
                                       name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(
            values, sample_weight, jnp.mean, self.dtype)
        self.total.assign(self.total.value + jnp.sum(values))
        if sample_weight is not None:
            num_samples = jnp.sum(sample_weight)
        elif values.ndim >= 1:
            num_samples = values.shape[0]
        else:
            num_samples = 1
        self.count.assign(self.count.value + jnp.asarray(num_samples, self.dtype))

    def reset_state(self):
        self.total.assign(jnp.zeros((), self.total.dtype))
        self.count.assign(jnp.zeros((), self.count.dtype))

    def result(self):
        return divide_no_nan(self.total.value, self.count.value.astype(self.dtype))


class MeanMetricWrapper(Mean):
    """Wrap a function `fn(y_true, y_pred, **kwargs)` returning per-sample values
    into a running (weighted) mean.

    Args:
      fn: the metric function.
      name, dtype: as for `Metric`.
      **kwargs: passed on to `fn` on each call (and saved in the config).
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(
                f"MeanMetricWrapper: `fn` must be a callable fn(y_true, y_pred), got {fn!r}.")
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        from kerax.saving.object_registration import serialize_keras_object

        config = {"fn": serialize_keras_object(self._fn)}
        config.update(serialize_keras_object(self._fn_kwargs))
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            from kerax.saving.object_registration import deserialize_keras_object

            fn = config["fn"]
            if isinstance(fn, str):
                from kerax.metrics import get_function

                config["fn"] = get_function(fn)
            elif isinstance(fn, dict):
                config["fn"] = deserialize_keras_object(fn, module="keras.metrics")
        return cls(**config)
