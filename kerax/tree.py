"""Nested structures (Keras 3's `keras.tree`), on `jax.tree_util`.

A structure is any JAX pytree: lists, tuples, namedtuples, dicts (flattened in
sorted key order, and rebuilt in their own key order; `OrderedDict` in
insertion order) and registered pytree
nodes. As in Keras, `None` is a leaf, not an empty node. Paths
(`flatten_with_path`, `assert_same_paths`) are tuples of list/tuple/namedtuple
indices and dict keys, as Keras gives them.

Differences from Keras (whose `keras.tree` is built on optree): `collections.deque`
is a leaf here (jax.tree_util does not register it), and a dict whose keys
cannot be sorted together (say `1` and `"a"`) raises jax's error.

>>> flatten({"b": [1, None], "a": (2,)})
[2, 1, None]
>>> map_structure(lambda x: x * 10, {"b": [1, 2], "a": 3})
{'b': [10, 20], 'a': 30}
"""
import collections
import warnings

import jax

__all__ = ["MAP_TO_NONE", "is_nested", "traverse", "flatten", "flatten_with_path",
           "map_structure", "map_structure_up_to", "assert_same_structure",
           "assert_same_paths", "pack_sequence_as", "lists_to_tuples",
           "map_shape_structure"]

_tu = jax.tree_util


class MAP_TO_NONE:
    """Return this class from a `traverse` function to put `None` in place of
    the visited node (returning `None` means "keep traversing")."""


def _none_leaf(x):
    return x is None


def _flatten(structure, is_leaf=_none_leaf):
    return _tu.tree_flatten(structure, is_leaf=is_leaf)


def _is_leaf(x):
    _, treedef = _flatten(x)
    return _tu.treedef_is_leaf(treedef) and treedef.num_leaves == 1


def _same_key_order(template, rebuilt):
    """jax rebuilds dicts in sorted key order; Keras keeps the template's order."""
    if isinstance(template, dict) and isinstance(rebuilt, dict) and \
            list(rebuilt) != list(template):
        items = [(k, rebuilt[k]) for k in template]
        if isinstance(rebuilt, collections.defaultdict):
            return type(rebuilt)(rebuilt.default_factory, items)
        return type(rebuilt)(items)
    return rebuilt


def _in_order(template, result, is_leaf=None):
    """`result` (built by jax from `template`'s structure) with every dict in
    `template`'s key order, down to `template`'s leaves."""
    if not is_nested(template) or (is_leaf is not None and is_leaf(template)):
        return result
    subs_t, _ = _one_level(template)
    subs_r, treedef = _one_level(result)
    rebuilt = treedef.unflatten([_in_order(t, r, is_leaf) for t, r in zip(subs_t, subs_r)])
    return _same_key_order(template, rebuilt)


def _like(template, other):
    """`other` with each dict that has the same keys as `template`'s dict there
    made of the same dict type (Keras matches dict, OrderedDict and defaultdict
    on their keys alone); anything else is left for jax to compare."""
    if not is_nested(template) or not is_nested(other):
        return other
    if isinstance(template, dict) and isinstance(other, dict):
        if set(template) != set(other):
            return other
        items = [(k, _like(template[k], other[k])) for k in template]
        if isinstance(template, collections.defaultdict):
            return type(template)(template.default_factory, items)
        return type(template)(items)
    subs_t, tdt = _one_level(template)
    subs_o, tdo = _one_level(other)
    if tdt != tdo:
        return other
    return tdo.unflatten([_like(t, o) for t, o in zip(subs_t, subs_o)])


def _one_level(node):
    """(children, treedef) of one level of `node` (a nested structure)."""
    return _flatten(node, is_leaf=lambda x: x is not node)


def is_nested(structure):
    """Whether `structure` is a list, tuple, dict, namedtuple or other pytree
    node (not a leaf; `None` is a leaf).

    >>> is_nested([1]), is_nested([]), is_nested(None), is_nested(1.0)
    (True, True, False, False)
    """
    return not _is_leaf(structure)


def traverse(func, structure, top_down=True):
    """Visit every node and leaf of `structure` with `func`.

    Top-down (default): `func(node)` returning None keeps traversing into the
    node; anything else replaces the node (`MAP_TO_NONE` replaces it with None).
    Bottom-up: children are traversed first, then `func` sees the rebuilt node.

    >>> traverse(lambda x: x + 1 if isinstance(x, int) else None, [1, (2, 3)])
    [2, (3, 4)]
    """
    def children():
        if not is_nested(structure):
            return structure
        subs, treedef = _one_level(structure)
        return _same_key_order(
            structure, treedef.unflatten([traverse(func, c, top_down=top_down) for c in subs]))

    if top_down:
        ret = func(structure)
        if ret is None:
            return children()
    else:
        rebuilt = children()
        ret = func(rebuilt)
        if ret is None:
            return rebuilt
    if ret is MAP_TO_NONE:
        return None
    return ret


def flatten(structure):
    """The leaves of `structure`, in order (`None` included).

    >>> flatten([1, {"y": 3, "x": 2}, None])
    [1, 2, 3, None]
    """
    return _flatten(structure)[0]


def _key(entry, position):
    if isinstance(entry, _tu.SequenceKey):
        return entry.idx
    if isinstance(entry, _tu.DictKey):
        return entry.key
    if isinstance(entry, _tu.FlattenedIndexKey):
        return entry.key
    return position  # GetAttrKey of a namedtuple: Keras paths use the index


def _paths(structure, prefix, out):
    if not is_nested(structure):
        out.append((prefix, structure))
        return
    entries, _ = _tu.tree_flatten_with_path(structure, is_leaf=lambda x: x is not structure)
    for i, (path, child) in enumerate(entries):
        _paths(child, prefix + (_key(path[0], i),), out)


def flatten_with_path(structure):
    """`[(path, leaf), ...]`: each leaf with its path, a tuple of indices and keys.

    >>> flatten_with_path({"a": [5, 6]})
    [(('a', 0), 5), (('a', 1), 6)]
    """
    out = []
    _paths(structure, (), out)
    return out


def _mismatch(detail=""):
    msg = "The two structures don't have the same nested structure."
    return ValueError(f"{msg} {detail}".rstrip())


def map_structure(func, *structures, none_is_leaf=True):
    """Apply `func` to the leaves of `structures` (all of the same structure)
    and return the results in that structure.

    none_is_leaf: when False, `None` is an empty node (func never sees it).

    >>> map_structure(lambda a, b: a + b, [1, (2,)], [10, (20,)])
    [11, (22,)]
    """
    if not structures:
        raise ValueError("map_structure: must provide at least one structure.")
    is_leaf = _none_leaf if none_is_leaf else None
    if len(structures) == 1:
        return _in_order(structures[0], _tu.tree_map(func, structures[0], is_leaf=is_leaf))

    def checked(*args):
        if any(not _leaf_for(a, none_is_leaf) for a in args):
            raise _mismatch()
        return func(*args)

    try:
        first = structures[0]
        out = _tu.tree_map(checked, first, *[_like(first, s) for s in structures[1:]],
                           is_leaf=is_leaf)
    except (TypeError, ValueError) as e:
        if "nested structure" in str(e):
            raise
        raise _mismatch(str(e)) from e
    return _in_order(structures[0], out)


def _leaf_for(x, none_is_leaf):
    if x is None:
        return none_is_leaf
    return _is_leaf(x)


def map_structure_up_to(shallow_structure, func, *structures):
    """Like `map_structure`, but only down to the leaves of
    `shallow_structure`: `func` gets the sub-structures of `structures` found
    there.

    >>> map_structure_up_to([0, 0], len, [[1, 2], (3,)])
    [2, 1]
    """
    if not structures:
        raise ValueError("map_structure_up_to: must provide at least one structure.")

    def checked(shallow, *args):
        if shallow is None or not _is_leaf(shallow):
            raise _mismatch("(as in Keras, `shallow_structure` may not hold None)")
        return func(*args)

    try:
        out = _tu.tree_map(checked, shallow_structure,
                           *[_like(shallow_structure, s) for s in structures], is_leaf=_none_leaf)
    except (TypeError, ValueError) as e:
        if "nested structure" in str(e):
            raise
        raise _mismatch(str(e)) from e
    return _in_order(shallow_structure, out)


def assert_same_structure(a, b, check_types=None):
    """Raise ValueError unless `a` and `b` are nested the same way (same node
    types and lengths; dicts of any kind match on their keys).

    check_types: deprecated in Keras and ignored there too (a DeprecationWarning).

    >>> assert_same_structure([(0, 1)], [(2, 3)])
    """
    if check_types is not None:

        warnings.warn("assert_same_structure: `check_types` is deprecated and has no effect; "
                      "use `assert_same_paths` for a looser check.", DeprecationWarning,
                      stacklevel=2)
    map_structure(lambda *_: None, a, b)


def _path_set(structure):
    return {p for p, _ in flatten_with_path(structure)}


def assert_same_paths(a, b):
    """Raise ValueError unless `a` and `b` have the same leaf paths (lists,
    tuples and namedtuples of the same length match each other).

    >>> assert_same_paths([1, 2], (3, 4))
    """
    pa, pb = _path_set(a), _path_set(b)
    if pa != pb:
        msg = "`a` and `b` don't have the same paths."
        if pa - pb:
            msg += f"\nPaths in `a` missing in `b`:\n{pa - pb}"
        if pb - pa:
            msg += f"\nPaths in `b` missing in `a`:\n{pb - pa}"
        raise ValueError(msg)


def pack_sequence_as(structure, flat_sequence):
    """Build `structure`'s nesting with the leaves of `flat_sequence` (the
    inverse of `flatten`).

    >>> pack_sequence_as({"b": None, "a": [None]}, [1, 2])
    {'b': 2, 'a': [1]}
    """
    _, treedef = _flatten(structure)
    flat = list(flat_sequence)
    if len(flat) != treedef.num_leaves:
        raise ValueError(
            f"pack_sequence_as: the structure has {treedef.num_leaves} leaves but "
            f"`flat_sequence` has {len(flat)} elements.")
    return _in_order(structure, treedef.unflatten(flat))


def lists_to_tuples(structure):
    """Turn every list in `structure` into a tuple.

    >>> lists_to_tuples([1, [2, {"a": [3]}]])
    (1, (2, {'a': (3,)}))
    """
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure,
                    top_down=False)


def _is_shape(x):
    return isinstance(x, (list, tuple)) and all(isinstance(e, (int, type(None))) for e in x)


def map_shape_structure(func, structure):
    """Apply `func` to each shape (a list/tuple of ints and None) in `structure`.

    >>> map_shape_structure(lambda s: s[-1], {"x": (None, 3), "y": [(2, 4)]})
    {'x': 3, 'y': [4]}
    """
    is_leaf = lambda x: x is None or _is_shape(x)  # noqa: E731
    out = _tu.tree_map(func, structure, is_leaf=is_leaf)
    return _in_order(structure, out, is_leaf)
