"""CIFAR-10 small colour images (Keras' `keras.datasets.cifar10`)."""
import os

import numpy as np

from kerax.datasets._cifar import finish, load_batch
from kerax.datasets._common import fetch

__all__ = ["load_data"]

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"


def load_data():
    """Load CIFAR-10: 50,000 32x32 colour training images of 10 classes and
    10,000 test images (uint8), with uint8 labels of shape (n, 1), from
    Keras' cache (`~/.keras/datasets/cifar-10-batches-py-target_archive`,
    the python tarball, extracted next to it).

    Returns `(x_train, y_train), (x_test, y_test)`.

    >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
    >>> x_train.shape, y_train.shape  # doctest: +SKIP
    ((50000, 32, 32, 3), (50000, 1))
    """
    path = fetch("kerax.datasets.cifar10.load_data", "cifar-10-batches-py-target", _ORIGIN,
                 _HASH, extract=True)
    path = os.path.join(path, "cifar-10-batches-py")
    xs, ys = [], []
    for i in range(1, 6):
        x, y = load_batch(os.path.join(path, f"data_batch_{i}"))
        xs.append(np.asarray(x, np.uint8))
        ys.append(np.asarray(y, np.uint8))
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    x_train, y_train = np.concatenate(xs), np.concatenate(ys)
    return finish(x_train, y_train, np.asarray(x_test).astype(np.uint8),
                  np.asarray(y_test).astype(np.uint8))
