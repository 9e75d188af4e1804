"""The cyclic garbage collector paused over kerax's bursts of allocation.

Tracing a step, lowering it and importing a module allocate hundreds of
thousands of short-lived containers (jaxpr equations, tracers, MLIR
operations). Each 700 of them start a young-generation collection, and every
so often a full one that walks every object of the process (all of jax's and
the user's modules): in a 100-layer MLP's first `fit`, ~0.2 s of a 1.5 s
warm run went to the collector. Paused, the same objects are looked at once,
by the first collection after the burst; memory freed by reference counting
(almost all of it) is freed as usual, and only reference cycles wait until
the pause ends.

`gc_paused()` nests and is safe across threads: the collector is switched
back on when the outermost pause ends, and only if it was on when the first
began (a program that turned it off keeps it off).
"""
import contextlib
import gc
import threading

__all__ = ["gc_paused", "PausedFirstCall"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for the block (see the module doc).

    >>> import gc
    >>> with gc_paused():
    ...     with gc_paused():
    ...         pass
    ...     gc.isenabled()         # still inside the outer pause
    False
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


class PausedFirstCall:
    """`fn` (a jitted function) whose first call -- the one that traces,
    lowers and compiles -- runs with the collector paused; once it returned,
    `swap(fn)` lets the owner put `fn` itself back, so later calls pay
    nothing. Other attributes (`.lower`, ...) are `fn`'s."""

    __slots__ = ("fn", "swap")

    def __init__(self, fn, swap):
        self.fn = fn
        self.swap = swap

    def __call__(self, *args, **kwargs):
        with gc_paused():
            out = self.fn(*args, **kwargs)
        self.swap(self.fn)
        return out

    def __getattr__(self, name):
        return getattr(self.fn, name)
