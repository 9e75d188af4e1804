"""kerax.saving: the object registry, `.keras` files and weights files
(Keras 3's formats), safe loading."""
from kerax.registry import (  # noqa: F401
    CustomObjectScope, SafeModeError, custom_object_scope, deserialize_keras_object,
    get_custom_objects, get_registered_name, get_registered_object,
    register_keras_serializable, serialize_keras_object)
from kerax.layers.lambda_serialization import (  # noqa: F401
    SafeModeScope, deserialize_function, in_safe_mode, serialize_function)
from kerax.saving.saving_api import (  # noqa: F401
    load_model, load_weights, save_model, save_weights)
from kerax.saving.file_editor import KerasFileEditor  # noqa: F401
