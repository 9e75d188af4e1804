"""Keras 3's built-in losses: plain functions `fn(y_true, y_pred, ...)` that
return per-sample losses, and `Loss` classes that wrap them and reduce.

Probabilities are clipped to `[epsilon, 1 - epsilon]` before logs (as Keras
does); with `from_logits=True` the log-probabilities come from
`jax.nn.log_softmax` / `jax.nn.log_sigmoid` (stable log-sum-exp forms).
Shapes are checked statically, so a label layout that cannot fit a loss is a
clear ValueError at trace time, also under `jax.jit`.
"""
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.losses.loss import Loss, squeeze_or_expand_to_same_rank, to_tensor
from kerax.registry import (
    deserialize_keras_object, register_builtin, serialize_keras_object)

__all__ = [
    "LossFunctionWrapper",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "CosineSimilarity", "Huber", "LogCosh",
    "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson",
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy", "SparseCategoricalCrossentropy",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "cosine_similarity", "huber", "log_cosh",
    "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "sparse_categorical_crossentropy",
]

_MODULE = "keras.losses"


# ---- helpers ---------------------------------------------------------------
def _float_tensor(x):
    x = to_tensor(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(config.floatx())


def _prepare(y_true, y_pred, name=None, same_rank=False):
    """y_pred as a float array, y_true cast to its dtype; with `same_rank`, a
    trailing 1 matched (Keras' rule); with a `name`, shapes that cannot
    broadcast are a clear error of that loss."""
    y_pred = _float_tensor(y_pred)
    y_true = to_tensor(y_true).astype(y_pred.dtype)
    if same_rank:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if name is not None:
        _check_broadcast(name, y_true, y_pred)
    return y_true, y_pred


def _eps(dtype):
    return jnp.asarray(config.epsilon(), dtype)


def _shapes(y_true, y_pred):
    return f"y_true.shape={tuple(jnp.shape(y_true))}, y_pred.shape={tuple(jnp.shape(y_pred))}"


def _check_broadcast(name, y_true, y_pred):
    try:
        jnp.broadcast_shapes(jnp.shape(y_true), jnp.shape(y_pred))
    except ValueError:
        raise ValueError(
            f"{name}: y_true and y_pred have incompatible shapes ({_shapes(y_true, y_pred)}). "
            "They must have the same shape (a trailing dimension of 1 on one of "
            "them is allowed).") from None


def _check_same_shape(name, y_true, y_pred, hint=""):
    if tuple(jnp.shape(y_true)) != tuple(jnp.shape(y_pred)):
        raise ValueError(
            f"{name}: y_true and y_pred must have the same shape, received "
            f"{_shapes(y_true, y_pred)}.{hint}")


def _check_axis(name, axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{name}: `axis` must be an int, received axis={axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}: axis={axis} is out of range for y_pred of rank {ndim}.")
    return int(axis) % ndim


def _categorical_hint(y_true, y_pred, axis):
    if jnp.ndim(y_true) == jnp.ndim(y_pred) - 1 or (
            jnp.ndim(y_true) == jnp.ndim(y_pred) and jnp.shape(y_true)[axis] == 1):
        return (" y_true looks like integer class labels: use "
                "sparse_categorical_crossentropy (SparseCategoricalCrossentropy), "
                "or one-hot encode the labels.")
    return " y_true must hold one-hot (or probability) labels over the classes of y_pred."


def _clipped_log_probs(y_pred, axis):
    """log of y_pred rescaled to sum to 1 along `axis`, clipped to [eps, 1-eps]."""
    eps = config.epsilon()
    probs = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    probs = jnp.clip(probs, eps, 1.0 - eps)
    return jnp.log(probs), probs


def _convert_binary_labels_to_hinge(y_true):
    """0/1 labels -> -1/1 (left alone when they are not all 0 or 1)."""
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


def _l2_normalize(x, axis):
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    inv_norm = jnp.minimum(jax.lax.rsqrt(square_sum), 1.0 / config.epsilon())
    return x * inv_norm


# ---- regression losses -------------------------------------------------------
@register_builtin(_MODULE, aliases=("mse", "MSE"))
def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_error", same_rank=True)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


@register_builtin(_MODULE, aliases=("mae", "MAE"))
def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_error", same_rank=True)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


@register_builtin(_MODULE, aliases=("mape", "MAPE"))
def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_percentage_error", same_rank=True)
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), _eps(y_pred.dtype)))
    return 100.0 * jnp.mean(diff, axis=-1)


@register_builtin(_MODULE, aliases=("msle", "MSLE"))
def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_logarithmic_error", same_rank=True)
    eps = _eps(y_pred.dtype)
    first = jnp.log(jnp.maximum(y_pred, eps) + 1.0)
    second = jnp.log(jnp.maximum(y_true, eps) + 1.0)
    return jnp.mean(jnp.square(first - second), axis=-1)


@register_builtin(_MODULE)
def cosine_similarity(y_true, y_pred, axis=-1):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)` (in [-1, 1];
    0 when either vector is zero)."""
    y_true, y_pred = _prepare(y_true, y_pred, "cosine_similarity", same_rank=True)
    return -jnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


@register_builtin(_MODULE)
def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of `0.5 * x**2` where `|x| <= delta`, else
    `delta * |x| - 0.5 * delta**2`, with `x = y_pred - y_true`."""
    y_true, y_pred = _prepare(y_true, y_pred, "huber", same_rank=True)
    delta = jnp.asarray(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    return jnp.mean(jnp.where(abs_error <= delta, 0.5 * jnp.square(error),
                              delta * abs_error - 0.5 * jnp.square(delta)), axis=-1)


@register_builtin(_MODULE, aliases=("logcosh",))
def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed without overflow."""
    y_true, y_pred = _prepare(y_true, y_pred, "log_cosh", same_rank=True)
    x = y_pred - y_true
    return jnp.mean(x + jax.nn.softplus(-2.0 * x) - jnp.log(2.0).astype(x.dtype), axis=-1)


# ---- hinge losses -------------------------------------------------------------
@register_builtin(_MODULE)
def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels are mapped to -1/1."""
    y_true, y_pred = _prepare(y_true, y_pred, "hinge")
    y_true = _convert_binary_labels_to_hinge(y_true)
    return jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


@register_builtin(_MODULE)
def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`; 0/1 labels -> -1/1."""
    y_true, y_pred = _prepare(y_true, y_pred, "squared_hinge")
    y_true = _convert_binary_labels_to_hinge(y_true)
    return jnp.mean(jnp.square(jnp.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


@register_builtin(_MODULE)
def categorical_hinge(y_true, y_pred):
    """`maximum(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)` and
    `neg = max((1 - y_true) * y_pred)` over the last axis."""
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_hinge")
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, 0.0)


# ---- probabilistic losses --------------------------------------------------
@register_builtin(_MODULE, aliases=("kld", "KLD"))
def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to [eps, 1]."""
    y_true, y_pred = _prepare(y_true, y_pred, "kl_divergence")
    eps = config.epsilon()
    y_true = jnp.clip(y_true, eps, 1.0)
    y_pred = jnp.clip(y_pred, eps, 1.0)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


@register_builtin(_MODULE)
def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    y_true, y_pred = _prepare(y_true, y_pred, "poisson")
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + _eps(y_pred.dtype)), axis=-1)


def _binary_crossentropy_elementwise(y_true, y_pred, from_logits):
    if from_logits:
        return -(y_true * jax.nn.log_sigmoid(y_pred)
                 + (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred))
    eps = config.epsilon()
    y_pred = jnp.clip(y_pred, eps, 1.0 - eps)
    return -(y_true * jnp.log(y_pred) + (1.0 - y_true) * jnp.log(1.0 - y_pred))


_BINARY_HINT = (" For one probability (or logit) per sample give both as shape "
                "(batch,) or (batch, 1).")


@register_builtin(_MODULE, aliases=("bce", "BCE"))
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy, averaged over `axis`. Labels are smoothed towards
    0.5: `y_true * (1 - label_smoothing) + 0.5 * label_smoothing`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_same_shape("binary_crossentropy", y_true, y_pred, _BINARY_HINT)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return jnp.mean(_binary_crossentropy_elementwise(y_true, y_pred, from_logits), axis=axis)


@register_builtin(_MODULE)
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Focal binary cross-entropy: `(1 - p_t) ** gamma * bce`, times
    `alpha` / `1 - alpha` for positives / negatives with `apply_class_balancing`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_same_shape("binary_focal_crossentropy", y_true, y_pred, _BINARY_HINT)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    bce = _binary_crossentropy_elementwise(y_true, y_pred, from_logits)
    probs = jax.nn.sigmoid(y_pred) if from_logits else y_pred
    p_t = y_true * probs + (1.0 - y_true) * (1.0 - probs)
    focal_bce = jnp.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal_bce
    return jnp.mean(focal_bce, axis=axis)


def _categorical_prep(name, y_true, y_pred, axis, label_smoothing):
    y_true, y_pred = _prepare(y_true, y_pred)
    if jnp.ndim(y_pred) < 1:
        raise ValueError(f"{name}: y_pred must be at least rank 1, received "
                         f"y_pred.shape={tuple(jnp.shape(y_pred))}.")
    ax = _check_axis(name, axis, jnp.ndim(y_pred))
    _check_same_shape(name, y_true, y_pred, _categorical_hint(y_true, y_pred, ax))
    if jnp.shape(y_pred)[ax] == 1:
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) "
            f"with num_classes > 1. Received: y_pred.shape={tuple(jnp.shape(y_pred))}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning, stacklevel=3)
    if label_smoothing:
        num_classes = jnp.shape(y_true)[ax]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    return y_true, y_pred, ax


@register_builtin(_MODULE)
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """`-sum(y_true * log(softmax-or-probabilities(y_pred)), axis)` for one-hot
    labels. Labels are smoothed as `y_true * (1 - ls) + ls / num_classes`."""
    y_true, y_pred, ax = _categorical_prep(
        "categorical_crossentropy", y_true, y_pred, axis, label_smoothing)
    if from_logits:
        log_probs = jax.nn.log_softmax(y_pred, axis=ax)
    else:
        log_probs, _ = _clipped_log_probs(y_pred, ax)
    return -jnp.sum(y_true * log_probs, axis=ax)


@register_builtin(_MODULE)
def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """`sum(alpha * (1 - p) ** gamma * -y_true * log(p), axis)` with `p` the
    (clipped) class probabilities."""
    y_true, y_pred, ax = _categorical_prep(
        "categorical_focal_crossentropy", y_true, y_pred, axis, label_smoothing)
    if from_logits:
        log_probs = jax.nn.log_softmax(y_pred, axis=ax)
        eps = config.epsilon()
        probs = jnp.clip(jnp.exp(log_probs), eps, 1.0 - eps)
    else:
        log_probs, probs = _clipped_log_probs(y_pred, ax)
    cce = -y_true * log_probs
    focal = alpha * jnp.power(1.0 - probs, gamma) * cce
    return jnp.sum(focal, axis=ax)


def _sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                     axis=-1):
    """(per-entry losses, mask of non-ignored entries or None)."""
    name = "sparse_categorical_crossentropy"
    y_pred = _float_tensor(y_pred)
    y_true = to_tensor(y_true)
    if jnp.ndim(y_pred) < 1:
        raise ValueError(f"{name}: y_pred must be at least rank 1, received "
                         f"y_pred.shape={tuple(jnp.shape(y_pred))}.")
    ax = _check_axis(name, axis, jnp.ndim(y_pred))
    if jnp.ndim(y_true) == jnp.ndim(y_pred) and jnp.shape(y_true)[ax] == 1:
        y_true = jnp.squeeze(y_true, axis=ax)
    expected = tuple(d for i, d in enumerate(jnp.shape(y_pred)) if i != ax)
    if tuple(jnp.shape(y_true)) != expected:
        hint = ""
        if tuple(jnp.shape(y_true)) == tuple(jnp.shape(y_pred)):
            hint = (" y_true looks one-hot encoded: use categorical_crossentropy "
                    "(CategoricalCrossentropy), or pass integer class indices.")
        raise ValueError(
            f"{name}: y_true must hold integer class indices of shape {expected} "
            f"(or {expected + (1,)}), i.e. y_pred's shape without the class axis; "
            f"received {_shapes(y_true, y_pred)}.{hint}")
    if jnp.issubdtype(y_true.dtype, jnp.inexact):
        y_true = jnp.trunc(y_true)
    labels = y_true.astype("int32")
    mask = None
    if ignore_class is not None:
        mask = labels != int(ignore_class)
        labels = jnp.where(mask, labels, 0)
    if from_logits:
        log_probs = jax.nn.log_softmax(y_pred, axis=ax)
    else:
        log_probs, _ = _clipped_log_probs(y_pred, ax)
    # Gather the label's log-probability (no one-hot tensor); a label outside
    # [0, num_classes) gives 0, as a one-hot encoding of it would.
    num_classes = jnp.shape(y_pred)[ax]
    in_range = (labels >= 0) & (labels < num_classes)
    index = jnp.expand_dims(jnp.clip(labels, 0, num_classes - 1), ax)
    picked = jnp.squeeze(jnp.take_along_axis(log_probs, index, axis=ax), ax)
    res = -jnp.where(in_range, picked, jnp.zeros((), picked.dtype))
    if mask is not None:
        res = jnp.where(mask, res, jnp.zeros((), res.dtype))
    return res, mask


@register_builtin(_MODULE)
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Categorical cross-entropy with integer class labels: y_true has y_pred's
    shape without the class `axis` (optionally with a trailing 1). Entries whose
    label is `ignore_class` get a loss of 0 (and do not count in the mean of
    `SparseCategoricalCrossentropy`)."""
    return _sparse_categorical_crossentropy(y_true, y_pred, from_logits, ignore_class,
                                            axis)[0]


def call_with_mask(fn, y_true, y_pred, **kwargs):
    """`(fn(y_true, y_pred, **kwargs), mask)`: the per-sample losses and the
    boolean mask of the entries that count, or None when all do. Only
    `sparse_categorical_crossentropy` with an `ignore_class` makes a mask (Keras
    attaches it to the losses; `Loss` and `MeanMetricWrapper` fold it into the
    sample weights).

    >>> values, mask = call_with_mask(sparse_categorical_crossentropy, [0, 1],
    ...                               [[0.5, 0.5], [0.5, 0.5]], ignore_class=1)
    >>> mask.tolist()
    [True, False]
    """
    if fn is sparse_categorical_crossentropy and kwargs.get("ignore_class") is not None:
        return _sparse_categorical_crossentropy(y_true, y_pred, **kwargs)
    masked = MASKED_FORMS.get(fn)
    if masked is not None:
        return masked(y_true, y_pred, **kwargs)
    return fn(y_true, y_pred, **kwargs), None


MASKED_FORMS = {}
"""{loss function: its form returning `(losses, mask)`}, for the other losses
that attach a mask to their output in Keras (`circle`: only the positive
losses count)."""


# ---- Loss classes ----------------------------------------------------------------
@register_builtin(_MODULE)
class LossFunctionWrapper(Loss):
    """A `Loss` from a function `fn(y_true, y_pred, **kwargs)` returning
    per-sample losses; `kwargs` are passed on every call."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None,
                 **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper: `fn` must be callable, received {fn!r}.")
        self.fn = fn
        self._fn_kwargs = kwargs

    def _align(self, y_true, y_pred):
        if hasattr(y_true, "shape") and hasattr(y_pred, "shape"):
            return squeeze_or_expand_to_same_rank(y_true, y_pred)
        return y_true, y_pred

    def call(self, y_true, y_pred):
        y_true, y_pred = self._align(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _call_with_mask(self, y_true, y_pred):
        if type(self).call is not LossFunctionWrapper.call:  # a subclass' own `call`
            return super()._call_with_mask(y_true, y_pred)
        y_true, y_pred = self._align(y_true, y_pred)
        return call_with_mask(self.fn, y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config["fn"] = serialize_keras_object(self.fn)
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize_keras_object(config["fn"], module=_MODULE)
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """Shared body of the built-in classes: config = name, reduction and the
    function's keyword arguments listed in `_config_keys`."""

    _config_keys = ()

    def __init__(self, fn, reduction, name, dtype, **kwargs):
        super().__init__(fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self):
        config = Loss.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return Loss.__repr__(self)


@register_builtin(_MODULE)
class MeanSquaredError(_BuiltinLoss):
    """Mean of squares of errors: `mean(square(y_true - y_pred))`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error",
                 dtype=None):
        super().__init__(mean_squared_error, reduction, name, dtype)


@register_builtin(_MODULE)
class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors: `mean(abs(y_true - y_pred))`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error",
                 dtype=None):
        super().__init__(mean_absolute_error, reduction, name, dtype)


@register_builtin(_MODULE)
class MeanAbsolutePercentageError(_BuiltinLoss):
    """`100 * mean(abs((y_true - y_pred) / y_true))`."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction, name, dtype)


@register_builtin(_MODULE)
class MeanSquaredLogarithmicError(_BuiltinLoss):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)))`."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction, name, dtype)


@register_builtin(_MODULE)
class CosineSimilarity(_BuiltinLoss):
    """Negative cosine similarity along `axis`."""

    _config_keys = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, reduction, name, dtype, axis=axis)


@register_builtin(_MODULE)
class Huber(_BuiltinLoss):
    """Huber loss: quadratic for `|error| <= delta`, linear beyond."""

    _config_keys = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, reduction, name, dtype, delta=delta)


@register_builtin(_MODULE)
class LogCosh(_BuiltinLoss):
    """`mean(log(cosh(y_pred - y_true)))`."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction, name, dtype)


@register_builtin(_MODULE)
class Hinge(_BuiltinLoss):
    """`mean(maximum(1 - y_true * y_pred, 0))`, labels -1/1 (0/1 converted)."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction, name, dtype)


@register_builtin(_MODULE)
class SquaredHinge(_BuiltinLoss):
    """`mean(square(maximum(1 - y_true * y_pred, 0)))`."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction, name, dtype)


@register_builtin(_MODULE)
class CategoricalHinge(_BuiltinLoss):
    """`maximum(neg - pos + 1, 0)` for one-hot labels."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge",
                 dtype=None):
        super().__init__(categorical_hinge, reduction, name, dtype)


@register_builtin(_MODULE)
class KLDivergence(_BuiltinLoss):
    """Kullback-Leibler divergence `y_true * log(y_true / y_pred)`."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction, name, dtype)


@register_builtin(_MODULE)
class Poisson(_BuiltinLoss):
    """`y_pred - y_true * log(y_pred)`."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction, name, dtype)


@register_builtin(_MODULE)
class BinaryCrossentropy(_BuiltinLoss):
    """Cross-entropy for 0/1 labels and one probability (or logit) per output."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction, name, dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


@register_builtin(_MODULE)
class BinaryFocalCrossentropy(_BuiltinLoss):
    """Focal cross-entropy for 0/1 labels (down-weights easy examples)."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing",
                    "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                 from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_focal_crossentropy",
                 dtype=None):
        super().__init__(binary_focal_crossentropy, reduction, name, dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha,
                         gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


@register_builtin(_MODULE)
class CategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy for one-hot labels."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy",
                 dtype=None):
        super().__init__(categorical_crossentropy, reduction, name, dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


@register_builtin(_MODULE)
class CategoricalFocalCrossentropy(_BuiltinLoss):
    """Focal cross-entropy for one-hot labels."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size",
                 name="categorical_focal_crossentropy", dtype=None):
        super().__init__(categorical_focal_crossentropy, reduction, name, dtype,
                         alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


@register_builtin(_MODULE)
class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy for integer class labels; entries labelled `ignore_class`
    are left out of the loss and of the mean."""

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(self, from_logits=False, ignore_class=None,
                 reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction, name, dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
