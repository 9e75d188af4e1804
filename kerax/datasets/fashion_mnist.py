"""Fashion-MNIST (Keras' `keras.datasets.fashion_mnist`)."""
import gzip
import os

import numpy as np

from kerax.datasets._common import ORIGIN, fetch

__all__ = ["load_data"]

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _read(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data():
    """Load Fashion-MNIST: 60,000 28x28 uint8 training images of 10 clothing
    classes and 10,000 test images, with uint8 labels, from the four IDX
    files in Keras' cache (`~/.keras/datasets/fashion-mnist/`).

    Returns `(x_train, y_train), (x_test, y_test)`.

    >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
    >>> x_train.shape  # doctest: +SKIP
    (60000, 28, 28)
    """
    subdir = os.path.join("datasets", "fashion-mnist")
    paths = [fetch("kerax.datasets.fashion_mnist.load_data", name, ORIGIN + name,
                   cache_subdir=subdir) for name in _FILES]
    y_train = _read(paths[0], 8)
    x_train = _read(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read(paths[2], 8)
    x_test = _read(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
