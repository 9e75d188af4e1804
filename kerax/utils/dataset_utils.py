"""Data helpers of Keras 3's `keras.utils`: `pack_x_y_sample_weight`,
`unpack_x_y_sample_weight`, `split_dataset` and `timeseries_dataset_from_array`.

kerax has no TensorFlow: `split_dataset` returns NumPy arrays (where Keras
returns `tf.data.Dataset`s) and `timeseries_dataset_from_array` a `PyDataset`
of NumPy batches; `fit` consumes both directly."""
import random

import numpy as np

from kerax.io.py_dataset import PyDataset
from kerax.trainers import data_adapter

__all__ = ["pack_x_y_sample_weight", "unpack_x_y_sample_weight", "split_dataset",
           "timeseries_dataset_from_array"]

unpack_x_y_sample_weight = data_adapter.unpack_x_y_sample_weight


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch `fit` expects: `x` alone (wrapped as `(x,)` when it is itself a
    tuple or list), `(x, y)` or `(x, y, sample_weight)`.

    >>> pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None and not isinstance(x, (tuple, list)):
        return x
    return data_adapter.pack_x_y_sample_weight(x, y, sample_weight)


# ---- split_dataset ------------------------------------------------------------
def _split_sizes(left_size, right_size, total):
    """Keras' rules for `left_size`/`right_size` (int count or float fraction)."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(f"split_dataset: `{name}` must be an int, a float or None; "
                            f"got {type(size).__name__}.")
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: at least one of `left_size` or `right_size` must "
                         "be specified.")
    if left_size == 0 and right_size == 0:
        raise ValueError("split_dataset: `left_size` and `right_size` are both zero.")
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if (type(size) is int and not 0 < size < total) or (
                type(size) is float and not 0 < size < 1):
            raise ValueError(
                f"split_dataset: `{name}` must be a positive int smaller than {total} or a "
                f"float in (0, 1); got {name}={size}.")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError("split_dataset: `left_size` + `right_size` is greater than 1.")

    def count(size):
        return round(size * total) if type(size) is float else size

    left, right = count(left_size), count(right_size)
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"split_dataset: `left_size` + `right_size` = {left + right} is "
                         f"more than the {total} samples.")
    for side, n in (("left", left), ("right", right)):
        if n == 0:
            raise ValueError(
                f"split_dataset: with {total} samples, left_size={left_size} and "
                f"right_size={right_size} leave the {side} split empty.")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None,
                  preferred_backend=None):
    """Split a NumPy array, or a tuple/list of same-length arrays, into two parts
    of `left_size` and `right_size` samples (ints) or fractions (floats); the
    missing one is the rest. `shuffle` (with `seed`) draws the samples in the
    same order as Keras. Returns `(left, right)` of the same structure (an
    array, or a tuple of arrays) instead of Keras' `tf.data.Dataset`s.

    >>> left, right = split_dataset((np.arange(10), np.arange(10) * 2), left_size=0.8)
    >>> left[0].shape, right[1].tolist()
    ((8,), [16, 18])
    """
    if preferred_backend not in (None, "jax", "numpy"):
        raise NotImplementedError(
            f"split_dataset: preferred_backend={preferred_backend!r} is not available in "
            "kerax (it returns NumPy arrays); leave it None.")
    single = isinstance(dataset, np.ndarray)
    if single:
        arrays = [dataset]
    elif isinstance(dataset, (tuple, list)):
        if not dataset:
            raise ValueError("split_dataset: received an empty tuple/list of arrays.")
        arrays = list(dataset)
        for i, a in enumerate(arrays):
            if not isinstance(a, np.ndarray):
                raise ValueError(f"split_dataset: expected NumPy arrays; element {i} is a "
                                 f"{type(a).__name__}.")
            if len(a) != len(arrays[0]):
                raise ValueError(
                    f"split_dataset: the arrays have different lengths (element {i} has "
                    f"{len(a)} samples, element 0 has {len(arrays[0])}).")
    else:
        raise TypeError(
            "split_dataset: `dataset` must be a NumPy array or a tuple/list of NumPy arrays "
            f"(kerax has no tf.data); got {type(dataset).__name__}.")
    total = len(arrays[0])
    if total == 0:
        raise ValueError("split_dataset: received an empty dataset.")
    order = list(range(total))
    if shuffle:
        random.Random(random.randint(0, 10**6) if seed is None else seed).shuffle(order)
    left, right = _split_sizes(left_size, right_size, total)
    parts = []
    for idx in (order[:left], order[-right:]):
        taken = [a[np.asarray(idx, dtype=np.int64)] for a in arrays]
        parts.append(taken[0] if single else tuple(taken))
    return tuple(parts)


# ---- timeseries_dataset_from_array ---------------------------------------------
class TimeseriesDataset(PyDataset):
    """Batches of sliding windows over an array (what
    `timeseries_dataset_from_array` returns): `ds[i]` is batch i, NumPy."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size,
                 shuffle, seed):
        super().__init__()
        self.data, self.targets = data, targets
        self.starts = starts
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._rng = np.random.RandomState(seed)
        self._order = self._new_order()

    def _new_order(self):
        order = np.arange(len(self.starts))
        if self.shuffle:
            self._rng.shuffle(order)
        return order

    def __len__(self):
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        index %= len(self)
        if self.batch_size is None:
            picked = self._order[index:index + 1]
        else:
            picked = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        starts = self.starts[picked]
        x = self.data[starts[:, None] + self.offsets]
        y = None if self.targets is None else self.targets[starts]
        if self.batch_size is None:
            x, y = x[0], None if y is None else y[0]
        return x if y is None else (x, y)

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._new_order()


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Sliding windows over `data` (time on axis 0), as Keras 3: window j holds
    `data[s, s + sampling_rate, ...]` (`sequence_length` steps) for start
    `s = start_index + j * sequence_stride`, and its target is `targets[s]`
    (pass `targets=None` for windows only). Returns a `PyDataset` of NumPy
    batches of `batch_size` windows (single windows when None) that `fit`
    consumes directly; `shuffle` draws the windows in a random order (seeded by
    `seed`), reshuffled after each epoch.

    >>> ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3, batch_size=4)
    >>> len(ds), ds[0].tolist()
    (2, [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]])
    """
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater; got {start_index}.")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data "
                             f"({n}); got {start_index}.")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`; got "
                             f"start_index={start_index}, end_index={end_index}.")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data "
                             f"({n}); got {end_index}.")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0; got {end_index}.")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"`{name}` must be higher than 0; got {value}.")
        if value >= n:
            raise ValueError(f"`{name}` must be lower than the length of the data ({n}); "
                             f"got {value}.")
    start = start_index or 0
    end = end_index or n
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num = min(num, len(targets))
    starts = start + np.arange(0, max(num, 0), sequence_stride, dtype=np.int64)
    if shuffle and seed is None:
        seed = np.random.randint(10**6)
    data = np.asarray(data)
    targets = None if targets is None else np.asarray(targets)
    return TimeseriesDataset(data, targets, starts, sequence_length, sampling_rate,
                             batch_size, shuffle, seed)
