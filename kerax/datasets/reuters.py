"""Reuters newswire topics (Keras' `keras.datasets.reuters`)."""
import numpy as np

from kerax.datasets._common import (ORIGIN, drop_long, fetch, limit_words, load_npz,
                                    offset_words, read_json)

__all__ = ["load_data", "get_word_index", "get_label_names"]

_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """Load the 11,228 Reuters newswires labelled over 46 topics, as
    sequences of word ids ranked by frequency, from Keras' cache
    (`~/.keras/datasets/reuters.npz`).

    The wires are shuffled with `seed`, ids moved up by `index_from` after a
    `start_char`, sequences of `maxlen` words or more dropped, ids outside
    `[skip_top, num_words)` replaced by `oov_char` (dropped when None), and
    the last `test_split` of them kept for testing. Returns
    `(x_train, y_train), (x_test, y_test)`.

    >>> (x_train, y_train), _ = load_data(num_words=10000)  # doctest: +SKIP
    >>> get_label_names()[int(y_train[0])]  # doctest: +SKIP
    'earn'
    """
    path = fetch("kerax.datasets.reuters.load_data", path, ORIGIN + "reuters.npz", _HASH)
    f = load_npz(path)
    xs, labels = f["x"], f["y"]
    order = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(order)
    xs, labels = xs[order], labels[order]
    if start_char is not None or index_from:
        xs = offset_words(xs, start_char, index_from)
    if maxlen:
        xs, labels = drop_long(maxlen, xs, labels)
    xs = limit_words(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:cut], dtype="object"), np.array(labels[:cut])),
            (np.array(xs[cut:], dtype="object"), np.array(labels[cut:])))


def get_word_index(path="reuters_word_index.json"):
    """The dict word -> rank of the Reuters vocabulary (a word's id in
    `load_data`'s sequences is its rank plus `index_from`), from Keras' cache
    (`~/.keras/datasets/reuters_word_index.json`).

    >>> get_word_index()["the"]  # doctest: +SKIP
    1
    """
    path = fetch("kerax.datasets.reuters.get_word_index", path,
                 ORIGIN + "reuters_word_index.json", _WORD_INDEX_HASH)
    return read_json(path)


def get_label_names():
    """The 46 topic names, indexed by label.

    >>> get_label_names()[:3]
    ('cocoa', 'grain', 'veg-oil')
    """
    return _LABELS
