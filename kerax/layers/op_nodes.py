"""Keras ops recorded as nodes of a functional graph.

Keras 3 records an op applied to symbolic tensors (`x + 1`, `ops.not_equal(x, 0)`
for an Embedding mask, ...) as a node whose class is the op, under module
`keras.src.ops.*`. kerax records its own symbolic arithmetic the same way, so such
graphs save, load and move between kerax and Keras. Only the fixed list of ops
below is known: a file naming any other op is refused like any unknown class.
"""
import jax.numpy as jnp

from kerax.core.naming import to_snake_case, unique_name
from kerax.layers.core import OpLambda
from kerax.layers.layer import KerasTensor, Layer
from kerax.registry import register_builtin

__all__ = ["OpNode", "OP_NODES"]


class OpNode(Layer):
    """A layer that applies one fixed op to its arguments."""

    fn = None

    def call(self, *args, **kwargs):
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        return type(self).fn(*args, **kwargs)

    def get_config(self):
        return {"name": self.name}

    def get_build_config(self):
        return None  # ops have no build step (Keras' op objects have none)

    @classmethod
    def from_config(cls, config):
        return cls(name=config.get("name"))


_NUMPY_OPS = {
    "Add": jnp.add, "Subtract": jnp.subtract, "Multiply": jnp.multiply,
    "Divide": jnp.divide, "TrueDivide": jnp.true_divide, "Power": jnp.power,
    "Negative": jnp.negative, "Abs": jnp.abs, "Absolute": jnp.abs, "Square": jnp.square,
    "Sqrt": jnp.sqrt, "Exp": jnp.exp, "Log": jnp.log, "Matmul": jnp.matmul,
    "Equal": jnp.equal, "NotEqual": jnp.not_equal, "Greater": jnp.greater,
    "GreaterEqual": jnp.greater_equal, "Less": jnp.less, "LessEqual": jnp.less_equal,
    "LogicalAnd": jnp.logical_and, "LogicalOr": jnp.logical_or,
    "LogicalNot": jnp.logical_not, "Maximum": jnp.maximum, "Minimum": jnp.minimum,
    "Sum": jnp.sum, "Mean": jnp.mean, "Max": jnp.max, "Min": jnp.min,
    "Any": jnp.any, "All": jnp.all, "ExpandDims": jnp.expand_dims, "Squeeze": jnp.squeeze,
    "Transpose": jnp.transpose,
}

OP_NODES = {}
for _name, _fn in _NUMPY_OPS.items():
    _cls = type(_name, (OpNode,), {"fn": staticmethod(_fn), "__module__": __name__,
                                   "__doc__": f"The `{_fn.__name__}` op as a graph node."})
    register_builtin("keras.src.ops.numpy", name=_name)(_cls)
    OP_NODES[_name] = _cls


# ---- Python operators on symbolic tensors ------------------------------------------
# `x + 1`, `-x`, `x[:, 0]` on a KerasTensor record an op node (saved as Keras does).
_OPERATORS = {"__add__": ("Add", False), "__radd__": ("Add", True),
              "__sub__": ("Subtract", False), "__rsub__": ("Subtract", True),
              "__mul__": ("Multiply", False), "__rmul__": ("Multiply", True),
              "__truediv__": ("TrueDivide", False), "__rtruediv__": ("TrueDivide", True),
              "__pow__": ("Power", False), "__matmul__": ("Matmul", False),
              "__rmatmul__": ("Matmul", True), "__lt__": ("Less", False),
              "__le__": ("LessEqual", False), "__gt__": ("Greater", False),
              "__ge__": ("GreaterEqual", False)}


def _record(op, *args):
    return OP_NODES[op](name=unique_name(to_snake_case(op)))(*args)


def _operator(op, reflected):
    def method(self, other):
        return _record(op, other, self) if reflected else _record(op, self, other)
    return method


for _method, (_op, _reflected) in _OPERATORS.items():
    setattr(KerasTensor, _method, _operator(_op, _reflected))
KerasTensor.__neg__ = lambda self: _record("Negative", self)
KerasTensor.__abs__ = lambda self: _record("Absolute", self)
KerasTensor.__getitem__ = lambda self, key: OpLambda(
    lambda a: a[key], name=unique_name("getitem"))(self)
