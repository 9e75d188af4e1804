"""`kerax.optimizers.get`, `serialize` and `deserialize`: optimizers from
names, config dicts and optax transformations."""
from kerax._lazy import optax  # imported on first use

from kerax.optimizers.base import OptaxOptimizer, Optimizer
from kerax.registry import (
    builtin_objects, deserialize_keras_object, get_registered_object, serialize_keras_object)

__all__ = ["get", "serialize", "deserialize"]

_MODULE = "keras.optimizers"


def serialize(optimizer):
    """An optimizer's Keras 3 config dict."""
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None, use_legacy_format=False):
    """An optimizer from its config dict (class names are case-insensitive for
    built-ins, as in Keras)."""
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        table = builtin_objects(_MODULE)
        name = config["class_name"]
        if name not in table:
            for key in table:
                if key.lower() == name.lower():
                    config = dict(config, class_name=key)
                    break
    return deserialize_keras_object(config, custom_objects=custom_objects, module=_MODULE)


def get(identifier):
    """An Optimizer from an instance, a name ("adam"), a config dict, or an
    `optax.GradientTransformation` (wrapped in an `OptaxOptimizer`)."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    if isinstance(identifier, str):
        table = builtin_objects(_MODULE)
        match = None
        for key, cls in table.items():
            if key.lower() == identifier.lower():
                match = cls
                break
        if match is None:
            match = get_registered_object(identifier)
        if match is None:
            valid = sorted({cls.__name__ for cls in table.values()}
                           | {k for k in table if k.islower()})
            raise ValueError(
                f"Unknown optimizer: {identifier!r}. Valid optimizer names are: "
                f"{', '.join(valid)}. For a custom optimizer, pass an instance or "
                "register it with `kerax.saving.register_keras_serializable()`.")
        obj = match() if isinstance(match, type) else match
    elif isinstance(identifier, dict):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if isinstance(obj, Optimizer):
        return obj
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r} (expected an "
        "Optimizer, a name such as 'adam', a config dict, or an "
        "optax.GradientTransformation).")
