"""The one registry that resolves every serializable name in kerax.

Three sources, looked up in this order:
  1. custom objects: `custom_objects={...}` passed to a call, then those of every
     active `custom_object_scope`;
  2. objects registered with `register_keras_serializable(package, name)`;
  3. kerax's built-ins, registered by each module under Keras 3's module name
     (`keras.layers`, `keras.activations`, ...) so `.keras` files interoperate.

Nothing here imports a module named by a config: names are only ever looked up
in these tables, so deserializing a hostile config cannot run arbitrary code.
"""
import inspect
import threading

import numpy as np

from kerax.core.naming import to_snake_case

__all__ = [
    "register_keras_serializable", "get_registered_name", "get_registered_object",
    "custom_object_scope", "CustomObjectScope", "get_custom_objects",
    "serialize_keras_object", "deserialize_keras_object", "register_builtin",
    "builtin_objects", "get_object", "SafeModeError",
]

_GLOBAL_CUSTOM_OBJECTS = {}  # registered name -> object
_GLOBAL_CUSTOM_NAMES = {}  # object -> registered name
_BUILTINS = {}  # module -> {name: object}
_BUILTIN_NAMES = {}  # id(object) -> (module, name)
_local = threading.local()


class SafeModeError(ValueError):
    """Raised when a file or config asks for something safe_mode forbids."""


def _scope_stack():
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


# ---- built-ins ------------------------------------------------------------
def register_builtin(module, name=None, aliases=()):
    """Decorator: register a kerax built-in under Keras' `module` (e.g.
    "keras.activations") and `name` (default: the object's __name__)."""

    def deco(obj):
        key = name or obj.__name__
        table = _BUILTINS.setdefault(module, {})
        table[key] = obj
        for alias in aliases:
            table[alias] = obj
        _BUILTIN_NAMES.setdefault(id(obj), (module, key))
        return obj

    return deco


def builtin_objects(module):
    """The {name: object} table of kerax built-ins for a Keras module name."""
    return dict(_BUILTINS.get(module, {}))


def builtin_name(obj):
    """(module, name) of a built-in, or None."""
    return _BUILTIN_NAMES.get(id(obj))


# ---- custom objects ---------------------------------------------------------
def register_keras_serializable(package="Custom", name=None):
    """Register a class or function under `"package>name"` so it serializes and
    loads without `custom_objects`."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(
            f"register_keras_serializable: `package` must be a string without '>', "
            f"got {package!r}.")

    def deco(obj):
        reg_name = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"register_keras_serializable: class {obj.__name__} must implement "
                "get_config() to be serializable.")
        _GLOBAL_CUSTOM_OBJECTS[reg_name] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = reg_name
        return obj

    return deco


def get_registered_name(obj):
    """The name `obj` is registered under, else its __name__."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


def get_custom_objects():
    """The global dict of registered custom objects (mutable, as in Keras)."""
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}): load_model(...)`"""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objs in custom_objects:
            if objs:
                self.custom_objects.update(objs)

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()
        return False


custom_object_scope = CustomObjectScope


def _scoped_objects(custom_objects=None):
    merged = {}
    for objs in _scope_stack():
        merged.update(objs)
    if custom_objects:
        merged.update(custom_objects)
    return merged


def get_registered_object(name, custom_objects=None, module_objects=None):
    """Resolve `name` in custom objects, then registered objects, then
    `module_objects`; None if absent."""
    scoped = _scoped_objects(custom_objects)
    if name in scoped:
        return scoped[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_object(identifier, module, kind, custom_objects=None, allow_callable=True,
               base=None):
    """The shared `get` of the per-module registries (activations.get, ...).

    None -> None; a string -> custom/registered/built-in object of `module`
    (class names are instantiated with defaults); a dict -> deserialized; a
    callable -> returned as is. With `base`, a class is instantiated with
    defaults if it subclasses `base` and refused otherwise."""
    if identifier is None:
        return None
    if base is not None and inspect.isclass(identifier):
        if issubclass(identifier, base):
            return identifier()
        # `base` is defined in kerax.<package>.<module> and exported by the package.
        public = f"kerax.{base.__module__.split('.')[1]}.{base.__name__}"
        raise ValueError(
            f"Could not interpret {kind} identifier: {identifier!r} (a class that is "
            f"not a subclass of {public}).")
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier, custom_objects=custom_objects,
                                        module=module)
    if isinstance(identifier, str):
        table = _BUILTINS.get(module, {})
        obj = get_registered_object(identifier, custom_objects, table)
        if obj is None and identifier.lower() in table:
            obj = table[identifier.lower()]
        if obj is None and to_snake_case(identifier) in table:
            obj = table[to_snake_case(identifier)]
        if obj is None:
            valid = sorted(k for k in table if not k.startswith("_"))
            raise ValueError(
                f"Unknown {kind}: {identifier!r}. Valid {kind} names are: "
                f"{', '.join(valid)}. For a custom {kind}, pass it as an object, "
                "in `custom_objects={...}`, or register it with "
                "`kerax.saving.register_keras_serializable()`.")
        if inspect.isclass(obj):
            obj = obj()
        return obj
    if allow_callable and callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret {kind} identifier: {identifier!r} (expected a "
        f"string, a dict config, a callable or None).")


def get_callable(identifier, module, kind, hint=""):
    """The shared `get` of constraints, regularizers and initializers: None ->
    None; a class -> an instance with default arguments; else `get_object`'s
    answer, which must be callable (`hint` ends the error otherwise)."""
    if identifier is None:
        return None
    obj = get_object(identifier, module, kind, base=object)
    if inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}{hint}.")
    return obj


def deserialize_object(config, module, kind, custom_objects=None):
    """The shared `deserialize` of activations, constraints, initializers and
    regularizers: a name as `get_object` resolves it, else
    `deserialize_keras_object` with `module` as the hint."""
    if isinstance(config, str):
        return get_object(config, module, kind, custom_objects)
    return deserialize_keras_object(config, custom_objects=custom_objects, module=module)


# ---- serialization ----------------------------------------------------------
def _is_primitive(x):
    return x is None or isinstance(x, (bool, int, float, str))


def serialize_keras_object(obj):
    """A JSON-able dict that `deserialize_keras_object` turns back into `obj`,
    in Keras 3's format ({"module", "class_name", "config", "registered_name"})."""
    if _is_primitive(obj):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not hasattr(obj, "get_config"):
        return {"class_name": "__numpy__", "config": {
            "value": np.asarray(obj).tolist(), "dtype": str(np.asarray(obj).dtype)}}
    builtin = builtin_name(obj)
    if inspect.isfunction(obj) or inspect.isbuiltin(obj) or (
            callable(obj) and not hasattr(obj, "get_config") and not inspect.isclass(obj)):
        if builtin is not None:
            # Keras 3 writes its built-in functions under module "builtins".
            return {"module": "builtins", "class_name": "function",
                    "config": builtin[1], "registered_name": "function"}
        reg = _GLOBAL_CUSTOM_NAMES.get(obj)
        return {"module": getattr(obj, "__module__", None), "class_name": "function",
                "config": reg or getattr(obj, "__name__", repr(obj)),
                "registered_name": "function"}
    if inspect.isclass(obj):
        raise TypeError(f"Cannot serialize a class ({obj!r}); serialize an instance.")
    if not hasattr(obj, "get_config"):
        raise TypeError(
            f"Cannot serialize {obj!r}: it has no get_config(). Implement get_config() "
            "(and register the class with kerax.saving.register_keras_serializable).")
    cls = type(obj)
    config = obj.get_config()
    config = {k: serialize_keras_object(v) if not _is_primitive(v) else v
              for k, v in config.items()} if isinstance(config, dict) else config
    cls_builtin = builtin_name(cls)
    if cls_builtin is not None:
        out = {"module": cls_builtin[0], "class_name": cls_builtin[1],
               "config": config, "registered_name": None}
    else:
        out = {"module": cls.__module__, "class_name": cls.__name__, "config": config,
               "registered_name": _GLOBAL_CUSTOM_NAMES.get(cls, cls.__name__)}
    if hasattr(obj, "get_build_config"):
        build_config = obj.get_build_config()
        if build_config is not None:
            out["build_config"] = build_config
    if hasattr(obj, "get_compile_config"):
        compile_config = obj.get_compile_config()
        if compile_config is not None:
            out["compile_config"] = serialize_keras_object(compile_config)
    return out


def _how_to_supply(name):
    short = name.split(">")[-1]
    return (f"If it is yours, pass it as `custom_objects={{{short!r}: {short}}}` (or load "
            "inside `with kerax.saving.custom_object_scope({...}):`), or decorate it with "
            "`@kerax.saving.register_keras_serializable()`.")


def _unknown(name, module):
    return ValueError(
        f"Could not locate {('class' if module != 'function' else 'function')} "
        f"{name!r}. Make sure custom classes and functions are passed in "
        f"`custom_objects={{{name.split('>')[-1]!r}: {name.split('>')[-1]}}}` "
        "(or used inside `with kerax.saving.custom_object_scope({...}):`), or "
        "decorated with `@kerax.saving.register_keras_serializable()`.")


_BUILTIN_FUNCTION_MODULES = tuple(f"keras.{m}" for m in (
    "activations", "constraints", "initializers", "losses", "metrics",
    "optimizers", "regularizers",
    # kerax.metrics' functions (binary_accuracy, ...): Keras' "keras.metrics"
    # names map to the metric classes, so the functions have their own table.
    "metrics.functions"))


def _is_trusted_module(module):
    return module is None or module == "builtins.NoneType" or any(
        module == p or module.startswith(p + ".") for p in ("keras", "kerax"))


def _builtin_tables(module, module_hint):
    """The built-in tables a config names: its `module` (a "kerax..." module
    read as Keras' "keras..."), then `module_hint`."""
    mods = []
    if module:
        mods.append("keras" + module[5:] if module.startswith("kerax") else module)
    if module_hint:
        mods.append(module_hint)
    return [_BUILTINS.get(mod, {}) for mod in mods]


def _not_found(what, name, module, kind):
    """The error for a config naming nothing loadable: a SafeModeError where it
    names a module outside kerax/keras, else "Could not locate"."""
    if module is not None and not _is_trusted_module(module):
        return SafeModeError(
            f"Refusing to load {what} from module {module!r}: only kerax/keras built-ins "
            "and objects you register or pass in custom_objects can be loaded; nothing is "
            "imported from a file. " + _how_to_supply(name))
    return _unknown(name, kind)


def _resolve(config, custom_objects, module_hint):
    class_name = config.get("class_name")
    module = config.get("module")
    registered_name = config.get("registered_name")
    if class_name == "function":
        name = config.get("config")
        if not isinstance(name, str):
            raise ValueError(f"Malformed function config: {config!r}.")
        obj = get_registered_object(name, custom_objects)
        if obj is None and registered_name not in (None, "function"):
            obj = get_registered_object(registered_name, custom_objects)
        if obj is None:
            for table in _builtin_tables(module, module_hint):
                # A "function" config names a function, never a class.
                if name in table and not inspect.isclass(table[name]):
                    obj = table[name]
                    break
        if obj is None and module == "builtins":
            # Keras' format for its built-in functions: search the built-in
            # function tables of the modules Keras searches.
            for mod in _BUILTIN_FUNCTION_MODULES:
                obj = _BUILTINS.get(mod, {}).get(name)
                if obj is not None and not inspect.isclass(obj):
                    break
                obj = None
        if obj is None:
            raise _not_found(f"function {name!r}", name, module, "function")
        return obj, None
    if not isinstance(class_name, str):
        raise ValueError(f"Malformed object config (no 'class_name'): {config!r}.")
    obj = None
    for key in (registered_name, class_name):
        if key:
            obj = get_registered_object(key, custom_objects)
            if obj is not None:
                break
    if obj is None:
        for table in _builtin_tables(module, module_hint):
            if class_name in table:
                obj = table[class_name]
                break
        if obj is None and module is not None and _is_trusted_module(module):
            # Keras writes some objects under their defining submodule
            # (e.g. "keras.src.models.functional"): search every built-in table.
            for table in _BUILTINS.values():
                if class_name in table and inspect.isclass(table[class_name]):
                    obj = table[class_name]
                    break
    if obj is None:
        raise _not_found(repr(class_name), registered_name or class_name, module, "class")
    return obj, config.get("config")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True,
                             module=None, **kwargs):
    """Inverse of `serialize_keras_object`; looks names up only in the registry."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        if module is not None:
            return get_object(config, module, "object", custom_objects)
        obj = get_registered_object(config, custom_objects)
        if obj is None:
            raise _unknown(config, "class")
        return obj
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(c, custom_objects, safe_mode, module) for c in config]
    if not isinstance(config, dict):
        raise ValueError(f"Cannot deserialize {config!r}: expected a dict config.")
    if config.get("class_name") == "__numpy__":
        import numpy as np
        inner = config.get("config") or {}
        return np.asarray(inner.get("value"), dtype=inner.get("dtype"))
    if config.get("class_name") == "__lambda__":
        raise SafeModeError(
            "Refusing to deserialize a Python lambda: it would execute code stored "
            "in the file. Pass safe_mode=False only for files you trust.")
    if "class_name" not in config:
        return config
    obj, inner = _resolve(config, _scoped_objects(custom_objects), module)
    if inner is None and config.get("class_name") == "function":
        return obj
    if inspect.isclass(obj):
        with CustomObjectScope(custom_objects or {}):
            inner = dict(inner or {})
            if hasattr(obj, "from_config"):
                instance = obj.from_config(inner)
            else:
                instance = obj(**inner)
            build_config = config.get("build_config")
            if build_config and hasattr(instance, "build_from_config"):
                instance.build_from_config(build_config)
            compile_config = config.get("compile_config")
            if compile_config and hasattr(instance, "compile_from_config"):
                instance.compile_from_config(compile_config)
        return instance
    return obj
