"""kerax.ops: Keras 3's `keras.ops` names over jax.numpy / jax.nn / jax.lax."""
from kerax.ops.core import *  # noqa: F401,F403
