"""`kerax.saving.KerasFileEditor`: inspect, edit and resave the weights of a
`.keras` or `.weights.h5` file (Keras 3's class of the same name).

The file's weights become a nested dict (`editor.weights_dict`): an object
(layer, optimizer, ...) is a dict at its path in the file (`"layers/dense"`)
whose array values are its weights (`"0"`, `"1"`, ...) and whose dict values
are its sub-objects. `save()` writes the dict back in Keras 3's HDF5 layout
(every object's arrays in `<path>/vars`), so the result loads with
`model.load_weights()` in kerax and in Keras.

Reading is as defensive as loading a model (`weights_store`, `keras_file`):
a `.keras` archive is opened with the zip checks of `KerasArchive`
(decompression bombs, unsafe names, sizes); in the HDF5 data only hard links
inside the file are followed (soft/external links, external and virtual
datasets are refused), datasets must hold numbers, a dataset declaring more
than `MAX_DATASET_BYTES` or far more bytes than it stores is refused before
it is read, and nesting deeper than `MAX_DEPTH` is refused. Nothing in the
file is ever executed (config.json is only parsed as JSON).

Differences from Keras 3.15 (its bugs, fixed here): a name given without a
path is found when it occurs once (Keras miscounts occurrences after the
first match); objects with both sub-objects and an empty `vars` group (e.g.
MultiHeadAttention) keep their sub-objects; `compare()` counts each weight
once; renaming onto or adding over an existing entry raises instead of
silently replacing it; the `vars` attributes (the layer's `name`, kerax's
optimizer-layout mark) are kept on save.
"""
import io
import math
import os

import numpy as np

from kerax.io.io_utils import atomic_write, print_msg
from kerax.optimizers.base import Optimizer
from kerax.saving import keras_file, weights_store

__all__ = ["KerasFileEditor"]

MAX_DEPTH = 64
MAX_DATASET_BYTES = 1 << 32  # 4 GiB, as Keras 3's file editor
MAX_ATTR_BYTES = 64 << 10
_KERAX_EXTRA = "__kerax__"  # kerax-only groups (seed-generator states), see weights_store


class _Object(dict):
    """An object's entry in `weights_dict`: weights (arrays) and sub-objects
    (dicts); `attrs` are the attributes of its `vars` group in the file."""

    def __init__(self, *args, attrs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs = dict(attrs or {})


def _small_attrs(h5obj, where):
    """The HDF5 attributes of `h5obj` that are small scalars or strings."""
    out = {}
    for name in list(h5obj.attrs.keys()):
        aid = h5obj.attrs.get_id(name)
        size = math.prod(aid.shape or ()) * max(aid.dtype.itemsize, 1)
        if size > MAX_ATTR_BYTES:
            raise ValueError(
                f"Refusing to read the attribute {name!r} of {where or '/'!r}: it declares "
                f"{size} bytes (limit {MAX_ATTR_BYTES}); the file is corrupt or hostile.")
        value = h5obj.attrs[name]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (str, int, float, bool)):
            out[name] = value
    return out


def _read_group(group, path, metadata, depth):
    """Read an HDF5 group (not a `vars` group) into an `_Object`."""
    import h5py
    if depth > MAX_DEPTH:
        raise ValueError(
            f"Refusing to read {path!r}: objects are nested more than {MAX_DEPTH} levels "
            "deep; the file is corrupt or hostile.")
    result = _Object()
    for key in list(group.keys()):
        where = f"{path}/{key}"
        child = weights_store._hard_child(group, key)  # refuses soft/external links
        if isinstance(child, h5py.Dataset):
            # A dataset outside any `vars` group is not part of Keras' layout.
            raise ValueError(
                f"{where}: unexpected dataset outside a `vars` group; this is not a "
                "Keras weights file.")
        if key == "vars":
            continue
        sub = _read_object(child, where, metadata, depth + 1)
        if sub is not None:
            result[key] = sub
    vars_group = weights_store._hard_child(group, "vars") if "vars" in group else None
    if vars_group is not None:
        if not isinstance(vars_group, h5py.Group):
            raise ValueError(f"{path}/vars: expected a group, found a dataset.")
        result.attrs = _small_attrs(vars_group, f"{path}/vars")
        weights = {}
        for key in list(vars_group.keys()):
            ds = weights_store._dataset(vars_group, key, f"{path}/vars")
            declared = math.prod(ds.shape) * ds.dtype.itemsize
            if declared > MAX_DATASET_BYTES:
                raise ValueError(
                    f"Refusing to read {path}/vars/{key}: the dataset declares {declared} "
                    f"bytes (limit {MAX_DATASET_BYTES}).")
            weights[key] = weights_store._read(ds, f"{path}/vars/{key}")
        # Weights first (as Keras lists them), then sub-objects.
        result = _Object({**weights, **result}, attrs=result.attrs)
    return result


def _read_object(group, path, metadata, depth):
    obj = _read_group(group, path, metadata, depth)
    if not obj:
        return None  # as Keras: objects without weights are left out
    if obj.attrs:
        metadata[path] = dict(obj.attrs)
    return obj


def _check_weights(weights, argument="weights"):
    if not isinstance(weights, dict):
        raise ValueError(
            f"Argument `{argument}` should be a dict where keys are weight names (usually "
            "'0', '1', etc.) and values are NumPy arrays. "
            f"Received: type({argument})={type(weights)}")
    out = _Object()
    for key, value in weights.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(
                f"Argument `{argument}`: weight names must be non-empty strings without "
                f"'/' (e.g. '0'). Received: {key!r}")
        if isinstance(value, dict):
            out[key] = _check_weights(value, argument)
            continue
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf" and arr.dtype.name != "bfloat16":
            raise ValueError(
                f"Argument `{argument}`: the value of weight {key!r} must be a numeric "
                f"array. Received: dtype={arr.dtype}")
        out[key] = arr
    return out


def _leaf_name(name, argument):
    if not isinstance(name, str) or not name:
        raise ValueError(f"Argument `{argument}` must be a non-empty string. "
                         f"Received: {argument}={name!r}")
    return name


class KerasFileEditor:
    """Inspect, edit and resave the weights of a `.keras` or `.weights.h5` file.

    Useful to adapt a saved weights file after changing a model's
    architecture. Objects are named by their path in the file
    (`"layers/dense_2"`), or by their last part when it is unique (`"dense_2"`);
    `summary()` lists them.

    Args:
        filepath: the `.keras` or `.weights.h5` file to open (read-only; edits
            are written by `save()`).

    Example:

    >>> import numpy as np, kerax as keras, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.save_weights(os.path.join(d, "m.weights.h5"))
    >>> editor = keras.saving.KerasFileEditor(os.path.join(d, "m.weights.h5"))  # doctest: +ELLIPSIS
    Keras model file ...
    >>> editor.rename_object("dense", "dense_1")
    >>> editor.add_weights("dense_1", {"2": np.zeros(2)})
    >>> editor.delete_weight("dense_1", "2")
    >>> editor.save(os.path.join(d, "edited.weights.h5"))
    """

    def __init__(self, filepath):
        path = os.fspath(filepath)
        self.filepath = path
        self.metadata = None
        self.config = None
        self.model = None
        if path.endswith(".keras"):
            with keras_file.KerasArchive(path, what="KerasFileEditor") as archive:
                self.config = archive.config()
                if keras_file.METADATA_MEMBER in archive.names():
                    self.metadata = archive.read_json(keras_file.METADATA_MEMBER)
                with archive.weights() as f:
                    self.weights_dict, self.object_metadata = self._extract(
                        f, f"{path!r} ({keras_file.WEIGHTS_MEMBER})")
        elif path.endswith(".weights.h5"):
            keras_file.check_load_path(path, "KerasFileEditor")
            self.weights_dict, self.object_metadata = self._extract(path, repr(path))
        else:
            raise ValueError(
                "Invalid filename: expected a `.keras` `.weights.h5` extension. "
                f"Received: filepath={path}")
        print_msg(f"Keras model file '{path}'")
        if isinstance(self.metadata, dict):
            print_msg(f"Saved with Keras {self.metadata.get('keras_version')} - "
                      f"date: {self.metadata.get('date_saved')}")

    @staticmethod
    def _extract(source, what):
        h5 = weights_store.open_h5(source, what)
        try:
            metadata = {}
            weights = _read_group(h5, "", metadata, 0)
        finally:
            h5.close()
        return weights, metadata

    # ---- inspecting ---------------------------------------------------------------------
    def summary(self):
        """Print the weight structure of the opened file (objects and the
        shape and dtype of each weight)."""
        print_msg("Weights structure")
        lines = []
        self._tree_lines(self.weights_dict, "  ", lines, first=True)
        for line in lines:
            print_msg(line)

    def _tree_lines(self, node, prefix, lines, first=False):
        items = list(node.items())
        for i, (key, value) in enumerate(items):
            last = i == len(items) - 1
            connector = "> " if first and i == 0 else ("└─ " if last else "├─ ")
            if isinstance(value, dict):
                name = getattr(value, "attrs", {}).get("name")
                label = f"{prefix}{connector}{key}"
                lines.append(label + (f" ('{name}')" if name and name != key else ""))
                self._tree_lines(value, prefix + ("    " if last else "│   "), lines)
            else:
                lines.append(f"{prefix}{connector}{key}: shape={value.shape}, "
                             f"dtype={value.dtype}")

    def compare(self, reference_model):
        """Compare the opened file with `reference_model`'s weights layout.

        Prints every object or weight missing on one side and every shape
        mismatch, and returns `{"status": "success" | "error", "error_count":
        n, "match_count": m}` (`match_count`: weights present in both with
        the same shape).
        """
        print_msg("Running comparison")
        ref = _weight_spec(reference_model)
        target = {k: v for k, v in self.weights_dict.items() if k != _KERAX_EXTRA}
        checked = set()
        errors, matches = self._compare(target, ref, "", "saved file", "reference model",
                                        checked)
        errors += self._compare(ref, target, "", "reference model", "saved file",
                                checked)[0]
        print_msg("─────────────────────")
        if errors == 0:
            print_msg("Comparison successful: saved file is compatible with the "
                      "reference model")
            print_msg(f"    Found {matches} matching weight{'' if matches == 1 else 's'}")
        else:
            print_msg(f"Found {errors} error{'' if errors == 1 else 's'}: saved file is not "
                      "compatible with the reference model")
        return {"status": "success" if errors == 0 else "error", "error_count": errors,
                "match_count": matches}

    def _compare(self, target, ref, base, target_name, ref_name, checked):
        errors = matches = 0
        for key, ref_val in ref.items():
            path = f"{base}/{key}"
            if path in checked:
                continue
            if key not in target:
                errors += 1
                checked.add(path)
                if isinstance(ref_val, dict):
                    print_msg(f"...Object {path} present in {ref_name}, missing from "
                              f"{target_name}")
                    print_msg(f"    In {ref_name}, {path} contains the following keys: "
                              f"{list(ref_val.keys())}")
                else:
                    print_msg(f"...Weight {path} present in {ref_name}, missing from "
                              f"{target_name}")
            elif isinstance(ref_val, dict) != isinstance(target[key], dict):
                errors += 1
                checked.add(path)
                kinds = ["an object" if isinstance(v, dict) else "a weight"
                         for v in (ref_val, target[key])]
                print_msg(f"...{path} is {kinds[0]} in {ref_name} but {kinds[1]} in "
                          f"{target_name}")
            elif isinstance(ref_val, dict):
                e, m = self._compare(target[key], ref_val, path, target_name, ref_name,
                                     checked)
                errors += e
                matches += m
            elif tuple(target[key].shape) != tuple(ref_val.shape):
                errors += 1
                checked.add(path)
                print_msg(f"...Weight shape mismatch for {path}\n"
                          f"    In {ref_name}: shape={tuple(ref_val.shape)}\n"
                          f"    In {target_name}: shape={tuple(target[key].shape)}")
            else:
                matches += 1
        return errors, matches

    # ---- editing ------------------------------------------------------------------------
    def _locate(self, object_name, objects_only=False):
        """[(parent dict, key)] for a path or a unique short name."""
        _leaf_name(object_name, "object_name")
        if "/" in object_name:
            parts = object_name.strip("/").split("/")
            node = self.weights_dict
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ValueError(f"Path '{object_name}' not found in model.")
                node = node[part]
            if parts[-1] not in node:
                raise ValueError(f"Path '{object_name}' not found in model.")
            return node, parts[-1]
        found = []

        def walk(node):
            for key, value in node.items():
                if key == object_name and (isinstance(value, dict) or not objects_only):
                    found.append((node, key))
                if isinstance(value, dict):
                    walk(value)

        walk(self.weights_dict)
        if len(found) > 1:
            raise ValueError(
                f"Name '{object_name}' occurs more than once in the model; try passing a "
                "complete path")
        if not found:
            raise ValueError(
                f"Source name '{object_name}' does not appear in the model. Use "
                "`editor.summary()` to list all objects.")
        return found[0]

    def _locate_object(self, object_name):
        parent, key = self._locate(object_name, objects_only=True)
        if not isinstance(parent[key], dict):
            raise ValueError(
                f"'{object_name}' is a weight, not an object; pass the object that holds "
                "it (e.g. 'layers/dense').")
        return parent[key]

    def rename_object(self, object_name, new_name):
        """Rename an object in the file (e.g. a layer).

        Args:
            object_name: name or path of the object to rename (e.g.
                `"dense_2"` or `"layers/dense_2"`).
            new_name: the new (leaf) name of the object.
        """
        _leaf_name(new_name, "new_name")
        if "/" in new_name:
            raise ValueError(
                "Argument `target_name` should be a leaf name, not a full path name. "
                f"Received: target_name='{new_name}'")
        parent, key = self._locate(object_name, objects_only=True)
        if new_name == key:
            return
        if new_name in parent:
            raise ValueError(
                f"Cannot rename '{object_name}' to '{new_name}': an entry named "
                f"'{new_name}' already exists there; delete it first.")
        # Keep the order of the entries, with the new key in place of the old one.
        items = [(new_name if k == key else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)

    def delete_object(self, object_name):
        """Remove an object (e.g. a layer) and its weights from the file.

        Args:
            object_name: name or path of the object to delete (e.g.
                `"dense_2"` or `"layers/dense_2"`).
        """
        parent, key = self._locate(object_name, objects_only=True)
        del parent[key]

    def add_object(self, object_path, weights):
        """Add a new object (e.g. a layer) to the file.

        Args:
            object_path: full path of the new object (e.g. `"layers/dense_2"`);
                its parent must exist.
            weights: dict mapping weight names to arrays, e.g.
                `{"0": kernel_value, "1": bias_value}`.
        """
        weights = _check_weights(weights)
        _leaf_name(object_path, "object_path")
        parts = object_path.strip("/").split("/")
        node = self.weights_dict
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"Path '{'/'.join(parts[:-1])}' not found in model.")
            node = node[part]
        if parts[-1] in node:
            raise ValueError(
                f"Object '{object_path}' already exists; delete it first, or use "
                "`add_weights()` to add weights to it.")
        node[parts[-1]] = weights

    def delete_weight(self, object_name, weight_name):
        """Remove one weight from an existing object.

        Args:
            object_name: name or path of the object (e.g. `"dense_2"` or
                `"layers/dense_2"`).
            weight_name: name of the weight to delete (e.g. `"0"`).
        """
        obj = self._locate_object(object_name)
        if weight_name not in obj or isinstance(obj[weight_name], dict):
            raise ValueError(
                f"Weight {weight_name} not found in object {object_name}. Weights found: "
                f"{[k for k, v in obj.items() if not isinstance(v, dict)]}")
        del obj[weight_name]

    def add_weights(self, object_name, weights):
        """Add one or more new weights to an existing object.

        Args:
            object_name: name or path of the object (e.g. `"dense_2"` or
                `"layers/dense_2"`).
            weights: dict mapping new weight names to arrays, e.g.
                `{"2": value}`.
        """
        weights = _check_weights(weights)
        obj = self._locate_object(object_name)
        taken = [k for k in weights if k in obj]
        if taken:
            raise ValueError(
                f"Object {object_name} already has weight(s) {taken}; delete them first "
                "with `delete_weight()`.")
        obj.update(weights)

    # ---- writing ------------------------------------------------------------------------
    def save(self, filepath):
        """Write the edited weights to a `.weights.h5` file (Keras 3's layout;
        load it with `model.load_weights(filepath)`). The file is written
        atomically; an existing file is replaced."""
        import h5py
        path = keras_file.check_save_target(filepath, True, ".weights.h5",
                                            "KerasFileEditor.save")
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            _write_object(f, self.weights_dict, "")
        with atomic_write(path, "wb") as out:
            out.write(buf.getvalue())

    def resave_weights(self, filepath):
        """Same as `save(filepath)`."""
        self.save(filepath)


def _write_object(h5file, obj, path):
    arrays = {k: v for k, v in obj.items() if not isinstance(v, dict)}
    if arrays or (path and getattr(obj, "attrs", None)):
        group = h5file.require_group(f"{path}/vars" if path else "vars")
        for k, v in getattr(obj, "attrs", {}).items():
            group.attrs[k] = v
        for k, v in arrays.items():
            weights_store._write_dataset(group, k, v)
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            _write_object(h5file, v, f"{path}/{k}" if path else k)


def _weight_spec(model):
    """{path part: ... {weight name: array-like with .shape}} of the weights
    kerax writes for `model` (its `save_weights` layout), objects without
    weights left out."""
    spec = {}
    for path, obj in weights_store.iter_saveables(model):
        if isinstance(obj, Optimizer):
            values = weights_store._optimizer_values(obj)[0]
            entries = {str(i): np.shape(v) for i, v in enumerate(values)}
        elif weights_store._custom_hook(obj, "save_own_variables"):
            store = {}
            obj.save_own_variables(store)
            entries = {str(k): np.shape(v) for k, v in store.items()}
        else:
            entries = {str(i): tuple(v.shape)
                       for i, v in enumerate(weights_store.own_variables(obj))}
        if not entries:
            continue
        node = spec
        for part in path.split("/") if path else []:
            node = node.setdefault(part, {})
        node.update({k: _Shape(s) for k, s in entries.items()})
    return spec


class _Shape:
    def __init__(self, shape):
        self.shape = tuple(shape)
