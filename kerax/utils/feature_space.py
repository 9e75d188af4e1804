"""`FeatureSpace` (Keras 3's `keras.utils.FeatureSpace`): one object that
preprocesses and encodes structured data, run on the host with NumPy.

kerax has no TensorFlow and no string tensors, so a FeatureSpace works in the
input pipeline, as Keras recommends for it with any backend:

- `adapt(data)` takes a dict of NumPy arrays or lists, an iterable
  (re-iterable or a generator) of dicts of batches, or a
  `kerax.utils.PyDataset` whose batches are dicts (a batch `(x, y)` or
  `(x, y, sample_weight)` is adapted on its `x`);
- `feature_space(batch_dict)` returns NumPy arrays (a float32 matrix in
  "concat" mode, a dict of arrays in "dict" mode) that `fit` and `predict`
  consume directly; a dict of scalars (one sample) gives one vector;
- `get_encoded_features()` gives the symbolic inputs of the *encoded*
  features (a `kerax.Input` of the concatenated width, or a dict of them), to
  build the model on the numeric part as the Keras example does::

    fs = kerax.utils.FeatureSpace(
        features={"age": "float_normalized", "city": "string_categorical"},
        output_mode="concat")
    fs.adapt({"age": ages, "city": cities})
    encoded = fs.get_encoded_features()
    model = kerax.Model(encoded, kerax.layers.Dense(1)(encoded))
    model.fit(fs({"age": ages, "city": cities}), labels)
    model.predict(fs({"age": [31.0], "city": ["Paris"]}))   # raw rows in

  Where Keras builds `Model(inputs=fs.get_inputs(), outputs=...)` to take raw
  dicts, kerax's end-to-end inference is `model.predict(fs(raw_dict))`:
  the strings are encoded on the host and never enter the compiled model.
"""
import numpy as np

from kerax import config
from kerax.core.naming import auto_name
from kerax.io.py_dataset import PyDataset
from kerax.layers import (CategoryEncoding, Discretization, HashedCrossing, Hashing, Input,
                          IntegerLookup, Layer, Normalization, Rescaling, StringLookup)
from kerax.layers.layer import KerasTensor
from kerax.registry import deserialize_keras_object, register_builtin, serialize_keras_object
from kerax.saving import save_model

__all__ = ["FeatureSpace"]

# Keras writes these helper classes under their defining module.
_KERAS_MODULE = "keras.src.layers.preprocessing.feature_space"


@register_builtin(_KERAS_MODULE)
class Cross:
    """A feature cross: the named features hashed together into
    `crossing_dim` bins (with `keras.layers.HashedCrossing`)."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in {"int", "one_hot"}:
            raise ValueError("Cross: invalid value for argument `output_mode`. Expected one of "
                             f"{{'int', 'one_hot'}}. Received: output_mode={output_mode!r}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_builtin(_KERAS_MODULE)
class Feature:
    """One feature: its input `dtype` ("float32", "int32" or "string"), the
    layer that preprocesses it and its `output_mode` ("int", "one_hot" or
    "float")."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in {"int", "one_hot", "float"}:
            raise ValueError("Feature: invalid value for argument `output_mode`. Expected one "
                             "of {'int', 'one_hot', 'float'}. Received: "
                             f"output_mode={output_mode!r}")
        if isinstance(preprocessor, dict):
            preprocessor = deserialize_keras_object(preprocessor)
        if not callable(preprocessor):
            raise ValueError(f"Feature: `preprocessor` must be a layer, got {preprocessor!r}.")
        self.dtype = dtype
        self.preprocessor = preprocessor
        self.output_mode = output_mode

    def get_config(self):
        return {"dtype": self.dtype, "preprocessor": serialize_keras_object(self.preprocessor),
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_builtin(_KERAS_MODULE)
class TFDIdentity(Layer):
    """The preprocessor of a plain "float" feature: passes values through."""

    def _convert_inputs(self, args):
        return args

    def call(self, x):
        return np.asarray(x, dtype=self.compute_dtype)

    def compute_output_spec(self, x, **kwargs):
        return KerasTensor(tuple(x.shape), self.compute_dtype)


@register_builtin(_KERAS_MODULE)
class TFDConcat(Layer):
    """Concatenates the encoded features (on the host, NumPy)."""

    def __init__(self, axis, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def _convert_inputs(self, args):
        return args

    def call(self, xs):
        return np.concatenate([np.asarray(x) for x in xs], axis=self.axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


# ---- host evaluation of the standard preprocessors ------------------------------------
# The input pipeline calls a FeatureSpace on batches of every size. Running the
# JAX layers eagerly there would compile each op anew for each batch size
# (seconds per new size on a small CPU), so the standard preprocessors are
# evaluated here with NumPy from the layers' own state. tests/utils/
# test_feature_space.py checks each against the layer's own call.
def _host_normalization(layer, x):
    if layer.invert or not layer.built or x.ndim != len(layer._broadcast_shape):
        return None
    dtype = np.dtype(layer.compute_dtype)
    mean = np.asarray(layer.mean, dtype)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, dtype)), dtype.type(config.epsilon()))
    return ((x.astype(dtype) - mean) / std).astype(dtype)


def _host_rescaling(layer, x):
    dtype = np.dtype(layer.compute_dtype)
    return (x.astype(dtype) * np.asarray(layer.scale, dtype)
            + np.asarray(layer.offset, dtype)).astype(dtype)


def _host_discretization(layer, x):
    if layer.output_mode != "int" or layer.bin_boundaries is None:
        return None
    bounds = np.asarray(layer.bin_boundaries, x.dtype if x.dtype.kind == "f" else "float32")
    return np.searchsorted(bounds, x, side="right").astype(np.int32)


def _host_integer_lookup(layer, x):
    vocab = np.asarray(layer.get_vocabulary(include_special_tokens=False), np.int64)
    if layer.invert or layer.output_mode != "int" or not len(vocab) or x.dtype.kind not in "iu":
        return None
    x = x.astype(np.int64)
    order = np.argsort(vocab, kind="stable")
    pos = np.clip(np.searchsorted(vocab[order], x), 0, len(vocab) - 1)
    found = vocab[order][pos] == x
    mask_shift = 1 if layer.mask_token is not None else 0
    offset = layer.vocabulary_size() - len(vocab)
    if layer.num_oov_indices == 0:
        oov = np.full_like(x, -1)
    else:
        oov = np.mod(x, layer.num_oov_indices) + mask_shift
    ids = np.where(found, order[pos] + offset, oov)
    if layer.mask_token is not None:
        ids = np.where(x == layer.mask_token, 0, ids)
    return ids.astype(np.int32)


def _host_multi_hot(layer, x):
    if layer.output_mode != "multi_hot" or x.ndim != 2 or x.dtype.kind not in "iu":
        return None
    out = np.zeros((x.shape[0], layer.num_tokens), np.dtype(layer.compute_dtype))
    rows, cols = np.nonzero((x >= 0) & (x < layer.num_tokens))
    out[rows, x[rows, cols]] = 1
    return out


_HOST = ((Normalization, _host_normalization), (Rescaling, _host_rescaling),
         (Discretization, _host_discretization), (IntegerLookup, _host_integer_lookup),
         (CategoryEncoding, _host_multi_hot))


def _apply(layer, x):
    """`layer(x)` as a NumPy array, with NumPy for the standard layers."""
    for cls, fn in _HOST:
        if type(layer) is cls:
            out = fn(layer, x)
            if out is not None:
                return out
    return np.asarray(layer(x))


def _has_fixed_state(layer):
    """True for preprocessors whose state was given (nothing to adapt)."""
    if isinstance(layer, Normalization):
        return layer.input_mean is not None
    if isinstance(layer, (StringLookup, IntegerLookup)):
        return getattr(layer, "input_vocabulary", None) is not None
    if isinstance(layer, Discretization):
        return layer.input_bin_boundaries is not None
    return False


@register_builtin("keras.utils")
class FeatureSpace(Layer):
    """One-stop preprocessing and encoding of structured data (Keras 3's
    `keras.utils.FeatureSpace`), on the host with NumPy.

    Args:
      features: dict mapping each feature name to its type, a string
        ("float", "float_normalized", "float_rescaled", "float_discretized",
        "integer_categorical", "string_categorical", "integer_hashed",
        "string_hashed") or a spec from `FeatureSpace.float_normalized()`,
        `FeatureSpace.feature(dtype, preprocessor, output_mode)`, ...
      output_mode: "concat" (one float32 matrix) or "dict" (a dict of arrays).
      crosses: features to cross, as tuples of names or
        `FeatureSpace.cross(feature_names, crossing_dim, output_mode)`.
      crossing_dim: bins of a cross given as a tuple (default 32).
      hashing_dim: bins of "integer_hashed"/"string_hashed" (default 32).
      num_discretization_bins: bins of "float_discretized" (default 32).

    Encoded features are ordered by sorted feature name, then sorted cross
    name, as Keras orders them. Categorical features are one-hot encoded with
    index 0 for out-of-vocabulary values.

    >>> fs = FeatureSpace({"x": "float_normalized", "c": "string_categorical"})
    >>> fs.adapt({"x": np.array([0.0, 2.0]), "c": np.array(["a", "b"])})
    >>> fs({"x": np.array([2.0]), "c": np.array(["b"])}).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """

    # ---- feature types ---------------------------------------------------------------
    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        name = name or auto_name("float")
        return Feature("float32", TFDIdentity(dtype="float32", name=f"{name}_preprocessor"),
                       "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        name = name or auto_name("float_rescaled")
        return Feature("float32", Rescaling(scale=scale, offset=offset,
                                            name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_normalized(cls, name=None):
        name = name or auto_name("float_normalized")
        return Feature("float32", Normalization(axis=-1, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot",
                          name=None):
        name = name or auto_name("float_discretized")
        preprocessor = Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries,
                                      name=f"{name}_preprocessor")
        return Feature("float32", preprocessor, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot",
                            name=None):
        name = name or auto_name("integer_categorical")
        return Feature("int32", IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                              num_oov_indices=num_oov_indices), output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot",
                           name=None):
        name = name or auto_name("string_categorical")
        return Feature("string", StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                              num_oov_indices=num_oov_indices), output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or auto_name("string_hashed")
        return Feature("string", Hashing(name=f"{name}_preprocessor", num_bins=num_bins),
                       output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or auto_name("integer_hashed")
        return Feature("int32", Hashing(name=f"{name}_preprocessor", num_bins=num_bins),
                       output_mode)

    # ---- construction ------------------------------------------------------------------
    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32,
                 hashing_dim=32, num_discretization_bins=32, name=None):
        super().__init__(name=name)
        if not features:
            raise ValueError("FeatureSpace: the `features` argument cannot be None or empty.")
        if not isinstance(features, dict):
            raise ValueError("FeatureSpace: `features` must be a dict mapping feature names to "
                             f"feature types, got {type(features).__name__}.")
        self.crossing_dim = crossing_dim
        self.hashing_dim = hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {n: self._standardize_feature(n, v) for n, v in features.items()}
        self.crosses = []
        for cross in crosses or []:
            if isinstance(cross, dict):
                cross = deserialize_keras_object(cross)
            if not isinstance(cross, Cross):
                if not crossing_dim:
                    raise ValueError("FeatureSpace: when specifying `crosses`, the argument "
                                     "`crossing_dim` (dimensionality of the crossing space) "
                                     "should be specified as well.")
                cross = Cross(cross, crossing_dim=crossing_dim)
            unknown = [k for k in cross.feature_names if k not in self.features]
            if unknown:
                raise ValueError("FeatureSpace: all features referenced in the `crosses` "
                                 "argument should be present in the `features` dict. Received "
                                 f"unknown features {unknown} in cross {cross.feature_names}.")
            self.crosses.append(cross)
        self.crosses_by_name = {c.name: c for c in self.crosses}
        if output_mode not in {"dict", "concat"}:
            raise ValueError("FeatureSpace: invalid value for argument `output_mode`. Expected "
                             f"one of {{'dict', 'concat'}}. Received: output_mode={output_mode!r}")
        self.output_mode = output_mode
        self.inputs = {n: self._feature_to_input(n, f) for n, f in self.features.items()}
        self.preprocessors = {n: f.preprocessor for n, f in self.features.items()}
        self.encoded_features = None
        self.crossers = {c.name: HashedCrossing(c.crossing_dim, name=c.name)
                         for c in self.crosses}
        self.one_hot_encoders = {}
        self.concat = None
        self._is_adapted = False
        self._sublayers_built = False
        self._widths = {}

    def _feature_to_input(self, name, feature):
        if feature.dtype == "string":
            # kerax.Input has no string dtype: a symbolic placeholder only.
            return KerasTensor((None, 1), "str", name=name)
        return Input(shape=(1,), dtype=feature.dtype, name=name)

    def _standardize_feature(self, name, feature):
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            feature = deserialize_keras_object(feature)
            if not isinstance(feature, Feature):
                raise ValueError(f"FeatureSpace: feature {name!r} deserialized to "
                                 f"{type(feature).__name__}, not a Feature.")
            return feature
        makers = {
            "float": lambda: self.float(name=name),
            "float_normalized": lambda: self.float_normalized(name=name),
            "float_rescaled": lambda: self.float_rescaled(name=name),
            "float_discretized": lambda: self.float_discretized(
                name=name, num_bins=self.num_discretization_bins),
            "integer_categorical": lambda: self.integer_categorical(name=name),
            "string_categorical": lambda: self.string_categorical(name=name),
            "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=name),
            "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=name),
        }
        if not isinstance(feature, str) or feature not in makers:
            raise ValueError(f"FeatureSpace: invalid feature type {feature!r} for feature "
                             f"{name!r}; expected one of {sorted(makers)} or a FeatureSpace "
                             "feature spec (e.g. FeatureSpace.float_normalized()).")
        return makers[feature]()

    # ---- adapt -------------------------------------------------------------------------
    def _list_adaptable_preprocessors(self):
        return [n for n, layer in self.preprocessors.items()
                if hasattr(layer, "adapt") and not _has_fixed_state(layer)]

    def _collect(self, dataset):
        """{feature name: list of NumPy batches} from the accepted inputs."""
        if isinstance(dataset, dict):
            batches = [dataset]
        elif isinstance(dataset, (PyDataset, list, tuple)) or (
                hasattr(dataset, "__iter__") and not isinstance(dataset, (str, bytes))
                and not hasattr(dataset, "shape")):
            batches = dataset
        else:
            raise ValueError(
                "FeatureSpace.adapt() takes a dict of arrays/lists, an iterable of dicts of "
                "batches or a kerax.utils.PyDataset yielding dicts (kerax has no tf.data). "
                f"Received: {type(dataset).__name__}.")
        wanted = set(self.features)
        columns = {n: [] for n in self.features}
        seen = False
        for batch in batches:
            if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], dict):
                batch = batch[0]  # (x, y) or (x, y, sample_weight): adapt on x
            if not isinstance(batch, dict):
                raise ValueError("FeatureSpace.adapt(): each batch must be a dict of feature "
                                 f"arrays, got {type(batch).__name__}.")
            missing = sorted(wanted - set(batch))
            if missing:
                raise ValueError(f"FeatureSpace.adapt(): the data has no feature(s) {missing} "
                                 f"(it has {sorted(batch)}).")
            for n in self.features:
                x = np.asarray(batch[n])
                columns[n].append(x.reshape(1) if x.ndim == 0 else x)
            seen = True
        if not seen:
            raise ValueError("FeatureSpace.adapt(): the data is empty.")
        return columns

    def adapt(self, dataset):
        """Learn each preprocessor's state (normalization statistics,
        vocabularies, bin boundaries) from `dataset` (see the class docs for
        the accepted forms; all of it is read once, on the host)."""
        adaptable = self._list_adaptable_preprocessors()
        columns = self._collect(dataset)
        for name in adaptable:
            data = np.concatenate(columns[name], axis=0)
            if data.ndim == 1:
                data = data[:, None]  # one value per row, as Keras adapts it
            self.preprocessors[name].adapt(self._convert(name, data))
        self._is_adapted = True
        self._build_encoders()

    # ---- encoding ----------------------------------------------------------------------
    def _check_if_adapted(self):
        if not self._is_adapted:
            if self._list_adaptable_preprocessors():
                raise ValueError("You need to call `.adapt(dataset)` on the FeatureSpace "
                                 "before you can start using it.")
            self._is_adapted = True

    def _cardinality(self, name):
        preprocessor = self.preprocessors.get(name) or self.crossers.get(name)
        if isinstance(preprocessor, (IntegerLookup, StringLookup)):
            return preprocessor.vocabulary_size()
        if isinstance(preprocessor, CategoryEncoding):
            return preprocessor.num_tokens
        if isinstance(preprocessor, Discretization):
            if preprocessor.num_bins is not None:
                return preprocessor.num_bins
            return len(preprocessor.bin_boundaries) + 1
        if isinstance(preprocessor, (HashedCrossing, Hashing)):
            return preprocessor.num_bins
        raise ValueError(
            f"Feature {name!r} has `output_mode='one_hot'`. However it isn't a standard "
            "feature and the dimensionality of its output space is not known, thus it cannot "
            "be one-hot encoded. Try using `output_mode='int'`.")

    def _specs(self):
        names = sorted(self.features)
        cross_names = sorted(self.crosses_by_name)
        return [(n, self.features[n]) for n in names] + \
            [(n, self.crosses_by_name[n]) for n in cross_names]

    def _build_encoders(self):
        self._check_if_adapted()
        if self._sublayers_built:
            return
        for name, spec in self._specs():
            if spec.output_mode == "one_hot" and name not in self.one_hot_encoders:
                self.one_hot_encoders[name] = CategoryEncoding(
                    num_tokens=self._cardinality(name), output_mode="multi_hot")
            elif spec.output_mode == "int" and self.output_mode == "concat":
                raise ValueError(
                    f"Cannot concatenate features because feature {name!r} has not been "
                    "encoded (it has output_mode='int', an integer dtype). Consider using "
                    "`output_mode='dict'`.")
        if self.output_mode == "concat":
            self.concat = TFDConcat(axis=-1)
        self._sublayers_built = True
        self.built = True

    def _check_if_built(self):
        if not self._sublayers_built:
            self._check_if_adapted()
            self._build_encoders()

    def _convert(self, name, x):
        """A feature's raw values as the NumPy dtype its preprocessor takes."""
        dtype = self.features[name].dtype
        x = np.asarray(x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray)
                       else x)
        if dtype == "string":
            if x.dtype.kind not in "USO":
                raise ValueError(f"FeatureSpace: feature {name!r} is a string feature, got "
                                 f"values of dtype {x.dtype}.")
            return x
        if x.dtype.kind in "USO":
            raise ValueError(f"FeatureSpace: feature {name!r} has dtype {dtype!r}, got string "
                             f"values (dtype {x.dtype}).")
        if dtype.startswith("int"):
            if x.dtype.kind == "f":
                if not np.all(np.equal(np.mod(x, 1), 0)):
                    raise ValueError(f"FeatureSpace: feature {name!r} is an integer feature, "
                                     "got non-integral values.")
                x = x.astype(np.int64)
            return x
        return x.astype(dtype)

    def _encode(self, data):
        preprocessed = {n: _apply(self.preprocessors[n], self._convert(n, data[n]))
                        for n in self.features}
        crossed = {c.name: np.asarray(self.crossers[c.name](
            [preprocessed[n] for n in c.feature_names])) for c in self.crosses}
        merged = {}
        for name, _spec in self._specs():
            value = preprocessed[name] if name in preprocessed else crossed[name]
            encoder = self.one_hot_encoders.get(name)
            if encoder is not None:
                if value.dtype.kind not in "iu":
                    raise ValueError(
                        f"Feature {name!r} has `output_mode='one_hot'`. Thus its preprocessor "
                        f"should return an integer dtype. Instead it returns {value.dtype}.")
                value = _apply(encoder, value)
            merged[name] = value
            self._widths[name] = (value.shape[-1] if value.ndim > 1 else 1, value.dtype.name)
        if self.output_mode == "dict":
            return merged
        for name, value in merged.items():
            if value.dtype.kind not in "f":
                raise ValueError(
                    f"Cannot concatenate features because feature {name!r} has not been "
                    f"encoded (it has dtype {value.dtype}). Consider using "
                    "`output_mode='dict'`.")
        return self.concat([merged[n] for n, _ in self._specs()]).astype(np.float32)

    def __call__(self, data):
        """Encode a dict of raw features (batches, or scalars for one sample)
        into NumPy arrays."""
        self._check_if_built()
        if not isinstance(data, dict):
            raise ValueError("A FeatureSpace can only be called with a dict. Received: "
                             f"data={data!r} (of type {type(data).__name__})")
        unknown = sorted(set(data) - set(self.features))
        missing = sorted(set(self.features) - set(data))
        if unknown or missing:
            raise ValueError(
                f"FeatureSpace {self.name!r}: the data must have exactly the features "
                f"{sorted(self.features)}; missing {missing}, unknown {unknown} (remove "
                "labels and other columns first).")
        values, rebatched = {}, False
        for name, x in data.items():
            x = np.asarray(x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray)
                           else x)
            if x.ndim == 0:
                x = x.reshape(1, 1)
                rebatched = True
            elif x.ndim == 1:
                x = x[:, None]
            values[name] = x
        out = self._encode(values)
        if rebatched:
            if self.output_mode == "concat":
                if out.shape[0] != 1:
                    raise ValueError("Expected rebatched data to have batch size 1. "
                                     f"Received: shape={out.shape}")
                return out[0]
            return {n: v[0] if v.ndim == 2 and v.shape[0] == 1 else v for n, v in out.items()}
        return out

    # ---- symbolic views ---------------------------------------------------------------
    def _width(self, name, spec):
        if name in self.one_hot_encoders:
            return self._cardinality(name), "float32"
        if name in self._widths:
            return self._widths[name]
        layer = self.preprocessors.get(name) or self.crossers.get(name)
        try:
            if name in self.crossers:
                out = layer.compute_output_spec([KerasTensor((None, 1), "int32")] * 2)
            else:
                out = layer.compute_output_spec(KerasTensor(
                    (None, 1), "str" if spec.dtype == "string" else spec.dtype))
            return out.shape[-1], out.dtype
        except Exception as e:  # noqa: BLE001 - a custom preprocessor: say what to do
            raise ValueError(
                f"FeatureSpace {self.name!r}: cannot infer the encoded width of feature "
                f"{name!r} from its preprocessor {type(layer).__name__} ({e}); call the "
                "FeatureSpace once on a batch of data first.") from e

    def get_encoded_features(self):
        """Symbolic inputs for the encoded features: in "concat" mode one
        `kerax.Input` of shape `(None, total_width)`, in "dict" mode a dict of
        `kerax.Input`s. Build the model on them and feed it
        `feature_space(raw_data)` (the encoding itself runs on the host)."""
        self._check_if_built()
        if self.encoded_features is None:
            widths = {n: self._width(n, s) for n, s in self._specs()}
            if self.output_mode == "concat":
                total = int(sum(w for w, _ in widths.values()))
                self.encoded_features = Input(shape=(total,), dtype="float32",
                                              name=f"{self.name}_encoded_features")
            else:
                self.encoded_features = {n: Input(shape=(int(w),), dtype=d, name=n)
                                         for n, (w, d) in widths.items()}
        return self.encoded_features

    def get_inputs(self):
        """The symbolic raw inputs, one per feature, shape `(None, 1)` (string
        features are placeholders only: kerax models take numbers)."""
        self._check_if_built()
        return self.inputs

    # ---- saving ------------------------------------------------------------------------
    def get_config(self):
        return {"features": serialize_keras_object(self.features),
                "output_mode": self.output_mode,
                "crosses": serialize_keras_object(self.crosses),
                "crossing_dim": self.crossing_dim, "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        # A layer built by build_from_config may not report its build config
        # again: keep the one it was loaded with, so a reloaded space re-saves.
        loaded = getattr(self, "_loaded_build_config", None) or {}
        return {n: f.preprocessor.get_build_config() or loaded.get(n) or {}
                for n, f in self.features.items()}

    def build_from_config(self, config):
        for name, build_config in (config or {}).items():
            if name not in self.features:
                raise ValueError(f"FeatureSpace {self.name!r}: the build config names an "
                                 f"unknown feature {name!r}.")
            preprocessor = self.features[name].preprocessor
            if not preprocessor.built and hasattr(preprocessor, "build_from_config"):
                preprocessor.build_from_config(build_config)
        self._loaded_build_config = dict(config or {})
        self._is_adapted = True
        self.built = True

    def save(self, filepath):
        """Save the FeatureSpace to a `.keras` file; reload it with
        `kerax.saving.load_model(filepath)` (or Keras' `load_model`)."""
        self._check_if_built()
        save_model(self, filepath)

    def save_own_variables(self, store):
        return

    def load_own_variables(self, store):
        return

