"""What Keras' dataset loaders share: the download through `get_file` with an
offline error that says which file to put where, a `.npz`/pickle reader that
only rebuilds NumPy arrays (a tampered file cannot run code), the seeded
train/test split and the word-index encoding of IMDB and Reuters."""
import io
import json
import os
import pickle
import zipfile

import numpy as np

from kerax.utils.file_utils import _cache_root, get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# The only globals a pickled NumPy array needs (NumPy 1 and 2 spellings).
_ARRAY_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
})


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ARRAY_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load `{module}.{name}` from a dataset file: only NumPy arrays "
                "are allowed (the file may be corrupt or hostile).")
        return super().find_class(module, name)


def unpickle(f, **kwargs):
    """Load a pickle that may hold only NumPy arrays and plain Python data."""
    return _ArraysOnly(f, **kwargs).load()


def _read_npy(buffer):
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array: its data is a pickle after the header
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        elif major in (2, 3):
            np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"unsupported .npy format version {major}.") from None
        return unpickle(buffer)


def load_npz(path):
    """The arrays of an `.npz` file as a dict; object arrays (ragged
    sequences) are unpickled with NumPy's array globals only."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    out[member[:-4]] = _read_npy(io.BytesIO(raw.read()))
    return out


def fetch(where, fname, origin, file_hash=None, cache_subdir="datasets", extract=False):
    """`get_file(fname, origin, ...)` in Keras' cache; when the file is not
    there and cannot be downloaded, an error naming the path to fill."""
    try:
        return get_file(fname=fname, origin=origin, file_hash=file_hash,
                        cache_subdir=cache_subdir, extract=extract)
    except Exception as e:  # noqa: BLE001 - re-raised with the fix
        target = os.path.join(_cache_root(None), cache_subdir,
                              fname + ("_archive" if extract else ""))
        algorithm = "sha256" if file_hash and len(file_hash) == 64 else "md5"
        check = f" (its {algorithm} must be {file_hash})" if file_hash else ""
        kind = ValueError if isinstance(e, ValueError) else OSError
        raise kind(
            f"{where}: could not get {origin} ({e}). Offline, download that file elsewhere and "
            f"put it at {target}{check}; it is read from there. $KERAS_HOME (default ~/.keras) "
            "chooses the cache folder.") from e


def split(x, y, test_split, seed):
    """Keras' shuffled split of (x, y): `RandomState(seed)` permutation, the
    first `int(n * (1 - test_split))` rows for training."""
    rng = np.random.RandomState(seed)
    order = np.arange(len(x))
    rng.shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def check_test_split(test_split):
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         "and 1 (exclusive of 1).")


def offset_words(seqs, start_char, index_from):
    """Each sequence's word ids moved up by `index_from`, after `start_char`."""
    head = [] if start_char is None else [start_char]
    return [head + [w + index_from for w in s] for s in seqs]


def drop_long(maxlen, seqs, labels):
    """Keep the sequences shorter than `maxlen` (strictly), with their labels."""
    kept = [(s, y) for s, y in zip(seqs, labels) if len(s) < maxlen]
    return [s for s, _ in kept], [y for _, y in kept]


def limit_words(seqs, num_words, skip_top, oov_char):
    """Ids outside [skip_top, num_words) become `oov_char` (or are dropped
    when it is None); `num_words=None` keeps every id below the largest."""
    if not num_words:
        num_words = max(max(s) for s in seqs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in seqs]
    return [[w for w in s if skip_top <= w < num_words] for s in seqs]


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
