"""Probabilistic metrics (crossentropies, KL divergence, Poisson) and their
per-sample functions."""
import jax
import jax.numpy as jnp

from kerax import config
from kerax.metrics.metrics_utils import squeeze_or_expand_to_same_rank, to_array
from kerax.metrics.reduction_metrics import Mean, MeanMetricWrapper


def _float_pred(y_pred):
    y_pred = to_array(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(config.floatx())
    return y_pred


def _check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis!r}")


def _log_probs(y_pred, from_logits, axis):
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    eps = config.epsilon()
    y_pred = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(y_pred, eps, 1.0 - eps))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over `axis` of -(y log p + (1 - y) log(1 - p)), p clipped to
    [eps, 1 - eps] (or log-sigmoids with `from_logits=True`)."""
    y_pred = _float_pred(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "binary_crossentropy: `y_true` and `y_pred` must have the same shape, "
            f"received y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    else:
        eps = config.epsilon()
        p = jnp.clip(y_pred, eps, 1.0 - eps)
        bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(bce, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(p), axis), `p` the normalized and clipped `y_pred`
    (or log_softmax of logits)."""
    _check_axis(axis)
    y_pred = _float_pred(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "categorical_crossentropy: `y_true` (one-hot) and `y_pred` must have the "
            f"same shape, received y_true.shape={y_true.shape}, y_pred.shape="
            f"{y_pred.shape}. For integer labels use sparse_categorical_crossentropy.")
    if label_smoothing:
        num_classes = y_true.shape[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """categorical_crossentropy with integer labels; labels equal to
    `ignore_class` contribute 0."""
    y_pred = _float_pred(y_pred)
    y_true = to_array(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis=axis)
    class_axis = axis % y_pred.ndim
    if y_true.shape != y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1:]:
        raise ValueError(
            "sparse_categorical_crossentropy: `y_true` must have the shape of `y_pred` "
            f"without the class axis, received y_true.shape={y_true.shape}, "
            f"y_pred.shape={y_pred.shape}.")
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = jnp.where(valid, y_true, 0)
        y_pred = jnp.where(jnp.expand_dims(valid, class_axis), y_pred, 0)
    labels = y_true.astype(jnp.int32)
    log_p = _log_probs(y_pred, from_logits, class_axis)
    one_hot = jax.nn.one_hot(labels, y_pred.shape[class_axis], axis=class_axis,
                             dtype=y_pred.dtype)
    res = -jnp.sum(one_hot * log_p, axis=class_axis)
    if valid is not None:
        res = jnp.where(valid, res, 0.0)
    return res


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [eps, 1]."""
    y_pred = _float_pred(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype)
    eps = config.epsilon()
    y_true = jnp.clip(y_true, eps, 1)
    y_pred = jnp.clip(y_pred, eps, 1)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)"""
    y_pred = _float_pred(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype)
    eps = jnp.asarray(config.epsilon(), y_pred.dtype)
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + eps), axis=-1)


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence between `y_true` and `y_pred`."""

    _compile_fn = True

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(fn=kl_divergence, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class Poisson(MeanMetricWrapper):
    """Mean Poisson deviance `y_pred - y_true * log(y_pred)`."""

    _compile_fn = True

    def __init__(self, name="poisson", dtype=None):
        super().__init__(fn=poisson, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary crossentropy."""

    _compile_fn = True

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(binary_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical crossentropy (one-hot labels)."""

    _compile_fn = True

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical crossentropy (integer labels).

    Entries labelled `ignore_class` are left out of the mean (of its total and
    its count). Keras 3 does the same when a `sample_weight` is given, but
    without one it counts them as zero losses; kerax masks in both cases.
    """

    _compile_fn = True

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None:
            return super().update_state(y_true, y_pred, sample_weight=sample_weight)
        # Entries whose label is `ignore_class` count neither in the total nor
        # in the count (Keras masks them out of the mean).
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        y_true = to_array(y_true)
        y_pred = to_array(y_pred)
        if y_true.ndim == y_pred.ndim and y_true.shape[self.axis] == 1:
            y_true = jnp.squeeze(y_true, axis=self.axis)
        mask = (y_true != self.ignore_class).astype(self.dtype)
        if sample_weight is None:
            sample_weight = mask
        else:
            sample_weight = to_array(sample_weight).astype(self.dtype)
            mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
            sample_weight = sample_weight * mask
        return Mean.update_state(self, values, sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}
