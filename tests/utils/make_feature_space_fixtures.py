"""Regenerate the Keras reference data of tests/utils/test_feature_space.py and
tests/layers/test_string_lookup.py (not a test; pytest does not collect it).

Keras 3's StringLookup, Hashing and FeatureSpace need TensorFlow on every
backend, and the test environment has no TensorFlow, so their outputs are
recorded once here, from Keras 3 itself, into tests/utils/fixtures/:

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu keras
    /tmp/tfenv/bin/python tests/utils/make_feature_space_fixtures.py

writes `keras_tf_reference.json` (inputs and Keras' outputs) and
`feature_space_keras.keras` (a FeatureSpace saved by Keras).

    /tmp/tfenv/bin/python tests/utils/make_feature_space_fixtures.py --check FILE.keras

loads a FeatureSpace file written by kerax in Keras and checks that it encodes
the reference rows as Keras' own FeatureSpace does (the other direction of
the file-format test).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def _data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    cities = np.array(["paris", "tokyo", "lima", "oslo", "cairo", "quito", "é✓"])
    return {
        "f_plain": rng.normal(size=n).round(3).astype("float32"),
        "f_norm": (rng.normal(size=n) * 3 + 5).round(3).astype("float32"),
        "f_rescaled": rng.uniform(0, 10, size=n).round(3).astype("float32"),
        "f_disc": rng.uniform(-1, 1, size=n).round(3).astype("float32"),
        "i_cat": rng.choice([1, 2, 2, 3, 3, 3, 7], size=n).astype("int32"),
        "s_cat": rng.choice(cities, p=[.3, .2, .15, .12, .1, .08, .05], size=n),
        "i_hash": rng.integers(-50, 50, size=n).astype("int32"),
        "s_hash": rng.choice(cities, size=n),
    }


def _new_rows():
    return {
        "f_plain": np.array([0.5, -1.0], "float32"),
        "f_norm": np.array([4.0, 11.0], "float32"),
        "f_rescaled": np.array([2.0, 9.5], "float32"),
        "f_disc": np.array([-0.9, 0.3], "float32"),
        "i_cat": np.array([3, 99], "int32"),  # 99 is out of vocabulary
        "s_cat": np.array(["tokyo", "berlin"]),  # berlin is out of vocabulary
        "i_hash": np.array([7, -3], "int32"),
        "s_hash": np.array(["lima", "madrid"]),
    }


def _listify(d):
    return {k: np.asarray(v).tolist() for k, v in d.items()}


def _all_types_space(keras):
    FS = keras.utils.FeatureSpace
    return FS(
        features={
            "f_plain": FS.float(),
            "f_norm": FS.float_normalized(),
            "f_rescaled": FS.float_rescaled(scale=0.5, offset=1.0),
            "f_disc": FS.float_discretized(num_bins=4),
            "i_cat": FS.integer_categorical(),
            "s_cat": FS.string_categorical(max_tokens=5),
            "i_hash": FS.integer_hashed(num_bins=8),
            "s_hash": FS.string_hashed(num_bins=8),
        },
        crosses=[FS.cross(("s_cat", "i_cat"), crossing_dim=16)],
        output_mode="concat")


def _layer_cases(keras):
    L = keras.layers
    strings = ["", "a", "ab", "abc", "hello", "héllo wörld ✓", "x" * 17, "y" * 33,
               "z" * 64, "w" * 65, "The quick brown fox jumps over the lazy dog" * 4]
    cases = []

    def add(kind, kwargs, inputs, adapt=None, call=True):
        layer = getattr(L, kind)(**kwargs)
        if adapt is not None:
            layer.adapt(np.asarray(adapt))
        case = {"layer": kind, "kwargs": kwargs, "inputs": np.asarray(inputs).tolist(),
                "adapt": None if adapt is None else np.asarray(adapt).tolist()}
        if call:
            out = np.asarray(layer(np.asarray(inputs)))
            if out.dtype.kind in "SO":
                out = np.vectorize(lambda b: b.decode())(out)
            case["outputs"] = out.tolist()
            case["dtype"] = str(out.dtype)
        if hasattr(layer, "get_vocabulary"):
            case["vocabulary"] = [str(v) for v in layer.get_vocabulary()]
            case["vocabulary_size"] = int(layer.vocabulary_size())
        cases.append(case)

    add("Hashing", {"num_bins": 3}, [["A"], ["B"], ["C"], ["D"], ["E"]])
    add("Hashing", {"num_bins": 1000003}, strings)
    add("Hashing", {"num_bins": 1000003, "salt": [133, 137]}, strings)
    add("Hashing", {"num_bins": 97, "salt": 7}, strings)
    add("Hashing", {"num_bins": 3, "mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]])
    add("Hashing", {"num_bins": 13}, [[-5, 0], [12, 123456789]])
    add("Hashing", {"num_bins": 5, "mask_value": 0}, [0, 1, 2, 3, 0])
    add("Hashing", {"num_bins": 11}, [1.7, -2.2, 3.0])
    add("Hashing", {"num_bins": 6, "output_mode": "one_hot"}, [["a"], ["b"], ["c"]])
    add("Hashing", {"num_bins": 6, "output_mode": "multi_hot"}, [["a", "b"], ["c", "c"]])
    add("Hashing", {"num_bins": 6, "output_mode": "count"}, [["a", "b"], ["c", "c"]])
    vocab = ["paris", "tokyo", "lima"]
    queries = [["paris", "berlin"], ["lima", "tokyo"], ["madrid", "x"]]
    add("StringLookup", {"vocabulary": vocab}, queries)
    add("StringLookup", {"vocabulary": vocab, "num_oov_indices": 3}, queries)
    add("StringLookup", {"vocabulary": vocab, "num_oov_indices": 4, "salt": 99}, queries)
    add("StringLookup", {"vocabulary": vocab, "mask_token": ""},
        [["paris", ""], ["", "nowhere"]])
    add("StringLookup", {"vocabulary": vocab, "mask_token": "", "output_mode": "multi_hot"},
        [["paris", ""], ["", "nowhere"]])
    add("StringLookup", {"vocabulary": vocab, "output_mode": "one_hot"},
        ["tokyo", "nowhere", "lima"])
    add("StringLookup", {"vocabulary": vocab, "output_mode": "count"}, queries)
    add("StringLookup", {"vocabulary": vocab, "output_mode": "multi_hot",
                         "pad_to_max_tokens": True, "max_tokens": 7}, queries)
    add("StringLookup", {"vocabulary": vocab, "invert": True}, [[0, 1], [2, 3], [9, 1]])
    add("StringLookup", {"vocabulary": vocab, "invert": True, "mask_token": ""},
        [[0, 1], [2, 3], [4, 9]])
    add("StringLookup", {"vocabulary": ["[UNK]"] + vocab}, queries)
    add("StringLookup", {"vocabulary": vocab, "output_mode": "tf_idf",
                         "idf_weights": [0.5, 1.0, 2.0]}, queries)
    corpus = [["b", "a", "c", "a"], ["d", "a", "b", "b"], ["c", "c", "c", "e"]]
    add("StringLookup", {}, queries, adapt=corpus)
    add("StringLookup", {"max_tokens": 4}, [["a", "b", "c", "d", "e"]], adapt=corpus)
    add("StringLookup", {"mask_token": "c", "num_oov_indices": 2}, [["a", "c", "q"]],
        adapt=corpus)
    add("StringLookup", {"output_mode": "tf_idf"}, [["a", "b", "b", "zz"]], adapt=corpus)
    add("StringLookup", {"output_mode": "tf_idf", "pad_to_max_tokens": True, "max_tokens": 8},
        [["a", "e"]], adapt=corpus)
    return cases


def generate():
    import keras
    import tensorflow as tf
    os.makedirs(HERE, exist_ok=True)
    ref = {"keras_version": keras.__version__, "tensorflow_version": tf.__version__,
           "layers": _layer_cases(keras)}
    data, rows = _data(), _new_rows()
    fs = _all_types_space(keras)
    fs.adapt(tf.data.Dataset.from_tensor_slices(data))
    ref["feature_space"] = {
        "data": _listify(data), "new_rows": _listify(rows),
        "train_out": np.asarray(fs(data)).tolist(),
        "new_out": np.asarray(fs(rows)).tolist(),
        "single_out": np.asarray(fs({k: v[0] for k, v in rows.items()})).tolist(),
        "vocab_s_cat": [str(v) for v in fs.preprocessors["s_cat"].get_vocabulary()],
        "vocab_i_cat": [int(v) for v in fs.preprocessors["i_cat"].get_vocabulary()],
        "bins_f_disc": [float(b) for b in fs.preprocessors["f_disc"].bin_boundaries],
    }
    fs.save(os.path.join(HERE, "feature_space_keras.keras"))
    FS = keras.utils.FeatureSpace
    fsd = FS(features={"s_cat": FS.string_categorical(output_mode="int"),
                       "i_cat": FS.integer_categorical(output_mode="int"),
                       "s_hash": "string_hashed"},
             crosses=[FS.cross(("s_cat", "i_cat"), crossing_dim=32, output_mode="int")],
             hashing_dim=4, output_mode="dict")
    sub = {k: data[k] for k in ("s_cat", "i_cat", "s_hash")}
    fsd.adapt(tf.data.Dataset.from_tensor_slices(sub))
    out = fsd({k: rows[k] for k in sub})
    ref["feature_space_dict"] = {k: np.asarray(v).tolist() for k, v in out.items()}
    with open(os.path.join(HERE, "keras_tf_reference.json"), "w") as f:
        json.dump(ref, f, indent=0, ensure_ascii=False)
    print("wrote", HERE)


def check(path):
    import keras
    with open(os.path.join(HERE, "keras_tf_reference.json")) as f:
        ref = json.load(f)["feature_space"]
    fs = keras.saving.load_model(path)
    rows = {k: np.asarray(v) for k, v in ref["new_rows"].items()}
    for k in ("f_plain", "f_norm", "f_rescaled", "f_disc"):
        rows[k] = rows[k].astype("float32")
    for k in ("i_cat", "i_hash"):
        rows[k] = rows[k].astype("int32")
    got = np.asarray(fs(rows))
    np.testing.assert_allclose(got, np.asarray(ref["new_out"]), rtol=1e-5, atol=1e-5)
    print("Keras loaded", path, "and encodes the reference rows as Keras does:", got.shape)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        generate()
