"""Names: Keras' snake_case rule and the ONE family of uniquifying counters.

Layers, metrics, losses, optimizers and `kerax.backend.get_uid` all draw from
the same per-prefix counters (as Keras 3 does), so `reset()` (called by
`kerax.backend.clear_session`) restarts every default name.
"""
import re
import threading

__all__ = ["to_snake_case", "get_uid", "unique_name", "auto_name", "reset", "name_scope",
           "current_path"]

_COUNTS = {}
_LOCK = threading.Lock()
_SCOPES = threading.local()


def to_snake_case(name):
    """Keras' class-name rule.

    >>> to_snake_case("BatchNormalization"), to_snake_case("Conv2D"), to_snake_case("ReLU")
    ('batch_normalization', 'conv2d', 're_lu')
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def get_uid(prefix=""):
    """A per-prefix counter starting at 1.

    >>> reset(); get_uid("x"), get_uid("x"), get_uid("y")
    (1, 2, 1)
    """
    with _LOCK:
        _COUNTS[prefix] = _COUNTS.get(prefix, 0) + 1
        return _COUNTS[prefix]


def unique_name(base):
    """`base` the first time, then `base_1`, `base_2`, ...

    >>> reset(); unique_name("dense"), unique_name("dense")
    ('dense', 'dense_1')
    """
    uid = get_uid(base)
    return base if uid == 1 else f"{base}_{uid - 1}"


def auto_name(class_name):
    """The default name of an object of class `class_name`.

    >>> reset(); auto_name("Adam"), auto_name("Adam")
    ('adam', 'adam_1')
    """
    return unique_name(to_snake_case(class_name))


def reset():
    """Forget every counter (part of `clear_session`).

    >>> unique_name("conv"); reset(); unique_name("conv")
    'conv'
    'conv'
    """
    with _LOCK:
        _COUNTS.clear()


class name_scope:
    """Keras 3's `keras.name_scope`: a sub-namespace for variable paths.

    Variables created inside get `path = "<scope>/.../<name>"`; a layer opens
    a scope named after itself while it builds and calls, so a nested layer's
    weights read `outer/dense/kernel` as in Keras. `caller`/`deduplicate`
    skip re-entering the scope a caller already opened; `override_parent`
    replaces the enclosing path.

    >>> with name_scope("encoder"):
    ...     with name_scope("block"):
    ...         current_path()
    'encoder/block'
    """

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError("name_scope: argument `name` must be a string without '/', "
                             f"got name={name!r}.")
        self.name, self.caller = name, caller
        self.deduplicate, self.override_parent = deduplicate, override_parent
        self._pushed = False

    def __enter__(self):
        stack = _scope_stack()
        if (self.deduplicate and stack and self.caller is not None
                and stack[-1].caller is self.caller and stack[-1].name == self.name):
            return self
        stack.append(self)
        self._pushed = True
        return self

    def __exit__(self, *exc):
        if self._pushed:
            _scope_stack().pop()
            self._pushed = False


def _scope_stack():
    stack = getattr(_SCOPES, "stack", None)
    if stack is None:
        stack = _SCOPES.stack = []
    return stack


def current_path():
    """The '/'-joined names of the open name scopes ('' when none).

    >>> current_path()
    ''
    >>> with name_scope("a", override_parent="root"):
    ...     current_path()
    'root/a'
    """
    parts = []
    for scope in _scope_stack():
        if scope.override_parent is not None:
            parts = [p for p in scope.override_parent.split("/") if p]
        parts.append(scope.name)
    return "/".join(parts)
