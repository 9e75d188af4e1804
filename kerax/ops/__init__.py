"""kerax.ops: Keras 3's `keras.ops` names over jax.numpy / jax.nn / jax.lax."""
from kerax.ops.core import *  # noqa: F401,F403
from kerax.ops.numpy import *  # noqa: F401,F403
from kerax.ops.math import *  # noqa: F401,F403
from kerax.ops.linalg import *  # noqa: F401,F403
from kerax.ops.nn import *  # noqa: F401,F403
from kerax.ops import core, numpy, math, linalg, nn, image  # noqa: F401,E402
