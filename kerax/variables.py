"""`kerax.variables`: the Variable and the state bridge (they live in kerax/core)."""
from kerax.core.scope import (StateScope, current_scope, in_state_scope, is_tracer,  # noqa: F401
                              pure)
from kerax.core.scope import scopes as _stack  # noqa: F401
from kerax.core.variable import Variable, _SliceRef, is_variable  # noqa: F401

__all__ = ["Variable", "StateScope", "pure", "in_state_scope", "current_scope"]
