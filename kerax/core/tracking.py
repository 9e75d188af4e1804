"""The ONE walk over an object's tracked attributes: layers find their
sublayers, variables, seed generators and metrics with it, and saving finds
what to write.

An attribute is tracked unless its class lists the name in `_kerax_untracked`
(bookkeeping, such as a layer's inbound nodes). Items are found inside lists,
tuples and dicts at any nesting depth, in insertion order; an unordered or
unsupported container (set, deque) that holds an item raises instead of the
item being silently dropped.
"""
import collections

import jax

__all__ = ["attributes", "find", "collect", "untracked_names"]

_WALKED = (list, tuple, dict)
_REFUSED = (set, frozenset, collections.deque)


def untracked_names(cls):
    """The attribute names `cls` and its bases declare untracked.

    >>> class A: _kerax_untracked = ("_a",)
    >>> class B(A): _kerax_untracked = ("_b",)
    >>> sorted(untracked_names(B))
    ['_a', '_b']
    """
    names = cls.__dict__.get("_kerax_untracked_all")
    if names is None:
        names = frozenset(n for k in cls.__mro__ for n in k.__dict__.get("_kerax_untracked", ()))
        setattr(cls, "_kerax_untracked_all", names)
    return names


def attributes(obj):
    """`(name, value)` of `obj`'s tracked instance attributes, in order.

    >>> class Box:
    ...     _kerax_untracked = ("_cache",)
    >>> b = Box(); b.w = 1; b._cache = 2
    >>> attributes(b)
    [('w', 1)]
    """
    skip = untracked_names(type(obj))
    return [(k, v) for k, v in vars(obj).items() if k not in skip and not k.startswith("__")]


def find(value, match, where="value"):
    """The items of `value` (itself, or inside nested lists/tuples/dicts) for
    which `match(item)` is true; matched items are not looked into.

    >>> find({"a": [1, (2, [3, [4, [5, "x"]]])]}, lambda v: isinstance(v, str))
    ['x']
    >>> find({"s": {"x"}}, lambda v: isinstance(v, str))
    Traceback (most recent call last):
    ...
    TypeError: value['s'] is a set holding 'x': kerax tracks layers, variables and metrics in lists, tuples and dicts only (their order is the weights' order). Use a list.
    """
    out, seen = [], set()

    def walk(v, path):
        if match(v):
            out.append(v)
        elif isinstance(v, _WALKED):
            if id(v) in seen:
                return
            seen.add(id(v))
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, e in items:
                walk(e, f"{path}[{k!r}]")
        elif isinstance(v, _REFUSED):
            for e in v:
                if match(e) or find(e, match):
                    raise TypeError(
                        f"{path} is a {type(v).__name__} holding {e!r}: kerax tracks "
                        "layers, variables and metrics in lists, tuples and dicts only "
                        "(their order is the weights' order). Use a list.")

    walk(value, where)
    return out


def collect(obj, match):
    """The items of `obj`'s tracked attributes that `match`, each once, in
    attribute order.

    >>> class Box: pass
    >>> b = Box(); b.x = [[[[[["deep"]]]]]]; b.y = "top"; b.z = "top"
    >>> collect(b, lambda v: isinstance(v, str))
    ['deep', 'top']
    """
    out, ids = [], set()
    for name, value in attributes(obj):
        for item in find(value, match, f"{type(obj).__name__}.{name}"):
            if id(item) not in ids:
                ids.add(id(item))
                out.append(item)
    return out


class LiveList(list):
    """A list of Variables read from an object's property (`model.trainable_variables`)
    that can be read again after the object has created more.

    `kerax.value_and_grad(fn, model.trainable_variables)` of a model that `fn`
    builds on its first call sees the empty list of the unbuilt model; it
    reads the property again (`refresh`) once the variables exist, as a
    GradientTape would have seen them. As a pytree it is a plain list.

    >>> class M: pass
    >>> m = M(); m.vs = []
    >>> live = LiveList(m.vs, m, "vs"); m.vs = [1, 2]
    >>> live, live.refresh()
    ([], [1, 2])
    """

    def __init__(self, items, owner, attr):
        super().__init__(items)
        self.owner = owner
        self.attr = attr

    def refresh(self):
        return getattr(self.owner, self.attr)


def refresh(tree):
    """`tree` with every `LiveList` in it read again (None if it holds none).

    >>> class M: vs = [3]
    >>> refresh({"a": [LiveList([], M, "vs")]}), refresh([1])
    ({'a': [[3]]}, None)
    """
    found = []

    def walk(t):
        if isinstance(t, LiveList):
            found.append(t)
            return list(t.refresh())
        if isinstance(t, (list, tuple)):
            return type(t)(walk(e) for e in t) if not hasattr(t, "_fields") else type(t)(*map(walk, t))
        if isinstance(t, dict):
            return {k: walk(v) for k, v in t.items()}
        return t

    out = walk(tree)
    return out if found else None


jax.tree_util.register_pytree_node(
    LiveList, lambda l: (list(l), None), lambda _, children: list(children))
