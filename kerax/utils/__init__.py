"""Utilities (Keras 3's `keras.utils`): the public facade over helpers that
live at their own level of kerax (kerax.io, kerax.registry, kerax.backend, ...)."""
from kerax.backend import clear_session, is_keras_tensor, standardize_dtype  # noqa: F401
from kerax.io.io_utils import (disable_interactive_logging,  # noqa: F401
                               enable_interactive_logging, is_interactive_logging_enabled)
from kerax.io.progbar import Progbar  # noqa: F401
from kerax.io.py_dataset import PyDataset  # noqa: F401
from kerax.random import set_random_seed  # noqa: F401
from kerax.registry import (CustomObjectScope, custom_object_scope,  # noqa: F401
                            deserialize_keras_object, get_custom_objects, get_registered_name,
                            get_registered_object, register_keras_serializable,
                            serialize_keras_object)
from kerax.utils import io_utils  # noqa: F401
from kerax.utils.config import Config  # noqa: F401
from kerax.utils.file_utils import get_file  # noqa: F401
from kerax.utils.dataset_loaders import (audio_dataset_from_directory,  # noqa: F401
                                         image_dataset_from_directory,
                                         text_dataset_from_directory)
from kerax.utils.dataset_utils import (pack_x_y_sample_weight, split_dataset,  # noqa: F401
                                       timeseries_dataset_from_array, unpack_x_y_sample_weight)
from kerax.utils.image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: F401
from kerax.utils.model_visualization import model_to_dot, plot_model  # noqa: F401
from kerax.utils.graph_utils import get_source_inputs  # noqa: F401
from kerax.utils.numerical_utils import normalize, to_categorical  # noqa: F401
from kerax.utils.sequence_utils import pad_sequences  # noqa: F401
from kerax.utils.feature_space import FeatureSpace  # noqa: F401

Sequence = PyDataset  # Keras 3 keeps the Keras-2 name as an alias
from kerax.utils import bounding_boxes  # noqa: F401,E402
