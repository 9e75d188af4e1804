"""`kerax.utils.io_utils`: Keras 3's name for kerax's I/O helpers (`kerax.io.io_utils`)."""
from kerax.io.io_utils import *  # noqa: F401,F403
from kerax.io.io_utils import __all__  # noqa: F401
