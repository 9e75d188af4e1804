"""Losses robust to noisy labels (Keras 3's `CategoricalGeneralizedCrossEntropy`)."""
import jax
import jax.numpy as jnp

from kerax.losses.losses import _BuiltinLoss, _float_tensor
from kerax.losses.loss import to_tensor
from kerax.registry import register_builtin

__all__ = ["CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy"]

_MODULE = "keras.losses"


@register_builtin(_MODULE)
def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Generalized cross-entropy (Zhang & Sabuncu, 2018): `(1 - p**q) / q`,
    `p` the predicted probability of the true class. `y_true`: integer class
    indices, shape (batch,) (or (batch, 1)); `y_pred`: probabilities
    (batch, num_classes). q -> 0 is the cross-entropy, q = 1 the MAE.

    >>> import numpy as np
    >>> round(float(categorical_generalized_cross_entropy(
    ...     np.array([1]), np.array([[0.75, 0.25]]), q=0.5)[0]), 4)
    1.0
    """
    name = "categorical_generalized_cross_entropy"
    y_pred = _float_tensor(y_pred)
    y_true = to_tensor(y_true)
    if jnp.ndim(y_pred) < 1:
        raise ValueError(f"{name}: y_pred must hold class probabilities, shape "
                         f"(batch, num_classes); received shape {tuple(jnp.shape(y_pred))}.")
    # Keras documents (batch, 1) labels as accepted: they are class indices too.
    if jnp.ndim(y_true) == jnp.ndim(y_pred) and jnp.shape(y_true)[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    if tuple(jnp.shape(y_true)) != tuple(jnp.shape(y_pred))[:-1]:
        raise ValueError(
            f"{name}: y_true must hold integer class indices of shape "
            f"{tuple(jnp.shape(y_pred))[:-1]} (y_pred's shape without the class axis); "
            f"received y_true.shape={tuple(jnp.shape(y_true))}, "
            f"y_pred.shape={tuple(jnp.shape(y_pred))}.")
    one_hot = jax.nn.one_hot(y_true.astype("int32"), jnp.shape(y_pred)[-1], dtype=y_pred.dtype)
    p = jnp.sum(y_pred * one_hot, axis=-1)
    return (1.0 - jnp.power(p, q)) / q


@register_builtin(_MODULE)
class CategoricalGeneralizedCrossEntropy(_BuiltinLoss):
    """Generalized cross-entropy for integer labels (see
    `categorical_generalized_cross_entropy`); `q` in (0, 1).

    >>> import numpy as np
    >>> loss = CategoricalGeneralizedCrossEntropy(q=0.5)
    >>> round(float(loss(np.array([0, 1]), np.array([[0.25, 0.75], [0.0, 1.0]]))), 4)
    0.5
    """

    _config_keys = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise ValueError(f"q must be in the interval (0, 1). Received: q={q!r}")
        super().__init__(categorical_generalized_cross_entropy, reduction, name, dtype, q=q)
