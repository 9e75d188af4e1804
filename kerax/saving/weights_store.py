"""Model weights in Keras 3's HDF5 layout (`model.weights.h5`, `*.weights.h5`).

Paths come from attribute names, never from layer names (see Keras 3's
`saving_lib`): the root's own variables are at `/vars`; a child reached
through attribute `a` is at `/a/...`; a Sequential's or functional model's
`layers` list is visited first; items of lists and dicts are named after
their snake_case class (`dense`, `dense_1`, ...; nested lists `container`);
attributes are visited in sorted order with private (`_x`) ones last, each
object once. Every object's own variables (trainable, then non-trainable, in
creation order) are the datasets `"0"`, `"1"`, ... of `<path>/vars`, whose
attribute `name` is the object's name. Seed-generator state and metric
variables are not stored. The optimizer is a child of the model at
`optimizer` (see `optimizer_layout`).

Reading is defensive: only paths computed from the *model* are opened, only
hard-linked datasets stored inside the file are read (no external links,
external raw storage or virtual datasets, which could read other local
files), and every dataset's declared shape and dtype are checked against the
model's variable before any data is read (so a tiny file cannot declare a
huge array). Everything is validated before the first variable is assigned.
"""
import io
import math
import warnings

import numpy as np

from kerax.core import tracking
from kerax.core.naming import to_snake_case
from kerax.layers.layer import Layer, _keras_order
from kerax.optimizers.base import Optimizer
from kerax.saving import keras_file, optimizer_layout

__all__ = ["iter_saveables", "write_weights", "read_weights", "open_h5"]


def _name_key(name):
    return "~" + name if name.startswith("_") else name


def _is_saveable(obj):
    return isinstance(obj, (Layer, Optimizer))


def _is_container(obj):
    return isinstance(obj, (list, tuple, dict))


def _user_properties(obj):
    """Properties of the object's classes below the kerax base classes (Keras'
    `dir()` walk sees properties, e.g. MultiHeadAttention.query_dense)."""
    out = {}
    for klass in type(obj).__mro__:
        if klass is object or "_kerax_base_class" in vars(klass):
            continue  # kerax's Layer/Model/Trainer bookkeeping properties
        for k, v in vars(klass).items():
            if isinstance(v, property) and not k.startswith("__") and k not in out:
                out[k] = v
    return out


def _children(obj):
    if isinstance(obj, Optimizer):
        # a MultiOptimizer's inner optimizers: its children at `optimizers`, as Keras' walk
        inner = getattr(obj, "optimizers", None) if hasattr(type(obj), "optimizers") else None
        return [("optimizers", inner)] if isinstance(inner, list) else []
    first = []
    attrs = {}
    is_model = _is_model(obj)
    graph_like = is_model and (obj.__dict__.get("_graph") is not None or _is_sequential(obj))
    if graph_like:
        first.append(("layers", obj.layers))
    for k, v in tracking.attributes(obj):
        if k == "_layers":
            continue  # a model's layers are visited as `layers`, as Keras' walk does
        if _is_saveable(v) or _is_container(v):
            attrs[k] = v
    for k in _user_properties(obj):
        if k in attrs or (k == "layers" and is_model):
            continue
        try:
            v = getattr(obj, k)
        except Exception:  # noqa: BLE001 - as Keras: a failing property is skipped
            continue
        if _is_saveable(v) or _is_container(v):
            attrs[k] = v
    if is_model:
        if not graph_like:
            attrs["layers"] = obj.layers
        opt = getattr(obj, "optimizer", None) if obj.__dict__.get("_compiled") else None
        if opt is not None:
            attrs["optimizer"] = opt
    return first + [(k, attrs[k]) for k in sorted(attrs, key=_name_key)]


def _is_model(obj):
    return isinstance(obj, Layer) and getattr(type(obj), "_kerax_model", False)


def _is_sequential(obj):
    return getattr(type(obj), "_kerax_sequential", False)


def _join(path, name):
    return f"{path}/{name}" if path else name


def iter_saveables(root):
    """[(path, object)] in Keras' visiting order, each object once."""
    visited = set()
    out = []

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj))
        for attr, child in _children(obj):
            p = _join(path, attr)
            if _is_saveable(child):
                visit(child, p)
            elif _is_container(child):
                visit_container(child, p, set())

    def visit_container(container, path, seen):
        if id(container) in seen:
            return
        seen.add(id(container))
        items = list(container.values()) if isinstance(container, dict) else list(container)
        used = {}

        def unique(name):
            if name in used:
                used[name] += 1
                return f"{name}_{used[name]}"
            used[name] = 0
            return name

        for item in items:
            if _is_saveable(item):
                visit(item, _join(path, unique(to_snake_case(type(item).__name__))))
            elif _is_container(item):
                visit_container(item, _join(path, unique("container")), seen)

    visit(root, "")
    return out


def own_variables(obj):
    """The variables stored for `obj`, in Keras' order (created trainable first)."""
    own, _seeds = obj._direct_variables()
    return _keras_order(own)


def _custom_hook(obj, name):
    """A user override of Keras' save_own_variables / load_own_variables."""
    fn = getattr(obj, name, None)  # on the class, or set on the layer (LoRA's)
    fn = getattr(fn, "__func__", fn)
    return isinstance(obj, Layer) and fn is not None and fn is not getattr(Layer, name, None)


# ---- writing ------------------------------------------------------------------------
def _write_dataset(group, key, value):
    arr = np.asarray(value)
    if arr.dtype.name == "bfloat16":
        ds = group.create_dataset(key, data=arr.astype(np.float32))
        ds.attrs["dtype"] = "bfloat16"
    else:
        group.create_dataset(key, data=arr)


def _optimizer_values(opt):
    layout = optimizer_layout.keras_layout(opt)
    if layout is not None:
        return [np.asarray(v.numpy()) * s if s != 1 else np.asarray(v.numpy())
                for v, s in layout], False
    return [np.asarray(v.numpy()) for v in opt.variables], True


def write_weights(model, h5file):
    """Write `model`'s variables (and its optimizer's) into an open h5py File."""
    for path, obj in iter_saveables(model):
        group = h5file.require_group(path).create_group("vars") if path else \
            h5file.create_group("vars")
        if isinstance(getattr(obj, "name", None), str):
            group.attrs["name"] = obj.name
        if isinstance(obj, Optimizer):
            values, own = _optimizer_values(obj)
            if own:
                group.attrs["kerax_layout"] = "kerax"
        elif _custom_hook(obj, "save_own_variables"):
            store = {}
            obj.save_own_variables(store)
            for k, v in store.items():
                _write_dataset(group, str(k), v)
            continue
        else:
            values = [v.numpy() for v in own_variables(obj)]
        for i, v in enumerate(values):
            _write_dataset(group, str(i), v)
    _write_rng_states(model, h5file)


# ---- kerax-only extra: seed-generator states -----------------------------------------------
# Keras does not store RNG state. kerax adds it under `__kerax__/rng/<path>/vars`
# (Keras' attribute walk skips names starting with "__", so no Keras path can
# collide, and Keras ignores the group), so a model saved mid-training continues
# with the same dropout/noise streams.
_RNG_ROOT = "__kerax__/rng"


def _seed_states(obj):
    if not isinstance(obj, Layer):
        return []
    return list(obj._direct_variables()[1])


def _write_rng_states(model, h5file):
    for path, obj in iter_saveables(model):
        seeds = _seed_states(obj)
        if not seeds:
            continue
        group = h5file.require_group(_join(_RNG_ROOT, path)).create_group("vars")
        for i, var in enumerate(seeds):
            _write_dataset(group, str(i), var.numpy())


def _read_rng_states(model, h5file):
    out = []
    for path, obj in iter_saveables(model):
        seeds = _seed_states(obj)
        if not seeds:
            continue
        group = _group_at(h5file, _join(_RNG_ROOT, path))
        if group is None or len(_dataset_keys(group)) != len(seeds):
            continue
        where = f"{_join(_RNG_ROOT, path)}/vars"
        for i, var in enumerate(seeds):
            ds = _dataset(group, str(i), where)
            if tuple(ds.shape) != tuple(var.shape):
                break
            out.append((var, _read(ds, f"{where}/{i}")))
    return out


# ---- reading ------------------------------------------------------------------------
def open_h5(source, what):
    """Open HDF5 data (a path or bytes-like file object) read-only, turning
    any parse error into a ValueError that names `what`."""
    import h5py
    try:
        return h5py.File(source, "r")
    except Exception as e:  # noqa: BLE001 - h5py raises OSError and others
        raise ValueError(f"{what} is not a valid HDF5 weights file ({e}).") from e


def _hard_child(group, key):
    """group[key] only if it is a hard link inside this file; else None."""
    import h5py
    try:
        link = group.get(key, getlink=True)
    except Exception:  # noqa: BLE001
        return None
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ValueError(
            f"Refusing to read {group.name}/{key}: it is a {type(link).__name__}, "
            "a link that points outside the weights file.")
    return group[key]


def _group_at(h5file, path):
    import h5py
    node = h5file
    for part in (path.split("/") if path else []) + ["vars"]:
        if not isinstance(node, h5py.Group):
            return None
        child = _hard_child(node, part)
        if child is None:
            return None
        node = child
    return node if isinstance(node, h5py.Group) else None


class _ReadStore:
    """The read-only `store` given to a user's `load_own_variables`."""

    def __init__(self, group, where):
        self._group = group
        self._where = where

    def keys(self):
        return list(self._group.keys()) if self._group is not None else []

    def __len__(self):
        return len(self.keys())

    def __contains__(self, key):
        return key in self.keys()

    def __getitem__(self, key):
        return _read(_dataset(self._group, str(key), self._where), f"{self._where}/{key}")


def _dataset(group, key, where):
    import h5py
    if group is None:
        raise KeyError(key)
    ds = _hard_child(group, key)
    if ds is None:
        raise KeyError(f"{where}: no dataset {key!r} in the file.")
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}/{key}: expected a dataset, found a group.")
    if ds.is_virtual or ds.external:
        raise ValueError(
            f"Refusing to read {where}/{key}: its data is stored outside the weights "
            "file (external or virtual dataset).")
    if ds.dtype.kind not in "biuf":
        raise ValueError(
            f"{where}/{key}: unsupported dataset dtype {ds.dtype} (expected numbers).")
    return ds


# HDF5 shape bombs (as Keras 3's CVE-2026-0897 guard): a chunked, compressed
# dataset can declare a huge shape while storing next to nothing. A dataset
# declaring more than `keras_file.BOMB_FLOOR_BYTES` and more than
# `MAX_DATASET_EXPANSION` times the bytes it stores is refused before it is read.
MAX_DATASET_EXPANSION = 1000


def _read(ds, where):
    declared = math.prod(ds.shape) * ds.dtype.itemsize
    if declared > keras_file.BOMB_FLOOR_BYTES:
        stored = ds.id.get_storage_size()
        if declared > MAX_DATASET_EXPANSION * stored:
            raise ValueError(
                f"Refusing to read {where}: the dataset declares {declared} bytes but "
                f"stores only {stored} in the file (a potential decompression/shape "
                "bomb).")
    try:
        value = ds[()]
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, KeyError and others
        raise ValueError(
            f"{where}: could not read the dataset: the weights file is truncated or "
            f"corrupt ({type(e).__name__}: {e}).") from e
    if ds.attrs.get("dtype") == "bfloat16":
        import ml_dtypes
        value = np.asarray(value).astype(ml_dtypes.bfloat16)
    return np.asarray(value)


def _check_and_read(ds, var, where, key, label):
    shape = tuple(ds.shape)
    if shape != tuple(var.shape):
        raise ValueError(
            f"{label}: weight {var.name!r} has shape {tuple(var.shape)} in the model but "
            f"{shape} in the file (at {where}/{key}).")
    return _read(ds, f"{where}/{key}")


def _describe(obj, path):
    kind = "Optimizer" if isinstance(obj, Optimizer) else "Layer"
    return f"{kind} {getattr(obj, 'name', type(obj).__name__)!r} (path {path or '/'!r})"


def _dataset_keys(group):
    keys = list(group.keys()) if group is not None else []
    return keys


def _load_layer(obj, group, path, label):
    variables = own_variables(obj)
    where = f"{path}/vars" if path else "vars"
    keys = _dataset_keys(group)
    if len(keys) != len(variables):
        names = [v.name for v in variables]
        raise ValueError(
            f"{label} expects {len(variables)} weight(s) {names}, but the file has "
            f"{len(keys)} at {where!r}.")
    out = []
    for i, var in enumerate(variables):
        ds = _dataset(group, str(i), where)
        out.append((var, _check_and_read(ds, var, where, str(i), label)))
    return out


def _load_optimizer(opt, group, path, label, model):
    keys = _dataset_keys(group)
    n = len(keys)
    if n == 0:
        return []
    if not opt.built and opt is getattr(model, "optimizer", None):
        # (an unbuilt inner optimizer of a MultiOptimizer has no variables to build on)
        opt.build(model.trainable_variables)
    where = f"{path}/vars"
    own_marked = group is not None and group.attrs.get("kerax_layout") == "kerax"
    layout = None if own_marked else optimizer_layout.keras_layout(opt)
    if layout is not None and len(layout) == n:
        pairs = layout
    elif len(opt.variables) == n:
        pairs = [(v, 1) for v in opt.variables]
        layout = None
    else:
        expected = len(layout) if layout is not None else len(opt.variables)
        warnings.warn(
            f"Skipping variable loading for optimizer {opt.name!r}, because it has "
            f"{expected} variables whereas the saved optimizer has {n} variables.",
            stacklevel=3)
        return []
    out = []
    for i, (var, sign) in enumerate(pairs):
        ds = _dataset(group, str(i), where)
        value = _check_and_read(ds, var, where, str(i), label)
        out.append((var, value * sign if sign != 1 else value))
    if layout is not None:
        it = next((val for var, val in out if var is opt.iterations), None)
        if it is not None:
            derived = optimizer_layout.derived_values(opt, it)
            for var in opt._state_vars:
                if id(var) in derived:
                    out.append((var, derived[id(var)]))
    return out


def read_weights(model, h5file, skip_mismatch=False):
    """Load `model`'s (and its optimizer's) variables from an open h5py File.
    Validates everything first, then assigns."""
    assignments = []
    custom = []
    for path, obj in iter_saveables(model):
        label = _describe(obj, path)
        group = _group_at(h5file, path)
        try:
            if isinstance(obj, Optimizer):
                assignments.extend(_load_optimizer(obj, group, path, label, model))
            elif _custom_hook(obj, "load_own_variables"):
                custom.append((obj, _ReadStore(group, f"{path}/vars")))
            else:
                if group is None and not own_variables(obj):
                    continue
                if group is None:
                    raise ValueError(
                        f"{label} has weights {[v.name for v in own_variables(obj)]} but "
                        f"the file has no group at {(path + '/vars') if path else 'vars'!r}.")
                assignments.extend(_load_layer(obj, group, path, label))
        except ValueError as e:
            if not skip_mismatch or str(e).startswith("Refusing"):
                raise
            warnings.warn(f"Skipping loading weights: {e}", stacklevel=2)
    assignments.extend(_read_rng_states(model, h5file))
    for var, value in assignments:
        var.assign(np.asarray(value).astype(var.dtype, copy=False)
                   if hasattr(value, "astype") else value)
    for obj, store in custom:
        obj.load_own_variables(store)


def to_bytes_h5(model):
    """The model's weights file as bytes (written in memory)."""
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        write_weights(model, f)
    return buf.getvalue()
