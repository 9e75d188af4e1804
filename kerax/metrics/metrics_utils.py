"""Helpers shared by the metrics: rank matching, thresholds, and the
confusion-matrix accumulation behind TruePositives ... Precision, Recall, AUC."""
import enum
import functools

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
# Re-exported for the metrics: kerax.losses' and kerax.ops' single copies.
from kerax.losses.loss import squeeze_or_expand_to_same_rank, to_tensor as to_array  # noqa: F401
from kerax.ops.numpy import divide_no_nan  # noqa: F401

NEG_INF = -1e10


def broadcast_sample_weight(sample_weight, shape, what):
    """`sample_weight` broadcast to `shape` (that of `what`), or a clear error."""
    try:
        return jnp.broadcast_to(sample_weight, shape)
    except ValueError:
        raise ValueError(
            f"`sample_weight` of shape {tuple(sample_weight.shape)} cannot be "
            f"broadcast to {what} of shape {tuple(shape)}.") from None


def to_list(x):
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, np.ndarray):
        return x.tolist() if x.ndim else [x.item()]
    return [x]


def parse_init_thresholds(thresholds, default_threshold=0.5):
    if thresholds is not None:
        values = to_list(thresholds)
        bad = [t for t in values if t is None or not (0 <= t <= 1)]
        if bad:
            raise ValueError(
                f"Argument `thresholds`: threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) for t in to_list(default_threshold if thresholds is None else thresholds)]


def is_evenly_distributed_thresholds(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(np.asarray(thresholds, np.float64), even,
                            atol=config.epsilon()))


class ConfusionMatrix(enum.Enum):
    TRUE_POSITIVES = "tp"
    FALSE_POSITIVES = "fp"
    TRUE_NEGATIVES = "tn"
    FALSE_NEGATIVES = "fn"


def _member_from_str(enum_cls, key, other_spelling, what):
    """The member of `enum_cls` whose value `key` spells in lower case or as
    `other_spelling` gives it (the two spellings Keras accepts)."""
    for member in enum_cls:
        if key in (member.value.lower(), other_spelling(member.value)):
            return member
    expected = ", ".join(f'"{m.value}"' for m in enum_cls)
    raise ValueError(f'Invalid {what} value: "{key}". Expected values are [{expected}]')


class AUCCurve(enum.Enum):
    ROC = "ROC"
    PR = "PR"
    PRGAIN = "PRGAIN"

    @staticmethod
    def from_str(key):
        return _member_from_str(AUCCurve, key, str.upper, "AUC curve")


class AUCSummationMethod(enum.Enum):
    INTERPOLATION = "interpolation"
    MAJORING = "majoring"
    MINORING = "minoring"

    @staticmethod
    def from_str(key):
        return _member_from_str(AUCSummationMethod, key, str.capitalize,
                                "AUC summation method")


def filter_top_k(x, k):
    """Keep the top-k entries of the last axis, set the others to NEG_INF."""
    _, idx = jax.lax.top_k(x, k)
    mask = jnp.sum(jax.nn.one_hot(idx, x.shape[-1], dtype=x.dtype), axis=-2)
    return x * mask + NEG_INF * (1 - mask)


def _bucketed_counts(y_true, y_pred, weights, num_thresholds, multi_label,
                     thresholds_with_epsilon):
    """Counts of (weighted) positives/negatives predicted above each of
    `num_thresholds` evenly spaced thresholds in [0, 1], in O(n + T): each
    prediction falls in a bucket, and a reversed cumulative sum counts it for
    every threshold below it."""
    y_pred = jnp.clip(y_pred, 0.0, 1.0)
    true_labels = y_true * weights
    false_labels = (1.0 - y_true) * weights
    buckets = jnp.ceil(y_pred * (num_thresholds - 1)) - 1
    if thresholds_with_epsilon:
        buckets = jnp.maximum(buckets, 0)
    buckets = buckets.astype(jnp.int32)
    if multi_label:
        # (N, L): one bucket histogram per label.
        num_labels = y_pred.shape[-1]
        seg = buckets * num_labels + jnp.arange(num_labels, dtype=jnp.int32)
        valid = buckets >= 0
        seg = jnp.where(valid, seg, num_thresholds * num_labels)
        n_seg = num_thresholds * num_labels + 1

        def hist(labels):
            h = jax.ops.segment_sum(labels.reshape(-1), seg.reshape(-1), n_seg)
            return h[:-1].reshape(num_thresholds, num_labels)
        tp_b, fp_b = hist(true_labels), hist(false_labels)
        total_true = jnp.sum(true_labels, axis=0)
        total_false = jnp.sum(false_labels, axis=0)
    else:
        seg = jnp.where(buckets >= 0, buckets, num_thresholds)

        def hist(labels):
            return jax.ops.segment_sum(labels, seg, num_thresholds + 1)[:-1]
        tp_b, fp_b = hist(true_labels), hist(false_labels)
        total_true = jnp.sum(true_labels)
        total_false = jnp.sum(false_labels)
    tp = jnp.flip(jnp.cumsum(jnp.flip(tp_b, 0), axis=0), 0)
    fp = jnp.flip(jnp.cumsum(jnp.flip(fp_b, 0), axis=0), 0)
    return tp, fp, total_true - tp, total_false - fp


def _direct_counts(y_true, y_pred, weights, thresholds, multi_label):
    """Counts per threshold by direct comparison `y_pred > threshold`."""
    if multi_label:
        t = thresholds.reshape((-1,) + (1,) * y_pred.ndim)
        axes = 1
    else:
        t = thresholds[:, None]
        axes = 1
    pos = y_pred[None] > t
    label = (y_true != 0)[None]
    w = weights[None] if jnp.ndim(weights) else weights
    tp = jnp.sum(jnp.where(label & pos, w, 0.0), axis=axes)
    fp = jnp.sum(jnp.where(~label & pos, w, 0.0), axis=axes)
    fn = jnp.sum(jnp.where(label & ~pos, w, 0.0), axis=axes)
    tn = jnp.sum(jnp.where(~label & ~pos, w, 0.0), axis=axes)
    return tp, fp, fn, tn


def update_confusion_matrix_variables(variables_to_update, y_true, y_pred, thresholds,
                                      top_k=None, class_id=None, sample_weight=None,
                                      multi_label=False, label_weights=None,
                                      thresholds_distributed_evenly=False):
    """Add this batch's true/false positives/negatives to the given variables.

    `variables_to_update` maps `ConfusionMatrix` members to Variables of shape
    (num_thresholds,) (or (num_thresholds, num_labels) with `multi_label`).
    A prediction counts as positive for threshold t when `y_pred > t`; a label
    is positive when it is non-zero. `sample_weight` is broadcast to `y_pred`.
    """
    if multi_label and label_weights is not None:
        raise ValueError(
            "`label_weights` for multi-label data must be applied outside "
            "update_confusion_matrix_variables when `multi_label` is True.")
    if not variables_to_update:
        return
    for key in variables_to_update:
        if not isinstance(key, ConfusionMatrix):
            raise ValueError(
                f"Invalid confusion matrix key {key!r}; expected members of "
                f"{list(ConfusionMatrix)}.")
    dtype = jnp.dtype(next(iter(variables_to_update.values())).dtype).name
    counts = _confusion_counts(
        to_array(y_true), to_array(y_pred),
        None if sample_weight is None else to_array(sample_weight),
        None if label_weights is None else to_array(label_weights),
        thresholds=tuple(float(t) for t in thresholds), top_k=top_k, class_id=class_id,
        multi_label=bool(multi_label), evenly=bool(thresholds_distributed_evenly),
        dtype=dtype)
    counts = dict(zip((ConfusionMatrix.TRUE_POSITIVES, ConfusionMatrix.FALSE_POSITIVES,
                       ConfusionMatrix.FALSE_NEGATIVES, ConfusionMatrix.TRUE_NEGATIVES),
                      counts))
    for key, var in variables_to_update.items():
        var.assign(var.value + counts[key].astype(var.dtype))


@functools.partial(jax.jit, static_argnames=(
    "thresholds", "top_k", "class_id", "multi_label", "evenly", "dtype"))
def _confusion_counts(y_true, y_pred, sample_weight, label_weights, *, thresholds, top_k,
                      class_id, multi_label, evenly, dtype):
    """(tp, fp, fn, tn) of one batch, one entry per threshold (compiled once per
    input signature, so eager updates are fast too)."""
    y_true = y_true.astype(dtype)
    y_pred = y_pred.astype(dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = jnp.expand_dims(sample_weight.astype(dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(
            y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When `class_id` is given, y_pred must have shape (num_samples, "
                f"num_classes), got shape {y_pred.shape}.")
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
        if sample_weight is not None and sample_weight.ndim == y_pred.ndim and \
                sample_weight.shape[-1] != 1:
            sample_weight = sample_weight[..., class_id, None]

    weights = jnp.ones((), dtype)
    if sample_weight is not None:
        weights = broadcast_sample_weight(sample_weight, y_pred.shape, "y_pred")
    if label_weights is not None:
        lw = jnp.broadcast_to(jnp.expand_dims(label_weights.astype(dtype), 0), y_pred.shape)
        weights = weights * lw
    if not multi_label:
        y_pred = y_pred.reshape(-1)
        y_true = y_true.reshape(-1)
        if jnp.ndim(weights):
            weights = weights.reshape(-1)
    elif y_pred.ndim != 2:
        raise ValueError(
            f"With `multi_label=True`, y_pred must have rank 2, got shape {y_pred.shape}.")

    if evenly:
        with_eps = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        y_true_b = (y_true != 0).astype(dtype)
        w = jnp.broadcast_to(weights, y_pred.shape)
        return _bucketed_counts(y_true_b, y_pred, w, len(thresholds), multi_label, with_eps)
    t = jnp.asarray(np.asarray(thresholds), dtype)
    return _direct_counts(y_true, y_pred, weights, t, multi_label)


def confusion_matrix(labels, predictions, num_classes, weights=None, dtype="int32"):
    """A (num_classes, num_classes) matrix: rows are labels, columns predictions."""
    labels = to_array(labels).astype(jnp.int32).reshape(-1)
    predictions = to_array(predictions).astype(jnp.int32).reshape(-1)
    values = jnp.ones_like(labels, dtype) if weights is None else \
        jnp.broadcast_to(to_array(weights), labels.shape).astype(dtype)
    idx = labels * num_classes + predictions
    flat = jax.ops.segment_sum(values, idx, num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)
