"""`kerax.preprocessing` (Keras 3's `keras.preprocessing`): image and sequence
helpers and the dataset builders, as public names over `kerax.utils`."""
from kerax.preprocessing import image, sequence  # noqa: F401
from kerax.utils import timeseries_dataset_from_array  # noqa: F401
