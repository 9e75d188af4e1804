"""`save_model` / `load_model` / `save_weights` / `load_weights` (Keras 3's
saving API) over the `.keras` zip format and Keras' HDF5 weights layout.

    model.save("model.keras")
    model = kerax.models.load_model("model.keras", custom_objects={...})
    model.save_weights("model.weights.h5"); model.load_weights("model.weights.h5")

Loading is safe by default: nothing named in a file is imported, only
kerax/Keras built-ins and the objects you register or pass are created, and
Lambda bytecode is refused unless `safe_mode=False` is passed for that call.
"""
import warnings

from kerax.layers.lambda_serialization import SafeModeScope
from kerax.layers.layer import Layer
from kerax.registry import CustomObjectScope, deserialize_keras_object
from kerax.saving import assets, keras_file, weights_store
from kerax.io.io_utils import atomic_write

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]


def _check_model(model, what):
    if not isinstance(model, Layer):
        raise TypeError(f"{what}: expected a kerax model, got {type(model).__name__}.")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Save `model` (architecture, weights, compile configuration and optimizer
    state) as a Keras 3 `.keras` file, crash-safely."""
    _check_model(model, "save_model")
    # As Keras 3: the optimizer is always in a .keras file (include_optimizer
    # only matters for legacy .h5), and save_format is inferred from the path.
    kwargs.pop("include_optimizer", None)
    save_format = kwargs.pop("save_format", None)
    if save_format and not str(filepath).endswith(".keras"):
        raise ValueError(
            "save_model: the `save_format` argument is deprecated in Keras 3; remove it "
            f"and pass a path ending in `.keras`. Received: save_format={save_format!r}.")
    if save_format:
        warnings.warn("save_model: `save_format` is deprecated (inferred from the path); "
                      "remove it.", stacklevel=2)
    if kwargs:
        raise ValueError(f"save_model: unexpected keyword arguments {sorted(kwargs)}.")
    if zipped is False:
        raise ValueError("save_model: only zipped `.keras` files are supported (zipped=True).")
    path = keras_file.check_save_target(filepath, overwrite, ".keras", "save_model")
    if not model.built:
        raise ValueError(
            f"save_model: model {model.name!r} is not built yet; call it on data or call "
            "`build(input_shape)` before saving so its weights exist.")
    # Everything is serialized in memory first: an error leaves no file behind.
    config = model._saving_config()
    keras_file.to_json(config)
    weights = weights_store.to_bytes_h5(model)
    keras_file.write_keras_file(path, config, weights, assets.collect_assets(model))


def _strip_compile(config):
    config = dict(config)
    config.pop("compile_config", None)
    return config


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a `.keras` file written by kerax or Keras 3.

    Args:
      filepath: path to a `.keras` file.
      custom_objects: `{name: class or function}` for custom objects in the file.
      compile: also restore the compile configuration and optimizer state.
      safe_mode: refuse Lambda bytecode (default True). Only an explicit
        `safe_mode=False` for this call allows it; no global switch does.

    A file that is hostile or incomplete is refused with a `ValueError`
    before anything large is allocated: an archive member declaring more
    than 256 MiB at over 100 times its stored size (a decompression bomb;
    raise `kerax.saving.keras_file.MAX_EXPANSION` for a file you trust), an
    HDF5 dataset declaring over 1000 times what it stores, a layer size that
    cannot fit in memory, or a file without `model.weights.h5` (as Keras 3).

    >>> import os, tempfile, kerax
    >>> model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> kerax.models.load_model(path).layers[0].kernel.shape
    (3, 2)
    """
    if not isinstance(safe_mode, bool):
        raise TypeError(f"load_model: `safe_mode` must be True or False, got {safe_mode!r}.")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(
            f"load_model: `custom_objects` must be a dict {{name: object}}, got "
            f"{type(custom_objects).__name__}.")
    path = keras_file.check_load_path(filepath, "load_model")
    if str(path).endswith(".weights.h5"):
        raise ValueError(
            f"load_model: {path!r} is a weights file; build the model in code and call "
            "`model.load_weights(path)`.")
    with keras_file.KerasArchive(path, "load_model") as archive:
        config = archive.config()
        if "class_name" not in config:
            raise ValueError(f"load_model: {path!r}: config.json is not a serialized model.")
        # As Keras: a `.keras` file without its weights is an error, checked
        # before the model is built.
        archive.require_weights()
        if not compile:
            config = _strip_compile(config)
        with SafeModeScope(safe_mode), CustomObjectScope(custom_objects or {}):
            model = deserialize_keras_object(config, custom_objects=custom_objects,
                                             safe_mode=safe_mode, module="keras.models")
        if not isinstance(model, Layer):
            raise ValueError(f"load_model: {path!r} does not hold a model config.")
        with archive.weights() as f, \
                weights_store.open_h5(f, f"{path!r} (model.weights.h5)") as h5:
            weights_store.read_weights(model, h5)
        assets.restore_assets(model, assets.read_assets(path))  # vocabularies, ...
    return model


def save_weights(model, filepath, overwrite=True):
    """Save all of `model`'s weights (and optimizer state) to `*.weights.h5`
    in Keras 3's layout, crash-safely."""
    _check_model(model, "save_weights")
    path = keras_file.check_save_target(filepath, overwrite, ".weights.h5", "save_weights")
    if not model.built:
        raise ValueError(
            f"save_weights: model {model.name!r} is not built yet; it has no weights to save.")
    data = weights_store.to_bytes_h5(model)
    with atomic_write(path, "wb") as f:
        f.write(data)


def load_weights(model, filepath, skip_mismatch=False):
    """Load weights saved by `save_weights` (or the weights of a `.keras`
    file) into `model`. A shape mismatch names the layer, the weight and both
    shapes; with `skip_mismatch=True` mismatched layers are skipped with a
    warning."""
    _check_model(model, "load_weights")
    path = keras_file.check_load_path(filepath, "load_weights")
    if not (path.endswith(".keras") or path.endswith(".h5") or path.endswith(".hdf5")):
        raise ValueError(
            "load_weights: the filename must end in `.weights.h5` (or `.keras`). "
            f"Received: filepath={path!r}")
    if not model.built:
        raise ValueError(
            f"load_weights: model {model.name!r} is not built yet; build it (call it on "
            "data or call `build(input_shape)`) so its weights exist before loading.")
    if path.endswith(".keras"):
        with keras_file.KerasArchive(path, "load_weights") as archive, archive.weights() as f:
            _load_h5(model, f, f"{path!r} (model.weights.h5)", skip_mismatch)
    else:
        _load_h5(model, path, repr(path), skip_mismatch)


def _load_h5(model, source, label, skip_mismatch):
    with weights_store.open_h5(source, label) as h5:
        if "vars" not in h5 and ("layer_names" in h5.attrs or "model_weights" in h5):
            raise ValueError(
                f"load_weights: {label} is a legacy Keras 2 HDF5 weights file, which "
                "kerax does not read. Load it in Keras 3 and re-save with "
                "`model.save_weights('x.weights.h5')`.")
        weights_store.read_weights(model, h5, skip_mismatch=skip_mismatch)
