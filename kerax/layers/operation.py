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

from kerax.layers.layer import Layer

__all__ = ["Operation"]


def _serializable(value):
    """Keras' rule for an automatic config: plain values (str, int, float,
    bool, None) in lists, tuples and dicts."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_serializable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _serializable(v) for k, v in value.items())
    return False


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
        # Keras' automatic config: the constructor's arguments, defaults included.
        config = None
        try:
            bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
        except TypeError:
            bound = None
        if bound is not None:
            bound.apply_defaults()
            params = inspect.signature(cls.__init__).parameters
            config = {}
            for i, (key, value) in enumerate(bound.arguments.items()):
                kind = params[key].kind
                if i == 0 or kind == inspect.Parameter.VAR_POSITIONAL:
                    if kind == inspect.Parameter.VAR_POSITIONAL and value:
                        config = None  # positional *args cannot be given back by name
                        break
                    continue
                if kind == inspect.Parameter.VAR_KEYWORD:
                    config.update(value)
                else:
                    config[key] = value
        obj.__dict__["_auto_config"] = config
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
        bad = None if config is None else [k for k, v in config.items() if not _serializable(v)]
        if config is None or bad:
            what = f"arguments {bad} that cannot be serialized" if bad else \
                "arguments that cannot be captured"
            raise NotImplementedError(
                f"Operation {type(self).__name__} was created with {what}; implement "
                "get_config() (and from_config() for values that are not plain) to save it.")
        out = {"name": self.name}
        out.update({k: v for k, v in config.items() if k != "name"})
        return out

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
