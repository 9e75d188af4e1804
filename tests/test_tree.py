"""kerax.tree against keras.tree on nested structures (None a leaf, dicts in
sorted order and rebuilt in their own order, namedtuples, OrderedDict, ...)."""
import collections

import pytest

from kerax import tree as kt

NT = collections.namedtuple("NT", ["b", "a"])
STRUCTURES = [
    1, None, [], (), {}, "str",
    [1, [2, (3, None)]],
    {"b": 1, "a": [2, None], "c": {"z": 0, "y": ()}},
    NT(1, [2, 3]),
    collections.OrderedDict([("z", 1), ("a", 2)]),
    (NT(None, {"x": 1}),),
    collections.defaultdict(list, {"q": 1, "p": [2]}),
    {"a": (None, [None])},
]
PAIRS = [
    ([1, 2], (1, 2)), ([1, 2], [1, 2, 3]), ({"a": 1}, collections.OrderedDict(a=2)),
    ({"a": 1}, {"b": 1}), (NT(1, 2), (1, 2)), ([None], [[1]]), ([[1]], [None]),
    ([None], [None]), (None, 1), (1, [1]), ([1], 1),
    ({"a": 1}, collections.defaultdict(int, a=3)),
    (NT(1, 2), collections.namedtuple("NT", ["b", "a"])(1, 2)),
    ({"x": [1, {"b": 2, "a": 3}]}, {"x": [4, {"a": 5, "b": 6}]}),
]


def _outcome(fn):
    try:
        return repr(fn())
    except Exception as e:  # noqa: BLE001 - the outcome is compared with Keras'
        return type(e).__name__


def test_names_match_keras(keras):
    public = {n for n in dir(keras.tree) if not n.startswith("_")}
    assert public <= set(dir(kt))


@pytest.mark.parametrize("s", STRUCTURES, ids=repr)
def test_single_structure_functions_match_keras(keras, s):
    for name in ["flatten", "flatten_with_path", "is_nested", "lists_to_tuples"]:
        assert repr(getattr(kt, name)(s)) == repr(getattr(keras.tree, name)(s)), name
    for none_is_leaf in (True, False):
        assert repr(kt.map_structure(lambda x: (x,), s, none_is_leaf=none_is_leaf)) == \
            repr(keras.tree.map_structure(lambda x: (x,), s, none_is_leaf=none_is_leaf))
    flat = list(range(len(keras.tree.flatten(s))))
    assert repr(kt.pack_sequence_as(s, flat)) == repr(keras.tree.pack_sequence_as(s, flat))


@pytest.mark.parametrize("s", STRUCTURES, ids=repr)
def test_traverse_matches_keras(keras, s):
    def visitor(mod):
        return lambda x: ("T", x) if isinstance(x, int) else (mod.MAP_TO_NONE if x == () else None)

    for top_down in (True, False):
        assert repr(kt.traverse(visitor(kt), s, top_down=top_down)) == \
            repr(keras.tree.traverse(visitor(keras.tree), s, top_down=top_down))


@pytest.mark.parametrize("a,b", PAIRS, ids=repr)
def test_two_structure_functions_match_keras(keras, a, b):
    for name in ["assert_same_structure", "assert_same_paths"]:
        assert _outcome(lambda: getattr(kt, name)(a, b)) == \
            _outcome(lambda: getattr(keras.tree, name)(a, b)), name
    assert _outcome(lambda: kt.map_structure(lambda *x: x, a, b)) == \
        _outcome(lambda: keras.tree.map_structure(lambda *x: x, a, b))
    assert _outcome(lambda: kt.map_structure_up_to(a, lambda *x: x, b)) == \
        _outcome(lambda: keras.tree.map_structure_up_to(a, lambda *x: x, b))


def test_mismatch_error_is_clear():
    with pytest.raises(ValueError, match="same nested structure"):
        kt.assert_same_structure([1, 2], (1, 2))
    with pytest.raises(ValueError, match="2 leaves"):
        kt.pack_sequence_as([None, None], [1])


def test_map_shape_structure_matches_keras(keras):
    shapes = {"x": (None, 3), "y": [(2, 4), [1]], "z": None, "w": {"b": (1,), "a": (2,)}}
    assert repr(kt.map_shape_structure(lambda s: ("s", s), shapes)) == \
        repr(keras.tree.map_shape_structure(lambda s: ("s", s), shapes))


def test_check_types_is_deprecated_as_in_keras():
    with pytest.warns(DeprecationWarning):
        kt.assert_same_structure([1], [2], check_types=True)
