"""Merging layers: combine a list of tensors (Concatenate, Add, Subtract,
Multiply, Average, Maximum, Minimum, Dot) and their functional forms
(`kerax.layers.add([a, b])`, ...)."""
import functools

import jax
import jax.numpy as jnp

from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Dot", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "dot"]


def _shapes(inputs):
    return [tuple(x) if isinstance(x, (list, tuple)) else tuple(x.shape) for x in inputs]


class _Merge(Layer):
    """Base of the elementwise merges: inputs of different ranks get axes of size 1
    inserted after the batch axis; axes of size 1 broadcast (as in Keras 3)."""

    _min_inputs = 1
    _max_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_inputs(self, inputs):
        kind = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or any(
                isinstance(x, (int, type(None))) for x in inputs):
            shape = inputs if isinstance(inputs, (list, tuple)) else getattr(inputs, "shape", None)
            raise ValueError(
                f"Layer {self.name!r} ({kind}) must be called on a list of inputs, got "
                f"a single input of shape {shape}.")
        n = len(inputs)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = (f"exactly {self._min_inputs}" if self._min_inputs == self._max_inputs
                    else f"at least {self._min_inputs}")
            raise ValueError(
                f"Layer {self.name!r} ({kind}) must be called on a list of {want} "
                f"input(s), got {n} with shapes {_shapes(inputs)}.")

    def _output_shape(self, shapes):
        out = tuple(shapes[0][1:])
        for s in shapes[1:]:
            s = tuple(s[1:])
            long_, short = (out, s) if len(out) >= len(s) else (s, out)
            tail = []
            for i, j in zip(long_[len(long_) - len(short):], short):
                if i == 1 or j == 1:
                    tail.append(j if i == 1 else i)
                elif i is None or j is None:
                    tail.append(None)
                elif i != j:
                    raise ValueError(
                        f"Layer {self.name!r} ({type(self).__name__}): inputs have "
                        f"incompatible shapes {tuple(out)} and {s} (without the batch "
                        f"axis). Received input shapes: {list(map(tuple, shapes))}.")
                else:
                    tail.append(i)
            out = long_[:len(long_) - len(short)] + tuple(tail)
        return out

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self._output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        self._check_inputs(inputs)
        self._output_shape(_shapes(inputs))
        rank = max(x.ndim for x in inputs)
        xs = [jnp.reshape(x, x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:])
              for x in inputs]
        return self._merge(xs)

    def _merge(self, inputs):
        raise NotImplementedError


@register_builtin("keras.layers")
class Add(_Merge):
    """Elementwise sum of a list of inputs."""

    def _merge(self, inputs):
        return functools.reduce(jnp.add, inputs)


@register_builtin("keras.layers")
class Subtract(_Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    _min_inputs = 2
    _max_inputs = 2

    def _merge(self, inputs):
        return inputs[0] - inputs[1]


@register_builtin("keras.layers")
class Multiply(_Merge):
    """Elementwise product of a list of inputs."""

    def _merge(self, inputs):
        return functools.reduce(jnp.multiply, inputs)


@register_builtin("keras.layers")
class Average(_Merge):
    """Elementwise mean of a list of inputs."""

    def _merge(self, inputs):
        return functools.reduce(jnp.add, inputs) / len(inputs)


@register_builtin("keras.layers")
class Maximum(_Merge):
    """Elementwise maximum of a list of inputs."""

    def _merge(self, inputs):
        return functools.reduce(jnp.maximum, inputs)


@register_builtin("keras.layers")
class Minimum(_Merge):
    """Elementwise minimum of a list of inputs."""

    def _merge(self, inputs):
        return functools.reduce(jnp.minimum, inputs)


@register_builtin("keras.layers")
class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis`; all other axes must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _output_shape(self, shapes):
        shapes = [tuple(s) for s in shapes]
        rank = len(shapes[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        ok = axis is not None and all(len(s) == rank for s in shapes)
        if ok:
            for d in range(rank):
                if d == axis:
                    continue
                known = {s[d] for s in shapes if s[d] is not None}
                ok = ok and len(known) <= 1
        if not ok:
            raise ValueError(
                f"Layer {self.name!r} (Concatenate): inputs must have the same rank and "
                f"matching shapes except along the concatenation axis {self.axis}. "
                f"Received input shapes: {shapes}.")
        sizes = [s[axis] for s in shapes]
        out = list(next((s for s in shapes), shapes[0]))
        for d in range(rank):
            if d != axis:
                out[d] = next((s[d] for s in shapes if s[d] is not None), None)
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs):
        self._check_inputs(inputs)
        self._output_shape(_shapes(inputs))
        return jnp.concatenate(list(inputs), axis=self.axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


@register_builtin("keras.layers")
class Dot(_Merge):
    """Batched dot product of two inputs along `axes` (an int, or a pair: one axis
    of each input; the batch axis 0 cannot be contracted). With `normalize=True`
    both inputs are L2-normalized along those axes first (cosine proximity).
    A result with only the batch axis left gets shape `(batch, 1)`."""

    _min_inputs = 2
    _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    f"Dot {self.name!r}: `axes` must be an int or a list of two ints, "
                    f"got {axes!r}.")
            axes = list(axes)
        elif not isinstance(axes, int):
            raise TypeError(
                f"Dot {self.name!r}: `axes` must be an int or a list of two ints, got {axes!r}.")
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = False

    def _resolve_axes(self, shapes):
        if isinstance(self.axes, int):
            axes = [self.axes, self.axes]
        else:
            axes = list(self.axes)
        return [a % len(s) if a < 0 else a for a, s in zip(axes, shapes)]

    def _output_shape(self, shapes):
        s1, s2 = (tuple(s) for s in shapes)
        a1, a2 = self._resolve_axes((s1, s2))
        if len(s1) < 2 or len(s2) < 2 or not (0 < a1 < len(s1)) or not (0 < a2 < len(s2)):
            raise ValueError(
                f"Layer {self.name!r} (Dot): axes={self.axes} must name a non-batch axis "
                f"of each input (inputs of rank >= 2). Received input shapes: {s1}, {s2}.")
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(
                f"Layer {self.name!r} (Dot): incompatible input shapes: axis values "
                f"{s1[a1]} (at axis {a1}) != {s2[a2]} (at axis {a2}). Received input "
                f"shapes: {s1}, {s2}.")
        out = s1[:1] + tuple(d for i, d in enumerate(s1) if i not in (0, a1)) \
            + tuple(d for i, d in enumerate(s2) if i not in (0, a2))
        return out if len(out) > 1 else out + (1,)

    def call(self, inputs):
        self._check_inputs(inputs)
        self._output_shape(_shapes(inputs))
        x, y = inputs
        a1, a2 = self._resolve_axes((x.shape, y.shape))
        if self.normalize:
            x = _l2_normalize(x, a1)
            y = _l2_normalize(y, a2)
        out = jax.lax.dot_general(x, y, (((a1,), (a2,)), ((0,), (0,))))
        return out[:, None] if out.ndim == 1 else out

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


def _l2_normalize(x, axis, epsilon=1e-12):
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(square_sum, epsilon))


# ---- functional forms -------------------------------------------------------------
def concatenate(inputs, axis=-1, **kwargs):
    """`Concatenate(axis)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """`Add()(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`Subtract()(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """`Multiply()(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """`Average()(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """`Maximum()(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """`Minimum()(inputs)`."""
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """`Dot(axes, normalize)(inputs)`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
