"""`kerax.utils.progbar`: Keras 3's name for kerax's progress bar (`kerax.io.progbar`)."""
from kerax.io.progbar import Progbar  # noqa: F401

__all__ = ["Progbar"]
