"""Keras 3's config format for functional models, both ways.

A functional config is `{"name", "trainable", "layers", "input_layers",
"output_layers"}`. Each layer entry is the layer's serialized config plus its
`name` and `inbound_nodes`: one `{"args": [...], "kwargs": {...}}` per call of
the layer *inside this model*, where tensors are written as
`{"class_name": "__keras_tensor__", "config": {"shape", "dtype",
"keras_history": [layer_name, node_index, tensor_index]}}`. Node indices count
only the calls that belong to the model (a layer shared with another model
keeps its own numbering here). `input_layers` / `output_layers` follow the
nesting of the model's inputs / outputs (a single tensor is a bare triple).

Loading rebuilds every layer from its config, then replays the recorded calls
in dependency order on fresh symbolic tensors.
"""
import inspect

import jax

from kerax.layers.core import InputLayer
from kerax.layers.layer import KerasTensor, Layer, _is_kt
from kerax.layers.op_nodes import OpNode
from kerax.registry import deserialize_keras_object, serialize_keras_object
from kerax.trainers.trainer import Trainer

__all__ = ["functional_config", "functional_from_config", "serialize_model_config"]


# ---- serialization -------------------------------------------------------------------
def _is_model(obj):
    return isinstance(obj, Trainer) and isinstance(obj, Layer)


def _is_functional(obj):
    return _is_model(obj) and obj.__dict__.get("_graph") is not None


def _is_sequential(obj):
    return getattr(type(obj), "_kerax_sequential", False)


def compile_config_of(model):
    """The compile configuration as Keras 3 writes it: the optimizer object's
    full config (so its hyperparameters and state round-trip), losses and
    metrics as given (built-in names stay strings)."""
    if not getattr(model, "compiled", False):
        return None
    raw = model.__dict__.get("_compile_config")
    if raw is None:
        return None
    out = {}
    for key in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                "run_eagerly", "steps_per_execution", "jit_compile"):
        value = raw.get(key)
        if key == "optimizer":
            value = getattr(model, "optimizer", None)
        if key == "jit_compile" and value == "auto":
            value = True
        out[key] = serialize_keras_object(value)
    return out


def _normalize(entry, obj):
    """Keras' spelling of model entries (module names, compile config)."""
    if _is_sequential(obj):
        entry["module"] = "keras"
        entry["class_name"] = "Sequential"
        entry["registered_name"] = None
    elif _is_functional(obj) and type(obj).__name__ == "Functional":
        entry["module"] = "keras.src.models.functional"
        entry["class_name"] = "Functional"
        entry["registered_name"] = "Functional"
        entry["build_config"] = {"input_shape": None}
    if _is_model(obj):
        cc = compile_config_of(obj)
        if cc is not None:
            entry["compile_config"] = cc
        else:
            entry.pop("compile_config", None)
    return entry


def _check_rebuildable(obj, config):
    """A subclassed model is re-created as `cls(**config)`: its constructor's
    required arguments must be in its config (Keras' get_config contract)."""
    if not _is_model(obj) or _is_functional(obj) or _is_sequential(obj):
        return
    for klass in type(obj).__mro__:
        if "_kerax_base_class" in vars(klass):
            break
        if "from_config" in klass.__dict__:
            return  # a custom from_config decides how to rebuild
    params = inspect.signature(type(obj).__init__).parameters
    missing = [p for name, p in params.items() if name != "self"
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and p.default is inspect.Parameter.empty and name not in (config or {})]
    if missing:
        raise NotImplementedError(
            f"Model {type(obj).__name__} cannot be saved: its constructor needs "
            f"{[p.name for p in missing]}, which its get_config() does not return. "
            "Implement get_config() returning them (merged with super().get_config()), "
            "and from_config() if they are not plain values.")


def serialize_model_config(obj):
    """`serialize_keras_object(obj)` with Keras 3's spelling for models."""
    entry = serialize_keras_object(obj)
    if isinstance(entry, dict):
        _check_rebuildable(obj, entry.get("config"))
        _fix_nested(entry.get("config"))
    if isinstance(entry, dict):
        _normalize(entry, obj)
    return entry


def _fix_nested(config):
    """Nested Sequential entries written by the registry use "keras.models";
    Keras 3 writes "keras" (both load in Keras)."""
    if isinstance(config, dict):
        if config.get("class_name") == "Sequential" and config.get("module") == "keras.models":
            config["module"] = "keras"
        if config.get("class_name") == "Functional" and config.get("module") in (
                "keras", "keras.models"):
            config["module"] = "keras.src.models.functional"
            config["registered_name"] = "Functional"
        for v in config.values():
            _fix_nested(v)
    elif isinstance(config, list):
        for v in config:
            _fix_nested(v)
    return config


def functional_config(model):
    """`Model.get_config()` of a functional model, in Keras 3's format."""
    graph = model._graph
    node_ids = {id(n) for n in graph.nodes}
    remap = {}  # id(layer) -> {old node index: new node index}

    def node_map(layer):
        m = remap.get(id(layer))
        if m is None:
            if isinstance(layer, InputLayer):
                m = {0: 0}
            else:
                kept = [i for i, n in enumerate(layer._inbound_nodes)
                        if n is not None and id(n) in node_ids]
                m = {old: new for new, old in enumerate(kept)}
            remap[id(layer)] = m
        return m

    def tensor_ref(t):
        layer, node_index, tensor_index = t._history
        return [layer.name, node_map(layer)[node_index], tensor_index]

    def ser_value(x):
        if isinstance(x, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(x.shape), "dtype": x.dtype,
                               "keras_history": tensor_ref(x)}}
        if isinstance(x, slice):  # `x[:, 2:-2]` (Keras' spelling of a slice)
            return {"class_name": "__slice__", "config": {
                "start": ser_value(x.start), "stop": ser_value(x.stop),
                "step": ser_value(x.step)}}
        if x is Ellipsis:
            return {"class_name": "__ellipsis__", "config": {}}
        if isinstance(x, (list, tuple)):
            return [ser_value(e) for e in x]
        if isinstance(x, dict):
            return {k: ser_value(v) for k, v in x.items()}
        return serialize_keras_object(x)

    layers = []
    for layer in graph.operations:
        entry = serialize_model_config(layer)
        entry["name"] = layer.name
        if isinstance(layer, OpNode):
            entry["registered_name"] = entry["class_name"]  # as Keras writes its ops
            for n in layer._inbound_nodes:
                if n is not None and id(n) in node_ids:
                    layer.check_saveable((n.args, n.kwargs))
        nodes = []
        if not isinstance(layer, InputLayer):
            for n in layer._inbound_nodes:
                if n is not None and id(n) in node_ids:
                    nodes.append({"args": ser_value(list(n.args)),
                                  "kwargs": ser_value(dict(n.kwargs))})
        entry["inbound_nodes"] = nodes
        layers.append(entry)

    def structure(x):
        if isinstance(x, KerasTensor):
            return tensor_ref(x)
        if isinstance(x, dict):
            return {k: structure(v) for k, v in x.items()}
        return [structure(e) for e in x]

    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": structure(graph.inputs),
              "output_layers": structure(graph.outputs)}
    return _fix_nested(config)


# ---- deserialization -----------------------------------------------------------------
def _is_ref(x):
    return (isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)
            and isinstance(x[1], int) and isinstance(x[2], int)
            and not isinstance(x[1], bool) and not isinstance(x[2], bool))


def _check_name(name, what="layer"):
    if not isinstance(name, str) or not name or len(name) > 1024 or "\x00" in name \
            or "/" in name or "\\" in name:
        raise ValueError(f"Malformed functional config: invalid {what} name {name!r}.")
    return name


def functional_from_config(cls, config, custom_objects=None):
    """`Model.from_config` for a functional config (Keras 3's format)."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("Malformed functional config: expected a dict with a 'layers' list.")
    created = {}
    order = []
    pending = {}
    outputs_of = {}  # (layer name, node index) -> flat output tensors
    calls = {}
    for entry in config["layers"]:
        if not isinstance(entry, dict):
            raise ValueError(f"Malformed functional config: layer entry {entry!r} is not a dict.")
        name = entry.get("name")
        if name is None and isinstance(entry.get("config"), dict):
            name = entry["config"].get("name")
        _check_name(name)
        if name in created:
            raise ValueError(f"Malformed functional config: two layers are named {name!r}.")
        layer_config = {k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")}
        layer = deserialize_keras_object(layer_config, custom_objects=custom_objects,
                                         module="keras.layers")
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Malformed functional config: entry {name!r} did not produce a layer "
                f"(got {type(layer).__name__}).")
        created[name] = layer
        order.append(name)
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"Malformed functional config: inbound_nodes of {name!r}.")
        calls[name] = 0
        if isinstance(layer, InputLayer):
            outputs_of[(name, 0)] = [layer.output]
            calls[name] = 1
        else:
            pending[name] = list(nodes)

    class _NotReady(Exception):
        pass

    def resolve(x):
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            hist = (x.get("config") or {}).get("keras_history")
            if not _is_ref(hist):
                raise ValueError(f"Malformed functional config: bad keras_history {hist!r}.")
            key = (hist[0], hist[1])
            if hist[0] not in created:
                raise ValueError(
                    f"Malformed functional config: a node refers to unknown layer {hist[0]!r}.")
            if key not in outputs_of:
                raise _NotReady()
            outs = outputs_of[key]
            if not 0 <= hist[2] < len(outs):
                raise ValueError(
                    f"Malformed functional config: layer {hist[0]!r} has no output "
                    f"{hist[2]}.")
            return outs[hist[2]]
        if isinstance(x, list):
            return [resolve(e) for e in x]
        if isinstance(x, dict) and x.get("class_name") == "__slice__":
            inner = x.get("config")
            if not isinstance(inner, dict) or set(inner) - {"start", "stop", "step"}:
                raise ValueError(f"Malformed functional config: bad slice {x!r}.")
            return slice(*(resolve(inner.get(k)) for k in ("start", "stop", "step")))
        if isinstance(x, dict) and x.get("class_name") == "__ellipsis__":
            return Ellipsis
        if isinstance(x, dict):
            if "class_name" in x:
                return deserialize_keras_object(x, custom_objects=custom_objects)
            return {k: resolve(v) for k, v in x.items()}
        return x

    while any(pending.values()):
        progress = False
        for name in order:
            queue = pending.get(name)
            while queue:
                node = queue[0]
                if not isinstance(node, dict):
                    raise ValueError(f"Malformed functional config: node {node!r} of {name!r}.")
                try:
                    args = resolve(node.get("args") or [])
                    kwargs = resolve(node.get("kwargs") or {})
                except _NotReady:
                    break
                if not isinstance(args, list) or not isinstance(kwargs, dict):
                    raise ValueError(f"Malformed functional config: node of {name!r}.")
                kwargs = {k: v for k, v in kwargs.items() if not (k == "mask" and v is None)}
                out = created[name](*args, **kwargs)
                flat = jax.tree_util.tree_leaves(out, is_leaf=_is_kt)
                outputs_of[(name, calls[name])] = flat
                calls[name] += 1
                queue.pop(0)
                progress = True
        if not progress:
            stuck = sorted(n for n, q in pending.items() if q)
            raise ValueError(
                "Malformed functional config: the calls of layers "
                f"{stuck} refer to tensors that no layer produces.")

    def structure(x, what):
        if _is_ref(x):
            if (x[0], x[1]) not in outputs_of:
                raise ValueError(f"Malformed functional config: {what} refers to unknown "
                                 f"tensor {x!r}.")
            outs = outputs_of[(x[0], x[1])]
            if not 0 <= x[2] < len(outs):
                raise ValueError(f"Malformed functional config: {what} {x!r}.")
            return outs[x[2]]
        if isinstance(x, dict):
            return {k: structure(v, what) for k, v in x.items()}
        if isinstance(x, list):
            return [structure(e, what) for e in x]
        raise ValueError(f"Malformed functional config: {what} {x!r}.")

    inputs = structure(config.get("input_layers"), "input_layers")
    outputs = structure(config.get("output_layers"), "output_layers")
    name = config.get("name")
    if name is not None:
        _check_name(name, "model")
    model = cls(inputs=inputs, outputs=outputs, name=name)
    if config.get("trainable") is False:
        model.trainable = False
    return model
