"""Assets of a `.keras` file (Keras 3's layout): files an object writes with
`save_assets(dir_path)` and reads back with `load_assets(dir_path)`, such
as the adapted vocabulary of `StringLookup` / `IntegerLookup`.

They are stored as `assets/<path>/<file>`, where `<path>` is the object's
path in the weights file (`preprocessors/string_lookup`, `layers/dense`, ...;
see `weights_store.iter_saveables`), so files load both ways with Keras.

Reading is defensive: only the members under `assets/<path>/` of objects
that have `load_assets` are read, member names are checked (no absolute
paths, no `..`), sizes are capped before anything is inflated, and the files
are written into a private temporary folder that is removed afterwards.
"""
import os
import tempfile
import zipfile

from kerax.saving import keras_file
from kerax.saving.weights_store import iter_saveables

__all__ = ["collect_assets", "restore_assets", "read_assets", "ASSETS_DIR"]

ASSETS_DIR = "assets"
MAX_ASSET_BYTES = 1 << 30  # one member
MAX_TOTAL_ASSET_BYTES = 4 << 30


def _prefix(path):
    return f"{ASSETS_DIR}/{path}/" if path else f"{ASSETS_DIR}/"


def collect_assets(model):
    """`{member name: bytes}` of every object of `model` that has
    `save_assets`, in Keras' layout."""
    members = {}
    for path, obj in iter_saveables(model):
        save = getattr(obj, "save_assets", None)
        if not callable(save):
            continue
        with tempfile.TemporaryDirectory() as folder:
            save(folder)
            for root, _dirs, files in os.walk(folder):
                for name in sorted(files):
                    full = os.path.join(root, name)
                    rel = os.path.relpath(full, folder).replace(os.sep, "/")
                    with open(full, "rb") as f:
                        members[_prefix(path) + rel] = f.read()
    return members


def read_assets(filepath):
    """`{member name: bytes}` of the `assets/` members of a `.keras` file."""
    path = os.fspath(filepath)
    out, total = {}, 0
    try:
        zf = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path!r} is a corrupt or truncated zip ({e}).") from e
    with zf:
        for info in zf.infolist():
            name = info.filename
            if not name.startswith(ASSETS_DIR + "/") or name.endswith("/"):
                continue
            keras_file._check_member_name(name, path)
            if info.file_size > MAX_ASSET_BYTES or total + info.file_size > \
                    MAX_TOTAL_ASSET_BYTES:
                raise ValueError(f"{path!r}: asset {name!r} declares {info.file_size} bytes, "
                                 "over the limit; the file is corrupt or hostile.")
            try:
                with zf.open(info) as f:
                    data = f.read(MAX_ASSET_BYTES + 1)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError,
                    NotImplementedError) as e:
                raise ValueError(f"{path!r}: could not read {name!r} from the archive: the "
                                 f"file is truncated or corrupt ({e}).") from e
            if len(data) > MAX_ASSET_BYTES:
                raise ValueError(f"{path!r}: asset {name!r} is over {MAX_ASSET_BYTES} bytes.")
            total += len(data)
            out[name] = data
    return out


def restore_assets(model, members):
    """Give each object of `model` that has `load_assets` a folder holding
    its `assets/<path>/` members (an empty folder if the file has none)."""
    for path, obj in iter_saveables(model):
        load = getattr(obj, "load_assets", None)
        if not callable(load):
            continue
        prefix = _prefix(path)
        with tempfile.TemporaryDirectory() as folder:
            for name, data in members.items():
                if not name.startswith(prefix):
                    continue
                target = os.path.join(folder, *name[len(prefix):].split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(data)
            load(folder)
