"""Third-party modules that load on first use, so `import kerax` stays light.

`optax` here is a stand-in for the real `optax` module: the first attribute
read (`optax.chain`, `optax.GradientTransformation`, ...) imports optax and
every later read goes straight to it. kerax's optimizers use it exactly as
they would use `import optax`; a program that never builds an optimizer
never pays optax's import (with absl, ~40 ms).

    >>> from kerax._lazy import optax
    >>> tx = optax.scale(-0.1)     # optax is imported here
    >>> isinstance(tx, optax.GradientTransformation)
    True
"""
import importlib
import types

from kerax.core.gc_pause import gc_paused

__all__ = ["LazyModule", "optax"]


class LazyModule(types.ModuleType):
    """A module object that imports `name` when one of its attributes is
    first read, then forwards every attribute to the real module.

    >>> json = LazyModule("json")
    >>> json.dumps([1, 2])
    '[1, 2]'
    """

    def __init__(self, name):
        super().__init__(name)
        self.__dict__["_lazy_module"] = None

    def _load(self):
        module = self.__dict__["_lazy_module"]
        if module is None:
            with gc_paused():  # as `import kerax` does
                module = importlib.import_module(self.__name__)
            self.__dict__["_lazy_module"] = module
        return module

    def __getattr__(self, attr):
        # Only called for names this stand-in does not have itself.
        return getattr(self._load(), attr)

    def __dir__(self):
        return dir(self._load())

    def __repr__(self):
        state = "loaded" if self.__dict__["_lazy_module"] is not None else "not loaded yet"
        return f"<lazy module {self.__name__!r} ({state})>"


optax = LazyModule("optax")
