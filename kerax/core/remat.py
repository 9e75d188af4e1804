"""Rematerialization (gradient checkpointing) of stateful calls.

`remat(f)` is `jax.checkpoint` for functions that may read and assign kerax
Variables or add losses: inside a state scope the call is made pure (reads
come in as inputs, assigns and `add_loss` terms go out as outputs), so no
tracer of the checkpointed trace escapes into a Variable. `RematScope` is
Keras 3's context manager: layers created inside it remember its mode and
rematerialize their call.
"""
import collections
import functools
import threading

import jax

from kerax.core.scope import StateScope, current_scope

__all__ = ["remat", "RematScope", "RematMode", "get_current_remat_mode"]

RematMode = collections.namedtuple("RematMode", ["mode", "output_size_threshold", "layer_names"])
_MODES = ("full", "activations", "larger_than", "list_of_layers", None)
_local = threading.local()


def _stack():
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


class RematScope:
    """Rematerialize the layers created inside (Keras 3's `keras.RematScope`).

    mode: "full" (every layer), "activations" (the `activation` of layers
      that have one), "larger_than" (layers whose output has more than
      `output_size_threshold` elements), "list_of_layers" (layers named in
      `layer_names`), or None (off). The innermost scope wins.

    >>> with RematScope(mode="larger_than", output_size_threshold=512):
    ...     get_current_remat_mode().output_size_threshold
    512
    >>> get_current_remat_mode() is None
    True
    """

    def __init__(self, mode="full", output_size_threshold=1024, layer_names=None):
        if mode not in _MODES:
            raise ValueError(f"RematScope: invalid mode {mode!r}; expected one of "
                             f"{list(_MODES)}.")
        self.mode = mode
        self.output_size_threshold = output_size_threshold
        self.layer_names = list(layer_names or [])
        self._pushed = False

    def __enter__(self):
        _stack().append(self)
        self._pushed = True
        return self

    def __exit__(self, *exc):
        if self._pushed:
            _stack().pop()
            self._pushed = False


def get_current_remat_mode():
    """The innermost `RematScope`'s settings as a `RematMode`, or None.

    >>> with RematScope(mode="list_of_layers", layer_names=["dense"]):
    ...     get_current_remat_mode()
    RematMode(mode='list_of_layers', output_size_threshold=1024, layer_names=['dense'])
    """
    stack = _stack()
    if not stack:
        return None
    s = stack[-1]
    return RematMode(s.mode, s.output_size_threshold, s.layer_names)


def _is_array(x):
    return isinstance(x, jax.Array) or hasattr(x, "shape") and hasattr(x, "dtype")


def remat(f):
    """Recompute `f`'s intermediate values in the backward pass instead of
    storing them (`jax.checkpoint`), as Keras' `keras.remat` on JAX.

    `f` may read and assign Variables and add losses, as a layer call does.

    >>> import jax.numpy as jnp
    >>> g = jax.grad(lambda x: remat(jnp.sin)(x) * 2.0)
    >>> round(float(g(0.0)), 3)
    2.0
    """
    checkpointed = jax.checkpoint(f)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        outer = current_scope()
        if outer is None:
            return checkpointed(*args, **kwargs)
        leaves, tree = jax.tree_util.tree_flatten((args, kwargs))
        arrays = [i for i, x in enumerate(leaves) if _is_array(x)]
        record = {}

        def pure_call(arr):
            full = list(leaves)
            for i, a in zip(arrays, arr):
                full[i] = a
            a, k = jax.tree_util.tree_unflatten(tree, full)
            # Reads fall through to the enclosing scope (closed-over values);
            # assigns and losses are collected here and returned.
            scope = StateScope()
            with scope:
                out = f(*a, **k)
            assigned = scope.assigned_items()
            record["vars"] = [var for var, _ in assigned]
            record["owners"] = [owner for owner, _ in scope.losses]
            return out, [val for _, val in assigned], [val for _, val in scope.losses]

        out, new_values, losses = jax.checkpoint(pure_call)([leaves[i] for i in arrays])
        for var, val in zip(record["vars"], new_values):
            var.assign(val)
        for owner, val in zip(record["owners"], losses):
            outer.add_loss(owner, val)
        return out

    return wrapped
