"""`model(x)` on concrete arrays, compiled: a Functional or Sequential model
called eagerly (outside fit, `kerax.function` and `kerax.grad`) runs through
one compiled program per input signature once that signature is seen a
second time, so a single-sample call costs about a jitted function's call
rather than one dispatch per op.

Kept eager: the first call of each signature (a model called once per shape,
as a generation loop growing its sequence, compiles nothing), calls with
`training=True`, symbolic or traced inputs, a model compiled with
`run_eagerly=True`, `kerax.config.disable_compiled_calls()`, and a
signature whose trace failed (a layer whose call is not traceable): that
signature stays eager for the model's lifetime. A change of the model's
layers (`Sequential.add`) or of a built layer's public attribute outside a
call (`model.layers[-1].activation = None`) drops the compiled programs.
"""
import jax
import numpy as np

from kerax import config
from kerax.core.scope import is_tracer
from kerax.core.scope import scopes as _stack
from kerax.layers import layer as layer_module
from kerax.layers.layer import KerasTensor, Layer
from kerax.transforms import function

__all__ = ["call", "NOT_COMPILED"]

NOT_COMPILED = object()
_MAX_SIGNATURES = 64  # per model: beyond this, the counts start over


class _State:
    __slots__ = ("seen", "eager_only", "fn", "layers", "version", "programs")
    # version: the model's graph and layer count, and the count of layer
    # reconfigurations (a change of any starts over: stale programs go)

    def __init__(self, model, version):
        self.seen = {}          # signature -> calls seen (1, then 2 once traced)
        self.eager_only = set()
        self.programs = {}      # signature -> (Program, positions of its array leaves)
        self.version = version
        self.layers = None      # the model's layers, for clearing their call losses

        def forward(*args, **kwargs):
            return Layer.__call__(model, *args, **kwargs)
        forward.__name__ = f"{model.name}_call"
        self.fn = function(forward)


def _signature(leaves, treedef):
    """A hashable key of the arguments' structure, array shapes/dtypes and
    other values, or None when the call cannot be compiled."""
    key, arrays = [treedef], 0
    for leaf in leaves:
        if isinstance(leaf, (np.ndarray, jax.Array)):
            if is_tracer(leaf):
                return None
            key.append((leaf.shape, leaf.dtype))
            arrays += 1
        elif isinstance(leaf, KerasTensor):
            return None
        elif leaf is None or isinstance(leaf, (bool, int, float, str)):
            key.append((type(leaf), leaf))
        else:
            return None
    return tuple(key) if arrays else None


_OWN_CALL = {}  # model class -> whether its `call` is the kerax class's own


def _own_call(cls):
    """Whether `cls` keeps the `call` of the kerax class that allowed compiled
    calls (a user subclass overriding `call` or `__call__` stays eager)."""
    got = _OWN_CALL.get(cls)
    if got is None:
        owner = next(c for c in cls.__mro__ if "_compiled_calls" in c.__dict__)
        got = _OWN_CALL[cls] = bool(owner._compiled_calls) and cls.call is owner.call and \
            "__call__" not in [k for c in cls.__mro__[:cls.__mro__.index(owner)]
                               for k in c.__dict__]
    return got


def call(model, args, kwargs):
    """`model(*args, **kwargs)` through the model's compiled call, or
    NOT_COMPILED when the call must run eagerly."""
    if not model.built or _stack() or kwargs.get("training") is True or \
            not config.is_compiled_calls_enabled() or not _own_call(type(model)):
        return NOT_COMPILED
    st = model.__dict__.get("_trainer_state")
    if st is not None and st.run_eagerly:
        return NOT_COMPILED
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    key = _signature(leaves, treedef)
    if key is None:
        return NOT_COMPILED
    state = model.__dict__.get("_compiled_call")
    # a Sequential that gained or lost layers, a rebuilt graph: start over
    version = (id(model.__dict__.get("_graph")), len(model.__dict__.get("_layers", ())),
               layer_module.CONFIG_CHANGES[0])
    if state is None or state.version != version:
        state = _State(model, version)
        object.__setattr__(model, "_compiled_call", state)
    entry = state.programs.get(key)
    if entry is not None:
        program, positions = entry
        _clear_losses(model, state)
        return state.fn._run(program, [leaves[i] for i in positions])
    if key in state.eager_only:
        return NOT_COMPILED
    if state.seen.get(key, 0) == 0:
        if len(state.seen) >= _MAX_SIGNATURES:
            state.seen.clear()
            state.programs.clear()
        state.seen[key] = 1
        return NOT_COMPILED
    try:  # the second call of this signature: trace it
        _clear_losses(model, state)
        program, dyn = state.fn._trace_for(args, kwargs)
    except Exception:  # not traceable: this signature runs eagerly from now on
        state.eager_only.add(key)
        return NOT_COMPILED
    if len(dyn) == len(leaves):
        state.programs[key] = (program, [i for i, d in enumerate(dyn) if d is not None])
    else:
        state.eager_only.add(key)
    return state.fn._run(program, dyn)


def _clear_losses(model, state):
    """As an eager top-level call: the losses of the previous call go (the
    program stores this call's `add_loss` terms on their layers)."""
    if state.layers is None:
        state.layers = model._flatten_layers()
    for layer in state.layers:
        if layer.__dict__.get("_call_losses"):
            object.__setattr__(layer, "_call_losses", [])
