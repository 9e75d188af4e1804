"""Rebuilding models from their structure: `clone_model` (Keras 3's
`keras.models.clone_model`) and `model_from_json` (the inverse of
`Model.to_json`).

    new_model = kerax.models.clone_model(model)          # same config, new weights
    new_model.set_weights(model.get_weights())           # ... to copy them as well
    model = kerax.models.model_from_json(model.to_json())
"""
import inspect
import json

import jax

from kerax.layers.core import Input, InputLayer
from kerax.layers.lambda_serialization import SafeModeScope
from kerax.layers.layer import KerasTensor, Layer, _is_kt
from kerax.models.functional_config import compile_config_of, serialize_model_config
from kerax.models.model import Model
from kerax.models.sequential import Sequential
from kerax.registry import CustomObjectScope, deserialize_keras_object

__all__ = ["clone_model", "model_from_json"]


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A copy of `model` with new layers, hence new (freshly initialized) weights.

    Args:
      model: a Sequential, functional or subclassed `Model`.
      input_tensors: Sequential and functional models only: the symbolic
        tensor(s) (`kerax.Input`) to build the copy on, with the structure of
        `model.input`. By default new `Input`s like the original's are made.
      clone_function: `fn(layer) -> layer`, applied once to each layer
        (a layer shared by several calls is cloned once). Default:
        `layer.__class__.from_config(layer.get_config())`. Return `layer`
        itself to share it with the original.
      call_function: functional models only: `fn(layer, *args, **kwargs)`
        replacing each layer call, e.g. to insert layers after some of them.
      recursive: also clone nested Sequential/functional models with
        `clone_model` (same `clone_function`/`call_function`) instead of
        passing them to `clone_function`.

    A subclassed model is rebuilt from `get_config()` (it must return its
    constructor's arguments); `clone_function`, `input_tensors` and
    `call_function` raise `ValueError` for it, as in Keras. A compiled model's
    copy is compiled the same way (with a new optimizer). Unlike Keras, a
    Sequential's `input_tensors` must come from `kerax.Input`.

    Example:

    >>> import kerax
    >>> model = kerax.Sequential([kerax.Input((4,)), kerax.layers.Dense(2)])
    >>> clone = kerax.models.clone_model(model)
    >>> clone.get_config() == model.get_config(), clone.weights[0] is model.weights[0]
    (True, False)
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"clone_model: unexpected keyword argument(s): {tuple(kwargs)}")
    if not isinstance(model, Model):
        raise ValueError(f"clone_model: expected a kerax Model, got {type(model).__name__}.")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(
            f"clone_model: `clone_function` must be a callable fn(layer). "
            f"Received: clone_function={clone_function!r}")
    if _is_sequential(model):
        if call_function is not None:
            raise ValueError(
                "clone_model: `call_function` is not supported with Sequential models: "
                "their layers are only listed, not called, when the model is built. Use "
                "`call_function` with functional models only. Received a model of type "
                f"{type(model).__name__!r} with call_function={call_function!r}.")
        clone = _cloner(clone_function, None, recursive, cache)
        return _clone_sequential(model, clone, input_tensors)
    if _is_functional(model):
        clone = _cloner(clone_function, call_function, recursive, cache)
        return _clone_functional(model, clone, input_tensors, call_function)
    if clone_function is not None or input_tensors is not None:
        raise ValueError(
            "clone_model: `clone_function` and `input_tensors` are only supported for "
            f"Sequential and functional models. Received a model of type "
            f"{type(model).__name__!r} with clone_function={clone_function!r} and "
            f"input_tensors={input_tensors!r}. For a subclassed model, call "
            "clone_model(model) without them.")
    if call_function is not None:
        raise ValueError(
            "clone_model: `call_function` is only supported for functional models. "
            f"Received a model of type {type(model).__name__!r} with "
            f"call_function={call_function!r}.")
    return _clone_subclassed(model)


def model_from_json(json_string, custom_objects=None):
    """The (uncompiled unless the JSON holds a compile config) model that
    `Model.to_json()` describes, with new weights.

    Nothing in the string is imported or executed: names resolve only to
    kerax/Keras built-ins, registered objects and `custom_objects`, and
    Lambda bytecode is refused, as in `load_model(..., safe_mode=True)`.

    Example:

    >>> import kerax
    >>> model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(5)])
    >>> kerax.models.model_from_json(model.to_json()).output_shape
    (None, 5)
    """
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(
            "model_from_json: `custom_objects` must be a dict {name: object}, got "
            f"{type(custom_objects).__name__}.")
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e}).") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "model_from_json: expected the JSON of a serialized model (a dict with "
            "'class_name' and 'config', as Model.to_json() writes).")
    with SafeModeScope(True), CustomObjectScope(custom_objects or {}):
        model = deserialize_keras_object(config, custom_objects=custom_objects,
                                         safe_mode=True, module="keras.models")
    if not isinstance(model, Layer):
        raise ValueError(
            f"model_from_json: the JSON describes a {type(model).__name__}, not a model.")
    return model


# ---- helpers ---------------------------------------------------------------------------
def _is_sequential(model):
    return isinstance(model, Sequential)


def _is_functional(model):
    return isinstance(model, Model) and model.__dict__.get("_graph") is not None


def _default_clone(layer):
    # The config comes from a live object of this process, not from a file:
    # a Lambda layer's function may be rebuilt (Keras clones those too).
    with SafeModeScope(False):
        return layer.__class__.from_config(layer.get_config())


def _cloner(clone_function, call_function, recursive, cache):
    """`clone_function` with a cache (a layer used twice is cloned once) and,
    when `recursive`, nested models cloned with `clone_model`."""
    clone_function = clone_function or _default_clone
    cache = {} if cache is None else cache

    def clone(layer):
        key = id(layer)
        if key in cache:
            return cache[key]
        if recursive and _is_sequential(layer):
            new = clone_model(layer, clone_function=clone_function, recursive=True,
                              cache=cache)
        elif recursive and _is_functional(layer):
            new = clone_model(layer, clone_function=clone_function,
                              call_function=call_function, recursive=True, cache=cache)
        else:
            new = clone_function(layer)
        cache[key] = new
        return new

    return clone


def _copy_compile(model, new_model):
    config = compile_config_of(model)
    if config:
        new_model.compile_from_config(config)
    return new_model


def _clone_sequential(model, clone, input_tensors):
    new_layers = [clone(layer) for layer in model.layers]
    first = model._layers[0] if model._layers else None
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(
                    "clone_model: a Sequential model's `input_tensors` must contain a "
                    f"single tensor, got {len(input_tensors)}.")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor):
            raise ValueError(
                "clone_model: `input_tensors` must be a symbolic tensor (kerax.Input). "
                f"Received invalid value: input_tensors={input_tensors!r}")
        history = input_tensors._history
        if history is None or not isinstance(history[0], InputLayer):
            raise NotImplementedError(
                "clone_model: kerax builds a cloned Sequential model only on a tensor "
                "returned by kerax.Input, not on the output of other layers; pass "
                "kerax.Input(...) or clone it as a functional model.")
        new_layers = [input_tensors] + new_layers
    elif isinstance(first, InputLayer):
        new_layers = [Input(batch_shape=first.batch_shape, dtype=first.dtype,
                            name=first.name, optional=first.optional)] + new_layers
    new_model = Sequential(new_layers, name=model.name, trainable=model.trainable)
    return _copy_compile(model, new_model)


def _same_structure(a, b):
    sa = jax.tree_util.tree_structure(a, is_leaf=_is_kt)
    sb = jax.tree_util.tree_structure(b, is_leaf=_is_kt)
    return sa == sb


def _functional_class(cls):
    """The class to build the copy with (Keras' rule): the model's own class
    when its constructor takes `(inputs, outputs, name)` or `(*args, **kwargs)`,
    otherwise a plain functional model."""
    try:
        spec = inspect.getfullargspec(cls.__init__)
    except TypeError:
        return Model
    if spec.args[1:] == ["inputs", "outputs", "name"] or (
            spec.varargs is not None and spec.varkw is not None):
        return cls
    return Model


def _clone_functional(model, clone, input_tensors, call_function):
    graph = model._graph
    if input_tensors is not None:
        leaves = jax.tree_util.tree_leaves(input_tensors, is_leaf=_is_kt)
        if not leaves or not all(isinstance(x, KerasTensor) for x in leaves):
            raise ValueError(
                "clone_model: all entries of `input_tensors` must be symbolic tensors "
                f"(kerax.Input). Received invalid values: input_tensors={input_tensors!r}")
        if not _same_structure(input_tensors, graph.inputs):
            raise ValueError(
                "clone_model: `input_tensors` must have the same structure as "
                f"model.input.\nReference structure: {graph.inputs}\n"
                f"Received structure: {input_tensors}")
    else:
        input_tensors = jax.tree_util.tree_map(
            lambda t: Input(batch_shape=t.shape, dtype=t.dtype, name=t._history[0].name),
            graph.inputs, is_leaf=_is_kt)
    env = {id(old): new for old, new in zip(
        graph.flat_inputs, jax.tree_util.tree_leaves(input_tensors, is_leaf=_is_kt))}

    def sub(x):
        return env[id(x)] if isinstance(x, KerasTensor) else x

    for node in graph.nodes:
        layer = clone(node.layer)
        args, kwargs = jax.tree_util.tree_map(sub, (node.args, node.kwargs), is_leaf=_is_kt)
        if call_function is not None:
            out = call_function(layer, *args, **kwargs)
        else:
            out = layer(*args, **kwargs)
        flat = [t for t in jax.tree_util.tree_leaves(out, is_leaf=_is_kt)]
        if len(flat) != len(node.output_tensors):
            raise ValueError(
                f"clone_model: the clone of layer {node.layer.name!r} returned {len(flat)} "
                f"output(s) where the original returned {len(node.output_tensors)}.")
        for old, new in zip(node.output_tensors, flat):
            env[id(old)] = new
    outputs = jax.tree_util.tree_map(sub, graph.outputs, is_leaf=_is_kt)
    cls = _functional_class(type(model))
    new_model = cls(input_tensors, outputs, name=model.name)
    return _copy_compile(model, new_model)


def _clone_subclassed(model):
    config = serialize_model_config(model)
    cls = type(model)
    with SafeModeScope(False):  # a live object's config, not a file's
        return deserialize_keras_object(config, custom_objects={cls.__name__: cls},
                                        safe_mode=False)
