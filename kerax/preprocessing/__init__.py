"""`kerax.preprocessing` (Keras 3's `keras.preprocessing`): image and sequence
helpers and the dataset builders, as public names over `kerax.utils`."""
from kerax.preprocessing import image, sequence  # noqa: F401
from kerax.utils import (image_dataset_from_directory, text_dataset_from_directory,  # noqa: F401
                         timeseries_dataset_from_array)
