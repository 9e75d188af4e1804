"""Sum, Mean and MeanMetricWrapper: (weighted) running reductions."""
import jax
import jax.numpy as jnp

from kerax.losses.loss import apply_mask
from kerax.losses.losses import call_with_mask
from kerax.metrics.metric import Metric, zeros_of
from kerax.metrics.metrics_utils import (
    broadcast_sample_weight, divide_no_nan, squeeze_or_expand_to_same_rank, to_array)
from kerax.registry import (
    builtin_objects, deserialize_keras_object, get_registered_object, serialize_keras_object)


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
        sample_weight = broadcast_sample_weight(sample_weight, values.shape,
                                                "the metric values")
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
        self.total.assign(zeros_of((), self.total.dtype))

    def result(self):
        return self.total.value.astype(self.dtype)


def _mean_increments(values, sample_weight, dtype):
    """What one batch adds to Mean's (total, count)."""
    values, sample_weight = reduce_to_samplewise_values(values, sample_weight, jnp.mean, dtype)
    if sample_weight is not None:
        num_samples = jnp.sum(sample_weight)
    elif values.ndim >= 1:
        num_samples = values.shape[0]
    else:
        num_samples = 1
    return jnp.sum(values), jnp.asarray(num_samples, dtype)


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
        total, count = _mean_increments(values, sample_weight, self.dtype)
        self.total.assign(self.total.value + total)
        self.count.assign(self.count.value + count)

    def reset_state(self):
        self.total.assign(zeros_of((), self.total.dtype))
        self.count.assign(zeros_of((), self.count.dtype))

    def result(self):
        return divide_no_nan(self.total.value, self.count.value.astype(self.dtype))


def _wrapper_increments(fn, kwargs, dtype, align, y_true, y_pred, sample_weight):
    """What one batch adds to MeanMetricWrapper's (total, count): the values of
    `fn`, weighted by `sample_weight` and by the mask `fn` makes, if any."""
    if align:
        y_true, y_pred = squeeze_or_expand_to_same_rank(to_array(y_true), to_array(y_pred))
    values, mask = call_with_mask(fn, y_true, y_pred, **dict(kwargs))
    if mask is not None:
        if sample_weight is not None:
            sample_weight = to_array(sample_weight)
        sample_weight = apply_mask(sample_weight, mask, dtype, reduction="sum")
    return _mean_increments(values, sample_weight, dtype)


_compiled_wrapper_increments = jax.jit(_wrapper_increments, static_argnums=(0, 1, 2, 3))


def _is_hashable(value):
    try:
        hash(value)
        return True
    except TypeError:
        return False


def _is_builtin_loss(fn):
    """Whether `fn` is one of kerax.losses' functions or classes (or an instance)."""
    return any(fn is obj or type(fn) is obj for obj in builtin_objects("keras.losses").values())


# The names of kerax.metrics' own functions (registered by the package).
_FN_MODULE = "keras.metrics.functions"
# keras.metrics re-exports these functions of keras.losses.
_LOSS_FUNCTIONS = (
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "categorical_hinge", "hinge", "huber", "kl_divergence",
    "log_cosh", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "poisson", "sparse_categorical_crossentropy",
    "squared_hinge")


def get_function(name):
    """The metric *function* of that name ("binary_accuracy", "mse", ...)."""
    fn = get_registered_object(name)
    if fn is not None:
        return fn
    own = builtin_objects(_FN_MODULE)
    if name in own:
        return own[name]
    # A loss function's name or alias ("mse", "kld", ...), as kerax.losses knows it.
    fn = builtin_objects("keras.losses").get(name.lower())
    if getattr(fn, "__name__", None) in _LOSS_FUNCTIONS:
        return fn
    valid = sorted(set(own) | set(_LOSS_FUNCTIONS))
    raise ValueError(f"Unknown metric function: {name!r}. Valid names are: {', '.join(valid)}.")


class MeanMetricWrapper(Mean):
    """Wrap a function `fn(y_true, y_pred, **kwargs)` returning per-sample values
    into a running (weighted) mean. Wrapping a kerax loss gives a metric to
    minimise (`_direction` "down"), as in Keras.

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
        if _is_builtin_loss(fn):
            self._direction = "down"

    # kerax's built-in subclasses set this: their `fn` is pure JAX, so one
    # batch's increments are compiled once per input signature (fast eager
    # updates). A user's `fn` runs as written, as in Keras.
    _compile_fn = False
    # Match y_true's and y_pred's ranks (a trailing 1) before calling `fn`.
    _align_ranks = False

    def update_state(self, y_true, y_pred, sample_weight=None):
        kwargs = tuple(sorted(self._fn_kwargs.items()))
        increments = _wrapper_increments
        if self._compile_fn and _is_hashable(kwargs):
            increments = _compiled_wrapper_increments
            y_true, y_pred = to_array(y_true), to_array(y_pred)
            if sample_weight is not None:
                sample_weight = to_array(sample_weight)
        total, count = increments(self._fn, kwargs, self.dtype, self._align_ranks,
                                  y_true, y_pred, sample_weight)
        self.total.assign(self.total.value + total)
        self.count.assign(self.count.value + count)

    def get_config(self):
        config = {"fn": serialize_keras_object(self._fn)}
        config.update(serialize_keras_object(self._fn_kwargs))
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            fn = config["fn"]
            if isinstance(fn, str):
                config["fn"] = get_function(fn)
            elif isinstance(fn, dict):
                config["fn"] = deserialize_keras_object(fn, module="keras.metrics")
        return cls(**config)


class BuiltinMeanMetric(MeanMetricWrapper):
    """The shared body of kerax's built-in `MeanMetricWrapper` subclasses:
    `fn` is pure JAX (so compiled), its keyword arguments are attributes, and
    the config is Keras': name, dtype and those arguments (no "fn")."""

    _compile_fn = True

    def __init__(self, fn, name, dtype, direction=None, **kwargs):
        super().__init__(fn, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)
        if direction is not None:
            self._direction = direction

    def get_config(self):
        return {**Metric.get_config(self), **self._fn_kwargs}
