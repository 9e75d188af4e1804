"""IMDB movie-review sentiment (Keras' `keras.datasets.imdb`)."""
import numpy as np

from kerax.datasets._common import (ORIGIN, drop_long, fetch, limit_words, load_npz,
                                    offset_words, read_json)

__all__ = ["load_data", "get_word_index"]

_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """Load the IMDB reviews (25,000 training, 25,000 test) as sequences of
    word ids ranked by frequency, with 0/1 sentiment labels, from Keras'
    cache (`~/.keras/datasets/imdb.npz`).

    Each set is shuffled with `seed`; ids are moved up by `index_from` after
    a `start_char`; with `maxlen`, sequences of `maxlen` words or more are
    dropped; ids outside `[skip_top, num_words)` become `oov_char` (dropped
    when it is None). Returns `(x_train, y_train), (x_test, y_test)`, the x
    arrays holding Python lists (dtype object).

    >>> (x_train, y_train), _ = load_data(num_words=10000)  # doctest: +SKIP
    >>> x_train[0][:3]  # doctest: +SKIP
    [1, 14, 22]
    """
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments: {sorted(kwargs)}.")
    path = fetch("kerax.datasets.imdb.load_data", path, ORIGIN + "imdb.npz", _HASH)
    f = load_npz(path)
    rng = np.random.RandomState(seed)
    sets = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        order = np.arange(len(f[x_key]))
        rng.shuffle(order)
        sets.append((f[x_key][order], f[y_key][order]))
    (x_train, labels_train), (x_test, labels_test) = sets
    x_train = offset_words(x_train, start_char, index_from)
    x_test = offset_words(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             "sequence was kept. Increase maxlen.")
    xs = limit_words(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    n = len(x_train)
    return ((np.array(xs[:n], dtype="object"), labels[:n]),
            (np.array(xs[n:], dtype="object"), labels[n:]))


def get_word_index(path="imdb_word_index.json"):
    """The dict word -> rank of the IMDB vocabulary (rank 1 is the most
    frequent word; in `load_data`'s sequences a word's id is its rank plus
    `index_from`), from Keras' cache (`~/.keras/datasets/imdb_word_index.json`).

    >>> index = get_word_index()  # doctest: +SKIP
    >>> index["the"]  # doctest: +SKIP
    1
    """
    path = fetch("kerax.datasets.imdb.get_word_index", path,
                 ORIGIN + "imdb_word_index.json", _WORD_INDEX_HASH)
    return read_json(path)
