"""`export_model(model, path, format="jax")` and `load(path)`.

The artifact is one zip file holding
  exported.bin    `jax.export.Exported.serialize()`: the inference function
                  as StableHLO, taking `(weights, inputs)`, with a symbolic
                  batch dimension shared by all inputs;
  weights.npz     the weights it is called with (plain arrays, no pickle);
  signature.json  the input names, shapes and dtypes and their structure.

`load(path)` needs only JAX and NumPy: it deserializes the function and
returns a callable `f(inputs)` (or `f(x1, x2, ...)` for several inputs).
It never executes Python code from the file.
"""
import io
import json
import os
import zipfile

import numpy as np

from kerax.layers.layer import KerasTensor, Layer, _is_shape
from kerax.io.io_utils import atomic_write

__all__ = ["export_model", "load", "ExportedModel"]

_FORMAT = "kerax-jax-export"
_VERSION = 1
_MAX_MEMBER = 32 << 30


def _dtype_name(dtype):
    return np.dtype(dtype).name if str(dtype) != "bfloat16" else "bfloat16"


def _input_signature(model, input_signature):
    """[(name, shape tuple with None, dtype)] and the structure kind."""
    if input_signature is not None:
        sig = input_signature
        single = not isinstance(sig, (list, tuple)) or (
            isinstance(sig, (list, tuple)) and sig and all(
                d is None or isinstance(d, int) for d in sig))
        items = [sig] if single else list(sig)
        out = []
        for i, s in enumerate(items):
            if hasattr(s, "shape"):
                shape, dtype = tuple(s.shape), getattr(s, "dtype", None) or model.compute_dtype
            else:
                shape, dtype = tuple(s), model.compute_dtype
            out.append((getattr(s, "name", None) or f"input_{i}", shape, _dtype_name(dtype)))
        return out, "single" if single else "list"
    inputs = getattr(model, "inputs", None)
    if inputs:
        graph = model.__dict__.get("_graph")
        structure = graph.inputs if graph is not None else inputs[0]
        if isinstance(structure, dict):
            raise ValueError(
                "export_model: models with dict inputs are not supported yet; pass "
                "`input_signature` as a list of shapes.")
        kind = "single" if isinstance(structure, KerasTensor) else "list"
        flat = inputs if kind == "list" else [inputs[0]]
        return [(t.name or f"input_{i}", tuple(t.shape), _dtype_name(t.dtype))
                for i, t in enumerate(flat)], kind
    shapes = model.__dict__.get("_build_shapes")
    if shapes is None:
        raise ValueError(
            f"export_model: model {model.name!r} has no known input shape. Call it on "
            "data first, or pass `input_signature=` (a shape tuple, or a list of them, "
            "with None for the batch dimension).")
    if _is_shape(shapes):
        return [("input_0", tuple(shapes), model.compute_dtype)], "single"
    return [(f"input_{i}", tuple(s), model.compute_dtype) for i, s in enumerate(shapes)], "list"


def _platforms():
    import jax
    platforms = ["cpu"]
    backend = jax.default_backend()
    if backend == "gpu":
        backend = "cuda" if any(d.platform == "gpu" and "nvidia" in str(
            getattr(d, "device_kind", "")).lower() or d.platform == "cuda"
            for d in jax.devices()) else "rocm"
    if backend not in platforms:
        platforms.append(backend)
    return platforms


def export_model(model, filepath, format="jax", verbose=True, input_signature=None,
                 **kwargs):
    """Write `model`'s inference function (`model(x, training=False)`) as a
    serialized `jax.export` artifact with a symbolic batch dimension."""
    import jax
    from jax import export as jax_export

    if format != "jax":
        raise ValueError(
            f"export_model: unsupported format {format!r}; kerax exports format=\"jax\" "
            "(a serialized jax.export artifact).")
    if kwargs:
        raise ValueError(f"export_model: unexpected keyword arguments {sorted(kwargs)}.")
    if not isinstance(model, Layer):
        raise TypeError(f"export_model: expected a kerax model, got {type(model).__name__}.")
    path = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"export_model: the folder {folder!r} does not exist (nothing was written).")
    if os.path.isdir(path):
        raise IsADirectoryError(f"export_model: {path!r} is a directory; give a file path.")
    signature, kind = _input_signature(model, input_signature)
    scope = jax_export.SymbolicScope()
    specs = []
    for i, (_name, shape, dtype) in enumerate(signature):
        dims = []
        for j, d in enumerate(shape):
            if d is None:
                dims.append("b" if j == 0 else f"d{i}_{j}")
            else:
                dims.append(str(int(d)))
        sym = jax_export.symbolic_shape(", ".join(dims), scope=scope) if dims else ()
        specs.append(jax.ShapeDtypeStruct(sym, jax.numpy.dtype(dtype)))
    trainable = list(model.trainable_variables)
    non_trainable = list(model.non_trainable_variables)
    n_t = len(trainable)
    weights = [np.asarray(v.numpy()) for v in trainable + non_trainable]
    weight_specs = [jax.ShapeDtypeStruct(w.shape, w.dtype) for w in weights]

    def serve(weights, inputs):
        x = inputs[0] if kind == "single" else list(inputs)
        outputs, _ = model.stateless_call(weights[:n_t], weights[n_t:], x, training=False)
        return outputs

    try:
        exported = jax_export.export(jax.jit(serve), platforms=_platforms())(
            weight_specs, specs)
    except Exception as e:  # noqa: BLE001 - shape polymorphism errors are obscure
        raise ValueError(
            f"export_model: could not export model {model.name!r} with a symbolic batch "
            f"dimension ({type(e).__name__}: {e}). Check that the model's call works for "
            "any batch size, or pass a fixed `input_signature`.") from e
    try:
        blob = bytes(exported.serialize())
    except ImportError as e:
        raise ImportError(
            f"export_model: jax.export serialization needs the `flatbuffers` package "
            f"(`pip install flatbuffers`): {e}") from e
    npz = io.BytesIO()
    np.savez(npz, **{f"w{i}": w for i, w in enumerate(weights)})
    meta = {"format": _FORMAT, "version": _VERSION, "structure": kind,
            "inputs": [{"name": n, "shape": list(s), "dtype": d} for n, s, d in signature],
            "num_weights": len(weights), "model_name": model.name}
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("signature.json", json.dumps(meta, indent=2))
            zf.writestr("exported.bin", blob)
            zf.writestr("weights.npz", npz.getvalue())
    if verbose:
        print(f"Saved artifact at {path!r}: inputs "
              f"{[(n, tuple(s), d) for n, s, d in signature]} (batch dimension symbolic).")
    return path


class ExportedModel:
    """The callable `kerax.export.load` returns."""

    def __init__(self, exported, weights, signature):
        import jax
        self.exported = exported
        self.weights = weights
        self.signature = signature
        self._call = jax.jit(lambda w, xs: exported.call(w, xs))

    @property
    def input_signature(self):
        return [(i["name"], tuple(i["shape"]), i["dtype"]) for i in self.signature["inputs"]]

    def __call__(self, *inputs):
        import jax.numpy as jnp
        n = len(self.signature["inputs"])
        if len(inputs) == 1 and n > 1 and isinstance(inputs[0], (list, tuple)):
            inputs = tuple(inputs[0])
        if len(inputs) != n:
            raise ValueError(
                f"This exported model takes {n} input(s) "
                f"{[i['name'] for i in self.signature['inputs']]}, got {len(inputs)}.")
        xs = []
        for x, spec in zip(inputs, self.signature["inputs"]):
            x = jnp.asarray(x, dtype=spec["dtype"])
            expected = spec["shape"]
            if x.ndim != len(expected) or any(
                    e is not None and e != d for e, d in zip(expected, x.shape)):
                raise ValueError(
                    f"Input {spec['name']!r} expects shape {tuple(expected)}, got "
                    f"{tuple(x.shape)}.")
            xs.append(x)
        return self._call(self.weights, xs)


def load(filepath):
    """Load an artifact written by `export_model` / `model.export(path)` and
    return a callable. Needs no model code."""
    import jax
    from jax import export as jax_export
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"kerax.export.load: no file at {path!r}.")
    try:
        zf = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"kerax.export.load: {path!r} is not an exported artifact ({e}).") from e
    with zf:
        names = set(zf.namelist())
        for required in ("signature.json", "exported.bin", "weights.npz"):
            if required not in names:
                raise ValueError(
                    f"kerax.export.load: {path!r} is not a kerax export (no {required}).")
        for info in zf.infolist():
            if info.file_size > _MAX_MEMBER:
                raise ValueError(f"kerax.export.load: member {info.filename!r} is too large.")
        try:
            meta = json.loads(zf.read("signature.json").decode("utf-8"))
            blob = zf.read("exported.bin")
            npz = zf.read("weights.npz")
        except (zipfile.BadZipFile, EOFError, ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"kerax.export.load: {path!r} is corrupt ({e}).") from e
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"kerax.export.load: {path!r} is not a kerax jax export.")
    if meta.get("version") != _VERSION:
        raise ValueError(
            f"kerax.export.load: unsupported export version {meta.get('version')!r}.")
    try:
        exported = jax_export.deserialize(bytearray(blob))
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"kerax.export.load: cannot deserialize {path!r} ({e}).") from e
    with np.load(io.BytesIO(npz), allow_pickle=False) as data:
        weights = [jax.numpy.asarray(data[f"w{i}"]) for i in range(int(meta["num_weights"]))]
    return ExportedModel(exported, weights, meta)
