"""Names: Keras' snake_case rule and the ONE family of uniquifying counters.

Layers, metrics, losses, optimizers and `kerax.backend.get_uid` all draw from
the same per-prefix counters (as Keras 3 does), so `reset()` (called by
`kerax.backend.clear_session`) restarts every default name.
"""
import re
import threading

__all__ = ["to_snake_case", "get_uid", "unique_name", "auto_name", "reset"]

_COUNTS = {}
_LOCK = threading.Lock()


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
