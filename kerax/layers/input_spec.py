"""`InputSpec`: Keras 3's description of what a layer accepts (dtype, shape,
rank bounds, fixed axis sizes), exported as `kerax.InputSpec` and
`kerax.layers.InputSpec` (one class, as in Keras)."""
from kerax.core.dtypes import standardize_dtype

__all__ = ["InputSpec"]


class InputSpec:
    """Keras' `InputSpec(dtype=None, shape=None, ndim=None, max_ndim=None,
    min_ndim=None, axes=None, allow_last_axis_squeeze=False, name=None,
    optional=False)`. A `shape` sets `ndim`; `axes` maps axis -> size.

    kerax layers do not check their inputs against `layer.input_spec`: it is
    kept and serialized only.

    >>> spec = InputSpec(ndim=3, axes={-1: 4})
    >>> spec.get_config()["ndim"], spec.axes
    (3, {-1: 4})
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else standardize_dtype(dtype, "InputSpec `dtype`")
        if shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(
                f"InputSpec: `axes` must be a dict with integer keys, got {axes!r}.") from None
        top = self.ndim if self.ndim else self.max_ndim
        if self.axes and top is not None and max(self.axes) > top - 1:
            raise ValueError(
                f"InputSpec: axis {max(self.axes)} in `axes` is greater than the largest "
                f"allowed axis {top - 1} (ndim={self.ndim}, max_ndim={self.max_ndim}).")

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape),
                                         ("ndim", self.ndim), ("max_ndim", self.max_ndim),
                                         ("min_ndim", self.min_ndim), ("axes", self.axes))
                 if v]
        return f"InputSpec({', '.join(parts)})"
