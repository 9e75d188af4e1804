"""Metric-learning losses on L2-normalised embeddings (Keras 3's `Circle`)."""
import jax
import jax.numpy as jnp

from kerax.losses.losses import MASKED_FORMS, _BuiltinLoss, _float_tensor
from kerax.losses.loss import to_tensor
from kerax.registry import register_builtin

__all__ = ["Circle", "circle"]

_MODULE = "keras.losses"


def _labels(name, labels, what):
    labels = to_tensor(labels)
    if jnp.ndim(labels) == 2 and jnp.shape(labels)[-1] == 1:
        labels = jnp.reshape(labels, (-1,))
    if jnp.ndim(labels) != 1:
        raise ValueError(f"{name}: `{what}` must hold one integer label per embedding, "
                         f"shape (batch,) or (batch, 1); received shape "
                         f"{tuple(jnp.shape(labels))}.")
    return labels.astype("int32")


def _embeddings(name, x, what):
    x = _float_tensor(x)
    if jnp.ndim(x) != 2:
        raise ValueError(f"{name}: `{what}` must be embeddings of shape (batch, dim); "
                         f"received shape {tuple(jnp.shape(x))}.")
    return x


def _circle_with_mask(y_true, y_pred, ref_labels=None, ref_embeddings=None,
                      remove_diagonal=True, gamma=80, margin=0.4):
    name = "circle"
    y_pred = _embeddings(name, y_pred, "y_pred")
    y_true = _labels(name, y_true, "y_true")
    ref = y_pred if ref_embeddings is None else _embeddings(name, ref_embeddings,
                                                            "ref_embeddings")
    ref_labels = y_true if ref_labels is None else _labels(name, ref_labels, "ref_labels")
    if jnp.shape(y_true)[0] != jnp.shape(y_pred)[0] or jnp.shape(ref_labels)[0] != \
            jnp.shape(ref)[0] or jnp.shape(ref)[1] != jnp.shape(y_pred)[1]:
        raise ValueError(
            f"{name}: labels and embeddings must agree: y_true {tuple(jnp.shape(y_true))}, "
            f"y_pred {tuple(jnp.shape(y_pred))}, ref_labels {tuple(jnp.shape(ref_labels))}, "
            f"ref_embeddings {tuple(jnp.shape(ref))}.")
    dtype = y_pred.dtype
    distances = jnp.maximum(1.0 - y_pred @ ref.T, 0.0)
    positive = y_true[:, None] == ref_labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~jnp.eye(positive.shape[0], positive.shape[1], dtype=bool)
    pos_weights = jnp.maximum((margin + distances) * positive.astype(dtype), 0.0)
    neg_weights = jnp.maximum((1.0 + margin - distances) * negative.astype(dtype), 0.0)
    pos_logits = -gamma * pos_weights * (margin - distances)
    neg_logits = gamma * neg_weights * ((1.0 - margin) - distances)
    minus_inf = jnp.asarray(-jnp.inf, dtype)
    p_loss = jax.scipy.special.logsumexp(jnp.where(positive, pos_logits, minus_inf), axis=1)
    n_loss = jax.scipy.special.logsumexp(jnp.where(negative, neg_logits, minus_inf), axis=1)
    losses = jax.nn.softplus(p_loss + n_loss)
    return losses, losses > 0


@register_builtin(_MODULE)
def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80, margin=0.4):
    """Circle loss (Sun et al., 2020) of integer labels `y_true` (batch,) and
    L2-normalised embeddings `y_pred` (batch, dim), against the reference
    set `ref_labels`/`ref_embeddings` (default: the batch itself). One loss
    per embedding; as in Keras, the `Circle` loss averages only the positive
    ones (a zero loss has no positive pair to pull or negative to push).

    >>> import numpy as np
    >>> e = np.eye(3, dtype="float32")
    >>> circle(np.array([0, 0, 1]), e).shape
    (3,)
    """
    return _circle_with_mask(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal,
                             gamma, margin)[0]


MASKED_FORMS[circle] = _circle_with_mask


@register_builtin(_MODULE)
class Circle(_BuiltinLoss):
    """Circle loss between integer labels and L2-normalised embeddings (see
    `circle`); end the model with `UnitNormalization` and no activation.

    >>> import numpy as np
    >>> e = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], "float32")
    >>> float(Circle()(np.array([0, 0, 1]), e)) > 0
    True
    """

    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, reduction, name, dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)
