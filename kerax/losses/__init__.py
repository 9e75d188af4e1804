"""kerax.losses: Keras 3's losses (`keras.losses`), as pure JAX functions.

`compile(loss=...)` accepts what `get` accepts: a name ("mse",
"sparse_categorical_crossentropy", "Huber", ...), a config dict, a `Loss`
instance, a `Loss` class, or any function `fn(y_true, y_pred)` returning
per-sample losses (returned as is).
"""

from kerax.losses.loss import (  # noqa: F401
    Loss, reduce_values, reduce_weighted_values, squeeze_or_expand_to_same_rank,
    standardize_reduction)
from kerax.losses.losses import *  # noqa: F401,F403
from kerax.losses.losses import __all__ as _losses_all
from kerax.losses.ctc import CTC, ctc  # noqa: F401
from kerax.losses.metric_learning import Circle, circle  # noqa: F401
from kerax.losses.noisy_labels import (  # noqa: F401
    CategoricalGeneralizedCrossEntropy, categorical_generalized_cross_entropy)
from kerax.losses.segmentation import Dice, Tversky, dice, tversky  # noqa: F401
from kerax.registry import (
    builtin_objects, deserialize_keras_object, get_object, serialize_keras_object)

__all__ = ["Loss", "get", "serialize", "deserialize"] + list(_losses_all)
__all__ += ["CTC", "ctc"]
__all__ += ["Dice", "Tversky", "Circle", "CategoricalGeneralizedCrossEntropy", "dice",
            "tversky", "circle", "categorical_generalized_cross_entropy"]

_MODULE = "keras.losses"


def serialize(loss):
    """The config dict of a `Loss` instance or a loss function (Keras 3's format)."""
    config = serialize_keras_object(loss)
    if type(loss) is LossFunctionWrapper and isinstance(config, dict):  # noqa: F405
        # Keras writes its (non-exported) wrapper under its source module.
        config["module"] = "keras.src.losses.losses"
        config["registered_name"] = "LossFunctionWrapper"
    return config


def deserialize(name, custom_objects=None):
    """A `Loss` instance or loss function from `serialize`'s output or a name."""
    return deserialize_keras_object(name, custom_objects=custom_objects, module=_MODULE)


def get(identifier):
    """Resolve a loss identifier: None -> None; a name or a config dict -> the
    built-in (or registered / custom-scoped) loss (class names give an instance
    with default arguments); a `Loss` class -> an instance; a `Loss` instance or
    any callable `fn(y_true, y_pred)` -> itself."""
    return get_object(identifier, _MODULE, "loss", base=Loss)


def _all_objects():
    return builtin_objects(_MODULE)
