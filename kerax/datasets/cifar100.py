"""CIFAR-100 small colour images (Keras' `keras.datasets.cifar100`)."""
import os

from kerax.datasets._cifar import finish, load_batch
from kerax.datasets._common import fetch

__all__ = ["load_data"]

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode="fine"):
    """Load CIFAR-100: 50,000 32x32 colour training images and 10,000 test
    images (uint8), labelled with 100 "fine" classes or 20 "coarse"
    superclasses (`label_mode`), labels of shape (n, 1), from Keras' cache
    (`~/.keras/datasets/cifar-100-python-target_archive`).

    Returns `(x_train, y_train), (x_test, y_test)`.

    >>> (x_train, y_train), _ = load_data("coarse")  # doctest: +SKIP
    >>> int(y_train.max())  # doctest: +SKIP
    19
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")
    path = fetch("kerax.datasets.cifar100.load_data", "cifar-100-python-target", _ORIGIN,
                 _HASH, extract=True)
    path = os.path.join(path, "cifar-100-python")
    key = f"{label_mode}_labels"
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=key)
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=key)
    return finish(x_train, y_train, x_test, y_test)
