"""Connectionist Temporal Classification loss (Keras 3's `keras.losses.CTC`
and `keras.losses.ctc`), on `kerax.ops.ctc_loss`."""
import jax.numpy as jnp

from kerax import ops
from kerax.losses.losses import _BuiltinLoss
from kerax.registry import register_builtin

__all__ = ["CTC", "ctc"]

_MODULE = "keras.losses"


@register_builtin(_MODULE)
def ctc(y_true, y_pred):
    """CTC loss per sample of integer labels `y_true` (batch, max_label_length),
    0 the blank and the padding, against logits `y_pred` (batch, steps,
    classes) read in full.

    >>> import numpy as np
    >>> labels = np.array([[1, 2, 0]])
    >>> logits = np.zeros((1, 5, 3), "float32")
    >>> ctc(labels, logits).shape
    (1,)
    """
    if jnp.ndim(y_true) != 2:
        raise ValueError("ctc: `y_true` must be integer labels of shape (batch_size, "
                         f"max_length), got shape {jnp.shape(y_true)}.")
    if jnp.ndim(y_pred) != 3:
        raise ValueError("ctc: `y_pred` must be logits of shape (batch_size, max_length, "
                         f"num_classes), got shape {jnp.shape(y_pred)}.")
    y_true = jnp.asarray(y_true).astype("int32")
    batch, steps = jnp.shape(y_pred)[:2]
    label_length = jnp.sum(y_true != 0, axis=-1).astype("int32")
    output_length = jnp.full((batch,), steps, "int32")
    return ops.ctc_loss(y_true, y_pred, label_length, output_length, mask_index=0)


@register_builtin(_MODULE)
class CTC(_BuiltinLoss):
    """CTC loss of integer labels (0 = blank/padding) against per-step logits;
    see `ctc`."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction, name, dtype)

    def _align(self, y_true, y_pred):
        return y_true, y_pred  # labels (batch, length) and logits (batch, steps, classes)
