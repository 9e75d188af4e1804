"""The state scope and the call context: the bridge between stateful objects
and pure functions.

A `StateScope` maps Variables to (possibly traced) values, records every
assign, the variables created while it is active and the `add_loss` terms of
a call. `pure(fn, variables)` turns a stateful `fn` into a pure function of the
variables' values. The call context holds what a layer call passes down to
the layers it calls: the training flag and the autocast (compute) dtype.
"""
import contextlib
import threading

import jax
import numpy as np

__all__ = ["StateScope", "StatelessScope", "SymbolicScope", "in_symbolic_scope", "pure", "current_scope", "in_state_scope", "is_tracer",
           "training_flag", "autocast_dtype", "layer_call"]

MISSING = object()
_local = threading.local()


def scopes():
    """The active state scopes of this thread, outermost first."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current_scope():
    """The innermost active `StateScope`, or None in eager mode.

    >>> current_scope() is None
    True
    >>> with StateScope() as s:
    ...     current_scope() is s
    True
    """
    stack = scopes()
    return stack[-1] if stack else None


def in_state_scope():
    """Whether a state scope is active (inside a kerax transform).

    >>> in_state_scope()
    False
    """
    return bool(scopes())


def is_tracer(x):
    """Whether `x` is a JAX tracer (a value inside jit/grad).

    >>> seen = []
    >>> _ = jax.jit(lambda x: seen.append(is_tracer(x)) or x)(1.0)
    >>> is_tracer(1.0), seen
    (False, [True])
    """
    return isinstance(x, jax.core.Tracer)


class StateScope:
    """Maps Variables to values and records assigns, created variables and losses.

    values: (Variable, value) pairs the scope substitutes.
    discover: when True, a read of a variable the scope does not map is
      recorded in `self.discovered` and staged into the current trace as a copy
      of its concrete value (`core.trace` turns those into program inputs).

    >>> from kerax.core.variable import Variable
    >>> v = Variable(1.0)
    >>> with StateScope([(v, 5.0)]) as s:
    ...     _ = v.assign(v.value + 1)
    ...     print(float(v.value))
    6.0
    >>> float(v.value), float(s.assigned[id(v)][1])
    (1.0, 6.0)
    """

    def __init__(self, values=(), *, discover=False):
        self.values = {}
        for var, val in values:
            self.values[id(var)] = val
        self.assigned = {}     # id(var) -> (var, value), in order of first assign
        self.discover = discover
        self.discovered = {}   # id(var) -> (var, concrete buffer)
        self._buffers = set()
        self.losses = []       # (owner layer or None, value)
        self.created = []

    def lookup(self, var):
        hit = self.assigned.get(id(var))
        if hit is not None:
            return hit[1]
        val = self.values.get(id(var), MISSING)
        if val is not MISSING or not self.discover:
            return val
        entry = self.discovered.get(id(var))
        if entry is None:
            buf = var._value
            if id(buf) in self._buffers:
                # Another variable holds the very same buffer: give this one its
                # own, so each input of the compiled program maps to one variable.
                with jax.ensure_compile_time_eval():
                    buf = jax.device_put(np.array(buf))
            self._buffers.add(id(buf))
            entry = self.discovered[id(var)] = (var, buf)
        # Stage a copy so the read is part of the trace, never a baked-in
        # constant; XLA removes the copy.
        return jax.lax.copy_p.bind(entry[1])

    def assign(self, var, value):
        self.assigned[id(var)] = (var, value)

    def add_loss(self, owner, value):
        self.losses.append((owner, value))

    def assigned_items(self):
        return list(self.assigned.values())

    def __enter__(self):
        scopes().append(self)
        return self

    def __exit__(self, *exc):
        stack = scopes()
        if not stack or stack[-1] is not self:
            raise RuntimeError("kerax internal error: state scopes exited out of order.")
        stack.pop()
        return False


def pure(fn, variables):
    """Turn a stateful `fn` into `g(values, *args, **kwargs) -> (outputs, new_values)`.

    `values`/`new_values` are aligned with `variables`; `g.last_scope` is the
    scope of the last call (its other assigns and losses).

    >>> from kerax.core.variable import Variable
    >>> v = Variable(2.0)
    >>> g = pure(lambda x: v.assign(v.value * x).value, [v])
    >>> out, (new,) = jax.jit(g)([3.0], 4.0)
    >>> float(out), float(new), float(v.value)
    (12.0, 12.0, 2.0)
    """
    variables = list(variables)

    def g(values, *args, **kwargs):
        values = list(values)
        if len(values) != len(variables):
            raise ValueError(f"Expected {len(variables)} variable values, got {len(values)}.")
        scope = StateScope(zip(variables, values))
        with scope:
            out = fn(*args, **kwargs)
        new_values = []
        for var, val in zip(variables, values):
            hit = scope.assigned.pop(id(var), None)
            new_values.append(val if hit is None else hit[1])
        g.last_scope = scope
        return out, new_values

    g.last_scope = None
    return g


# ---- the call context -------------------------------------------------------------
def _calls():
    calls = getattr(_local, "calls", None)
    if calls is None:
        calls = _local.calls = []
    return calls


def training_flag():
    """The training flag of the enclosing layer call (None outside any call).

    >>> training_flag() is None
    True
    >>> with layer_call(False, None):
    ...     training_flag()
    False
    """
    calls = _calls()
    return calls[-1][0] if calls else None


def call_depth():
    return len(_calls())


def autocast_dtype():
    """The compute dtype Variables are read in (mixed precision), or None.

    >>> with autocast_scope("float16"):
    ...     autocast_dtype()
    'float16'
    """
    return getattr(_local, "autocast", None)


@contextlib.contextmanager
def layer_call(training, autocast):
    """The context of one layer call: `training` for the layers it calls, and
    `autocast` (a dtype or None) for reading float Variables.

    >>> with layer_call(True, "bfloat16"):
    ...     training_flag(), autocast_dtype()
    (True, 'bfloat16')
    """
    calls = _calls()
    prev = getattr(_local, "autocast", None)
    calls.append((training, autocast))
    _local.autocast = autocast
    try:
        yield
    finally:
        calls.pop()
        _local.autocast = prev


@contextlib.contextmanager
def autocast_scope(dtype):
    """Read float Variables in `dtype` (None: as stored)."""
    prev = getattr(_local, "autocast", None)
    _local.autocast = dtype
    try:
        yield
    finally:
        _local.autocast = prev


class StatelessScope(StateScope):
    """Keras' `StatelessScope`: variables read the values of `state_mapping`
    and assigns are recorded, never applied (`get_current_value(var)`).

    >>> from kerax.core.variable import Variable
    >>> v = Variable(1.0)
    >>> with StatelessScope(state_mapping=[(v, 2.0)]) as s:
    ...     _ = v.assign(v.value * 3)
    >>> float(s.get_current_value(v)), float(v.value)
    (6.0, 1.0)
    """

    def __init__(self, state_mapping=None, collect_losses=False, initialize_variables=True):
        if not initialize_variables:
            raise NotImplementedError(
                "StatelessScope(initialize_variables=False): kerax variables are always "
                "initialized when created.")
        super().__init__(state_mapping or ())
        self.collect_losses = collect_losses

    def get_current_value(self, variable):
        val = self.lookup(variable)
        return None if val is MISSING else val


class SymbolicScope:
    """Keras 3's `keras.SymbolicScope`: marks symbolic evaluation (output specs
    of layers on `KerasTensor`s, computed with `jax.eval_shape`), so code can
    ask `in_symbolic_scope()` and skip work that needs real values.

    >>> with SymbolicScope():
    ...     in_symbolic_scope()
    True
    >>> in_symbolic_scope()
    False
    """

    def __enter__(self):
        self._outer = getattr(_local, "symbolic", None)
        _local.symbolic = self
        return self

    def __exit__(self, *exc):
        _local.symbolic = self._outer


def in_symbolic_scope():
    """Whether a `SymbolicScope` is open.

    >>> in_symbolic_scope()
    False
    """
    return getattr(_local, "symbolic", None) is not None
