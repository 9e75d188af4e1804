"""Overlap losses for segmentation (Keras 3's `Dice` and `Tversky`).

Both compare `y_true` (0/1 masks) with `y_pred` (probabilities) by sums over
`axis` (default None: over everything, one scalar); `axis=(1, 2, 3)` gives one
loss per image of a `(batch, height, width, channels)` batch.
"""
import jax.numpy as jnp

from kerax import config
from kerax.losses.losses import _BuiltinLoss, _prepare
from kerax.registry import register_builtin

__all__ = ["Dice", "Tversky", "dice", "tversky"]

_MODULE = "keras.losses"


def _axis(name, axis):
    """None, an int, or a tuple of ints (a list from a JSON config is a tuple)."""
    if axis is None or (isinstance(axis, int) and not isinstance(axis, bool)):
        return axis
    if isinstance(axis, (list, tuple)) and all(
            isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return tuple(axis)
    raise ValueError(f"{name}: `axis` must be None, an int or a tuple of ints. "
                     f"Received: axis={axis!r}")


def _overlap(name, y_true, y_pred, axis):
    y_true, y_pred = _prepare(y_true, y_pred, name)
    axis = _axis(name, axis)
    if axis is not None:
        for a in (axis if isinstance(axis, tuple) else (axis,)):
            if not -jnp.ndim(y_pred) <= a < jnp.ndim(y_pred):
                raise ValueError(f"{name}: axis {a} is out of range for y_pred of "
                                 f"shape {tuple(jnp.shape(y_pred))}.")
    return y_true, y_pred, axis


@register_builtin(_MODULE)
def dice(y_true, y_pred, axis=None):
    """`1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon)`,
    the sums over `axis` (None: all entries).

    >>> float(dice([[1.0, 0.0]], [[1.0, 0.0]]))  # doctest: +ELLIPSIS
    0.0...
    """
    y_true, y_pred, axis = _overlap("dice", y_true, y_pred, axis)
    intersection = jnp.sum(y_true * y_pred, axis=axis)
    total = jnp.sum(y_true, axis=axis) + jnp.sum(y_pred, axis=axis) + config.epsilon()
    return 1.0 - 2.0 * intersection / total


@register_builtin(_MODULE)
def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """`1 - TP / (TP + alpha * FP + beta * FN + epsilon)` with, over `axis`,
    `TP = sum(y_true * y_pred)`, `FP = sum(y_true * (1 - y_pred))` and
    `FN = sum((1 - y_true) * y_pred)` (Keras' naming); alpha = beta = 0.5 is
    the Dice loss.

    >>> round(float(tversky([[1.0, 0.0]], [[0.5, 0.5]], alpha=0.7, beta=0.3)), 4)
    0.5
    """
    y_true, y_pred, axis = _overlap("tversky", y_true, y_pred, axis)
    intersection = jnp.sum(y_true * y_pred, axis=axis)
    fp = jnp.sum((1.0 - y_pred) * y_true, axis=axis)
    fn = jnp.sum(y_pred * (1.0 - y_true), axis=axis)
    return 1.0 - intersection / (intersection + fp * alpha + fn * beta + config.epsilon())


@register_builtin(_MODULE)
class Dice(_BuiltinLoss):
    """The Dice loss `1 - 2|A.B| / (|A| + |B|)` over `axis` (see `dice`).

    >>> loss = Dice(axis=(1, 2))
    >>> loss([[[1.0], [0.0]]], [[[0.8], [0.1]]]).shape
    ()
    """

    _config_keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        _axis("Dice", axis)  # checked here; kept as given, as Keras' config does
        super().__init__(dice, reduction, name, dtype, axis=axis)


@register_builtin(_MODULE)
class Tversky(_BuiltinLoss):
    """The Tversky loss (see `tversky`): `alpha` weighs false positives, `beta`
    false negatives.

    >>> Tversky(alpha=0.3, beta=0.7).get_config()["beta"]
    0.7
    """

    _config_keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        _axis("Tversky", axis)
        super().__init__(tversky, reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)
