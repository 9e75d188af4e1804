"""Python functions inside configs (the `Lambda` layer's `function`), and the
safe-mode switch that guards turning stored bytecode back into code.

A lambda is stored in Keras 3's format,
`{"class_name": "__lambda__", "config": {"code": <base64 of marshal(code)>,
"defaults": ..., "closure": ...}}`; a named function by its registered name
(`{"module", "class_name": "function", "config": name, ...}`).

Loading a lambda executes bytecode from the file, so it is refused unless
safe mode is explicitly off for that load: `load_model(..., safe_mode=False)`,
`deserialize_function(config, safe_mode=False)` or
`with SafeModeScope(False):`. There is no process-wide switch that overrides
an explicit `safe_mode=True` (unlike Keras 3.15's
`enable_unsafe_deserialization`).
"""
import base64
import binascii
import builtins
import marshal
import sys
import threading
import types

import jax.numpy as jnp
import numpy as np

from kerax import ops
from kerax.core import config as core_config
from kerax.registry import (SafeModeError, deserialize_keras_object,
                                                serialize_keras_object)

__all__ = ["serialize_function", "deserialize_function", "SafeModeScope",
           "in_safe_mode"]

_local = threading.local()


def _stack():
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


class SafeModeScope:
    """`with SafeModeScope(False): ...` allows lambdas to be deserialized in the
    block (only the innermost scope counts; `None` inherits the outer one)."""

    def __init__(self, safe_mode=True):
        if safe_mode is not None and not isinstance(safe_mode, bool):
            raise TypeError(f"SafeModeScope: `safe_mode` must be a bool or None, got {safe_mode!r}.")
        self.safe_mode = safe_mode

    def __enter__(self):
        outer = in_safe_mode()
        _stack().append(outer if self.safe_mode is None else self.safe_mode)
        return self

    def __exit__(self, *exc):
        _stack().pop()
        return False


def in_safe_mode():
    """True unless an enclosing `SafeModeScope(False)` (or a load with
    `safe_mode=False`) turned it off. Safe by default; outside any scope
    `kerax.config.enable_unsafe_deserialization()` turns it off (an explicit
    `safe_mode=True` is a scope, so the switch never overrides it)."""
    s = _stack()
    return s[-1] if s else not core_config.unsafe_deserialization_enabled()


def _is_lambda(fn):
    return isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>"


def _json_able(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, (list, tuple)):
        return [_json_able(e) for e in x]
    if isinstance(x, dict) and all(isinstance(k, str) for k in x):
        return {k: _json_able(v) for k, v in x.items()}
    return serialize_keras_object(x)


def serialize_function(fn):
    """A JSON-able config for `fn`: Keras' `__lambda__` bytecode format for a
    lambda, the registry's function format for a named function."""
    if not callable(fn):
        raise TypeError(f"serialize_function: expected a callable, got {fn!r}.")
    if _is_lambda(fn):
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        closure = None
        if fn.__closure__:
            closure = [_json_able(c.cell_contents) for c in fn.__closure__]
        defaults = list(_json_able(d) for d in fn.__defaults__) if fn.__defaults__ else None
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": defaults, "closure": closure}}
    return serialize_keras_object(fn)


def _lambda_globals():
    # The public package, already imported: importing any kerax module runs it first.
    kerax = sys.modules["kerax"]
    # Lambdas saved by Keras commonly refer to `keras.ops` / `ops`.
    return {"__builtins__": builtins, "ops": ops, "keras": kerax, "kerax": kerax,
            "np": np, "jnp": jnp}


def _refusal(where=""):
    return SafeModeError(
        "Refusing to deserialize a Python lambda" + where + ": the config holds Python "
        "bytecode, and loading it would execute code stored in the file. This is "
        "blocked because safe_mode=True (the default). If you trust the source of "
        "this file, pass `safe_mode=False` to `load_model` (or to "
        "`deserialize_function`) to load it; otherwise rewrite the Lambda as a "
        "registered custom layer.")


def deserialize_function(config, safe_mode=None, custom_objects=None):
    """Inverse of `serialize_function`. A `__lambda__` config loads only when
    safe mode is off (`safe_mode=False`, or an enclosing
    `SafeModeScope(False)` when `safe_mode` is None)."""
    if callable(config):
        return config
    if isinstance(config, str):
        return deserialize_keras_object(
            {"module": None, "class_name": "function", "config": config,
             "registered_name": "function"}, custom_objects=custom_objects)
    if not isinstance(config, dict):
        raise ValueError(f"deserialize_function: expected a function config, got {config!r}.")
    if config.get("class_name") != "__lambda__":
        return deserialize_keras_object(config, custom_objects=custom_objects)
    if safe_mode is None:
        safe_mode = in_safe_mode()
    if safe_mode is not False:
        raise _refusal()
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("code"), str):
        raise ValueError("Malformed __lambda__ config: expected {'code': <base64 string>, ...}.")
    try:
        raw = base64.decodebytes(inner["code"].encode("ascii"))
        code = marshal.loads(raw)
    except (binascii.Error, ValueError, EOFError, TypeError, UnicodeError) as e:
        raise ValueError(
            "Could not load the Lambda's bytecode: it is corrupt or was written by a "
            f"different Python version ({e}). Re-create the Lambda in code.") from e
    if not isinstance(code, types.CodeType):
        raise ValueError("Malformed __lambda__ config: the stored object is not code.")
    defaults = inner.get("defaults")
    defaults = tuple(defaults) if defaults else None
    closure = inner.get("closure")
    cells = None
    if code.co_freevars:
        values = list(closure or [])
        if len(values) != len(code.co_freevars):
            raise ValueError("Malformed __lambda__ config: the closure does not match the code.")
        cells = tuple(types.CellType(v) for v in values)
    return types.FunctionType(code, _lambda_globals(), code.co_name, defaults, cells)

