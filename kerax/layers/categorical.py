"""Categorical preprocessing layers (Keras 3 names and configs): Discretization,
CategoryEncoding, HashedCrossing, IntegerLookup.

JAX has no string tensors, so these layers take numbers. String vocabularies
(Keras' StringLookup, or strings given to HashedCrossing) are handled on the
host, in the input pipeline: HashedCrossing accepts NumPy string arrays there
(hashed with FarmHash Fingerprint64 as Keras/TensorFlow do, see
kerax.layers.fingerprint), and IntegerLookup maps integer ids inside compiled
programs (StringLookup, in text_preprocessing, maps strings on the host).
"""
import os

import jax
import jax.numpy as jnp
import numpy as np

from kerax.layers.fingerprint import fingerprint64
from kerax.layers.layer import KerasTensor, Layer
from kerax.registry import register_builtin
from kerax.variables import is_tracer

__all__ = ["Discretization", "CategoryEncoding", "HashedCrossing", "IntegerLookup"]

_MODES = ("int", "one_hot", "multi_hot", "count")


def encode_categorical(x, output_mode, depth, dtype="float32", count_weights=None):
    """Keras' encoding of integer ids in [0, depth): "int" returns them;
    "one_hot" adds a trailing axis (replacing a trailing axis of size 1);
    "multi_hot" / "count" reduce the last axis (a rank-0 or rank-1 input is
    one sample). Ids outside [0, depth) encode to zeros."""
    if output_mode == "int":
        return x
    if output_mode == "one_hot":
        if x.ndim == 0:
            x = x[None]
        elif x.ndim > 1 and x.shape[-1] == 1:
            x = x[..., 0]
        return jax.nn.one_hot(x, depth, dtype=dtype)
    if x.ndim == 0:
        x = x[None]
    hot = jax.nn.one_hot(x, depth, dtype=dtype)
    if output_mode == "multi_hot":
        return jnp.max(hot, axis=-2)
    if count_weights is not None:
        hot = hot * jnp.asarray(count_weights, dtype)[..., None]
    return jnp.sum(hot, axis=-2)


def _check_mode(mode, where, modes=_MODES):
    if mode not in modes:
        raise ValueError(f"{where}: `output_mode` must be one of {modes}, got {mode!r}.")
    return mode


def _check_positive(value, where, arg):
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: `{arg}` must be a positive integer, got {value!r}.")


def _check_dense(sparse, where):
    if sparse:
        raise ValueError(f"{where}: `sparse=True` is not supported.")


# ---- Discretization ---------------------------------------------------------------
def _summary(values, epsilon):
    """Sorted values every `max(n * epsilon, 1)` positions, with their weights."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size * epsilon, 1)
    picked = values[int(step - 1)::int(step)]
    return np.stack([picked, np.full(picked.shape, step, dtype=picked.dtype)])


def _quantile_boundaries(summary, num_bins):
    """Boundaries at cumulative weight fractions 1/n, 2/n, ... (n - 1 of them)."""
    fraction = 1.0 / num_bins
    if summary.shape[1] * fraction < 1:
        return summary[0, :-1]
    targets = fraction + np.arange(0.0, 1.0, fraction)
    cum = summary[1].cumsum()
    bins = np.interp(targets, cum / cum[-1], summary[0])
    return bins.astype("float32")[:-1]


@register_builtin("keras.layers")
class Discretization(Layer):
    """Buckets numbers by `bin_boundaries` (bucket i holds
    `boundaries[i-1] <= x < boundaries[i]`), or by `num_bins` quantiles
    learnt with `adapt(data)` (on the host, from all the data at once, with
    Keras' summary of precision `epsilon`)."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        where = f"Discretization {self.name!r}"
        if sparse:
            raise ValueError(f"{where}: `sparse=True` is not supported (JAX has no sparse "
                             "outputs here).")
        if (bin_boundaries is None) == (num_bins is None):
            raise ValueError(f"{where}: give exactly one of `bin_boundaries` and `num_bins`, "
                             f"got bin_boundaries={bin_boundaries!r}, num_bins={num_bins!r}.")
        if num_bins is not None:
            _check_positive(num_bins, where, "num_bins")
        self.output_mode = _check_mode(output_mode, where)
        self.input_bin_boundaries = bin_boundaries
        self.bin_boundaries = None if bin_boundaries is None else \
            [float(b) for b in bin_boundaries]
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.sparse = sparse

    def adapt(self, data, steps=None):
        if self.num_bins is None:
            raise ValueError(f"Discretization {self.name!r}: adapt() needs `num_bins`; this "
                             "layer was given `bin_boundaries`.")
        if isinstance(data, (list, tuple)) or (hasattr(data, "__iter__") and not hasattr(
                data, "shape")):
            data = np.concatenate([np.reshape(np.asarray(b), [-1]) for b in data])
        values = np.asarray(data, dtype="float64")
        summary = _summary(values.astype("float32"), self.epsilon)
        self.bin_boundaries = [float(b) for b in _quantile_boundaries(summary, self.num_bins)]

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization {self.name!r}: call adapt(data) first (or give "
                             "`bin_boundaries`).")
        x = jnp.asarray(inputs)
        bounds = jnp.asarray(self.bin_boundaries, dtype=x.dtype if jnp.issubdtype(
            x.dtype, jnp.floating) else "float32")
        ids = jnp.searchsorted(bounds, x, side="right").astype("int32")
        return encode_categorical(ids, self.output_mode, len(self.bin_boundaries) + 1,
                                  self.compute_dtype)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries if self.input_bin_boundaries is not None
                or self.bin_boundaries is not None else None,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name,
                "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            # An adapted layer's config (Keras' too) has both: boundaries are state.
            boundaries = config.pop("bin_boundaries")
            layer = super().from_config(config)
            layer.bin_boundaries = [float(b) for b in boundaries]
            return layer
        return super().from_config(config)


# ---- CategoryEncoding ---------------------------------------------------------------
@register_builtin("keras.layers")
class CategoryEncoding(Layer):
    """Encodes integer ids in [0, num_tokens) as "one_hot", "multi_hot" or
    "count" vectors (`count_weights` weights the counts)."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        where = f"CategoryEncoding {self.name!r}"
        if output_mode == "binary":
            output_mode = "multi_hot"
        _check_mode(output_mode, where, ("one_hot", "multi_hot", "count"))
        _check_positive(num_tokens, where, "num_tokens")
        _check_dense(sparse, where)
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = sparse

    def call(self, inputs, count_weights=None):
        x = jnp.asarray(inputs)
        if not jnp.issubdtype(x.dtype, jnp.integer):
            x = x.astype("int32")
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"Layer {self.name!r} (CategoryEncoding): `count_weights` only "
                             f"applies with output_mode='count', got {self.output_mode!r}.")
        return encode_categorical(x, self.output_mode, self.num_tokens, self.compute_dtype,
                                  count_weights)

    def get_config(self):
        config = super().get_config()
        config.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return config


# ---- HashedCrossing ------------------------------------------------------------------
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_MUL = np.uint64(0xC6A4A7935BD1E995)
_HASH_KEY = np.uint64(0xDECAFCAFFE)


def _shift_mix(v):
    return v ^ (v >> np.uint64(47))


def _fingerprint_cat64(a, b):
    """TensorFlow's FingerprintCat64 on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        r = a ^ _MUL
        r = r ^ (_shift_mix(b * _MUL) * _MUL)
        r = r * _MUL
        r = _shift_mix(r) * _MUL
        return _shift_mix(r)


def _feature_hash(x, where):
    if x.dtype.kind in "US" or x.dtype == object:
        flat = [fingerprint64(v if isinstance(v, bytes) else str(v)) for v in x.reshape(-1)]
        return np.asarray(flat, dtype=np.uint64).reshape(x.shape)
    if x.dtype.kind not in "iu":
        raise ValueError(f"{where}: inputs must be integers or strings, got dtype {x.dtype}.")
    return x.astype(np.int64).view(np.uint64)


@register_builtin("keras.layers")
class HashedCrossing(Layer):
    """Crosses two or more categorical features into `num_bins` buckets with
    TensorFlow's `sparse.cross_hashed` hash (the same ids Keras gives).

    Like Keras' version (which runs in TensorFlow), this is an input-pipeline
    layer: it hashes on the host with 64-bit NumPy arithmetic and cannot run
    inside a compiled model."""

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None,
                 **kwargs):
        if dtype is None:
            dtype = "int32" if output_mode == "int" else None
        super().__init__(name=name, dtype=dtype, **kwargs)
        where = f"HashedCrossing {self.name!r}"
        _check_mode(output_mode, where, ("int", "one_hot"))
        _check_positive(num_bins, where, "num_bins")
        _check_dense(sparse, where)
        self.num_bins = int(num_bins)
        self.output_mode = output_mode
        self.sparse = sparse

    def _convert_inputs(self, args):
        return args  # keep NumPy (string) arrays as they are

    def call(self, inputs):
        where = f"Layer {self.name!r} (HashedCrossing)"
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{where}: expects a list or tuple of at least two inputs, got "
                             f"{inputs!r}.")
        if any(is_tracer(x) for x in inputs):
            raise ValueError(f"{where} hashes on the host and cannot run inside a compiled "
                             "function: apply it to the data before fit/predict.")
        arrays = [np.asarray(x) for x in inputs]
        shape = arrays[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(f"{where}: inputs must be scalars, (batch,) or (batch, 1), got "
                             f"shape {shape}.")
        if any(a.shape != shape for a in arrays):
            raise ValueError(f"{where}: all inputs must have the same shape, got "
                             f"{[a.shape for a in arrays]}.")
        h = np.full(shape, _HASH_KEY, dtype=np.uint64)
        for a in arrays:
            h = _fingerprint_cat64(h, _feature_hash(a, where))
        ids = (h % np.uint64(self.num_bins)).astype(np.int32)
        if self.output_mode == "int":
            return jnp.asarray(ids, dtype=self.dtype)
        return encode_categorical(jnp.asarray(ids), "one_hot", self.num_bins,
                                  self.compute_dtype)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return shape if self.output_mode == "int" else shape[:1] + (self.num_bins,) \
            if len(shape) >= 1 else (self.num_bins,)

    def compute_output_spec(self, inputs, **kwargs):
        return KerasTensor(self.compute_output_shape([x.shape for x in inputs]),
                           "int32" if self.output_mode == "int" else self.compute_dtype)

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}


# ---- IntegerLookup -----------------------------------------------------------------
@register_builtin("keras.layers")
class IntegerLookup(Layer):
    """Maps integer tokens to contiguous ids: `[mask_token]` (id 0, when given),
    then `num_oov_indices` out-of-vocabulary ids (an unknown token x goes to
    `x % num_oov_indices`), then the vocabulary. `invert=True` maps ids back to
    tokens. Output modes "int", "one_hot", "multi_hot", "count", "tf_idf".

    The vocabulary comes from `vocabulary=` or `adapt(data)` (on the host:
    tokens by decreasing frequency, ties by decreasing value, as Keras). The lookup
    itself is a `searchsorted` and runs inside compiled programs. For string
    tokens, map strings to integers on the host first (kerax has no string
    tensors). With `num_oov_indices=0` an unknown token gives -1 (a compiled
    program cannot raise)."""

    _modes = ("int", "one_hot", "multi_hot", "count", "tf_idf")

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        frozen_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        self._frozen_vocab_size = frozen_size  # from a config: the size before assets load
        where = f"IntegerLookup {self.name!r}"
        _check_mode(output_mode, where, self._modes)
        if invert and output_mode != "int":
            raise ValueError(f"{where}: `invert=True` needs output_mode='int', got "
                             f"{output_mode!r}.")
        if not isinstance(num_oov_indices, (int, np.integer)) or num_oov_indices < 0:
            raise ValueError(f"{where}: `num_oov_indices` must be a non-negative integer, "
                             f"got {num_oov_indices!r}.")
        if oov_method != "floormod":
            raise ValueError(f"{where}: only oov_method='floormod' is supported for integer "
                             f"tokens, got {oov_method!r}.")
        _check_dense(sparse, where)
        if output_mode == "tf_idf" and idf_weights is None and vocabulary is not None:
            raise ValueError(f"{where}: output_mode='tf_idf' needs `idf_weights` with "
                             "`vocabulary`.")
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = None if mask_token is None else int(mask_token)
        self.oov_token = None if oov_token is None else int(oov_token)
        self.vocabulary_dtype = vocabulary_dtype
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.sparse = sparse
        self.pad_to_max_tokens = pad_to_max_tokens
        self.oov_method = oov_method
        self.salt = salt
        self.input_vocabulary = vocabulary
        self.input_idf_weights = idf_weights
        self._vocab = None
        self._idf = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        where = f"IntegerLookup {self.name!r}"
        vocab = np.asarray(vocabulary).reshape(-1)
        if vocab.dtype.kind not in "iu":
            raise ValueError(f"{where}: the vocabulary must be integers, got dtype "
                             f"{vocab.dtype}. Map string tokens to integers on the host.")
        vocab = vocab.astype(np.int64)
        if len(np.unique(vocab)) != len(vocab):
            raise ValueError(f"{where}: the vocabulary has repeated tokens: {vocab.tolist()}.")
        tokens = set(vocab.tolist())
        for special, label in ((self.mask_token, "mask_token"), (self.oov_token, "oov_token")):
            if special is not None and special in tokens and not (
                    label == "oov_token" and self.num_oov_indices == 0):
                raise ValueError(f"{where}: the vocabulary contains the {label} {special}.")
        if self.max_tokens is not None and len(vocab) + self._offset() > self.max_tokens:
            raise ValueError(f"{where}: vocabulary of {len(vocab)} tokens exceeds max_tokens="
                             f"{self.max_tokens}.")
        self._vocab = vocab
        if idf_weights is not None:
            idf = np.asarray(idf_weights, "float32").reshape(-1)
            if len(idf) != len(vocab):
                raise ValueError(f"{where}: `idf_weights` must match the vocabulary length "
                                 f"({len(vocab)}), got {len(idf)}.")
            # Specials get the mean weight (Keras' choice for OOV), mask 0.
            pad = [0.0] if self.mask_token is not None else []
            self._idf = np.concatenate([np.asarray(pad, "float32"),
                                        np.full(self.num_oov_indices, idf.mean(), "float32"),
                                        idf])

    def adapt(self, data, steps=None):
        values = np.concatenate([np.asarray(b).reshape(-1) for b in data]) \
            if isinstance(data, (list, tuple)) and data and np.ndim(data[0]) > 0 \
            else np.asarray(data).reshape(-1)
        tokens, counts = np.unique(values.astype(np.int64), return_counts=True)
        keep = np.ones(len(tokens), bool)
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                keep &= tokens != special
        tokens, counts = tokens[keep], counts[keep]
        order = np.lexsort((-tokens, -counts))
        tokens = tokens[order]
        if self.max_tokens is not None:
            tokens = tokens[:max(self.max_tokens - self._offset(), 0)]
        self.set_vocabulary(tokens)

    def _offset(self):
        return (1 if self.mask_token is not None else 0) + self.num_oov_indices

    def get_vocabulary(self, include_special_tokens=True):
        vocab = [] if self._vocab is None else self._vocab.tolist()
        if not include_special_tokens:
            return vocab
        specials = ([self.mask_token] if self.mask_token is not None else []) + \
            [self.oov_token] * self.num_oov_indices
        return specials + vocab

    def vocabulary_size(self):
        return self._offset() + (0 if self._vocab is None else len(self._vocab))

    def call(self, inputs):
        if self._vocab is None:
            raise ValueError(f"Layer {self.name!r} (IntegerLookup): no vocabulary; pass "
                             "`vocabulary=` or call adapt(data) first.")
        x = jnp.asarray(inputs)
        if self.invert:
            table = jnp.asarray(self.get_vocabulary(), dtype="int32")
            ids = x.astype("int32")
            ok = (ids >= 0) & (ids < table.shape[0])
            return jnp.where(ok, table[jnp.clip(ids, 0, table.shape[0] - 1)],
                             -1 if self.oov_token is None else self.oov_token)
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise ValueError(f"Layer {self.name!r} (IntegerLookup): inputs must be integers, "
                             f"got dtype {x.dtype}. Map strings to integers on the host.")
        order = np.argsort(self._vocab)
        sorted_vocab = jnp.asarray(self._vocab[order], "int32")
        positions = jnp.asarray(order, "int32")
        x = x.astype("int32")
        pos = jnp.clip(jnp.searchsorted(sorted_vocab, x), 0, len(order) - 1)
        found = sorted_vocab[pos] == x
        mask_shift = 1 if self.mask_token is not None else 0
        ids = positions[pos] + self._offset()
        if self.num_oov_indices == 0:
            oov = jnp.full_like(x, -1)
        else:
            oov = jnp.mod(x, self.num_oov_indices) + mask_shift
        ids = jnp.where(found, ids, oov)
        if self.mask_token is not None:
            ids = jnp.where(x == self.mask_token, 0, ids)
        if self.output_mode == "int":
            return ids
        depth = self.vocabulary_size()
        if self.pad_to_max_tokens and self.max_tokens is not None:
            depth = max(depth, self.max_tokens)
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode_categorical(ids, mode, depth, self.compute_dtype)
        if self.output_mode == "tf_idf":
            idf = np.zeros(depth, "float32")
            if self._idf is not None:
                idf[:len(self._idf)] = self._idf
            out = out * jnp.asarray(idf)
        return out

    def compute_output_spec(self, inputs, **kwargs):
        """Shapes without running the lookup (a model rebuilt from a config is
        called symbolically before its vocabulary asset is loaded)."""
        shape = tuple(inputs.shape)
        if self.output_mode == "int":
            return KerasTensor(shape, "int32")
        depth = self.vocabulary_size() if self._vocab is not None else self._frozen_vocab_size
        if self.pad_to_max_tokens and self.max_tokens is not None:
            depth = max(depth or 0, self.max_tokens)
        if depth is None:
            raise ValueError(f"Layer {self.name!r} (IntegerLookup): output_mode="
                             f"{self.output_mode!r} needs the vocabulary size; pass "
                             "`vocabulary=` or call adapt(data) before using it in a model.")
        if self.output_mode == "one_hot":
            out = shape[:-1] + (depth,) if len(shape) > 1 and shape[-1] == 1 \
                else shape + (depth,)
        else:
            out = shape[:-1] + (depth,)
        return KerasTensor(out, self.compute_dtype)

    def save_assets(self, dir_path):
        """Keras' `.keras` asset: an adapted vocabulary (special tokens first)
        in `vocabulary.txt`; a vocabulary given in the constructor is in the config."""
        if self.input_vocabulary is not None or self._vocab is None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(v) for v in self.get_vocabulary()))

    def load_assets(self, dir_path):
        path = os.path.join(dir_path, "vocabulary.txt")
        if self.input_vocabulary is not None or not os.path.isfile(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        try:
            values = [int(line) for line in lines]
        except ValueError:
            raise ValueError(f"IntegerLookup {self.name!r}: the vocabulary asset holds a "
                             "non-integer line; the file is corrupt.") from None
        specials = self.get_vocabulary()[:self._offset()]
        if values[:len(specials)] == specials:
            values = values[len(specials):]
        if values:
            self.set_vocabulary(values)

    def get_config(self):
        config = super().get_config()
        vocab = self.input_vocabulary
        if vocab is not None and not isinstance(vocab, str):
            vocab = [int(v) for v in np.asarray(vocab).reshape(-1)]
        idf = self.input_idf_weights
        if idf is not None:
            idf = [float(v) for v in np.asarray(idf).reshape(-1)]
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
            "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": idf,
            "vocabulary": vocab,
            "vocabulary_size": self.vocabulary_size() if self._vocab is not None else None,
            "oov_method": self.oov_method, "salt": self.salt})
        return config
