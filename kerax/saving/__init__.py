"""Serialization registry and (later) .keras files."""
from kerax.saving.object_registration import (  # noqa: F401
    CustomObjectScope, custom_object_scope, deserialize_keras_object,
    get_custom_objects, get_registered_name, get_registered_object,
    register_keras_serializable, serialize_keras_object)
