"""Keras' `keras.saving` registration names; the registry itself is `kerax.registry`."""
from kerax.registry import *  # noqa: F401,F403
from kerax.registry import (_BUILTIN_NAMES, _BUILTINS, _GLOBAL_CUSTOM_NAMES,  # noqa: F401
                            _GLOBAL_CUSTOM_OBJECTS)
