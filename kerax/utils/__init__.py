"""Utilities (Keras 3's `keras.utils`)."""
from kerax.io.progbar import Progbar  # noqa: F401
from kerax.io.py_dataset import PyDataset  # noqa: F401
from kerax.random import set_random_seed  # noqa: F401
from kerax.utils import io_utils  # noqa: F401
