"""California housing prices (Keras' `keras.datasets.california_housing`)."""
import numpy as np

from kerax.datasets._common import ORIGIN, check_test_split, fetch, split

__all__ = ["load_data"]

_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Load the California housing data (8 features per census block group,
    median house value in $ as the target): all 20,640 rows (`"large"`) or
    the first 600 (`"small"`), shuffled with `seed` and split with the last
    `test_split` for testing, from Keras' cache
    (`~/.keras/datasets/california_housing.npz`).

    >>> (x_train, y_train), _ = load_data(version="small")  # doctest: +SKIP
    >>> x_train.shape  # doctest: +SKIP
    (480, 8)
    """
    check_test_split(test_split)
    path = fetch("kerax.datasets.california_housing.load_data", path,
                 ORIGIN + "california_housing.npz", _HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    elif version != "large":
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. "
                         f"Received: version={version}")
    return split(x, y, test_split, seed)
