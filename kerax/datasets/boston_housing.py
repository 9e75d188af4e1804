"""Boston housing prices (Keras' `keras.datasets.boston_housing`)."""
import numpy as np

from kerax.datasets._common import ORIGIN, check_test_split, fetch, split

__all__ = ["load_data"]

_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Load the Boston housing data (13 features per area, median price in
    k$ as the target), shuffled with `seed` and split with the last
    `test_split` for testing, from Keras' cache
    (`~/.keras/datasets/boston_housing.npz`). Keras discourages its use
    (one feature encodes a racist assumption) except to discuss that.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> x_train.shape  # doctest: +SKIP
    (404, 13)
    """
    check_test_split(test_split)
    path = fetch("kerax.datasets.boston_housing.load_data", path,
                 ORIGIN + "boston_housing.npz", _HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return split(x, y, test_split, seed)
