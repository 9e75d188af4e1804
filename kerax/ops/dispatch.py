"""The one hook that lets every op run on symbolic tensors.

kerax.ops sits below kerax.layers, where `KerasTensor` (the tensor of
`kerax.Input` and functional models) lives, so an op cannot import it. Instead
each public op is wrapped once, by `symbolic_op`, when its package finishes
importing: the wrapper looks for an instance of a registered symbolic type
among its arguments (also inside lists and tuples, as in
`ops.concatenate([a, b])` or `x[:, i]`), and if it finds one it hands the call
to the registered handler; kerax.layers registers `KerasTensor` and a handler
that records the call as a node of the graph (as Keras 3 records its ops).
Calls on arrays pay one scan of their arguments and go straight to the op.

>>> import jax.numpy as jnp
>>> from kerax import ops
>>> ops.add(jnp.ones(2), 1.0).tolist()
[2.0, 2.0]
"""
import functools
import inspect

__all__ = ["register_symbolic", "add_symbolic_type", "symbolic_op", "wrap_namespace",
           "is_symbolic_op"]

_SYMBOLIC = frozenset()  # the symbolic tensor types (exact types: one set lookup)
_HANDLER = None  # handler(key, args, kwargs) -> symbolic outputs


def register_symbolic(tensor_type, handler):
    """Route op calls that involve a `tensor_type` instance to
    `handler(key, args, kwargs)`, where `key` names the op ("numpy.add")."""
    global _HANDLER
    add_symbolic_type(tensor_type)
    _HANDLER = handler


def add_symbolic_type(tensor_type):
    """Also treat instances of `tensor_type` (a subclass) as symbolic."""
    global _SYMBOLIC
    _SYMBOLIC = _SYMBOLIC | {tensor_type}


def _scan(values):
    for v in values:
        t = type(v)
        if t in _SYMBOLIC or ((t is list or t is tuple) and _scan(v)):
            return True
    return False


def symbolic_op(fn, key, via=None):
    """`fn` as an op that records itself when given symbolic tensors.

    `key` names the op for the handler ("numpy.add", "nn.relu"). With `via`,
    a symbolic call instead runs `via(**arguments)`, the arguments bound to
    `fn`'s signature with its defaults (an activation recorded as the op Keras
    records for it)."""
    if via is not None:
        signature = inspect.signature(fn)

        def symbolic(args, kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return via(**bound.arguments)
    else:
        def symbolic(args, kwargs):
            return _HANDLER(key, args, kwargs)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            t = type(a)
            if t in _SYMBOLIC or ((t is list or t is tuple) and _scan(a)):
                return symbolic(args, kwargs)
        if kwargs and _scan(kwargs.values()):
            return symbolic(args, kwargs)
        return fn(*args, **kwargs)

    op._kerax_op = key
    return op


def is_symbolic_op(fn):
    """Whether `fn` is an op wrapped by `symbolic_op`."""
    return hasattr(fn, "_kerax_op")


def wrap_namespace(namespace, prefix, names, skip=()):
    """Replace each function `names` in the dict `namespace` (a module's
    globals) by its `symbolic_op`, keyed "<prefix>.<name>". Returns
    {original function: wrapped op}."""
    wrapped = {}
    for name in names:
        fn = namespace.get(name)
        if name in skip or not callable(fn) or inspect.isclass(fn) or is_symbolic_op(fn):
            continue
        wrapped[fn] = namespace[name] = symbolic_op(fn, f"{prefix}.{name}")
    return wrapped
