"""`kerax.export.ExportArchive` (Keras 3's class of the same name) and the
loader of what it writes.

Keras writes a TensorFlow SavedModel; kerax has no TensorFlow, so an archive
is one zip file of `jax.export` artifacts:

  archive.json           the endpoints (input specs, which variables each
                         reads and updates), the variables (name, path,
                         trainable, shape, dtype), the tracked variable lists
                         and the variable collections;
  endpoints/<name>.bin   `jax.export.Exported.serialize()` of each endpoint:
                         StableHLO taking `(variable values, *inputs)`, with
                         symbolic dimensions for the `None`s of the input
                         signature (one `batch` symbol shared by the leading
                         dimension of every input, as Keras' JAX export does);
  variables.npz          the variable values (plain arrays, no pickle).

`kerax.export.load(path)` reads it back with JAX and NumPy only (no model
code, no Python from the file): each endpoint is a method of the returned
object, and the tracked variables and collections are lists of
`RestoredVariable`s. An endpoint that updates state (a seed generator in a
training-mode call, a counter) updates the restored variables, as a
SavedModel endpoint updates its `tf.Variable`s.
"""
import io
import itertools
import json
import keyword
import os
import string
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export_lib

from kerax.core.trace import trace
from kerax.core.variable import Variable
from kerax.export import jax_export
from kerax.io.io_utils import atomic_write, print_msg
from kerax.layers.input_spec import InputSpec
from kerax.layers.layer import KerasTensor, Layer
from kerax.saving import keras_file

__all__ = ["ExportArchive", "load", "LoadedArchive", "RestoredVariable"]

_FORMAT = "kerax-export-archive"
_VERSION = 1
_MANIFEST = "archive.json"
_MAX_JSON = 64 << 20
_RESERVED = {"endpoints", "variables", "trainable_variables", "non_trainable_variables",
             "variable_collections", "metadata"}


def _dtype_name(dtype):
    return jnp.dtype(dtype).name


def _spec_of(x):
    """(shape with None, dtype name, name) of one leaf of an input signature,
    with Keras' rules (`make_input_spec`): a KerasTensor or an array gets a
    `None` batch dimension."""
    if isinstance(x, InputSpec):
        if x.shape is None or x.dtype is None:
            raise ValueError(
                f"The `shape` and `dtype` must be provided. Received: x={x}")
        return tuple(x.shape), _dtype_name(x.dtype), x.name
    if isinstance(x, KerasTensor):
        return (None,) + tuple(x.shape)[1:], _dtype_name(x.dtype), x.name
    if isinstance(x, jax.ShapeDtypeStruct):
        shape = tuple(d if isinstance(d, int) or d is None else None for d in x.shape)
        return shape, _dtype_name(x.dtype), None
    if isinstance(x, (np.ndarray, jax.Array)):
        return (None,) + tuple(x.shape)[1:], _dtype_name(x.dtype), None
    raise TypeError(
        f"Unsupported x={x} of the type ({type(x)}). Supported types are: "
        "`keras.InputSpec`, `keras.KerasTensor`, `jax.ShapeDtypeStruct` and backend "
        "tensor.")


def _is_spec_leaf(x):
    return not isinstance(x, (list, tuple, dict))


def _map_structure(fn, structure):
    if isinstance(structure, dict):
        return {k: _map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_structure(fn, v) for v in structure)
    return fn(structure)


def _dim_names():
    return itertools.chain(string.ascii_lowercase,
                           ("".join(p) for p in itertools.product(string.ascii_lowercase,
                                                                  repeat=2)))


def _check_name(name, what):
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) \
            or name.startswith("_") or name in _RESERVED:
        raise ValueError(
            f"Invalid {what} name {name!r}: it becomes an attribute of the reloaded "
            "archive, so it must be a Python identifier that does not start with '_' "
            f"and is not one of {sorted(_RESERVED)}.")
    return name


class ExportArchive:
    """Export endpoints (functions of tracked layers/models) and variables
    for inference, as a `jax.export` archive (Keras 3's
    `keras.export.ExportArchive`; Keras writes a TensorFlow SavedModel,
    kerax one zip file of serialized StableHLO, see `kerax.export.archive`).

    Args:
        format: `None` or `"jax"` (the only format kerax writes). Keras'
            `"saved_model"` and `"neptune_model"` need TensorFlow and raise
            `NotImplementedError`.

    Example:

    >>> import os, tempfile, numpy as np, kerax as keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> archive = keras.export.ExportArchive()
    >>> archive.track(model)
    >>> _ = archive.add_endpoint(
    ...     name="serve", fn=model.call,
    ...     input_signature=[keras.InputSpec(shape=(None, 3), dtype="float32")])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.kxa")
    >>> archive.write_out(path, verbose=False)
    >>> reloaded = keras.export.load(path)
    >>> x = np.ones((4, 3), "float32")
    >>> bool(np.allclose(reloaded.serve(x), model(x), atol=1e-6))
    True
    """

    def __init__(self, format=None):
        if format in ("saved_model", "neptune_model"):
            raise NotImplementedError(
                f"ExportArchive(format={format!r}) writes a TensorFlow artifact, and kerax "
                "has no TensorFlow. Use the default format (a jax.export archive, "
                "reloaded with `kerax.export.load`).")
        if format not in (None, "jax"):
            raise ValueError(f"Unsupported format: {format}")
        self._tracked_trainable = []
        self._tracked_non_trainable = []
        self._endpoints = {}  # name -> dict(exported, variables, updates, specs, ...)
        self._collections = {}

    # ---- tracking ---------------------------------------------------------------------------
    @property
    def variables(self):
        return self._tracked_trainable + self._tracked_non_trainable

    @property
    def trainable_variables(self):
        return list(self._tracked_trainable)

    @property
    def non_trainable_variables(self):
        return list(self._tracked_non_trainable)

    def track(self, resource):
        """Track the variables of a layer or model: they become the
        `variables` / `trainable_variables` / `non_trainable_variables` of the
        reloaded archive. (Endpoints find the variables they use without it.)

        Args:
            resource: a built layer or model.
        """
        if not isinstance(resource, Layer):
            raise ValueError(
                "Invalid resource type. Expected a Keras `Layer` or `Model`. Received "
                f"object {resource} of type '{type(resource)}'. ")
        if not resource.built:
            raise ValueError(
                "The layer provided has not yet been built. It must be built before "
                "export.")
        known = {id(v) for v in self.variables}
        for v in resource.trainable_variables:
            if id(v) not in known:
                known.add(id(v))
                self._tracked_trainable.append(v)
        for v in resource.non_trainable_variables:
            if id(v) not in known:
                known.add(id(v))
                self._tracked_non_trainable.append(v)

    # ---- endpoints --------------------------------------------------------------------------
    def add_endpoint(self, name, fn, input_signature=None, **kwargs):
        """Register a serving endpoint: `fn` traced for `input_signature` and
        exported with `jax.export`.

        Args:
            name: the endpoint's name (a method of the reloaded archive).
            fn: a callable using layers/models and their variables; every
                Variable it reads is exported with it.
            input_signature: a list with one entry per positional argument of
                `fn`; each entry a structure (list/tuple/dict) of
                `keras.InputSpec`, `KerasTensor`, `jax.ShapeDtypeStruct` or
                arrays. `None` dimensions stay symbolic in the export.
            **kwargs: `is_static=True` declares that `fn` updates no state
                (its variable updates, if any, are then not kept).

        Returns:
            A callable running the exported endpoint on the live variables.
        """
        if name in self._endpoints:
            raise ValueError(f"Endpoint name '{name}' is already taken.")
        _check_name(name, "endpoint")
        if name in self._collections:
            raise ValueError(f"Name '{name}' is already used by a variable collection.")
        if not callable(fn):
            raise TypeError(f"`fn` must be callable. Received: fn={fn!r}")
        is_static = bool(kwargs.pop("is_static", False))
        if "jax2tf_kwargs" in kwargs:
            raise NotImplementedError(
                "`jax2tf_kwargs` configures a conversion to TensorFlow, which kerax does "
                "not do: endpoints are exported with jax.export; give symbolic "
                "dimensions as `None` in `input_signature`.")
        if kwargs:
            raise TypeError(f"add_endpoint() got unexpected keyword arguments "
                            f"{sorted(kwargs)}.")
        if input_signature is None:
            raise ValueError(
                "kerax exports functions by tracing them, so you must provide an "
                "`input_signature` argument to specify the shape and dtype of the "
                "function arguments. Example:\n\n"
                "export_archive.add_endpoint(\n"
                "    name='call',\n"
                "    fn=model.call,\n"
                "    input_signature=[\n"
                "        keras.InputSpec(\n"
                "            shape=(None, 224, 224, 3),\n"
                "            dtype='float32',\n"
                "        )\n"
                "    ],\n"
                ")")
        if not isinstance(input_signature, (list, tuple)):
            raise TypeError(
                "`input_signature` must be a list or tuple with one entry per positional "
                f"argument of `fn`. Received: input_signature={input_signature!r}")
        entry = _export_endpoint(name, fn, list(input_signature), is_static)
        self._endpoints[name] = entry
        return entry["live"]

    def track_and_add_endpoint(self, name, resource, input_signature, **kwargs):
        """`track(resource)`, then `add_endpoint(name, resource.__call__,
        input_signature, **kwargs)`."""
        self.track(resource)
        return self.add_endpoint(name, resource.__call__, input_signature, **kwargs)

    def add_variable_collection(self, name, variables):
        """Register variables to read back after reloading, as the attribute
        `name` of the reloaded archive (a list of `RestoredVariable`s).

        Args:
            name: the collection's name.
            variables: a list/tuple/set of `keras.Variable`s.
        """
        _check_name(name, "variable collection")
        if name in self._endpoints:
            raise ValueError(f"Name '{name}' is already used by an endpoint.")
        if not isinstance(variables, (list, tuple, set)):
            raise ValueError(
                "Expected `variables` to be a list/tuple/set. Received instead object of "
                f"type '{type(variables)}'.")
        if not all(isinstance(v, Variable) for v in variables):
            raise ValueError(
                "Expected all elements in `variables` to be `keras.Variable` instances. "
                f"Found instead the following types: {list(set(type(v) for v in variables))}")
        self._collections[name] = list(variables)

    # ---- writing ----------------------------------------------------------------------------
    def write_out(self, filepath, options=None, verbose=True):
        """Write the archive to `filepath` (one zip file, written atomically).

        Args:
            filepath: the file to write.
            options: Keras' `tf.saved_model.SaveOptions`; not available
                (must be None).
            verbose: print the endpoints and their signatures.
        """
        if options is not None:
            raise NotImplementedError(
                "`options` are tf.saved_model.SaveOptions; kerax writes a jax.export "
                "archive and has none.")
        if not self._endpoints:
            raise ValueError("No endpoints have been set yet. Call add_endpoint().")
        path = os.fspath(filepath)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"write_out: the folder {folder!r} does not exist (nothing was written).")
        if os.path.isdir(path):
            raise IsADirectoryError(f"write_out: {path!r} is a directory; give a file path.")

        index, variables = {}, []

        def slot(var):
            if id(var) not in index:
                index[id(var)] = len(variables)
                variables.append(var)
            return index[id(var)]

        tracked_t = [slot(v) for v in self._tracked_trainable]
        tracked_nt = [slot(v) for v in self._tracked_non_trainable]
        endpoints = []
        for name, entry in self._endpoints.items():
            endpoints.append({
                "name": name, "inputs": entry["inputs"], "is_static": entry["is_static"],
                "variables": [slot(v) for v in entry["variables"]],
                "updates": entry["updates"], "outputs": entry["outputs"]})
        collections = {name: [slot(v) for v in vs] for name, vs in self._collections.items()}
        arrays, var_meta = {}, []
        for i, var in enumerate(variables):
            value = np.asarray(var.numpy())
            dtype = str(var.dtype)
            if value.dtype.kind not in "biufc":  # bfloat16 and other ml_dtypes: raw bits
                value = value.view(f"uint{8 * value.dtype.itemsize}")
            arrays[f"v{i}"] = value
            var_meta.append({"name": var.name, "path": getattr(var, "path", var.name),
                             "trainable": bool(var.trainable), "dtype": dtype,
                             "shape": list(var.shape)})
        manifest = {"format": _FORMAT, "version": _VERSION, "endpoints": endpoints,
                    "variables": var_meta,
                    "tracked": {"trainable": tracked_t, "non_trainable": tracked_nt},
                    "collections": collections}
        npz = io.BytesIO()
        np.savez(npz, **arrays)
        with atomic_write(path, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(_MANIFEST, json.dumps(manifest, indent=1))
                for name, entry in self._endpoints.items():
                    zf.writestr(f"endpoints/{name}.bin", entry["blob"])
                zf.writestr("variables.npz", npz.getvalue())
        if verbose:
            text = "\n\n".join(_describe_endpoint(e) for e in endpoints)
            print_msg(f"Saved artifact at '{path}'. The following endpoints are "
                      f"available:\n\n{text}")


def _describe_endpoint(e):
    lines = [f"* Endpoint '{e['name']}'", "  Args:"]
    for i, spec in enumerate(e["inputs"]):
        shape = tuple(spec["shape"])
        label = spec["name"] or f"args_{i}"
        lines.append(f"    {label}: {spec['dtype']} {shape} (argument {spec['arg']}"
                     f"{spec['path']})")
    lines.append("  Returns:")
    for spec in e["outputs"]:
        lines.append(f"    {spec['dtype']} {tuple(spec['shape'])}")
    return "\n".join(lines)


def _export_endpoint(name, fn, input_signature, is_static):
    """Trace `fn` for the signature, export it, and return the endpoint entry."""

    flat, inputs = [], []

    def record(path, x, arg):
        shape, dtype, spec_name = _spec_of(x)
        flat.append((shape, dtype))
        inputs.append({"arg": arg, "path": path, "shape": list(shape), "dtype": dtype,
                       "name": spec_name})
        return len(flat) - 1

    def walk(x, arg, path):
        if isinstance(x, dict):
            return {k: walk(v, arg, f"{path}[{k!r}]") for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(walk(v, arg, f"{path}[{i}]") for i, v in enumerate(x))
        return record(path, x, arg)

    positions = [walk(arg, i, "") for i, arg in enumerate(input_signature)]
    scope = jax_export_lib.SymbolicScope()
    names = _dim_names()
    specs = []
    for shape, dtype in flat:
        dims = []
        for j, d in enumerate(shape):
            dims.append(str(int(d)) if d is not None else ("batch" if j == 0 else next(names)))
        sym = jax_export_lib.symbolic_shape(", ".join(dims), scope=scope) if dims else ()
        specs.append(jax.ShapeDtypeStruct(sym, jnp.dtype(dtype)))
    args_specs = [_map_structure(lambda i: specs[i], p) for p in positions]
    n_args = len(args_specs)

    def flat_fn(*leaves):
        args = [_map_structure(lambda i: leaves[i], p) for p in positions]
        return fn(*args)

    try:
        program = trace(flat_fn, specs, name=name)
    except Exception as e:  # noqa: BLE001 - report which endpoint failed and why
        raise ValueError(
            f"add_endpoint: could not trace endpoint {name!r} for input_signature "
            f"{[(tuple(s), d) for s, d in flat]} ({type(e).__name__}: {e}). Check that "
            "`fn` takes one positional argument per entry of `input_signature` and works "
            "for any size of the `None` dimensions.") from e
    variables = list(program.variables)
    updates = [] if is_static else list(program.assigned)

    def exported_fn(values, *args):
        leaves = jax.tree_util.tree_leaves(args)
        out, new, _losses = program.run(values, program.consts, leaves)
        out = program.unflatten(out)
        return (out, [new[k] for k in range(len(updates))]) if updates else out

    var_specs = [jax.ShapeDtypeStruct(tuple(v.shape), jnp.dtype(str(v.dtype)))
                 for v in variables]
    try:
        exported = jax_export_lib.export(jax.jit(exported_fn),
                                         platforms=jax_export._platforms())(
            var_specs, *args_specs)
        blob = bytes(exported.serialize())
    except Exception as e:  # noqa: BLE001 - shape polymorphism errors are obscure
        raise ValueError(
            f"add_endpoint: could not export endpoint {name!r} with symbolic `None` "
            f"dimensions ({type(e).__name__}: {e}). Check that `fn` works for any size "
            "of those dimensions, or give them fixed sizes in `input_signature`.") from e
    out_avals = exported.out_avals[:len(exported.out_avals) - len(updates)]
    outputs = [{"shape": [d if isinstance(d, int) else None for d in a.shape],
                "dtype": _dtype_name(a.dtype)} for a in out_avals]
    call = jax.jit(exported.call)

    def live(*args):
        if len(args) != n_args:
            raise ValueError(f"Endpoint {name!r} takes {n_args} argument(s), got "
                             f"{len(args)}.")
        result = call([v.value for v in variables], *args)
        if not updates:
            return result
        out, new = result
        for k, val in zip(updates, new):
            variables[k].assign(val)
        return out

    live.__name__ = name
    return {"exported": exported, "blob": blob, "variables": variables,
            "updates": updates, "inputs": inputs, "outputs": outputs,
            "is_static": is_static, "live": live}


# ---- loading ------------------------------------------------------------------------------
class RestoredVariable:
    """A variable of a reloaded archive: `name`, `path`, `trainable`,
    `shape`, `dtype`, its value (`value`, `numpy()`, `np.asarray(v)`) and
    `assign(value)`."""

    def __init__(self, value, name, path, trainable):
        self._value = value
        self.name, self.path, self.trainable = name, path, trainable

    @property
    def value(self):
        return self._value

    @property
    def shape(self):
        return tuple(self._value.shape)

    @property
    def dtype(self):
        return str(self._value.dtype)

    def numpy(self):
        return np.asarray(self._value)

    def __array__(self, dtype=None, copy=None):
        arr = np.asarray(self._value)
        return arr if dtype is None else arr.astype(dtype)

    def assign(self, value):
        value = jnp.asarray(value, dtype=self._value.dtype)
        if tuple(value.shape) != self.shape:
            raise ValueError(f"Cannot assign a value of shape {tuple(value.shape)} to "
                             f"variable {self.path!r} of shape {self.shape}.")
        self._value = value
        return self

    def __repr__(self):
        return (f"<RestoredVariable path={self.path!r}, shape={self.shape}, "
                f"dtype={self.dtype}>")


class _Endpoint:
    def __init__(self, meta, exported, variables):
        self.name = meta["name"]
        self._meta = meta
        self._exported = exported
        self._variables = [variables[i] for i in meta["variables"]]
        self._updates = list(meta["updates"])
        self._call = jax.jit(exported.call)
        in_tree = exported.in_tree.children()[0]  # ((values, *args), kwargs)
        self._arg_trees = in_tree.children()[1:]
        self._arg_avals = exported.in_avals[len(self._variables):]

    @property
    def input_signature(self):
        """[(argument, path, shape with None, dtype)] of the inputs."""
        return [(i["arg"], i["path"], tuple(i["shape"]), i["dtype"])
                for i in self._meta["inputs"]]

    def __call__(self, *args):
        if len(args) != len(self._arg_trees):
            raise ValueError(
                f"Endpoint {self.name!r} takes {len(self._arg_trees)} positional "
                f"argument(s), got {len(args)}.")
        leaves = []
        for i, (arg, tree) in enumerate(zip(args, self._arg_trees)):
            got_leaves, got_tree = jax.tree_util.tree_flatten(arg)
            if got_tree != tree:
                raise ValueError(
                    f"Endpoint {self.name!r}: argument {i} must have the structure "
                    f"{tree}, got {got_tree}.")
            leaves.extend(got_leaves)
        arrays = []
        for x, aval, spec in zip(leaves, self._arg_avals, self._meta["inputs"]):
            x = jnp.asarray(x, dtype=aval.dtype)
            expected = spec["shape"]
            if x.ndim != len(expected) or any(
                    e is not None and e != d for e, d in zip(expected, x.shape)):
                raise ValueError(
                    f"Endpoint {self.name!r}: input {spec['arg']}{spec['path']} expects "
                    f"shape {tuple(expected)}, got {tuple(x.shape)}.")
            arrays.append(x)
        it = iter(arrays)
        args = [jax.tree_util.tree_unflatten(tree, [next(it) for _ in range(tree.num_leaves)])
                for tree in self._arg_trees]
        result = self._call([v.value for v in self._variables], *args)
        if not self._updates:
            return result
        out, new = result
        for k, val in zip(self._updates, new):
            self._variables[k]._value = val
        return out

    def __repr__(self):
        return f"<Endpoint {self.name!r} inputs={self.input_signature}>"


class LoadedArchive:
    """What `kerax.export.load` returns for an `ExportArchive` file: each
    endpoint is a method, each variable collection an attribute (a list of
    `RestoredVariable`s); `variables`, `trainable_variables` and
    `non_trainable_variables` are the tracked variables; `endpoints` lists
    the endpoint names."""

    def __init__(self, manifest, endpoints, variables):
        self.metadata = manifest
        self._all_variables = variables
        tracked = manifest["tracked"]
        self.trainable_variables = [variables[i] for i in tracked["trainable"]]
        self.non_trainable_variables = [variables[i] for i in tracked["non_trainable"]]
        self.variables = self.trainable_variables + self.non_trainable_variables
        self.endpoints = list(endpoints)
        for name, ep in endpoints.items():
            setattr(self, name, ep)
        self.variable_collections = list(manifest["collections"])
        for name, idx in manifest["collections"].items():
            setattr(self, name, [variables[i] for i in idx])

    def __repr__(self):
        return (f"<LoadedArchive endpoints={self.endpoints} "
                f"collections={self.variable_collections}>")


def is_archive(filepath):
    try:
        with zipfile.ZipFile(os.fspath(filepath)) as zf:
            return _MANIFEST in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load(filepath):
    """Reload an artifact written by `ExportArchive.write_out` (a
    `LoadedArchive`: endpoints as methods, variable collections as
    attributes) or by `model.export` (a callable `ExportedModel`). Needs no
    model code and runs no Python from the file.

    >>> import os, tempfile, numpy as np, kerax as keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.kxa")
    >>> archive = keras.export.ExportArchive()
    >>> _ = archive.track_and_add_endpoint(
    ...     "serve", model, [keras.InputSpec(shape=(None, 3), dtype="float32")])
    >>> archive.add_variable_collection("weights", model.weights)
    >>> archive.write_out(path, verbose=False)
    >>> reloaded = keras.export.load(path)
    >>> reloaded.endpoints, [v.shape for v in reloaded.weights]
    (['serve'], [(3, 2), (2,)])
    """
    path = os.fspath(filepath)
    if not os.path.isfile(path) or not is_archive(path):
        return jax_export.load(path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"kerax.export.load: {path!r} is not an export archive ({e}).") from e
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        size = os.path.getsize(path)
        for info in infos.values():
            # The `.keras` reader's checks: safe names, no encryption, sizes that
            # agree with the file, no decompression bombs.
            keras_file._check_member_name(info.filename, path)
            keras_file._check_member(info, path, size)
            if info.file_size > jax_export._MAX_MEMBER or (
                    info.filename == _MANIFEST and info.file_size > _MAX_JSON):
                raise ValueError(
                    f"kerax.export.load: member {info.filename!r} of {path!r} is too large.")
        try:
            manifest = json.loads(zf.read(_MANIFEST).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile) as e:
            raise ValueError(f"kerax.export.load: {path!r} is corrupt ({e}).") from e
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise ValueError(f"kerax.export.load: {path!r} is not a kerax export archive.")
        if manifest.get("version") != _VERSION:
            raise ValueError(
                f"kerax.export.load: unsupported archive version {manifest.get('version')!r}.")
        try:
            var_meta = manifest["variables"]
            with np.load(io.BytesIO(zf.read("variables.npz")), allow_pickle=False) as data:
                variables = []
                for i, meta in enumerate(var_meta):
                    value = data[f"v{i}"]
                    dtype = jnp.dtype(meta["dtype"])
                    if value.dtype != dtype:
                        value = value.view(dtype)
                    if list(value.shape) != list(meta["shape"]):
                        raise ValueError(f"variable {i} has shape {value.shape}, the "
                                         f"manifest says {meta['shape']}")
                    variables.append(RestoredVariable(jnp.asarray(value), meta["name"],
                                                      meta["path"], meta["trainable"]))
            endpoints = {}
            for meta in manifest["endpoints"]:
                name = _check_name(meta["name"], "endpoint")
                blob = zf.read(f"endpoints/{name}.bin")
                exported = jax_export_lib.deserialize(bytearray(blob))
                if any(not 0 <= i < len(variables) for i in meta["variables"]):
                    raise ValueError(f"endpoint {name!r} refers to unknown variables")
                endpoints[name] = _Endpoint(meta, exported, variables)
            for name, idx in manifest["collections"].items():
                _check_name(name, "variable collection")
                if any(not 0 <= i < len(variables) for i in idx):
                    raise ValueError(f"collection {name!r} refers to unknown variables")
            for i in manifest["tracked"]["trainable"] + manifest["tracked"]["non_trainable"]:
                if not 0 <= i < len(variables):
                    raise ValueError("the tracked variables refer to unknown variables")
        except (KeyError, TypeError, ValueError, zipfile.BadZipFile, EOFError,
                jax.errors.JaxRuntimeError) as e:
            raise ValueError(
                f"kerax.export.load: {path!r} is corrupt or not a kerax export archive "
                f"({type(e).__name__}: {e}).") from e
    return LoadedArchive(manifest, endpoints, variables)
