"""Global settings (`kerax.config`): default float dtype, epsilon, image data
format, dtype promotion. The state lives in `kerax.core.config`."""
from kerax.core.config import (backend, dtype_promotion, epsilon, floatx,  # noqa: F401
                               get_dtype_promotion, image_data_format, set_dtype_promotion,
                               set_epsilon, set_floatx, set_image_data_format)
