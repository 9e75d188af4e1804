"""RMSNormalization (Zhang & Sennrich 2019): `x * rsqrt(mean(x**2) + epsilon) * scale`."""
import jax.numpy as jnp

from kerax import ops
from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["RMSNormalization"]


@register_builtin("keras.layers")
class RMSNormalization(Layer):
    """Root-mean-square normalization over `axis` (an int or a list of ints)
    with a learned `scale` (initialised to ones) of the normalized axes' sizes.
    Computed in at least float32 and cast back, as Keras 3.

    >>> import numpy as np, kerax
    >>> layer = kerax.layers.RMSNormalization()
    >>> y = layer(np.array([[3.0, 4.0]], "float32"))
    >>> [round(float(v), 3) for v in y[0]]
    [0.849, 1.131]
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        ok = isinstance(axis, int) and not isinstance(axis, bool) or (
            isinstance(axis, (list, tuple)) and len(axis) > 0
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axis))
        if not ok:
            raise TypeError(
                f"RMSNormalization {self.name!r}: `axis` must be an int or a list of ints, "
                f"got {axis!r}.")
        self.axis = axis
        self.epsilon = epsilon

    def _check_axes(self, rank):
        axes = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        for a in axes:
            if a >= rank or a < -rank:
                raise ValueError(
                    f"Layer {self.name!r} (RMSNormalization): axis {a} is out of bounds for "
                    f"inputs of rank {rank} (axis={self.axis}).")

    def build(self, input_shape):
        self._check_axes(len(input_shape))
        if isinstance(self.axis, (list, tuple)):
            self.axis = sorted(self.axis)
            shape = tuple(input_shape[a] for a in self.axis)
        else:
            shape = (input_shape[self.axis],)
            self.axis = [self.axis]
        if any(d is None for d in shape):
            raise ValueError(
                f"Layer {self.name!r} (RMSNormalization): the normalized axes {self.axis} "
                f"must have known sizes, got input shape {tuple(input_shape)}.")
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        self.built = True

    def call(self, inputs):
        dtype = inputs.dtype
        x = inputs.astype(jnp.promote_types(dtype, jnp.float32))
        out = ops.rms_normalization(x, scale=self.scale.value.astype(x.dtype),
                                    axis=tuple(self.axis), epsilon=self.epsilon)
        return out.astype(dtype)

    def compute_output_shape(self, input_shape):
        self._check_axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "epsilon": self.epsilon})
        return config
