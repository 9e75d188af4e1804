"""String inputs in functional models: the host prefix of a graph.

JAX has no string tensors. A functional model may still take strings, as in
Keras 3::

    text = kerax.Input((1,), dtype="string")
    ids = kerax.layers.TextVectorization(output_sequence_length=8, vocabulary=vocab)(text)
    x = kerax.layers.Embedding(len(vocab) + 2, 16)(ids)
    model = kerax.Model(text, kerax.layers.Dense(1)(kerax.layers.GlobalAveragePooling1D()(x)))
    model.predict(np.array(["a text", "another one"]))

The layers that run on the host (a class flag `_host_layer = True`:
TextVectorization, StringLookup, Hashing) and are fed only by the model's
Inputs or by other host layers form the model's *host prefix* (in a
functional model, or a Sequential that starts with such an Input). On every
`model(x)`, `predict`, `predict_on_batch`, `evaluate`, `fit`,
`train_on_batch` and `test_on_batch`, the prefix runs on the host (NumPy) over
the call's whole in-memory input, then the rest of the graph (the *device
graph*: its inputs are the prefix's outputs and the other Inputs) runs as
any model does, compiled. While the device graph runs, the model is in
"device mode" (per thread), so that the compiled steps' `model(x)` calls take
the numbers the prefix produced.
"""
import contextlib
import functools
import inspect
import threading
import weakref

import jax
import numpy as np

from kerax.layers.core import InputLayer
from kerax.layers.layer import KerasTensor, _is_kt
from kerax.models.functional import Graph, build_graph

__all__ = ["of", "in_device_mode", "device_mode", "routed", "call", "HostPrefix"]

NOT_ROUTED = object()
_CACHE = weakref.WeakKeyDictionary()  # model -> (graph, HostPrefix or None)
_LOCAL = threading.local()


def _is_host(layer):
    return bool(getattr(layer, "_host_layer", False))


class HostPrefix:
    """The host nodes of a functional graph and the device graph after them."""

    def __init__(self, graph, model_name):
        self.graph = graph
        input_ids = {id(t) for t in graph.flat_inputs}
        self.host_nodes = [n for n in graph.nodes if _is_host(n.layer)]
        host_out = {id(t) for n in self.host_nodes for t in n.output_tensors}
        for node in self.host_nodes:
            for t in node.input_tensors:
                if id(t) not in input_ids and id(t) not in host_out:
                    raise ValueError(
                        f"Model {model_name!r}: layer {node.layer.name!r} "
                        f"({type(node.layer).__name__}) runs on the host (NumPy), so it must "
                        "be fed by the model's Inputs or by other host layers; it is fed by "
                        f"the output of {t._history[0].name!r}. Apply it to the data before "
                        "the model, or move it to the start of the model.")
        device_nodes = [n for n in graph.nodes if not _is_host(n.layer)]
        consumed = {id(t) for n in device_nodes for t in n.input_tensors}
        consumed |= {id(t) for t in graph.flat_outputs}
        inputs = [t for t in graph.flat_inputs if id(t) in consumed]
        inputs += [t for n in self.host_nodes for t in n.output_tensors if id(t) in consumed]
        for t in inputs:
            if t.dtype == "string":
                raise ValueError(
                    f"Model {model_name!r}: the string tensor from {t._history[0].name!r} "
                    "is an output of the model or feeds a layer that runs in JAX; strings "
                    "can only feed host layers (TextVectorization, StringLookup, Hashing).")
        self.device_inputs = inputs
        host_layers = {id(n.layer) for n in self.host_nodes}
        string_inputs = {id(t._history[0]) for t in graph.flat_inputs if t.dtype == "string"}
        layers = [layer for layer in graph.operations
                  if id(layer) not in host_layers and id(layer) not in string_inputs]
        self.device_graph = Graph(list(inputs), graph.outputs, device_nodes, layers)

    def _standardize(self, values):
        """String inputs as NumPy arrays (lists of str allowed), with the
        last axis of size 1 added where the Input has it (as Keras adds it)."""
        flat = self.graph.flat_inputs

        def adjust(v, t):
            if t.dtype != "string" or isinstance(v, KerasTensor):
                return v
            v = np.asarray(v)
            if v.ndim == len(t.shape) - 1 and t.shape and t.shape[-1] == 1:
                v = v[..., None]
            return v

        if isinstance(values, dict):
            by_name = self.graph.inputs if isinstance(self.graph.inputs, dict) else {
                t._history[0].name: t for t in flat}
            return {k: adjust(v, by_name[k]) if k in by_name else v for k, v in values.items()}
        if len(flat) == 1:
            if isinstance(values, (list, tuple)) and len(values) == 1 and hasattr(
                    values[0], "shape"):
                values = values[0]
            return adjust(values, flat[0])
        if isinstance(values, (list, tuple)) and len(values) == len(flat):
            return [adjust(v, t) for v, t in zip(values, flat)]
        return values

    def to_device(self, values):
        """The device graph's inputs (a list) for the model's inputs `values`:
        the host layers run on them here, eagerly, on NumPy."""
        env = self.graph._bind_inputs(self._standardize(values))

        def sub(x):
            return env[id(x)] if isinstance(x, KerasTensor) else x

        for node in self.host_nodes:
            args, kwargs = jax.tree_util.tree_map(sub, (node.args, node.kwargs), is_leaf=_is_kt)
            out = node.layer(*args, **kwargs)
            for t, v in zip(node.output_tensors, jax.tree_util.tree_leaves(out)):
                env[id(t)] = v
        return [env[id(t)] for t in self.device_inputs]

    def data_to_device(self, x, what):
        """`to_device` for in-memory data (arrays, lists, tuples, dicts)."""
        if x is None:
            return None
        in_memory = isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, jax.Array))
        leaves = jax.tree_util.tree_leaves(x) if in_memory else [x]
        if not all(isinstance(v, (np.ndarray, str, bytes, np.generic, jax.Array))
                   or hasattr(v, "__array__") for v in leaves):
            raise NotImplementedError(
                f"{what}: a model whose string inputs feed host layers (TextVectorization, "
                "StringLookup, Hashing) takes in-memory data (NumPy arrays, lists, dicts); "
                f"got {type(x).__name__}. For datasets or generators, apply the host layers "
                "in the input pipeline and call the model's numeric part.")
        return self.to_device(x)


def of(model):
    """The model's HostPrefix, or None when its graph has no host layers
    (built once per graph, cached). A functional model's graph, or a built
    Sequential's (from its Input to its symbolic output)."""
    graph = key = model.__dict__.get("_graph")
    if key is None:
        key = model.__dict__.get("_symbolic_output")  # a built Sequential
        if key is None:
            return None
    cached = _CACHE.get(model)
    if cached is not None and cached[0] is key:
        return cached[1]
    if graph is None:
        layers = model.__dict__.get("_layers") or []
        if layers and isinstance(layers[0], InputLayer) and any(_is_host(l) for l in layers):
            graph = build_graph(layers[0].output, key, model.name)
    prefix = None
    if graph is not None and any(_is_host(n.layer) for n in graph.nodes):
        prefix = HostPrefix(graph, model.name)
    _CACHE[model] = (key, prefix)
    return prefix


def _active():
    active = getattr(_LOCAL, "models", None)
    if active is None:
        active = _LOCAL.models = set()
    return active


def in_device_mode(model):
    """Whether this thread is running `model`'s device graph (its inputs are
    the host prefix's outputs)."""
    return id(model) in _active()


@contextlib.contextmanager
def device_mode(model):
    """Within: `model(x)` takes the device graph's inputs (this thread only)."""
    active = _active()
    entered = id(model) not in active
    active.add(id(model))
    try:
        yield
    finally:
        if entered:
            active.discard(id(model))


def call(model, args, kwargs):
    """`model(x)` on raw inputs (strings) of a model with a host prefix: the
    prefix on the host, then the model in device mode. NOT_ROUTED otherwise."""
    prefix = of(model)
    if prefix is None or not args or in_device_mode(model) or any(
            isinstance(t, KerasTensor)
            for t in jax.tree_util.tree_leaves((args, kwargs), is_leaf=_is_kt)):
        return NOT_ROUTED
    device_inputs = prefix.to_device(args[0])
    with device_mode(model):
        return model(device_inputs, *args[1:], **kwargs)


def routed(method):
    """A Trainer entry point (fit, evaluate, predict, ..._on_batch) that
    runs the host prefix on its `x` (and fit's `validation_data` inputs)
    first, then `method` in device mode."""
    signature = inspect.signature(method)
    what = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        prefix = of(self)
        if prefix is None or in_device_mode(self):
            return method(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        arguments = bound.arguments
        if "x" in arguments:
            arguments["x"] = prefix.data_to_device(arguments["x"], what)
        val = arguments.get("validation_data")
        if isinstance(val, (tuple, list)) and 2 <= len(val) <= 3:
            arguments["validation_data"] = (
                prefix.data_to_device(val[0], what + " validation_data"),) + tuple(val[1:])
        elif val is not None:
            raise NotImplementedError(
                f"{what}: with string inputs, `validation_data` must be an in-memory tuple "
                f"(x_val, y_val[, sample_weight]); got {type(val).__name__}.")
        with device_mode(self):
            return method(*bound.args, **bound.kwargs)

    return wrapper
