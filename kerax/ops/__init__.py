"""kerax.ops: Keras 3's `keras.ops` names over jax.numpy / jax.nn / jax.lax.

Every op that Keras 3 records as an operation also accepts symbolic tensors
(`kerax.Input`): the call is then recorded as a node of the functional graph
(see kerax.ops.dispatch), saved as Keras saves it (kerax.ops.keras_names).
"""
from kerax.ops.core import *  # noqa: F401,F403
from kerax.ops.numpy import *  # noqa: F401,F403
from kerax.ops.math import *  # noqa: F401,F403
from kerax.ops.linalg import *  # noqa: F401,F403
from kerax.ops.nn import *  # noqa: F401,F403
from kerax.ops.einops import *  # noqa: F401,F403
from kerax.ops import core, numpy, math, linalg, nn, image  # noqa: F401,E402
from kerax.ops import einops  # noqa: F401,E402
from kerax.ops.dispatch import wrap_namespace as _wrap_namespace  # noqa: E402
from kerax.ops.keras_names import KERAS_OPS as _KERAS_OPS  # noqa: E402

# Static answers on symbolic tensors, not graph nodes: ops.ndim(x) is an int.
_STATIC = ("ndim",)


def _wrap_all():
    wrapped = {}
    for module in (core, numpy, math, linalg, nn, image, einops):
        prefix = module.__name__.rsplit(".", 1)[1]
        recorded = [n for n in module.__all__ if f"{prefix}.{n}" in _KERAS_OPS]
        wrapped.update(_wrap_namespace(vars(module), prefix, recorded, skip=_STATIC))
    namespace = globals()
    for name, value in list(namespace.items()):
        if not name.startswith("_") and callable(value) and value in wrapped:
            namespace[name] = wrapped[value]


_wrap_all()
