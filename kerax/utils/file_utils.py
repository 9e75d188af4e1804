"""`get_file`: download a file into Keras' cache (`$KERAS_HOME` or `~/.keras`,
then `cache_subdir`), check its hash, and optionally extract an archive safely."""
import hashlib
import os
import shutil
import tempfile
import urllib.parse
import warnings
import zipfile

from kerax.io import io_utils
from kerax.io.progbar import Progbar

__all__ = ["get_file", "hash_file", "validate_file", "extract_archive"]


def _hasher(algorithm, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f"hash_algorithm must be 'md5', 'sha256' or 'auto'; got {algorithm!r}.")


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    """The hex digest of a file ("sha256" or "md5").

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "f"); _ = open(path, "wb").write(b"abc")
    >>> hash_file(path, "md5")
    '900150983cd24fb0d6963f7d28e17f72'
    """
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    """True when the file's hash equals `file_hash` ("auto": sha256 for a
    64-character hash, md5 otherwise)."""
    return hash_file(fpath, _hasher(algorithm, file_hash), chunk_size) == str(file_hash)


def _inside(base, name):
    target = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([target, base]) == base


def _safe_members(names_and_infos, base, link_of):
    for name, info in names_and_infos:
        link = link_of(info)
        ok = _inside(base, name) and (link is None or _inside(
            base, os.path.join(os.path.dirname(name), link) if not info.islnk() else link))
        if ok:
            yield info
        else:
            warnings.warn(f"Skipping unsafe path during archive extraction: {name!r}.",
                          stacklevel=3)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extract a tar or zip archive into `path`, skipping (with a warning) any
    member that would land outside it (absolute paths, `..`, escaping links).
    Returns True when the file was an archive of an allowed format."""
    import tarfile  # on use: `import kerax` does not need it
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    file_path, path = os.fspath(file_path), os.fspath(path)
    for fmt in formats:
        if fmt not in ("tar", "zip"):
            raise NotImplementedError(f"archive_format {fmt!r}: use 'tar', 'zip' or 'auto'.")
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            opener = tarfile.open
        elif fmt == "zip" and zipfile.is_zipfile(file_path):
            opener = zipfile.ZipFile
        else:
            continue
        os.makedirs(path, exist_ok=True)
        base = os.path.realpath(path)
        try:
            with opener(file_path) as archive:
                if fmt == "tar":
                    members = _safe_members(((m.name, m) for m in archive.getmembers()), base,
                                            lambda m: m.linkname if (m.issym() or m.islnk())
                                            else None)
                    archive.extractall(path, members=list(members), filter="data")
                else:
                    members = _safe_members(((i.filename, i) for i in archive.infolist()), base,
                                            lambda i: None)
                    archive.extractall(path, members=list(members))
        except (tarfile.TarError, zipfile.BadZipFile, OSError, KeyboardInterrupt):
            shutil.rmtree(path, ignore_errors=True)
            raise
        return True
    return False


def _cache_root(cache_dir):
    root = os.path.expanduser(cache_dir or os.environ.get("KERAS_HOME")
                              or os.path.join("~", ".keras"))
    try:
        os.makedirs(root, exist_ok=True)
    except OSError:
        pass
    if not os.access(root, os.W_OK):
        root = os.path.join(tempfile.gettempdir(), ".keras")
    return root


def _download(origin, target):
    """Fetch `origin` to a temporary file next to `target`, renamed over it only
    when complete, with a progress bar when the size is known."""
    import urllib.error  # on use: `import kerax` does not need urllib.request
    import urllib.request
    bar = [None]

    def report(blocks, block_size, total):
        if bar[0] is None:
            bar[0] = Progbar(total if total > 0 else None)
        done = blocks * block_size
        bar[0].update(min(done, total) if total > 0 else done)

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".download-")
    os.close(fd)
    try:
        try:
            urllib.request.urlretrieve(origin, tmp, report)
        except urllib.error.HTTPError as e:
            raise Exception(f"URL fetch failure on {origin}: {e.code} -- {e.msg}") from None
        except urllib.error.URLError as e:
            raise Exception(
                f"URL fetch failure on {origin}: {e.errno} -- {e.reason}. Is the network "
                "reachable? Otherwise download the file yourself and pass its folder as "
                "`cache_dir`.") from None
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Download `origin` (any URL urllib opens, file:// included) into
    `cache_dir/cache_subdir/fname` unless it is already there (with a matching
    `file_hash`, sha256 or md5), and return its path. With `extract=True`
    (or `untar=True`) the archive is extracted safely and the folder is
    returned. Same cache layout as Keras 3, so both share downloads.

    >>> import pathlib, tempfile
    >>> src = pathlib.Path(tempfile.mkdtemp()) / "data.txt"; _ = src.write_text("hi")
    >>> path = get_file(origin=src.as_uri(), cache_dir=tempfile.mkdtemp())  # doctest: +SKIP
    """
    if origin is None:
        raise ValueError('get_file: specify the "origin" argument (the URL of the file).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(_cache_root(cache_dir), cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    given = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"get_file: cannot tell the file name from origin {origin!r}; "
                             "pass `fname`.")
    elif os.sep in fname:
        raise ValueError(f"get_file: `fname` must be a file name, not a path (got {fname!r}); "
                         "use `cache_dir` for the folder.")
    extraction_dir = None
    if extract or untar:
        if given and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(
            target, file_hash, hash_algorithm):
        io_utils.print_msg(
            f"A local file was found, but it seems to be incomplete or outdated because the "
            f"{hash_algorithm} file hash does not match the original value of {file_hash} "
            "so we will re-download the data.")
        download = True
    if download:
        io_utils.print_msg(f"Downloading data from {origin}")
        _download(origin, target)
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            os.remove(target)
            raise ValueError(
                f"Incomplete or corrupted file detected. The {hash_algorithm} file hash does "
                f"not match the provided value of {file_hash}.")
    if extraction_dir is not None:
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target
