"""`kerax.preprocessing.sequence` (Keras 3's `keras.preprocessing.sequence`)."""
from kerax.utils import pad_sequences  # noqa: F401

__all__ = ["pad_sequences"]
