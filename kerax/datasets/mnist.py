"""MNIST handwritten digits (Keras' `keras.datasets.mnist`)."""
import numpy as np

from kerax.datasets._common import ORIGIN, fetch

__all__ = ["load_data"]

_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path="mnist.npz"):
    """Load MNIST: 60,000 28x28 uint8 training images of the digits 0-9 and
    10,000 test images, with uint8 labels, from Keras' cache
    (`~/.keras/datasets/mnist.npz`, downloaded on first use).

    Returns `(x_train, y_train), (x_test, y_test)`.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> x_train.shape, y_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000,))
    """
    path = fetch("kerax.datasets.mnist.load_data", path, ORIGIN + "mnist.npz", _HASH)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
