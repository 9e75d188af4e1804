"""What every application builder shares: the `weights` argument, the input
tensor, and loading Keras' published weight files (the legacy Keras 2 HDF5
layout: `layer_names`, then per layer `weight_names` and one dataset each,
matched to the model's layers with weights in order)."""
import os

import numpy as np

from kerax import backend
from kerax.applications import imagenet_utils
from kerax import layers
from kerax.layers import Input
from kerax.models import Functional
from kerax.saving import weights_store
from kerax.utils import file_utils
from kerax.utils.graph_utils import get_source_inputs

__all__ = ["get_source_inputs", "check_weights", "image_input", "finish", "load_legacy_h5"]


def check_weights(weights, include_top, classes, pretrained="imagenet"):
    """Keras' checks of `weights` and `classes`."""
    if not (weights in {pretrained, None} or
            (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), "
            f"'{pretrained}' (pre-training on ImageNet), or the path to the weights file "
            f"to be loaded.  Received: weights={weights}")
    if weights == pretrained and include_top and classes != 1000:
        raise ValueError(f"If using `weights='{pretrained}'` with `include_top=True`, "
                         f"`classes` should be 1000.  Received classes={classes}")


def image_input(input_tensor, input_shape):
    """The model's symbolic image input: `input_tensor` when it is one, else
    a new `Input(shape=input_shape)`."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not backend.is_keras_tensor(input_tensor):
        raise NotImplementedError(
            "input_tensor: kerax application models take a symbolic tensor (the output "
            f"of `kerax.Input` or a layer), not a concrete array ({type(input_tensor)}).")
    return input_tensor


def data_format():
    return backend.image_data_format()


def channel_axis():
    return 3 if backend.image_data_format() == "channels_last" else 1


def finish(img_input, input_tensor, outputs, name, weights, file_name=None,
           origin=None, file_hash=None):
    """Build the Functional model and load its weights: Keras' published file
    (through the Keras cache) for `weights="imagenet"`, or the user's file."""
    inputs = get_source_inputs(input_tensor) if input_tensor is not None else img_input
    model = Functional(inputs, outputs, name=name)
    if weights == "imagenet" and file_name is not None:
        load_weights(model, cached_weights(name, file_name, origin, file_hash))
    elif weights is not None and weights != "imagenet":
        load_weights(model, weights)
    return model


def cached_weights(model_name, file_name, origin, file_hash):
    """The path of Keras' published weights `file_name` in the Keras cache
    (`$KERAS_HOME/models`, default `~/.keras/models`), downloaded by
    `get_file` when absent; a clear error when that is impossible."""
    try:
        return file_utils.get_file(file_name, origin, cache_subdir="models",
                                   file_hash=file_hash)
    except Exception as e:  # noqa: BLE001 - offline, or a mismatching file
        where = os.path.join(file_utils._cache_root(None), "models", file_name)
        raise OSError(
            f"{model_name}: weights='imagenet' needs Keras' published weights file "
            f"{file_name} (md5 {file_hash}), which is not in the Keras cache and could not "
            f"be downloaded ({e}). Download {origin} and put it at {where} (or set "
            "KERAS_HOME to the folder holding models/).") from e


def load_weights(model, path):
    """Load weights from a legacy `.h5` file (Keras' published files) or from
    a Keras 3 `.weights.h5`/`.keras` file."""
    path = os.fspath(path)
    if path.endswith(".weights.h5") or path.endswith(".keras"):
        model.load_weights(path)
    elif path.endswith((".h5", ".hdf5")):
        load_legacy_h5(model, path)
    else:
        raise ValueError(f"{model.name}: cannot load weights from {path!r}: expected a "
                         "`.h5`/`.hdf5` (legacy Keras) or `.weights.h5` file.")


def _attr_list(group, name):
    """An HDF5 string-list attribute, possibly split into name0, name1, ..."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks, i = [], 0
        while f"{name}{i}" in group.attrs:
            chunks.append(group.attrs[f"{name}{i}"])
            i += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v)
            for chunk in chunks for v in np.atleast_1d(chunk)]


def _node(group, path, where):
    import h5py
    node = group
    for part in path.split("/"):
        if not isinstance(node, h5py.Group):
            raise ValueError(f"{where}: {path!r} is not in the file.")
        child = weights_store._hard_child(node, part)
        if child is None:
            raise ValueError(f"{where}: {path!r} is not in the file.")
        node = child
    return node


def _legacy_weights(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def load_legacy_h5(model, path):
    """Load a legacy Keras HDF5 weights file into `model` by topological
    order: the i-th layer with weights in the file goes to the i-th layer with
    weights in `model.layers`, each layer's values in trainable-then-
    non-trainable order (Keras' `load_weights` for `.h5` files)."""
    import h5py
    label = f"{model.name}: weights file {os.fspath(path)!r}"
    with weights_store.open_h5(path, label) as f:
        group = f
        if "layer_names" not in f.attrs and "model_weights" in f:
            group = _node(f, "model_weights", label)
            if not isinstance(group, h5py.Group):
                raise ValueError(f"{label}: model_weights is not a group.")
        saved = []
        for name in _attr_list(group, "layer_names"):
            layer_group = _node(group, name, label)
            weight_names = _attr_list(layer_group, "weight_names")
            if weight_names:
                saved.append((name, layer_group, weight_names))
        layers = [layer for layer in model.layers if _legacy_weights(layer)]
        if len(saved) != len(layers):
            raise ValueError(
                f"{label}: layer count mismatch: the model has {len(layers)} layers with "
                f"weights, the file has {len(saved)}. The file is for another "
                "architecture or another include_top setting.")
        assignments = []
        for k, ((name, layer_group, weight_names), layer) in enumerate(zip(saved, layers)):
            variables = _legacy_weights(layer)
            if len(weight_names) != len(variables):
                raise ValueError(
                    f"{label}: weight count mismatch for layer #{k} (named {layer.name} in "
                    f"the model, {name} in the file): the layer has {len(variables)} "
                    f"weights, the file {len(weight_names)}.")
            for var, wname in zip(variables, weight_names):
                where = f"{label} {name}/{wname}"
                ds = _node(layer_group, wname, label)
                if not isinstance(ds, h5py.Dataset) or ds.is_virtual or ds.external or \
                        ds.dtype.kind not in "biuf":
                    raise ValueError(f"{where}: expected a numeric dataset stored in the "
                                     "file.")
                value = weights_store._read(ds, where)
                if tuple(value.shape) != tuple(var.shape):
                    raise ValueError(
                        f"{where}: shape {tuple(value.shape)} does not fit layer "
                        f"{layer.name}'s weight {var.name} of shape {tuple(var.shape)}.")
                assignments.append((var, value))
    for var, value in assignments:
        var.assign(value)


# Re-exported for the builders.
obtain_input_shape = imagenet_utils.obtain_input_shape
validate_activation = imagenet_utils.validate_activation
correct_pad = imagenet_utils.correct_pad


def check_pooling(pooling):
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling: expected None, 'avg' or 'max'; received {pooling!r}.")


def head(x, include_top, pooling, classes, classifier_activation, weights,
         avg_name="avg_pool", max_name="max_pool", dropout=None):
    """Keras' usual top: global average pooling (then Dropout(`dropout`)
    named "top_dropout" when given), then the `predictions` Dense layer;
    without the top, the optional global pooling. A None name leaves the
    pooling layer auto-named, as some of Keras' builders do."""
    check_pooling(pooling)
    if include_top:
        x = layers.GlobalAveragePooling2D(name=avg_name)(x)
        if dropout:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return pool(x, pooling, avg_name, max_name)


def pool(x, pooling, avg_name=None, max_name=None):
    """The optional global pooling of a model without its top."""
    check_pooling(pooling)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x
