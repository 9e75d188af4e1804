"""The `.keras` zip file: writing it crash-safely, reading it defensively.

Members (stored uncompressed, as Keras 3 writes them): `metadata.json`
(`keras_version`, `date_saved`), `config.json`, `model.weights.h5`. Writes go
to a temporary file in the target folder that is flushed, fsynced and
renamed over the target (`kerax.utils.io_utils.atomic_write`), so a crash
mid-write leaves the previous file intact.

Reading (`KerasArchive`) never extracts anything next to the file and never
trusts sizes or names from the archive. Before anything is inflated:

- member names must be relative paths without `..`; encrypted members and
  sizes that contradict the file are refused;
- a member that declares more than `BOMB_FLOOR_BYTES` (256 MiB) *and* more
  than `MAX_EXPANSION` (100) times the bytes it stores on disk is refused as
  a decompression bomb, as Keras 3 does (Keras' floor is 4 GiB). Keras and
  kerax store members uncompressed (1:1) and DEFLATE cannot exceed about
  1032:1, so a genuine file is never near the limit; to load a file you trust
  that is, raise it first:
  `kerax.saving.keras_file.MAX_EXPANSION = 2000`;
- `config.json` and `metadata.json` are capped at `MAX_JSON_BYTES` (64 MiB).

`model.weights.h5` is read in place from the archive when it is stored
uncompressed (HDF5 reads the member's bytes from the file; only the
datasets being loaded are in memory), after a streaming CRC check; a
compressed one is inflated into memory or, above `SPOOL_BYTES`, into an
anonymous temporary file. JSON and HDF5 parse errors become a `ValueError`
that names the file. HDF5 datasets are checked the same way before they
are read (see `weights_store`).
"""
import contextlib
import datetime
import io
import json
import os
import shutil
import struct
import tempfile
import zipfile
import zlib

import numpy as np

from kerax.core.memory import readable_size
from kerax.io.io_utils import atomic_write
from kerax.version import __version__

__all__ = ["write_keras_file", "KerasArchive", "check_save_target", "check_load_path",
           "FORMAT_VERSION", "MAX_EXPANSION", "BOMB_FLOOR_BYTES"]

# The Keras 3 file-format version kerax writes (and the major version it reads).
FORMAT_VERSION = "3.15.1"
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
MAX_JSON_BYTES = 64 << 20  # config.json / metadata.json
# Decompression bombs: a member declaring more than BOMB_FLOOR_BYTES and more
# than MAX_EXPANSION times its stored size is refused before it is inflated.
MAX_EXPANSION = 100
BOMB_FLOOR_BYTES = 256 << 20
SPOOL_BYTES = 256 << 20  # a compressed weights member larger than this inflates to disk
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
    """Write the zip atomically. `config` is the model's serialized dict;
    `assets` maps member names (`assets/...`) to bytes (see saving.assets)."""
    config_json = to_json(config)
    metadata = {"keras_version": FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "kerax_version": __version__}
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_MEMBER, json.dumps(metadata, indent=4))
            zf.writestr(CONFIG_MEMBER, config_json)
            zf.writestr(WEIGHTS_MEMBER, weights_bytes)
            for name, data in sorted((assets or {}).items()):  # `assets/<path>/<file>`
                zf.writestr(name, data)


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


def _check_member(info, path, archive_size):
    """Refuse a member before anything of it is inflated: encrypted, sizes
    that contradict the archive, or a decompression bomb."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise ValueError(
            f"{path!r}: member {name!r} is encrypted; `.keras` files are never "
            "encrypted, so the file is corrupt or was not written by Keras/kerax.")
    if info.header_offset + info.compress_size > archive_size:
        raise ValueError(
            f"{path!r}: member {name!r} extends past the end of the file; the file is "
            "truncated or corrupt.")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ValueError(
            f"{path!r}: member {name!r} is stored uncompressed but declares "
            f"{info.file_size} bytes for {info.compress_size} stored; the file is corrupt "
            "or hostile.")
    if (info.file_size > BOMB_FLOOR_BYTES
            and info.file_size > MAX_EXPANSION * info.compress_size):
        raise ValueError(
            f"{path!r}: member {name!r} declares {readable_size(info.file_size)} but only "
            f"{readable_size(info.compress_size)} are stored on disk (more than "
            f"{MAX_EXPANSION}x expansion); refusing to load a potential decompression "
            "bomb. If you trust this file, raise the limit with "
            "`kerax.saving.keras_file.MAX_EXPANSION = ...` before loading it.")


class _MemberWindow(io.RawIOBase):
    """A read-only, seekable view of the bytes of an uncompressed zip member
    inside the archive file, so HDF5 reads it in place (no copy in memory)."""

    def __init__(self, f, offset, size):
        super().__init__()
        self._f = f
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, pos, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + pos < 0:
            raise OSError(f"negative seek position {base + pos}")
        self._pos = base + pos
        return self._pos

    def readinto(self, buffer):
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._size - self._pos))
        if n == 0:
            return 0
        self._f.seek(self._offset + self._pos)
        got = self._f.readinto(view[:n]) or 0
        self._pos += got
        return got

    def close(self):
        if not self.closed:
            self._f.close()
        super().close()


class KerasArchive:
    """An open `.keras` file, read defensively (see the module docstring).

    Opening checks the archive: a zip (not a legacy HDF5 model), safe member
    names, no encrypted members, sizes consistent with the file, no member
    that declares more than `MAX_EXPANSION` times its stored size (beyond
    `BOMB_FLOOR_BYTES`), and a known format version in `metadata.json`.
    Nothing is inflated before these checks pass.

        with KerasArchive("model.keras") as archive:
            config = archive.config()
            with archive.weights() as f:      # a seekable binary file
                ...
    """

    def __init__(self, filepath, what="load_model"):
        path = check_load_path(filepath, what)
        self.path = path
        self.what = what
        with open(path, "rb") as f:
            head = f.read(8)
        if head == HDF5_MAGIC:
            raise ValueError(
                f"{what}: {path!r} is an HDF5 file, not a `.keras` zip. kerax does not "
                "load legacy Keras 2 `.h5` model files: their configs may embed Python "
                "bytecode and Keras' own legacy loader ignored safe_mode "
                "(CVE-2025-9905). Re-save the model as `.keras` with Keras 3, or load "
                "weights-only `.weights.h5` files with `model.load_weights(path)`.")
        if not zipfile.is_zipfile(path):
            raise ValueError(
                f"{what}: {path!r} is not a `.keras` file (not a zip archive, or it is "
                "truncated).")
        try:
            self._zf = zipfile.ZipFile(path, "r")
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise ValueError(f"{what}: {path!r} is a corrupt or truncated zip ({e}).") from e
        try:
            self._members = self._check_members()
            if METADATA_MEMBER in self._members:
                _check_version(self.read_json(METADATA_MEMBER), path)
        except BaseException:
            self._zf.close()
            raise

    def _check_members(self):
        infos = self._zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"{self.path!r}: too many members in the archive ({len(infos)}).")
        size = os.path.getsize(self.path)
        members = {}
        for info in infos:
            _check_member_name(info.filename, self.path)
            _check_member(info, self.path, size)
            members[info.filename] = info
        return members

    def close(self):
        self._zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def names(self):
        return list(self._members)

    def read_json(self, name):
        info = self._members[name]
        data = _read_member(self._zf, info, MAX_JSON_BYTES, self.path)
        return _parse_json(data, name, self.path)

    def config(self):
        """The parsed `config.json` (a dict)."""
        if CONFIG_MEMBER not in self._members:
            raise ValueError(
                f"{self.what}: {self.path!r} has no config.json; it is not a `.keras` "
                "model file.")
        config = self.read_json(CONFIG_MEMBER)
        if not isinstance(config, dict):
            raise ValueError(f"{self.path!r}: config.json must hold a JSON object.")
        return config

    def require_weights(self):
        """Raise unless the archive holds `model.weights.h5` (as Keras 3, even
        for a model without weights: every `.keras` file has one)."""
        if WEIGHTS_MEMBER in self._members:
            return
        others = sorted(self._members)
        hint = ("; kerax reads only model.weights.h5 (re-save the model with "
                "`model.save()`)" if "model.weights.npz" in self._members else "")
        raise ValueError(
            f"{self.what}: {self.path!r} has no {WEIGHTS_MEMBER} member (it holds "
            f"{others}): the archive is incomplete or was renamed, and loading it would "
            f"give a randomly initialised model. Expected a {WEIGHTS_MEMBER} file{hint}.")

    @contextlib.contextmanager
    def weights(self):
        """A seekable binary file over `model.weights.h5`: the member in place
        when it is stored uncompressed (as Keras and kerax write it; its CRC
        is checked first), else inflated into memory or, when large, into an
        anonymous temporary file."""
        self.require_weights()
        info = self._members[WEIGHTS_MEMBER]
        if info.compress_type == zipfile.ZIP_STORED:
            f = self._stored_window(info)
        else:
            f = self._inflated(info)
        try:
            yield f
        finally:
            f.close()

    def _stored_window(self, info):
        f = open(self.path, "rb")
        try:
            f.seek(info.header_offset)
            header = f.read(30)
            if len(header) != 30 or header[:4] != b"PK\x03\x04":
                raise ValueError("bad local file header")
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            name = f.read(name_len)
            if name.decode("utf-8" if info.flag_bits & 0x800 else "cp437") != \
                    info.orig_filename:
                raise ValueError("the member names in the directory and header differ")
            offset = info.header_offset + 30 + name_len + extra_len
            if offset + info.file_size > os.path.getsize(self.path):
                raise ValueError("the member extends past the end of the file")
            window = _MemberWindow(f, offset, info.file_size)
            crc = 0
            chunk = bytearray(1 << 20)
            while True:
                n = window.readinto(chunk)
                if not n:
                    break
                crc = zlib.crc32(memoryview(chunk)[:n], crc)
            if crc != info.CRC:
                raise ValueError("CRC check failed")
            window.seek(0)
            return window
        except (ValueError, OSError, UnicodeDecodeError) as e:
            f.close()
            raise ValueError(
                f"{self.path!r}: could not read {info.filename!r} from the archive: the "
                f"file is truncated or corrupt ({e}).") from e

    def _inflated(self, info):
        out = tempfile.TemporaryFile() if info.file_size > SPOOL_BYTES else io.BytesIO()
        try:
            with self._zf.open(info) as src:
                shutil.copyfileobj(src, out, 1 << 20)
            out.seek(0)
            return out
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError,
                zlib.error) as e:
            out.close()
            raise ValueError(
                f"{self.path!r}: could not inflate {info.filename!r}: the file is "
                f"truncated or corrupt, or there is no room for it ({e}).") from e


def _read_member(zf, info, limit, path):
    if info.file_size > limit:
        raise ValueError(
            f"{path!r}: member {info.filename!r} declares {info.file_size} bytes, over the "
            f"limit of {limit} bytes; the file is corrupt or hostile.")
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError,
            zlib.error) as e:
        raise ValueError(
            f"{path!r}: could not read {info.filename!r} from the archive: the file is "
            f"truncated or corrupt ({e}).") from e
    if len(data) > limit:
        raise ValueError(f"{path!r}: member {info.filename!r} is over the limit of "
                         f"{limit} bytes.")
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
