"""kerax.quantizers: Keras 3's `keras.quantizers` (quantizers, quantization
configs and the int8/int4/float8 arithmetic `model.quantize` uses).

>>> import numpy as np
>>> from kerax import quantizers
>>> q, scale = quantizers.abs_max_quantize(np.array([0.5, -1.0], "float32"), axis=-1)
>>> q.tolist()
[63, -127]
"""
import inspect

from kerax.core.naming import to_snake_case
from kerax.quantizers.quantization_config import (AWQConfig, Float8QuantizationConfig,
                                                  GPTQConfig, Int4QuantizationConfig,
                                                  Int8QuantizationConfig, QuantizationConfig)
from kerax.quantizers.quantizers import (AbsMaxQuantizer, Quantizer, abs_max_quantize,
                                         abs_max_quantize_grouped_with_zero_point,
                                         compute_float8_amax_history, compute_float8_scale,
                                         fake_quant_with_min_max_vars, pack_int4,
                                         quantize_and_dequantize, unpack_int4)
from kerax.registry import deserialize_keras_object, serialize_keras_object

__all__ = ["AWQConfig", "AbsMaxQuantizer", "Float8QuantizationConfig", "GPTQConfig",
           "Int4QuantizationConfig", "Int8QuantizationConfig", "QuantizationConfig",
           "Quantizer", "abs_max_quantize", "abs_max_quantize_grouped_with_zero_point",
           "compute_float8_amax_history", "compute_float8_scale", "deserialize",
           "fake_quant_with_min_max_vars", "get", "pack_int4", "quantize_and_dequantize",
           "serialize", "unpack_int4"]

_OBJECTS = (Quantizer, AbsMaxQuantizer, QuantizationConfig, Int8QuantizationConfig,
            Int4QuantizationConfig, Float8QuantizationConfig, AWQConfig)
_BY_NAME = {cls.__name__: cls for cls in _OBJECTS}
_BY_NAME.update({to_snake_case(cls.__name__): cls for cls in _OBJECTS})


def serialize(initializer):
    """The Keras config dict of a quantizer or quantization config.

    >>> serialize(AbsMaxQuantizer())["class_name"]
    'AbsMaxQuantizer'
    """
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    """The quantizer (or config) a `serialize` dict describes.

    >>> deserialize(serialize(AbsMaxQuantizer(value_range=(-8, 7)))).value_range
    (-8, 7)
    """
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module="keras.quantizers")


def get(identifier, **kwargs):
    """A quantizer from an identifier: None, a config dict, a class name
    ("AbsMaxQuantizer" or "abs_max_quantizer", instantiated with `kwargs`), or
    a quantizer/callable (returned as is).

    >>> get("abs_max_quantizer").value_range
    (-127, 127)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _BY_NAME.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj(**kwargs) if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret quantizer identifier: {identifier}")
