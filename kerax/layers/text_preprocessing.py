"""Host-side string preprocessing layers: `StringLookup` and `Hashing`
(Keras 3's names, arguments, numerics and `.keras` format).

JAX has no string tensors, so these layers run on the host, in the input
pipeline, as Keras recommends for them with any backend: they take NumPy
arrays (or lists, scalars, bytes) and return NumPy arrays, which `fit` and
`predict` consume directly::

    lookup = kerax.layers.StringLookup(vocabulary=["a", "b", "c"])
    ids = lookup(np.array([["a"], ["z"]]))      # array([[1], [0]])
    model.fit(ids, y)                           # the model sees integers

They cannot run inside a compiled model (a traced call raises an error that
says so), but a model on `kerax.Input(dtype="string")` may start with them: it
runs them on the host on each call's data (kerax/models/host_prefix.py). Hashing uses FarmHash Fingerprint64, or SipHash-2-4 with a `salt`,
on the same bytes TensorFlow hashes, so the bins are Keras' bins.
"""
import itertools
import os

import numpy as np

from kerax.layers.categorical import encode_categorical
from kerax.layers.fingerprint import hash_buckets
from kerax.layers.lambda_serialization import in_safe_mode
from kerax.layers.layer import KerasTensor, Layer
from kerax.registry import register_builtin
from kerax.variables import is_tracer

__all__ = ["StringLookup", "Hashing"]

_LOOKUP_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_HASH_MODES = ("int", "one_hot", "multi_hot", "count")


def _host_array(x, where):
    """`x` as a NumPy array, refusing traced values with a clear error."""
    if isinstance(x, KerasTensor):
        return x
    if is_tracer(x):
        raise ValueError(
            f"{where} runs on the host (kerax has no string tensors) and cannot run inside "
            "a compiled function or model: apply it to the data in the input pipeline, "
            "before fit/predict (e.g. `model.predict(layer(raw))`), or make it one of the "
            "first layers of a model on `kerax.Input(dtype=\"string\")`, which runs them "
            "on the host.")
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return np.asarray(x)


def _salt_pair(salt, where):
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
            isinstance(s, (int, np.integer)) for s in salt):
        return [int(s) for s in salt]
    if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
        return [int(salt), int(salt)]
    raise ValueError(f"{where}: the `salt` argument can only be a tuple of 2 integers, or a "
                     f"single integer. Received: salt={salt!r}.")


def _encode(ids, output_mode, depth, dtype):
    """Keras' encoding of ids in [0, depth) (ids outside encode to zeros), as
    a NumPy array of `dtype`."""
    if output_mode == "int":
        return ids
    out = encode_categorical(np.where((ids >= 0) & (ids < depth), ids, -1).astype(np.int32),
                             output_mode, depth, "float32")
    return np.asarray(out).astype(dtype)


def _as_text(x, encoding):
    """A NumPy array of Python `str` (bytes decoded with `encoding`)."""
    if x.dtype.kind == "U":
        return x
    if x.dtype.kind == "S":
        return np.char.decode(x, encoding)
    if x.dtype == object:
        flat = [v.decode(encoding) if isinstance(v, (bytes, bytearray)) else v
                for v in x.reshape(-1).tolist()]
        if not all(isinstance(v, str) for v in flat):
            bad = next(v for v in flat if not isinstance(v, str))
            raise ValueError(f"expected strings, got {bad!r} ({type(bad).__name__}).")
        return np.asarray(flat, dtype=str).reshape(x.shape) if flat else x.astype(str)
    raise ValueError(f"expected strings, got an array of dtype {x.dtype}.")


# ---- StringLookup ---------------------------------------------------------------------
@register_builtin("keras.layers")
class StringLookup(Layer):
    """Maps strings to integer ids from a vocabulary (Keras 3's StringLookup),
    on the host.

    Ids: `mask_token` (id 0, in "int" mode, when given), then `num_oov_indices`
    out-of-vocabulary ids (an unknown string goes to its FarmHash bucket among
    them, or its SipHash bucket with `salt`), then the vocabulary. The
    vocabulary comes from `vocabulary=` (a list, array or a text file with
    one token per line) or `adapt(data)` (tokens by decreasing frequency,
    ties by decreasing token, as Keras). `invert=True` maps ids back to
    strings. Output modes "int" (int64 ids), "one_hot", "multi_hot", "count"
    (int64) and "tf_idf" (float32).

    >>> layer = StringLookup(vocabulary=["a", "b", "c"])
    >>> layer(np.array([["a"], ["z"], ["c"]])).tolist()
    [[1], [0], [3]]
    """

    _host_layer = True  # runs on NumPy on the host; takes string tensors

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 oov_method="floormod", **kwargs):
        frozen = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocab_dtype = kwargs.pop("vocabulary_dtype", "string")
        super().__init__(name=name, **kwargs)
        where = f"StringLookup {self.name!r}"
        if vocab_dtype not in ("string", "str"):
            raise ValueError(f"{where}: `vocabulary_dtype` can only be 'string', got "
                             f"{vocab_dtype!r}.")
        if max_tokens is not None and (not isinstance(max_tokens, (int, np.integer))
                                       or max_tokens <= 1):
            raise ValueError(f"{where}: if set, `max_tokens` must be greater than 1. "
                             f"Received: max_tokens={max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{where}: if pad_to_max_tokens is True, `max_tokens` must be "
                             "set. Received: max_tokens=None")
        if not isinstance(num_oov_indices, (int, np.integer)) or num_oov_indices < 0:
            raise ValueError(f"{where}: `num_oov_indices` must be greater than or equal to "
                             f"0. Received: num_oov_indices={num_oov_indices!r}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{where}: `oov_method` must be 'floormod' or 'farmhash', got "
                             f"{oov_method!r}.")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in _LOOKUP_MODES:
            raise ValueError(f"{where}: `output_mode` must be one of {_LOOKUP_MODES}. "
                             f"Received: output_mode={output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{where}: `output_mode` must be 'int' when `invert` is true. "
                             f"Received: output_mode={output_mode!r}")
        if sparse:
            raise ValueError(f"{where}: `sparse=True` can only be used with the TensorFlow "
                             "backend (kerax has no sparse outputs).")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{where}: `idf_weights` should only be set if `output_mode` is "
                             f"'tf_idf'. Received: output_mode={output_mode!r}")
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{where}: when specifying the `vocabulary` argument in TF-IDF "
                             "output mode, the `idf_weights` argument must also be provided.")
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = sparse
        self.encoding = encoding
        self.oov_method = oov_method
        self.salt = _salt_pair(salt, where)
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._frozen_vocab_size = frozen
        self._tokens = None  # the vocabulary without specials, a list of str
        self._index = {}
        self._idf = None  # idf weights of every id (specials included), float32
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("vocabulary"), str) and in_safe_mode():
            raise ValueError(
                f"StringLookup {config.get('name')!r}: the config asks to read a vocabulary "
                f"file outside the model archive ({config['vocabulary']!r}). This is refused "
                "in safe mode; pass safe_mode=False to the loading function only if you trust "
                "the file.")
        return super().from_config(config)

    # ---- indices ---------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def _where(self):
        return f"Layer {self.name!r} (StringLookup)"

    # ---- vocabulary --------------------------------------------------------------------
    def vocabulary_size(self):
        """The number of ids, specials (mask, OOV) included."""
        return self._token_start_index() + (0 if self._tokens is None else len(self._tokens))

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary as a list of strings; with the special tokens first
        (so a token's position is its id) unless `include_special_tokens=False`."""
        tokens = list(self._tokens or [])
        if not include_special_tokens:
            return tokens
        specials = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        return specials + tokens

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (a list/array of strings, or the path of a text
        file with one token per line) and, for "tf_idf", the idf weights."""
        where = f"StringLookup {self.name!r}"
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{where}: `idf_weights` must be set if output_mode is "
                                 "'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError(f"{where}: `idf_weights` should only be set if output_mode is "
                             f"'tf_idf'. Received: output_mode={self.output_mode!r}")
        if isinstance(vocabulary, (str, os.PathLike)):
            path = os.fspath(vocabulary)
            if not os.path.isfile(path):
                raise ValueError(f"{where}: vocabulary file {path!r} does not exist.")
            if self.output_mode == "tf_idf":
                raise ValueError(f"{where}: output_mode 'tf_idf' does not support loading a "
                                 "vocabulary from file.")
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
            while lines and lines[-1] == "":
                lines.pop()
            vocabulary = lines
        if hasattr(vocabulary, "numpy") and not isinstance(vocabulary, np.ndarray):
            vocabulary = vocabulary.numpy()
        arr = vocabulary if isinstance(vocabulary, np.ndarray) else np.asarray(
            list(vocabulary), dtype=object)
        try:
            vocab = _as_text(arr.reshape(-1), self.encoding).tolist() if arr.size else []
        except ValueError as e:
            raise ValueError(f"{where}: the vocabulary must hold strings; {e}") from None
        if not vocab:
            raise ValueError(f"{where}: cannot set an empty vocabulary. Received: "
                             f"vocabulary={vocabulary!r}")
        token_start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        found_specials = vocab[:token_start] == specials
        tokens = vocab[token_start:] if found_specials else vocab
        counts = {}
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
        repeated = [t for t, c in counts.items() if c > 1]
        if repeated:
            raise ValueError(f"{where}: the vocabulary has repeated terms {repeated}; "
                             "please make the tokens unique.")
        if self.mask_token is not None and self.mask_token in counts:
            raise ValueError(
                f"{where}: found the reserved mask token {self.mask_token!r} inside "
                "`vocabulary`. The vocabulary does not need the mask and OOV tokens; remove "
                f"them, or put them only at the start in this order: {specials}.")
        if self.oov_token is not None and self.invert and self.oov_token in counts:
            raise ValueError(
                f"{where}: found the reserved OOV token {self.oov_token!r} inside "
                "`vocabulary`. Remove it, or put the special tokens only at the start in "
                f"this order: {specials}.")
        size = token_start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{where}: attempted to set a vocabulary larger than the maximum "
                             f"vocab size. Received vocabulary size is {size}; `max_tokens` "
                             f"is {self.max_tokens}.")
        idf = None
        if self.output_mode == "tf_idf":
            weights = np.asarray(idf_weights, dtype=np.float64)
            if weights.ndim != 1:
                raise ValueError(f"{where}: TF-IDF data must be a 1-index array. Received "
                                 f"shape {weights.shape}.")
            if len(weights) != len(vocab):
                raise ValueError(f"{where}: `idf_weights` must be the same length as the "
                                 f"vocabulary ({len(vocab)}); got {len(weights)}.")
            front = (0, 0.0) if found_specials else (token_start, float(np.average(weights)))
            back = self.max_tokens - front[0] - len(weights) if (
                self.pad_to_max_tokens and self.max_tokens is not None) else 0
            idf = np.pad(weights, (front[0], back), constant_values=(front[1], 0.0))
        self._set_tokens(tokens, idf)

    def _set_tokens(self, tokens, idf=None):
        if self._frozen_vocab_size is not None and self.output_mode != "int" \
                and not self.pad_to_max_tokens \
                and self._token_start_index() + len(tokens) != self._frozen_vocab_size:
            raise RuntimeError(
                f"{self._where()}: with output_mode={self.output_mode!r} and "
                "pad_to_max_tokens=False the vocabulary size cannot change once set. Old vocab size is {self._frozen_vocab_size}, new vocab size is "
                f"{self._token_start_index() + len(tokens)}")
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}
        if idf is not None:
            self._idf = np.asarray(idf, np.float32)
        self._frozen_vocab_size = self.vocabulary_size()

    def adapt(self, data, steps=None):
        """Learn the vocabulary from `data`: an array or list of strings, or an
        iterable of batches (at most `steps` of them). Tokens are sorted by
        decreasing count, ties by decreasing token; `max_tokens` keeps the most
        frequent. In "tf_idf" mode each row is a document."""
        where = f"StringLookup {self.name!r}"
        if self._has_input_vocabulary:
            raise ValueError(f"{where}: cannot adapt a layer after setting a static "
                             "vocabulary via the `vocabulary` argument or `set_vocabulary()`.")
        if isinstance(data, (list, tuple, np.ndarray, str, bytes)) or hasattr(data, "shape"):
            arr = _host_array(data, where)
            batches = [arr[:, None] if arr.ndim == 1 else arr]
        else:
            try:
                iterator = iter(data)
            except TypeError:
                raise TypeError(f"{where}.adapt: `data` must be an array, a list of strings or "
                                f"an iterable of batches, got {type(data).__name__}.") from None
            batches = iterator if steps is None else itertools.islice(iterator, steps)
        counts, doc_counts, num_docs = {}, {}, 0
        for batch in batches:
            x = _as_text(np.asarray(_host_array(batch, where)), self.encoding)
            if x.ndim == 0:
                x = x.reshape(1)
            if x.ndim == 1:
                x = x[None]
            tokens, c = np.unique(x.reshape(-1), return_counts=True)
            for t, n in zip(tokens.tolist(), c.tolist()):
                counts[t] = counts.get(t, 0) + n
            if self.output_mode == "tf_idf":
                rows = x.reshape(x.shape[0], -1)
                num_docs += rows.shape[0]
                for row in rows:
                    for t in set(row.tolist()):
                        doc_counts[t] = doc_counts.get(t, 0) + 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        tokens = sorted(counts, key=lambda t: (counts[t], t.encode("utf-8")), reverse=True)
        if self.max_tokens:
            tokens = tokens[:max(self.max_tokens - self._token_start_index(), 0)]
        idf = None
        if self.output_mode == "tf_idf":
            weights = np.log(1 + num_docs / (1 + np.asarray(
                [doc_counts.get(t, 0) for t in tokens], np.float64)))
            weights = weights.astype(np.float32)
            mean = float(np.mean(weights)) if len(weights) else np.nan
            idf = np.concatenate([np.full(self._token_start_index(), mean, np.float32),
                                  weights])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - len(idf)))
        self._set_tokens(tokens, idf)

    # ---- call --------------------------------------------------------------------------
    def _convert_inputs(self, args):
        return args  # stays on the host: strings never become JAX arrays

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def call(self, inputs):
        where = self._where()
        x = _host_array(inputs, where)
        if self._tokens is None:
            if self.invert or self.output_mode != "int" and not self.pad_to_max_tokens:
                raise ValueError(f"{where}: the layer has no vocabulary; pass `vocabulary=` or "
                                 "call adapt(data) first.")
        if self.invert:
            return self._invert(x)
        try:
            text = _as_text(x, self.encoding)
        except ValueError as e:
            raise ValueError(f"{where}: inputs must be strings; {e}") from None
        flat = text.reshape(-1).tolist()
        ids = np.fromiter((self._index.get(t, -1) for t in flat), np.int64, len(flat))
        oov = ids == -1
        if self.mask_token is not None:
            is_mask = np.asarray([t == self.mask_token for t in flat], bool)
            oov &= ~is_mask
        if oov.any():
            if self.num_oov_indices == 0:
                raise ValueError(
                    f"{where}: when `num_oov_indices=0` all inputs should be in the "
                    f"vocabulary; found OOV values {sorted(set(np.asarray(flat)[oov].tolist()))}"
                    ". Consider setting `num_oov_indices=1`.")
            start = self._oov_start_index()
            if self.num_oov_indices == 1:
                ids[oov] = start
            else:
                values = np.asarray(flat, dtype=object)[oov]
                ids[oov] = hash_buckets(np.asarray([v.encode(self.encoding) for v in values],
                                                   dtype=object),
                                        self.num_oov_indices, self.salt) + start
        if self.mask_token is not None:
            ids[is_mask] = 0 if self.output_mode == "int" else -1
        ids = ids.reshape(text.shape)
        if self.output_mode == "int":
            return ids
        scalar = ids.ndim == 0
        if scalar:
            ids = ids.reshape(1)
        depth = self._depth()
        if self.output_mode == "tf_idf":
            if self._idf is None:
                raise ValueError(f"{where}: output_mode='tf_idf' needs idf weights: adapt the "
                                 "layer or pass `idf_weights` with `vocabulary`.")
            counts = _encode(ids, "count", depth, np.float32)
            idf = np.zeros(depth, np.float32)
            idf[:min(depth, len(self._idf))] = self._idf[:depth]
            return counts * idf
        return _encode(ids, self.output_mode, depth, np.int64)

    def _invert(self, x):
        if x.dtype.kind not in "iu":
            raise ValueError(f"{self._where()} with invert=True expects integer ids, got dtype "
                             f"{x.dtype}.")
        table = np.asarray(self.get_vocabulary(), dtype=object)
        ok = (x >= 0) & (x < len(table))
        out = np.where(ok, table[np.clip(x, 0, len(table) - 1)], self.oov_token)
        # OOV ids map to the OOV token, the mask id to the mask token (as Keras).
        start = self._oov_start_index()
        out = np.where((x >= start) & (x < self._token_start_index()), self.oov_token, out)
        return out.astype(str)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = self._depth()
        if self.output_mode == "one_hot":
            if len(shape) > 1 and shape[-1] == 1:
                return shape[:-1] + (depth,)
            return shape + (depth,)
        return shape[:-1] + (depth,)

    def compute_output_spec(self, inputs, **kwargs):
        dtype = "str" if self.invert else (
            "int64" if self.output_mode != "tf_idf" else "float32")
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype)

    # ---- saving ------------------------------------------------------------------------
    def get_build_config(self):
        return {}

    def build_from_config(self, config):
        self.built = True

    def get_config(self):
        config = super().get_config()
        vocab = self.input_vocabulary
        if vocab is not None and not isinstance(vocab, (list, str)):
            vocab = np.asarray(vocab).tolist()
        idf = self.input_idf_weights
        if idf is not None and not isinstance(idf, list):
            idf = np.asarray(idf).tolist()
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
            "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": idf, "vocabulary": vocab,
            "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method,
            "salt": self.salt, "encoding": self.encoding})
        return config

    def save_own_variables(self, store):
        if self.output_mode == "tf_idf" and self._idf is not None:
            store["idf_weights"] = self._idf

    def load_own_variables(self, store):
        if self.output_mode == "tf_idf" and "idf_weights" in store:
            self._idf = np.asarray(store["idf_weights"], np.float32)

    def save_assets(self, dir_path):
        """Write the adapted vocabulary to `dir_path/vocabulary.txt` (Keras'
        `.keras` asset; a vocabulary given in the constructor is in the config)."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary()))

    def load_assets(self, dir_path):
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.isfile(path):
            return  # saved before adapt(): no vocabulary
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return
        token_start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        tokens = lines[token_start:] if lines[:token_start] == specials else lines
        self._set_tokens(tokens, self._idf)


# ---- Hashing --------------------------------------------------------------------------
@register_builtin("keras.layers")
class Hashing(Layer):
    """Hashes strings or integers into `num_bins` bins (Keras 3's Hashing), on
    the host: FarmHash Fingerprint64 by default, SipHash-2-4 keyed by `salt`
    (an int, or a pair of ints) when given. Integers are hashed as their
    decimal strings and floats are truncated to integers first, as Keras does.
    With `mask_value`, that value goes to bin 0 and the others to
    `1 + hash % (num_bins - 1)`.

    >>> Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]])).ravel().tolist()
    [1, 0, 1, 1, 2]
    """

    _host_layer = True  # runs on NumPy on the host; takes string tensors

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else None
        super().__init__(**kwargs)
        where = f"Hashing {self.name!r}"
        if num_bins is None or not isinstance(num_bins, (int, np.integer)) or num_bins <= 0:
            raise ValueError(f"{where}: `num_bins` cannot be None or non-positive. "
                             f"Received: num_bins={num_bins!r}.")
        if output_mode not in _HASH_MODES:
            raise ValueError(f"{where}: `output_mode` must be one of {_HASH_MODES}. "
                             f"Received: output_mode={output_mode!r}")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError(f"{where}: when output_mode='int', `dtype` should be 'int32' or "
                             f"'int64'. Received: dtype={self.dtype!r}")
        if sparse:
            raise ValueError(f"{where}: `sparse=True` is not supported (kerax has no sparse "
                             "outputs).")
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.salt = _salt_pair(salt, where)
        self.strong_hash = self.salt is not None
        self.output_mode = output_mode
        self.sparse = sparse

    def _convert_inputs(self, args):
        return args

    def _bins(self, x):
        bins, mask = self.num_bins, None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            if x.dtype.kind in "USO":
                mv = self.mask_value.encode() if isinstance(self.mask_value, str) and \
                    x.dtype.kind == "S" else self.mask_value
                mask = np.asarray(x == mv, bool)
            else:
                mask = x == self.mask_value
        values = x
        if x.dtype.kind == "O":
            values = np.asarray([v if isinstance(v, (bytes, str)) else int(v)
                                 for v in x.reshape(-1).tolist()], dtype=object).reshape(x.shape)
        ids = hash_buckets(values, bins, self.salt)
        if mask is not None:
            ids = np.where(mask, 0, ids + 1)
        return ids

    def call(self, inputs):
        where = f"Layer {self.name!r} (Hashing)"
        x = _host_array(inputs, where)
        if x.dtype.kind not in "USOiuf":
            raise ValueError(f"{where}: inputs must be strings or numbers, got dtype "
                             f"{x.dtype}.")
        if self.output_mode == "one_hot" and x.ndim and x.shape[-1] == 1:
            x = x[..., 0]
        ids = self._bins(x)
        if self.output_mode == "int":
            return ids.astype(self.dtype)
        if ids.ndim == 0:
            ids = ids.reshape(1)
        return _encode(ids, self.output_mode, self.num_bins, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        if not shape:
            return (self.num_bins,)
        return shape[:-1] + (self.num_bins,)

    def compute_output_spec(self, inputs, **kwargs):
        return KerasTensor(self.compute_output_shape(inputs.shape), self.dtype
                           if self.output_mode == "int" else self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"num_bins": self.num_bins, "salt": self.salt,
                       "mask_value": self.mask_value, "output_mode": self.output_mode,
                       "sparse": self.sparse})
        return config
