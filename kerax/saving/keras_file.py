"""The `.keras` zip file: writing it crash-safely, reading it defensively.

Members (stored uncompressed, as Keras 3 writes them): `metadata.json`
(`keras_version`, `date_saved`), `config.json`, `model.weights.h5`. Writes go
to a temporary file in the target folder that is flushed, fsynced and
renamed over the target (`kerax.utils.io_utils.atomic_write`), so a crash
mid-write leaves the previous file intact.

Reading never extracts anything to disk and never trusts sizes or names
from the archive: member names must be relative paths without `..`,
members are size-capped, JSON and HDF5 are parsed from memory and any parse
error becomes a `ValueError` that names the file.
"""
import datetime
import io
import json
import os
import zipfile

import numpy as np

from kerax.io.io_utils import atomic_write
from kerax.version import __version__

__all__ = ["write_keras_file", "read_keras_file", "check_save_target", "check_load_path",
           "FORMAT_VERSION"]

# The Keras 3 file-format version kerax writes (and the major version it reads).
FORMAT_VERSION = "3.15.1"
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
MAX_JSON_BYTES = 64 << 20  # config.json / metadata.json
MAX_WEIGHTS_BYTES = 32 << 30
MAX_MEMBERS = 100_000
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class FileNotFoundValueError(FileNotFoundError, ValueError):
    """A missing file: both a FileNotFoundError and (as in Keras) a ValueError."""


class IsADirectoryValueError(IsADirectoryError, ValueError):
    """A directory where a file was expected."""


# ---- writing ------------------------------------------------------------------------
def check_save_target(filepath, overwrite, suffix, what):
    """Validate a save target before anything is written: the suffix, the
    folder (exists, writable), an existing directory, `overwrite`."""
    path = os.fspath(filepath)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{what}: `filepath` must be a non-empty path, got {filepath!r}.")
    if not path.endswith(suffix):
        raise ValueError(
            f"{what}: the filename must end in `{suffix}`. Received: filepath={path!r}")
    if os.path.isdir(path):
        raise IsADirectoryValueError(
            f"{what}: {path!r} is an existing directory; give a file path ending in "
            f"`{suffix}`.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundValueError(
            f"{what}: the folder {folder!r} does not exist; create it before saving "
            f"(nothing was written).")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{what}: the folder {folder!r} is not writable (nothing was written).")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{what}: {path!r} already exists and overwrite=False (nothing was written).")
    return path


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(
        f"Cannot save {obj!r} ({type(obj).__name__}) in a model config: configs must hold "
        "JSON values. Return plain values from get_config() (or serialize objects with "
        "kerax.saving.serialize_keras_object).")


def to_json(config):
    return json.dumps(config, default=_json_default)


def write_keras_file(path, config, weights_bytes, assets=None):
    """Write the zip atomically. `config` is the model's serialized dict."""
    config_json = to_json(config)
    metadata = {"keras_version": FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "kerax_version": __version__}
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_MEMBER, json.dumps(metadata, indent=4))
            zf.writestr(CONFIG_MEMBER, config_json)
            zf.writestr(WEIGHTS_MEMBER, weights_bytes)


# ---- reading -----------------------------------------------------------------------
def check_load_path(filepath, what="load_model"):
    try:
        path = os.fspath(filepath)
    except TypeError:
        raise ValueError(f"{what}: expected a file path, got {filepath!r}.") from None
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not os.path.exists(path):
        raise FileNotFoundValueError(
            f"{what}: file not found: {path!r}. Please ensure the path is correct and the "
            "file is an accessible `.keras` zip file.")
    if os.path.isdir(path):
        raise IsADirectoryValueError(
            f"{what}: {path!r} is a directory, not a `.keras` file. (A TensorFlow "
            "SavedModel folder cannot be loaded by kerax; export it from Keras as a "
            "`.keras` file.)")
    return path


def _check_member_name(name, path):
    bad = (not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name
           or (len(name) > 1 and name[1] == ":")
           or any(part == ".." for part in name.split("/")))
    if bad:
        raise ValueError(
            f"{path!r}: refusing to read a `.keras` archive with an unsafe member name "
            f"{name!r} (absolute path or '..'); the file is corrupt or hostile.")


def _read_member(zf, info, limit, path):
    if info.file_size > limit:
        raise ValueError(
            f"{path!r}: member {info.filename!r} declares {info.file_size} bytes, over the "
            f"limit of {limit} bytes; the file is corrupt or hostile.")
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise ValueError(
            f"{path!r}: could not read {info.filename!r} from the archive: the file is "
            f"truncated or corrupt ({e}).") from e
    if len(data) > limit:
        raise ValueError(f"{path!r}: member {info.filename!r} is over {limit} bytes.")
    return data


def _parse_json(data, name, path):
    try:
        text = data.decode("utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path!r}: {name} is not valid JSON ({e}).") from e


def _check_version(metadata, path):
    if not isinstance(metadata, dict):
        raise ValueError(f"{path!r}: metadata.json must hold a JSON object.")
    version = metadata.get("keras_version")
    if version is None:
        return
    major = str(version).split(".")[0]
    if major != FORMAT_VERSION.split(".")[0]:
        raise ValueError(
            f"{path!r}: unknown file format version {version!r}: kerax reads `.keras` "
            f"files of Keras {FORMAT_VERSION.split('.')[0]}.x.")


def read_keras_file(filepath, what="load_model", need_config=True):
    """Return `(config dict or None, weights bytes)` of a `.keras` file."""
    path = check_load_path(filepath, what)
    with open(path, "rb") as f:
        head = f.read(8)
    if head == HDF5_MAGIC:
        raise ValueError(
            f"{what}: {path!r} is an HDF5 file, not a `.keras` zip. kerax does not load "
            "legacy Keras 2 `.h5` model files: their configs may embed Python bytecode "
            "and Keras' own legacy loader ignored safe_mode (CVE-2025-9905). Re-save the "
            "model as `.keras` with Keras 3, or load weights-only `.weights.h5` files "
            "with `model.load_weights(path)`.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{what}: {path!r} is not a `.keras` file (not a zip archive, or it is "
            "truncated).")
    try:
        zf = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"{what}: {path!r} is a corrupt or truncated zip ({e}).") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"{path!r}: too many members in the archive ({len(infos)}).")
        by_name = {}
        for info in infos:
            _check_member_name(info.filename, path)
            by_name[info.filename] = info
        if CONFIG_MEMBER not in by_name and need_config:
            raise ValueError(
                f"{what}: {path!r} has no config.json; it is not a `.keras` model file.")
        if METADATA_MEMBER in by_name:
            meta = _parse_json(_read_member(zf, by_name[METADATA_MEMBER], MAX_JSON_BYTES, path),
                               METADATA_MEMBER, path)
            _check_version(meta, path)
        config = None
        if need_config:
            config = _parse_json(_read_member(zf, by_name[CONFIG_MEMBER], MAX_JSON_BYTES, path),
                                 CONFIG_MEMBER, path)
            if not isinstance(config, dict):
                raise ValueError(f"{path!r}: config.json must hold a JSON object.")
        weights = None
        if WEIGHTS_MEMBER in by_name:
            weights = _read_member(zf, by_name[WEIGHTS_MEMBER], MAX_WEIGHTS_BYTES, path)
    return config, weights


def weights_file(data):
    return io.BytesIO(data)
