"""`kerax.layers.serialize` / `kerax.layers.deserialize` (Keras 3's functions):
a layer to and from its `{"module", "class_name", "config", ...}` dict."""
from kerax.layers.layer import Layer
from kerax.registry import deserialize_keras_object, serialize_keras_object

__all__ = ["serialize", "deserialize"]


def serialize(layer):
    """The layer's configuration as a JSON-able dict (Keras 3's format).

    >>> import kerax
    >>> config = kerax.layers.serialize(kerax.layers.Dense(2, name="d"))
    >>> config["class_name"], config["config"]["units"]
    ('Dense', 2)
    """
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A layer from a dict made by `serialize` (or by Keras'); `custom_objects`
    maps names to your own classes. A config that is not a layer's raises.

    >>> import kerax
    >>> layer = kerax.layers.deserialize(kerax.layers.serialize(kerax.layers.Dense(2)))
    >>> type(layer).__name__, layer.units
    ('Dense', 2)
    """
    obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                   module="keras.layers")
    if not isinstance(obj, Layer):
        raise ValueError(
            "kerax.layers.deserialize was passed a `config` that is not a layer's "
            f"(it gives {type(obj).__name__}, expected a kerax.layers.Layer). "
            f"Received: {config!r}")
    return obj
