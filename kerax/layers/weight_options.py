"""The initializer, regularizer and constraint arguments of a layer's weights
(`kernel_initializer=`, `bias_regularizer=`, ...): resolved onto the layer in
`__init__` and serialized back into its config, one way for every layer."""
from kerax import constraints, initializers, regularizers
from kerax.registry import serialize_keras_object

__all__ = ["set_weight_options", "weight_options_config"]

_KINDS = (("initializer", initializers.get, initializers.serialize),
          ("regularizer", regularizers.get, serialize_keras_object),
          ("constraint", constraints.get, serialize_keras_object))


def set_weight_options(layer, **weights):
    """`weight=(initializer, regularizer, constraint)` (or a shorter tuple) sets
    `layer.<weight>_initializer`, `_regularizer`, `_constraint` from identifiers,
    configs or objects: all the initializers first, then the regularizers, then
    the constraints (Keras' order, so the first bad argument is the one named).

    >>> from kerax.layers.layer import Layer
    >>> layer = Layer()
    >>> set_weight_options(layer, kernel=("zeros", "l2", None), bias=("ones",))
    >>> type(layer.kernel_initializer).__name__, type(layer.kernel_regularizer).__name__
    ('Zeros', 'L2')
    >>> layer.kernel_constraint is None, type(layer.bias_initializer).__name__
    (True, 'Ones')
    """
    for i, (kind, get, _) in enumerate(_KINDS):
        for weight, options in weights.items():
            if i < len(options):
                setattr(layer, f"{weight}_{kind}", get(options[i]))


def weight_options_config(layer, *weights, kinds=("initializer", "regularizer", "constraint")):
    """The serialized `<weight>_<kind>` entries of a layer's config, kind by kind
    (Keras' order). A weight is a name, or a `(config name, attribute name)` pair
    where the config name differs (DepthwiseConv's `depthwise_*` arguments are
    its `kernel_*` attributes).

    >>> from kerax.layers.layer import Layer
    >>> layer = Layer()
    >>> set_weight_options(layer, kernel=("zeros", None, None))
    >>> weight_options_config(layer, ("depthwise", "kernel"), kinds=("initializer", "constraint"))
    {'depthwise_initializer': {'module': 'keras.initializers', 'class_name': 'Zeros', 'config': {}, 'registered_name': None}, 'depthwise_constraint': None}
    """
    config = {}
    for kind, _, serialize in _KINDS:
        if kind in kinds:
            for weight in weights:
                key, attr = (weight, weight) if isinstance(weight, str) else weight
                config[f"{key}_{kind}"] = serialize(getattr(layer, f"{attr}_{kind}"))
    return config
