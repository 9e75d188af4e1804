"""kerax.utils.FeatureSpace against Keras 3.

Keras' FeatureSpace needs tf.data and TensorFlow, which the test environment
lacks, so its outputs (and a FeatureSpace `.keras` file it saved) were
recorded once from Keras 3 + TensorFlow by tests/utils/make_feature_space_fixtures.py
into tests/utils/fixtures/. kerax must encode the same rows to the same
numbers, load Keras' file, and write a file with Keras' layout. Closed forms
(NumPy) check the encodings independently of that file."""
import json
import pathlib

import numpy as np
import pytest

import kerax
from kerax.layers import Discretization, HashedCrossing, Hashing
from kerax.utils import FeatureSpace as FS

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
with open(FIXTURES / "keras_tf_reference.json", encoding="utf-8") as _f:
    REF = json.load(_f)
FLOATS = ("f_plain", "f_norm", "f_rescaled", "f_disc")
INTS = ("i_cat", "i_hash")


def _cast(d):
    d = {k: np.asarray(v) for k, v in d.items()}
    for k in FLOATS:
        d[k] = d[k].astype("float32")
    for k in INTS:
        d[k] = d[k].astype("int32")
    return d


DATA = _cast(REF["feature_space"]["data"])
ROWS = _cast(REF["feature_space"]["new_rows"])


def all_types_space():
    return FS(
        features={
            "f_plain": FS.float(), "f_norm": FS.float_normalized(),
            "f_rescaled": FS.float_rescaled(scale=0.5, offset=1.0),
            "f_disc": FS.float_discretized(num_bins=4),
            "i_cat": FS.integer_categorical(), "s_cat": FS.string_categorical(max_tokens=5),
            "i_hash": FS.integer_hashed(num_bins=8), "s_hash": FS.string_hashed(num_bins=8),
        },
        crosses=[FS.cross(("s_cat", "i_cat"), crossing_dim=16)], output_mode="concat")


@pytest.fixture(scope="module")
def adapted():
    fs = all_types_space()
    fs.adapt(DATA)
    return fs


def test_every_feature_type_encodes_as_keras(adapted):
    ref = REF["feature_space"]
    assert adapted.preprocessors["s_cat"].get_vocabulary() == ref["vocab_s_cat"]
    assert adapted.preprocessors["i_cat"].get_vocabulary() == ref["vocab_i_cat"]
    np.testing.assert_allclose(adapted.preprocessors["f_disc"].bin_boundaries,
                               ref["bins_f_disc"], rtol=1e-6)
    train = adapted(DATA)
    assert isinstance(train, np.ndarray) and train.dtype == np.float32
    np.testing.assert_allclose(train, ref["train_out"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(adapted(ROWS), ref["new_out"], rtol=1e-5, atol=1e-5)
    one = adapted({k: v[0] for k, v in ROWS.items()})  # a dict of scalars: one sample
    assert one.shape == (len(ref["single_out"]),)
    np.testing.assert_allclose(one, ref["single_out"], rtol=1e-5, atol=1e-5)
    # lists, as users write them, give the same numbers
    as_lists = adapted({k: v.tolist() for k, v in ROWS.items()})
    np.testing.assert_allclose(as_lists, ref["new_out"], rtol=1e-5, atol=1e-5)


class _Batches(kerax.utils.PyDataset):
    def __init__(self, data, batch_size):
        super().__init__()
        self.data, self.batch_size = data, batch_size

    def __len__(self):
        return -(-len(self.data["f_plain"]) // self.batch_size)

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        x = {k: v[s] for k, v in self.data.items()}
        return x, np.zeros(len(x["f_plain"]))


def _generator(data, batch_size):
    n = len(data["f_plain"])
    for start in range(0, n, batch_size):
        yield {k: v[start:start + batch_size] for k, v in data.items()}


@pytest.mark.parametrize("source", ["generator", "list", "pydataset"])
def test_adapt_on_batches_equals_adapt_on_the_dict(adapted, source):
    data = {"generator": lambda: _generator(DATA, 10),
            "list": lambda: list(_generator(DATA, 16)),
            "pydataset": lambda: _Batches(DATA, 12)}[source]()
    fs = all_types_space()
    fs.adapt(data)
    np.testing.assert_allclose(fs(ROWS), adapted(ROWS), rtol=1e-6, atol=1e-6)


def test_dict_mode_int_outputs_match_keras():
    fs = FS(features={"s_cat": FS.string_categorical(output_mode="int"),
                      "i_cat": FS.integer_categorical(output_mode="int"),
                      "s_hash": "string_hashed"},
            crosses=[FS.cross(("s_cat", "i_cat"), crossing_dim=32, output_mode="int")],
            hashing_dim=4, output_mode="dict")
    fs.adapt({k: DATA[k] for k in ("s_cat", "i_cat", "s_hash")})
    out = fs({k: ROWS[k] for k in ("s_cat", "i_cat", "s_hash")})
    want = REF["feature_space_dict"]
    assert sorted(out) == sorted(want)
    for k in want:
        np.testing.assert_allclose(np.asarray(out[k]), want[k], rtol=1e-6)
    encoded = fs.get_encoded_features()
    assert sorted(encoded) == sorted(want)
    assert encoded["s_hash"].shape == (None, 4) and encoded["s_cat"].shape == (None, 1)


def test_closed_forms():
    rng = np.random.default_rng(1)
    x = rng.normal(size=50).astype("float32")
    cats = rng.choice(["u", "v", "w"], size=50, p=[0.5, 0.3, 0.2])
    ints = rng.choice([4, 9], size=50)
    fs = FS(features={"x": "float_normalized", "c": "string_categorical", "h": "string_hashed",
                      "n": "integer_categorical"},
            crosses=[("c", "n")], crossing_dim=8, hashing_dim=5, output_mode="dict")
    fs.adapt({"x": x, "c": cats, "h": cats, "n": ints})
    q = {"x": np.array([0.25, 3.0]), "c": np.array(["w", "zz"]), "h": np.array(["w", "zz"]),
         "n": np.array([9, 5])}
    out = fs(q)
    mean, var = x.astype(np.float64).mean(), x.astype(np.float64).var()  # ddof=0, as Keras
    np.testing.assert_allclose(out["x"][:, 0], (q["x"] - mean) / np.sqrt(var), rtol=1e-5)
    vocab = ["[UNK]"] + [t for t, _ in sorted(
        zip(*np.unique(cats, return_counts=True)), key=lambda tc: (-tc[1], tc[0]))]
    one_hot = np.eye(4)[[vocab.index("w"), 0]]  # OOV goes to index 0
    np.testing.assert_array_equal(out["c"], one_hot)
    np.testing.assert_array_equal(out["h"], np.eye(5)[Hashing(num_bins=5)(q["h"])])
    ids_c = np.array([[vocab.index("w")], [0]])
    ids_n = np.asarray(fs.preprocessors["n"](q["n"][:, None]))
    cross = np.asarray(HashedCrossing(num_bins=8)([ids_c, ids_n]))[:, 0]
    np.testing.assert_array_equal(out["c_X_n"], np.eye(8)[cross])


def test_symbolic_inputs_for_the_model(adapted):
    # The model is built on the encoded features, as in the keras.io example
    # (tests/programs/test_structured_data_feature_space.py fits and predicts).
    encoded = adapted.get_encoded_features()
    assert encoded is adapted.get_encoded_features()
    assert encoded.shape == (None, len(REF["feature_space"]["new_out"][0]))
    inputs = adapted.get_inputs()
    assert sorted(inputs) == sorted(DATA) and inputs["s_cat"].shape == (None, 1)
    assert inputs["i_cat"].dtype == "int32" and inputs["f_norm"].dtype == "float32"
    model = kerax.Model(encoded, kerax.layers.Dense(1)(encoded))
    assert model.input_shape == encoded.shape


def test_config_roundtrip_before_adapt():
    fs = FS(features={"a": "float_rescaled", "b": FS.integer_hashed(num_bins=3),
                      "c": FS.integer_hashed(num_bins=4, output_mode="int")},
            crosses=[("b", "c")], crossing_dim=7, output_mode="dict")
    clone = FS.from_config(fs.get_config())
    assert clone.get_config() == fs.get_config()
    assert clone.crosses[0].crossing_dim == 7
    # nothing to adapt: usable at once, as in Keras
    out = clone({"a": [2.0], "b": [5], "c": [6]})
    assert out["a"].tolist() == [[2.0]] and out["b"].shape == (1, 3)
    assert out["c"].tolist() == Hashing(num_bins=4)([[6]]).tolist()
    assert out["b_X_c"].shape == (1, 7)


def test_errors_say_what_to_do():
    fs = FS(features={"x": "float_normalized"})
    with pytest.raises(ValueError, match="adapt"):
        fs({"x": [1.0]})
    with pytest.raises(ValueError, match="invalid feature type"):
        FS(features={"x": "floaty"})
    with pytest.raises(ValueError, match="unknown features"):
        FS(features={"x": "float"}, crosses=[("x", "y")])
    with pytest.raises(ValueError, match="output_mode"):
        FS(features={"x": "float"}, output_mode="stack")
    with pytest.raises(ValueError, match="tf.data|dict of arrays"):
        fs.adapt(np.zeros(3))
    fs.adapt({"x": np.array([1.0, 2.0])})
    with pytest.raises(ValueError, match="only be called with a dict"):
        fs([1.0])
    with pytest.raises(ValueError, match=r"missing \[\].*unknown \['label'\]"):
        fs({"x": [1.0], "label": [0]})
    with pytest.raises(ValueError, match="Cannot concatenate"):
        FS(features={"c": FS.string_categorical(output_mode="int")}).adapt({"c": ["a"]})


def test_discretization_from_an_adapted_config():
    # Keras writes both `num_bins` and the learnt `bin_boundaries` after adapt.
    layer = Discretization.from_config({"num_bins": 3, "bin_boundaries": [0.0, 1.0],
                                        "name": "d"})
    assert layer.num_bins == 3
    assert np.asarray(layer(np.array([-1.0, 0.5, 2.0]))).tolist() == [0, 1, 2]


def test_host_evaluation_equals_each_layers_own_call(adapted):
    # FeatureSpace evaluates the standard preprocessors with NumPy (no XLA
    # compile per batch size); each must give what the layer itself gives.
    from kerax.utils.feature_space import _apply
    checked = set()
    for name, layer in adapted.preprocessors.items():
        x = adapted._convert(name, np.concatenate([DATA[name], ROWS[name]])[:, None])
        np.testing.assert_allclose(_apply(layer, x), np.asarray(layer(x)), rtol=1e-6)
        checked.add(type(layer).__name__)
    ids = np.array([[0], [3], [4], [-1], [99]])
    encoder = adapted.one_hot_encoders["s_cat"]
    np.testing.assert_array_equal(_apply(encoder, ids), np.asarray(encoder(ids)))
    lookup = kerax.layers.IntegerLookup(vocabulary=[5, 1, 9], mask_token=0, num_oov_indices=2)
    x = np.array([[0], [1], [9], [7], [8], [-3]])
    np.testing.assert_array_equal(_apply(lookup, x), np.asarray(lookup(x)))
    norm = kerax.layers.Normalization(axis=-1)
    norm.adapt(np.array([[1.0, 10.0], [3.0, 30.0]], "float32"))
    x = np.array([[2.0, 0.0]], "float32")
    np.testing.assert_allclose(_apply(norm, x), np.asarray(norm(x)), rtol=1e-6)
    assert {"Normalization", "Rescaling", "Discretization", "IntegerLookup"} <= checked


def test_docstring_example_runs():
    import doctest

    from kerax.utils import feature_space
    result = doctest.testmod(feature_space)
    assert result.failed == 0 and result.attempted > 0
