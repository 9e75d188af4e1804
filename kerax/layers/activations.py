"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax (Keras 3's
`keras.layers` activation family).

Each wraps the matching function of `kerax.activations`; masks pass through.
PReLU learns its negative slope `alpha` (one weight, shared along
`shared_axes`); Softmax applies an optional `mask` as Keras does (masked
positions are left out of the normalization and output 0).
"""
import warnings

import jax.numpy as jnp
from jax.nn import logsumexp  # jax.scipy.special.logsumexp (that module loads ~3 ms more)

from kerax import activations
from kerax.layers.layer import Layer
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import register_builtin

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]


def _check_non_negative(value, layer, arg, allow_none=False):
    """`value` must be a number >= 0 (or None where allowed)."""
    if value is None and allow_none:
        return value
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
            or value < 0:
        raise ValueError(
            f"{layer}: `{arg}` must be a number >= 0"
            f"{' or None' if allow_none else ''}, got {value!r}.")
    return value


@register_builtin("keras.layers")
class ReLU(Layer):
    """`max(x, 0)`; with arguments, `max_value` for `x >= max_value`, `x` for
    `threshold < x < max_value` and `negative_slope * (x - threshold)` below.

    >>> import numpy as np
    >>> ReLU(max_value=4.0, negative_slope=0.5)(np.array([-2.0, 1.0, 9.0])).tolist()
    [-1.0, 1.0, 4.0]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        kind = f"ReLU {self.name!r}"
        self.max_value = _check_non_negative(max_value, kind, "max_value", allow_none=True)
        self.negative_slope = _check_non_negative(negative_slope, kind, "negative_slope")
        self.threshold = _check_non_negative(threshold, kind, "threshold")
        self.supports_masking = True

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update(max_value=self.max_value, negative_slope=self.negative_slope,
                      threshold=self.threshold)
        return config


@register_builtin("keras.layers")
class LeakyReLU(Layer):
    """`x` for `x >= 0`, else `negative_slope * x`. Keras 2's `alpha=` is
    accepted with a deprecation warning and means `negative_slope`.

    >>> import numpy as np
    >>> LeakyReLU(negative_slope=0.5)(np.array([-2.0, 3.0])).tolist()
    [-1.0, 3.0]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated; use `negative_slope` "
                          "instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _check_non_negative(
            negative_slope, f"LeakyReLU {self.name!r}", "negative_slope")
        self.supports_masking = True

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


@register_builtin("keras.layers")
class PReLU(Layer):
    """`x` for `x >= 0`, else `alpha * x` with a learned `alpha` of the input's
    shape without the batch axis, of size 1 along `shared_axes`.

    >>> import numpy as np
    >>> layer = PReLU(alpha_initializer="ones", shared_axes=[1])
    >>> layer(np.array([[-2.0, 3.0]])).tolist(), tuple(layer.alpha.shape)
    ([[-2.0, 3.0]], (1,))
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        set_weight_options(self, alpha=(alpha_initializer, alpha_regularizer, alpha_constraint))
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = list(shared_axes)
        else:
            self.shared_axes = [shared_axes]
        for axis in self.shared_axes or ():
            if isinstance(axis, bool) or not isinstance(axis, int) or axis < 1:
                raise ValueError(
                    f"PReLU {self.name!r}: `shared_axes` must be axes >= 1 of the inputs "
                    f"(axis 0 is the batch), got {shared_axes!r}.")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        shared = set(self.shared_axes or ())
        if shared and max(shared) >= len(input_shape):
            raise ValueError(
                f"PReLU {self.name!r}: shared_axes={self.shared_axes} out of range for "
                f"inputs of shape {input_shape}.")
        param_shape = [1 if i in shared else d for i, d in enumerate(input_shape) if i > 0]
        self.alpha = self.add_weight(
            shape=param_shape, name="alpha", initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self._input_shape = input_shape

    def call(self, inputs):
        expected = self._input_shape
        ok = inputs.ndim == len(expected) and all(
            i in (self.shared_axes or ()) or d is None or d == inputs.shape[i]
            for i, d in enumerate(expected) if i > 0)
        if not ok:
            raise ValueError(
                f"PReLU {self.name!r} was built for inputs of shape {expected}, got "
                f"{tuple(inputs.shape)}.")
        alpha = jnp.asarray(self.alpha.value, inputs.dtype)
        return jnp.maximum(inputs, 0) - alpha * jnp.maximum(-inputs, 0)

    def get_config(self):
        config = super().get_config()
        config.update(weight_options_config(self, "alpha"))
        config["shared_axes"] = self.shared_axes
        return config


@register_builtin("keras.layers")
class ELU(Layer):
    """`x` for `x > 0`, else `alpha * (exp(x) - 1)`.

    >>> import numpy as np
    >>> round(float(ELU(alpha=2.0)(np.array([-1.0]))[0]), 4)
    -1.2642
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ValueError(f"ELU {self.name!r}: `alpha` must be a number, got {alpha!r}.")
        self.alpha = alpha
        self.supports_masking = True

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


def _large_negative(dtype):
    """Fills masked logits: finite, and far below any real logit of `dtype`."""
    return -3e4 if dtype == jnp.float16 else -1e9


@register_builtin("keras.layers")
class Softmax(Layer):
    """`exp(x) / sum(exp(x))` along `axis` (an int or a list of ints). A `mask`
    (true/1 keeps; it must broadcast to the inputs without more dimensions;
    a numeric mask keeps values > 0.5) leaves the masked positions out of the
    normalization and sets them to 0 in the output.

    >>> import numpy as np
    >>> out = Softmax()(np.array([[1.0, 2.0, 3.0]]), mask=np.array([[True, True, False]]))
    >>> [round(float(v), 4) for v in out[0]]
    [0.2689, 0.7311, 0.0]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, list, tuple)) or isinstance(axis, bool) or (
                isinstance(axis, (list, tuple)) and not all(
                    isinstance(a, int) and not isinstance(a, bool) for a in axis)):
            raise ValueError(
                f"Softmax {self.name!r}: `axis` must be an int or a list of ints, got {axis!r}.")
        self.axis = axis
        self.supports_masking = True

    def _mask(self, inputs, mask):
        mask = jnp.asarray(mask)
        fits = mask.ndim <= inputs.ndim and all(
            m in (1, i) for m, i in zip(mask.shape[::-1], inputs.shape[::-1]))
        if not fits:
            raise ValueError(
                f"Softmax {self.name!r}: the mask must broadcast to the inputs (each of its "
                "dimensions 1 or the input's, and no more dimensions), got "
                f"inputs.shape={tuple(inputs.shape)}, mask.shape={tuple(mask.shape)}.")
        if mask.dtype != jnp.bool_:
            mask = mask > 0.5
        return mask

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = self._mask(inputs, mask)
            inputs = jnp.where(mask, inputs, jnp.asarray(_large_negative(inputs.dtype),
                                                         inputs.dtype))
        axis = self.axis
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, int):
            outputs = activations.softmax(inputs, axis=axis)
        else:
            outputs = jnp.exp(inputs - logsumexp(inputs, axis=tuple(axis), keepdims=True))
        outputs = outputs.astype(inputs.dtype)
        if mask is not None:
            outputs = jnp.where(mask, outputs, jnp.zeros((), outputs.dtype))
        return outputs

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
