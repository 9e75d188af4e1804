"""Utilities (Keras 3's `keras.utils`)."""
from kerax.random import set_random_seed  # noqa: F401
