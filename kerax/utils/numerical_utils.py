"""`to_categorical` and `normalize` (Keras 3's `keras.utils` numerical helpers)."""
import numpy as np

from kerax import ops
from kerax.backend import is_tensor

__all__ = ["to_categorical", "normalize"]


def to_categorical(x, num_classes=None):
    """One-hot encode class indices: a trailing axis of size 1 is dropped and an
    axis of `num_classes` (default: `max(x) + 1`) is appended. NumPy / lists
    give a float64 NumPy array, as in Keras; a JAX array gives `ops.one_hot`.

    >>> to_categorical([0, 2, 1], 3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    if is_tensor(x):
        if x.ndim > 1 and x.shape[-1] == 1:
            x = ops.reshape(x, x.shape[:-1])
        if num_classes is None:
            num_classes = int(ops.max(x)) + 1
        return ops.one_hot(x, num_classes)
    x = np.array(x, dtype="int64")
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    flat = x.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(flat)) + 1
    out = np.zeros((flat.shape[0], num_classes))
    out[np.arange(flat.shape[0]), flat] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero norms left as 1).
    NumPy in, NumPy out; other inputs go through `ops.normalize`.

    >>> normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        # Keras writes `axis or -1`, which breaks axis=0; an axis of None is the whole array.
        return x / np.expand_dims(norm, -1 if axis is None else axis)
    return ops.normalize(x, axis=axis, order=order)
