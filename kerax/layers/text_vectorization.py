"""`TextVectorization` (Keras 3's name, arguments, numerics and `.keras`
format), on the host: strings never enter a JAX program.

The layer standardizes each string, splits it into tokens, forms n-grams and
maps them through a `StringLookup` (mask token "" = id 0, OOV "[UNK]" = id 1
in "int" mode), then pads ("int") or encodes ("multi_hot", "count",
"tf_idf", "one_hot") the result. It runs in the input pipeline, on NumPy
arrays or lists of strings, and returns NumPy arrays that `fit`/`predict`
consume::

    vectorize = kerax.layers.TextVectorization(output_sequence_length=8)
    vectorize.adapt(train_texts)
    model.fit(vectorize(train_texts), y)

Rules as Keras' TensorFlow ops: "lower" lowercases ASCII letters only (as
`tf.strings.lower`), punctuation is ASCII's, "whitespace" splits on runs of
ASCII whitespace, "character" on Unicode code points. A callable
`standardize` gets a NumPy array of `str` (as Keras on non-TensorFlow
backends) and returns one of the same shape; a callable `split` gets a 1-D
NumPy array of `str` and returns one token sequence per string (kerax has no
`tf.strings`).
"""
import itertools
import re
import string

import numpy as np

from kerax.core.config import floatx
from kerax.layers.lambda_serialization import in_safe_mode
from kerax.layers.layer import KerasTensor, Layer
from kerax.layers.text_preprocessing import StringLookup, _as_text, _host_array
from kerax.registry import deserialize_keras_object, register_builtin

__all__ = ["TextVectorization"]

_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")
_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")
_ASCII_SPACE = re.compile(r"[ \t\n\v\f\r]+")


def _check_choice(value, allowed, arg, allow_none=True, allow_callable=True):
    if value is None and allow_none or callable(value) and allow_callable or value in allowed:
        return
    extra = (" or None" if allow_none else "") + (" or a callable" if allow_callable else "")
    raise ValueError(f"TextVectorization: `{arg}` must be one of {allowed}{extra}. "
                     f"Received: {arg}={value!r}")


def _ngrams(tokens, widths):
    out = []
    for w in widths:
        out.extend(" ".join(tokens[i:i + w]) for i in range(len(tokens) - w + 1))
    return out


@register_builtin("keras.layers")
class TextVectorization(Layer):
    """Turns strings into token ids or token-count vectors (Keras 3's
    TextVectorization), on the host.

    Args (as Keras): `max_tokens` (vocabulary size cap, specials included),
    `standardize` ("lower_and_strip_punctuation", "lower",
    "strip_punctuation", None or a callable), `split` ("whitespace",
    "character", None or a callable), `ngrams` (None, n for 1..n-grams, or a
    tuple of widths), `output_mode` ("int", "multi_hot", "count", "tf_idf",
    "one_hot"), `output_sequence_length` ("int" only: pad or cut to it),
    `pad_to_max_tokens`, `vocabulary` (a list or a file with one token per
    line), `idf_weights` ("tf_idf"), `encoding`. `sparse` and `ragged` are
    TensorFlow-only and raise.

    Outputs: "int" gives int64 ids padded with 0 to the longest row (or to
    `output_sequence_length`); "multi_hot", "count" and "one_hot" int64 and
    "tf_idf" float32 vectors of the vocabulary size. With a split,
    "one_hot" gives `(batch, tokens, vocabulary)`, padding rows all zero.

    >>> layer = TextVectorization()
    >>> layer.adapt(["The cat sat.", "the dog, the cat!"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'cat', 'sat', 'dog']
    >>> layer(["the bird sat"]).tolist()
    [[2, 1, 4]]
    """

    _host_layer = True  # runs on NumPy on the host; takes string tensors

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        if sparse:
            raise ValueError("TextVectorization: `sparse=True` can only be used with the "
                             "TensorFlow backend (kerax has no sparse outputs).")
        if ragged:
            raise ValueError("TextVectorization: `ragged=True` can only be used with the "
                             "TensorFlow backend (kerax has no ragged outputs; 'int' mode pads "
                             "with 0).")
        _check_choice(standardize, _STANDARDIZE, "standardize")
        _check_choice(split, _SPLIT, "split")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        _check_choice(output_mode, _MODES, "output_mode", allow_none=False,
                      allow_callable=False)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or isinstance(ngrams, int) and not isinstance(ngrams, bool)
                or isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams)):
            raise ValueError("TextVectorization: `ngrams` must be None, an integer, or a "
                             f"tuple of integers. Received: ngrams={ngrams!r}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(
                output_sequence_length, int) and output_sequence_length >= 0):
            raise ValueError("TextVectorization: `output_sequence_length` must be either None "
                             "or an integer when `output_mode` is 'int'. Received: "
                             f"output_sequence_length={output_sequence_length!r}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("TextVectorization: `output_sequence_length` must not be set if "
                             "`output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        self._max_tokens = max_tokens
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._ragged = ragged
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._has_input_vocabulary = has_input_vocabulary
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            sparse=sparse, has_input_vocabulary=has_input_vocabulary, encoding=encoding,
            vocabulary_size=vocabulary_size)
        self.built = True  # no weights to make: usable and savable once it has a vocabulary

    # ---- vocabulary ----------------------------------------------------------------
    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary: with the mask "" and OOV "[UNK]" first (so a
        token's position is its "int" id) unless `include_special_tokens=False`."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """The number of ids, the mask and OOV ids included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (a list/array of tokens, or a text file with one
        token per line) and, for "tf_idf", its idf weights."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and the document frequencies for "tf_idf")
        from `data`: an array or list of strings (one document each), or an
        iterable of such batches (at most `steps` of them). Tokens are sorted
        by decreasing count, ties by decreasing token; `max_tokens` keeps the
        most frequent. `batch_size` splits array data into chunks (the result
        does not depend on it).

        >>> layer = TextVectorization(max_tokens=4)
        >>> layer.adapt(np.array(["a b b", "c b a"]))
        >>> layer.get_vocabulary()
        ['', '[UNK]', 'b', 'a']
        """
        where = f"TextVectorization {self.name!r}"
        if isinstance(data, (str, bytes)):
            raise ValueError(f"{where}.adapt: `data` must be an array, a list of strings or an "
                             "iterable of batches, not a single string (wrap it in a list).")
        if isinstance(data, (list, tuple, np.ndarray)) or hasattr(data, "shape"):
            if steps is not None:
                raise ValueError(f"{where}.adapt: `steps` is only supported for iterables of "
                                 "batches, not for arrays or lists.")
            arr = _host_array(data, where)
            if arr.ndim == 1:
                arr = arr[:, None]
            size = batch_size or max(len(arr), 1)
            batches = (arr[i:i + size] for i in range(0, max(len(arr), 1), size))
        else:
            try:
                iterator = iter(data)
            except TypeError:
                raise TypeError(f"{where}.adapt: `data` must be an array, a list of strings or "
                                f"an iterable of batches, got {type(data).__name__}.") from None
            batches = iterator if steps is None else itertools.islice(iterator, steps)
        self._lookup_layer.adapt(self._padded_tokens(self._preprocess(b)) for b in batches)

    # ---- preprocessing -----------------------------------------------------------------
    def _text(self, inputs):
        x = _host_array(inputs, self._where())
        try:
            return _as_text(x, self._encoding)
        except ValueError as e:
            raise ValueError(f"{self._where()}: inputs must be strings; {e}") from None

    def _where(self):
        return f"Layer {self.name!r} (TextVectorization)"

    def _standardized(self, text):
        if callable(self._standardize):
            out = np.asarray(self._standardize(text))
            if out.shape != text.shape:
                raise ValueError(f"{self._where()}: the `standardize` callable must return an "
                                 f"array of the input's shape {text.shape}; got {out.shape}.")
            return _as_text(out, self._encoding)
        if self._standardize is None:
            return text
        flat = text.reshape(-1).tolist()
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            flat = [s.translate(_ASCII_LOWER) for s in flat]
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            flat = [_PUNCTUATION.sub("", s) for s in flat]
        return np.asarray(flat, dtype=str).reshape(text.shape) if flat else text

    def _preprocess(self, inputs):
        """A list of token lists (one per row), or, with `split=None`, the
        standardized array itself."""
        text = self._standardized(self._text(inputs))
        if self._split is None:
            if self._ngrams is None:
                return text
            rows = text.reshape(-1, text.shape[-1] if text.ndim > 1 else 1).tolist()
            return [_ngrams(r, self._ngrams) for r in rows]
        if text.ndim > 1:
            if text.shape[-1] != 1:
                raise ValueError(
                    "When using `TextVectorization` to tokenize strings, the input rank must "
                    "be 1 or the last shape dimension must be 1. Received: inputs.shape="
                    f"{text.shape} with rank={text.ndim}")
            text = text[..., 0]
        if text.ndim > 1:
            raise ValueError(f"{self._where()}: expected a batch of strings of shape (batch,) "
                             f"or (batch, 1), got {text.shape + (1,)}.")
        rows = text.reshape(-1)
        if self._split == "whitespace":
            tokens = [[t for t in _ASCII_SPACE.split(s) if t] for s in rows.tolist()]
        elif self._split == "character":
            tokens = [list(s) for s in rows.tolist()]
        else:
            tokens = [[str(t) if not isinstance(t, bytes) else t.decode(self._encoding)
                       for t in row] for row in self._split(rows)]
            if len(tokens) != len(rows):
                raise ValueError(f"{self._where()}: the `split` callable must return one "
                                 f"token sequence per string ({len(rows)}); got {len(tokens)}.")
        if self._ngrams is not None:
            tokens = [_ngrams(t, self._ngrams) for t in tokens]
        return tokens

    @staticmethod
    def _padded_tokens(tokens, length=None):
        """Token rows as a (rows, length) str array padded with the mask ""."""
        if isinstance(tokens, np.ndarray):
            return tokens
        width = max((len(t) for t in tokens), default=0) if length is None else length
        out = np.full((len(tokens), width), "", dtype=object)
        for i, t in enumerate(tokens):
            t = t[:width]
            out[i, :len(t)] = t
        return out.astype(str) if out.size else np.zeros(out.shape, dtype="<U1")

    # ---- call ------------------------------------------------------------------------
    def _convert_inputs(self, args):
        return args  # stays on the host

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs):
        scalar = np.ndim(inputs) == 0 and not isinstance(inputs, KerasTensor)
        if scalar:
            inputs = np.asarray(inputs).reshape(1)
        tokens = self._preprocess(inputs)
        split = not isinstance(tokens, np.ndarray)
        length = self._output_sequence_length if self._output_mode == "int" else None
        padded = self._padded_tokens(tokens, length)
        lookup = self._lookup_layer
        if self._output_mode == "int":
            out = lookup(padded)
            if not split and length is not None:
                out = out[..., :length]
                if out.shape[-1] < length:
                    pad = [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])]
                    out = np.pad(out, pad)
        elif self._output_mode == "one_hot" and split:
            out = lookup(padded[..., None])
        else:
            out = lookup(padded)
        return out[0] if scalar else out

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = input_shape + (1,)
        else:
            # what call gives: one row of tokens per string ((batch,) or (batch, 1)
            # strings), then encoded (one_hot: one vector per token)
            input_shape = (input_shape[0] if input_shape else None, None)
            if self._output_mode == "one_hot":
                input_shape += (1,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, **kwargs):
        dtype = "int64" if self._output_mode == "int" else floatx()
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype)

    # ---- saving ------------------------------------------------------------------------
    def get_build_config(self):
        return {}

    def build_from_config(self, config):
        self.built = True

    def get_config(self):
        config = super().get_config()
        lookup = self._lookup_layer
        vocab = lookup.input_vocabulary
        if vocab is not None and not isinstance(vocab, (list, str)):
            vocab = np.asarray(vocab).tolist()
        idf = lookup.input_idf_weights
        if idf is not None and not isinstance(idf, list):
            idf = np.asarray(idf).tolist()
        config.update({
            "max_tokens": lookup.max_tokens, "standardize": self._standardize,
            "split": self._split, "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": lookup.sparse,
            "ragged": self._ragged, "vocabulary": vocab, "idf_weights": idf,
            "encoding": self._encoding, "vocabulary_size": self.vocabulary_size()})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("vocabulary"), str) and in_safe_mode():
            raise ValueError(
                f"TextVectorization {config.get('name')!r}: the config asks to read a "
                f"vocabulary file outside the model archive ({config['vocabulary']!r}). This "
                "is refused in safe mode; pass safe_mode=False to the loading function only if "
                "you trust the file.")
        for key in ("standardize", "split"):
            if config.get(key) is not None and not isinstance(config[key], str):
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config)

    def save_own_variables(self, store):
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store):
        self._lookup_layer.load_own_variables(store)

    def save_assets(self, dir_path):
        """Write the adapted vocabulary as Keras does (`vocabulary.txt`)."""
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path):
        self._lookup_layer.load_assets(dir_path)
