"""String inputs in functional models (kerax/models/host_prefix.py): host
layers (TextVectorization, StringLookup, Hashing) fed by `Input(dtype="string")`
run on the host on each call's data, the rest of the model compiled.

Expected values are NumPy computations of the same network on the same
weights, from the ids the host layers give (the layers themselves are
checked against Keras in tests/layers/test_text_vectorization.py and
test_string_lookup.py)."""
import json
import os
import zipfile

import numpy as np
import pytest

import kerax

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "layers", "fixtures")
TEXTS = np.array(["the cat sat", "a dog ran far away", "the end", "cat and dog"])
QUERIES = ["the dog sat", "zebra", "", "a cat ran far, far away"]


def _text_model(seq_len=5, name="text_model"):
    vectorize = kerax.layers.TextVectorization(output_sequence_length=seq_len, name="vec")
    vectorize.adapt(TEXTS)
    text = kerax.Input((1,), dtype="string", name="text")
    x = kerax.layers.Embedding(vectorize.vocabulary_size(), 3, name="emb")(vectorize(text))
    x = kerax.layers.GlobalAveragePooling1D(name="pool")(x)
    return kerax.Model(text, kerax.layers.Dense(2, name="out")(x), name=name)


def _numpy_forward(model, ids):
    """Embedding -> mean over the sequence -> Dense, in NumPy."""
    table = np.asarray(model.get_layer("emb").embeddings)
    w, b = (np.asarray(v) for v in model.get_layer("out").weights)
    return table[np.asarray(ids)].mean(axis=1) @ w + b


def test_symbolic_specs_of_host_layers_on_a_string_input():
    text = kerax.Input((1,), dtype="string")
    assert text.dtype == "string" and text.shape == (None, 1)
    vocab = ["a", "b", "c"]
    data = np.array([["a b"], ["c a c"]])
    cases = [
        (kerax.layers.TextVectorization(vocabulary=vocab, output_sequence_length=4),
         (None, 4), "int64"),
        (kerax.layers.TextVectorization(vocabulary=vocab), (None, None), "int64"),
        (kerax.layers.TextVectorization(vocabulary=vocab, output_mode="multi_hot"),
         (None, 4), "float32"),
        (kerax.layers.TextVectorization(vocabulary=vocab, output_mode="tf_idf",
                                        idf_weights=[1.0, 2.0, 3.0]), (None, 4), "float32"),
        (kerax.layers.StringLookup(vocabulary=vocab), (None, 1), "int64"),
        (kerax.layers.StringLookup(vocabulary=vocab, output_mode="one_hot"), (None, 4), None),
        (kerax.layers.Hashing(num_bins=7), (None, 1), "int64"),
        (kerax.layers.Hashing(num_bins=7, output_mode="multi_hot"), (None, 7), "float32"),
    ]
    for layer, shape, dtype in cases:
        spec = layer(text)
        assert spec.shape == shape, (layer.name, spec.shape)
        if dtype is not None:
            assert spec.dtype == dtype, (layer.name, spec.dtype)
        # what the layer returns on data agrees with the symbolic spec
        out = np.asarray(layer(data if isinstance(layer, kerax.layers.TextVectorization)
                               else np.array([["a"], ["c"]])))
        assert all(s is None or s == d for s, d in zip(spec.shape[1:], out.shape[1:]))


def test_predict_eager_call_and_predict_on_batch_on_strings():
    model = _text_model()
    ids = model.get_layer("vec")(np.array(QUERIES))  # vectorized in the pipeline
    expected = _numpy_forward(model, ids)
    np.testing.assert_allclose(model.predict(np.array(QUERIES), verbose=0), expected,
                               rtol=1e-5, atol=1e-6)
    # (n, 1) arrays as the Input's shape, a Python list, batches smaller than the data
    np.testing.assert_allclose(model.predict(np.array(QUERIES)[:, None], batch_size=3,
                                             verbose=0), expected, rtol=1e-5, atol=1e-6)
    for _ in range(3):  # the first eager call, then the compiled device part
        np.testing.assert_allclose(np.asarray(model(np.array(QUERIES))), expected,
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(QUERIES), expected, rtol=1e-5,
                               atol=1e-6)
    # symbolic: the model nested in another one keeps its specs
    outer = kerax.Model(t := kerax.Input((1,), dtype="string"), model(t))
    assert outer.output.shape == (None, 2)
    np.testing.assert_allclose(outer.predict(np.array(QUERIES), verbose=0), expected,
                               rtol=1e-5, atol=1e-6)


def test_dict_inputs_one_string_one_numeric_evaluate_and_train():
    text = kerax.Input((1,), dtype="string", name="text")
    num = kerax.Input((2,), name="num")
    hashed = kerax.layers.Hashing(num_bins=4, output_mode="multi_hot", name="hash")(text)
    x = kerax.layers.Concatenate()([hashed, num])
    model = kerax.Model({"text": text, "num": num}, kerax.layers.Dense(1, name="out")(x))
    words = np.array([["cat"], ["dog"], ["zebra"], ["cat"], ["emu"]])
    nums = np.arange(10, dtype="float32").reshape(5, 2) / 10
    y = np.array([[1.0], [0.0], [2.0], [1.0], [-1.0]], "float32")
    data = {"text": words, "num": nums}
    features = np.concatenate([model.get_layer("hash")(words), nums], axis=1)
    w, b = (np.asarray(v, np.float64) for v in model.get_layer("out").weights)
    pred = features @ w + b
    np.testing.assert_allclose(model.predict(data, verbose=0), pred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(data)), pred, rtol=1e-5, atol=1e-6)

    model.compile(kerax.optimizers.SGD(0.1), "mse")
    loss = model.evaluate(data, y, verbose=0)
    np.testing.assert_allclose(loss, np.mean((pred - y) ** 2), rtol=1e-5)
    # one SGD step of the mean squared error, in closed form
    residual = 2 * (pred - y) / len(y)
    new_w, new_b = w - 0.1 * features.T @ residual, b - 0.1 * residual.sum(axis=0)
    model.fit(data, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(np.asarray(model.get_layer("out").kernel), new_w, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(model.get_layer("out").bias), new_b, rtol=1e-5,
                               atol=1e-6)
    logs = model.test_on_batch(data, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.mean((features @ new_w + new_b - y) ** 2),
                               rtol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    model = _text_model(name="saved")
    path = str(tmp_path / "text.keras")
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    first = config["config"]["layers"][0]
    assert first["class_name"] == "InputLayer" and first["config"]["dtype"] == "string"
    loaded = kerax.saving.load_model(path)
    assert loaded.get_layer("vec").get_vocabulary() == model.get_layer("vec").get_vocabulary()
    assert loaded.inputs[0].dtype == "string"
    np.testing.assert_allclose(loaded.predict(np.array(QUERIES), verbose=0),
                               model.predict(np.array(QUERIES), verbose=0), rtol=1e-6)


def test_clear_errors():
    text = kerax.Input((1,), dtype="string", name="raw_text")
    with pytest.raises(ValueError, match="'dense_on_text'.*string.*raw_text.*host layers"):
        kerax.layers.Dense(2, name="dense_on_text")(text)
    # a host layer after a device layer cannot run on the host first
    num = kerax.Input((1,), dtype="int32")
    hashed = kerax.layers.Hashing(3, name="late_hash")(kerax.layers.Identity(name="ident")(num))
    model = kerax.Model(num, hashed)
    with pytest.raises(ValueError, match="'late_hash'.*host.*'ident'"):
        model.predict(np.array([[1], [2]]), verbose=0)
    # a generator of strings is not routed silently
    with pytest.raises(NotImplementedError, match="in-memory"):
        _text_model().predict((b for b in [np.array(QUERIES)]), verbose=0)


@pytest.mark.skipif(not os.path.exists(os.path.join(FIXTURES, "text_model_keras.keras")),
                    reason="fixture recorded by make_text_vectorization_fixtures.py")
def test_model_saved_by_keras_predicts_like_keras():
    """Input(dtype="string") -> TextVectorization -> Embedding -> pooling ->
    Dense, saved by Keras 3 (with TensorFlow), loads in kerax and predicts
    Keras' recorded outputs."""
    with open(os.path.join(FIXTURES, "text_model_reference.json")) as f:
        ref = json.load(f)
    model = kerax.saving.load_model(os.path.join(FIXTURES, "text_model_keras.keras"))
    assert model.inputs[0].dtype == "string"
    np.testing.assert_allclose(model.predict(np.array(ref["queries"]), verbose=0),
                               np.array(ref["outputs"]), rtol=1e-5, atol=1e-6)


def test_sequential_as_keras_documents_text_vectorization():
    """Keras' TextVectorization example: a Sequential built with add()."""
    vectorize = kerax.layers.TextVectorization(max_tokens=8, output_sequence_length=4)
    vectorize.adapt(TEXTS)
    model = kerax.Sequential()
    model.add(kerax.Input(shape=(1,), dtype="string"))
    model.add(vectorize)
    model.add(kerax.layers.Embedding(8, 2))
    model.add(kerax.layers.Flatten())
    table = np.asarray(model.layers[1].embeddings)
    expected = table[vectorize(np.array(QUERIES))].reshape(len(QUERIES), -1)
    np.testing.assert_allclose(model.predict(np.array(QUERIES), verbose=0), expected,
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model(QUERIES)), expected, rtol=1e-6)
