"""Datasets: Keras' `keras.datasets` loaders (mnist, fashion_mnist, cifar10,
cifar100, imdb, reuters, boston_housing, california_housing; downloaded into
Keras' cache through `kerax.utils.get_file`, read from it offline) and a small
dataset shipped with kerax (`load_digits`, no download)."""
import os

import numpy as np

from kerax.datasets import (boston_housing, california_housing, cifar10,  # noqa: F401
                            cifar100, fashion_mnist, imdb, mnist, reuters)

__all__ = ["load_digits", "boston_housing", "california_housing", "cifar10", "cifar100",
           "fashion_mnist", "imdb", "mnist", "reuters"]

_HERE = os.path.dirname(__file__)


def load_digits(test_fraction=0.2, seed=0):
    """The 1,797 8x8 handwritten digits (UCI, CC BY 4.0; see LICENSE_digits.txt).

    Returns `(x_train, y_train), (x_test, y_test)`: float32 images scaled to
    [0, 1] of shape (n, 8, 8) and int32 labels 0..9, split with a fixed
    shuffle (`seed`)."""
    with np.load(os.path.join(_HERE, "digits.npz")) as f:
        images = f["images"].astype(np.float32) / 16.0
        labels = f["labels"].astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    n_test = int(round(len(labels) * test_fraction))
    return (images[n_test:], labels[n_test:]), (images[:n_test], labels[:n_test])
