"""Reading CIFAR's pickled batches (shared by cifar10 and cifar100)."""
import numpy as np

from kerax.backend import image_data_format
from kerax.datasets._common import unpickle


def load_batch(path, label_key="labels"):
    """`(data (n, 3, 32, 32) uint8, labels)` of one CIFAR batch file."""
    with open(path, "rb") as f:
        d = unpickle(f, encoding="bytes")
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def finish(x_train, y_train, x_test, y_test):
    """Labels as (n, 1) columns, images channels-last unless the image data
    format is "channels_first" (as Keras)."""
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    if image_data_format() == "channels_last":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)
