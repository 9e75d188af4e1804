"""`Operation`: Keras 3's `keras.Operation`, a stateless callable graph node.

Subclass it with `call(...)` (and optionally `compute_output_spec(...)`): on
arrays it runs `call`; on symbolic tensors (`kerax.Input`) it records a node of
the functional graph, its output spec from `compute_output_spec` (by default
inferred with `jax.eval_shape` of `call`). Its config is captured from the
constructor's arguments when they are plain values, as Keras does. Every op of `kerax.ops` applied to
symbolic tensors is recorded as an Operation too (kerax.layers.op_nodes).

In kerax an Operation is a Layer without weights, so it runs in functional
models, `fit` and saving through the one graph machinery; unlike Keras,
`isinstance(layer, Operation)` is False for a plain Layer.
"""
import inspect

from kerax.layers.layer import Layer, _auto_config_error, _capture_init_args

__all__ = ["Operation"]


class Operation(Layer):
    """A stateless op of the functional API (Keras 3's `keras.Operation`).

    >>> import numpy as np, kerax
    >>> class Scale(kerax.Operation):
    ...     def __init__(self, factor, name=None):
    ...         super().__init__(name=name)
    ...         self.factor = factor
    ...     def call(self, x):
    ...         return x * self.factor
    >>> Scale(3.0)(np.ones(2, "float32")).tolist()
    [3.0, 3.0]
    >>> y = Scale(2.0)(kerax.Input((4,)))
    >>> y.shape, Scale(2.0, name="s").get_config()
    ((None, 4), {'name': 's', 'factor': 2.0})
    """

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls, *args, **kwargs)
        d = obj.__dict__
        if d["_auto_config"] is None and not d["_auto_config_error_args"]:
            # Layer captures only for classes using its get_config; an
            # Operation's get_config always does (Keras' automatic config).
            d["_auto_config"], d["_auto_config_error_args"] = _capture_init_args(
                cls, args, kwargs)
        return obj

    def __init__(self, name=None):
        super().__init__(name=name, autocast=False)
        self._autocast_to = None  # ops compute in their inputs' dtypes

    def _convert_inputs(self, args):
        return args  # no autocast, no conversion: the op sees what it is given

    def get_build_config(self):
        return None  # an operation has no build step

    def get_config(self):
        """`{"name": ..., **constructor arguments}` (Keras' automatic config).
        Override it when the constructor takes values that cannot be
        serialized."""
        config = self.__dict__.get("_auto_config")
        if config is None:
            raise NotImplementedError(_auto_config_error(
                type(self).__name__, self.__dict__.get("_auto_config_error_args", False)))
        return {"name": self.name, **config}

    @classmethod
    def from_config(cls, config):
        """`cls(**config)` (the name is set afterwards where the constructor
        takes no `name`)."""
        config = dict(config)
        params = inspect.signature(cls.__init__).parameters
        takes_name = "name" in params or any(
            p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        name = None if takes_name else config.pop("name", None)
        try:
            obj = cls(**config)
        except TypeError as e:
            raise TypeError(
                f"{cls.__name__}.from_config could not rebuild the operation from "
                f"config {config!r} ({e}). Implement get_config()/from_config().") from e
        if name is not None:
            obj.name = name
        return obj

    def __repr__(self):
        return f"<Operation name={self.name}>"
