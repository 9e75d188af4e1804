"""TextVectorization against Keras 3 itself. Keras' layer needs TensorFlow,
which the test environment lacks, so its vocabularies, outputs, configs and
two saved files were recorded once with Keras 3 + TensorFlow
(make_text_vectorization_fixtures.py, fixtures/). A file kerax writes was
loaded by Keras with that script's --check (see the commit message)."""
import json
import pathlib
import zipfile

import jax
import numpy as np
import pytest

import kerax
from kerax.layers import TextVectorization

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
REF = json.loads((FIXTURES / "text_vectorization_reference.json").read_text(encoding="utf-8"))
CORPUS, QUERIES = np.array(REF["corpus"]), np.array(REF["queries"])


def _inputs(texts, kwargs):
    return texts if kwargs.get("split", "whitespace") is not None else texts[:, None]


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: json.dumps(c["kwargs"])[:60])
def test_matches_keras(case):
    kwargs = dict(case["kwargs"])
    layer = TextVectorization(**kwargs)
    if case["adapt"]:
        layer.adapt(_inputs(CORPUS, kwargs))
    assert layer.get_vocabulary() == case["vocabulary"]
    assert layer.vocabulary_size() == case["vocabulary_size"]
    out = layer(_inputs(QUERIES, kwargs))
    assert str(out.dtype) == case["dtype"]
    np.testing.assert_allclose(out, np.asarray(case["outputs"]), rtol=1e-6, atol=1e-6)
    config = json.loads(json.dumps({k: v for k, v in layer.get_config().items()
                                    if k not in ("name", "dtype")}))
    assert config == case["config"]
    # config round trip (an adapted vocabulary travels as the file's asset)
    clone = TextVectorization.from_config(layer.get_config())
    if case["adapt"]:
        clone.set_vocabulary(layer.get_vocabulary(), **(
            {"idf_weights": layer._lookup_layer._idf[:layer.vocabulary_size()]} if kwargs.get("output_mode") == "tf_idf"
            else {}))
    np.testing.assert_allclose(clone(_inputs(QUERIES, kwargs)), out, rtol=1e-6, atol=1e-6)


def test_adapt_from_an_iterable_of_batches_with_steps():
    layer = TextVectorization(output_mode="count")
    layer.adapt(iter([CORPUS[:2], CORPUS[2:4], CORPUS[4:]]), steps=2)
    assert layer.get_vocabulary() == REF["iterable"]["vocabulary"]
    np.testing.assert_array_equal(layer(QUERIES), REF["iterable"]["outputs"])
    # a list adapts like an array; batch_size does not change the result
    a, b = TextVectorization(), TextVectorization()
    a.adapt(list(CORPUS))
    b.adapt(CORPUS, batch_size=2)
    assert a.get_vocabulary() == b.get_vocabulary() == REF["cases"][0]["vocabulary"]


@pytest.mark.parametrize("tag", ["int", "tfidf"])
def test_keras_file_loads_and_kerax_file_has_keras_layout(tag, tmp_path):
    keras_path = FIXTURES / f"text_vectorization_{tag}_keras.keras"
    layer = kerax.saving.load_model(keras_path)
    expected = np.asarray(REF["saved"][tag]["outputs"])
    np.testing.assert_allclose(layer(QUERIES), expected, rtol=1e-6, atol=1e-6)
    ours = tmp_path / "tv.keras"
    kerax.saving.save_model(layer, ours)
    assert sorted(zipfile.ZipFile(ours).namelist()) == sorted(
        zipfile.ZipFile(keras_path).namelist())
    fresh = TextVectorization(**REF["saved"][tag]["kwargs"])  # adapted in kerax, saved, loaded
    fresh.adapt(np.array(REF["saved_corpus"]))
    kerax.saving.save_model(fresh, tmp_path / "fresh.keras")
    again = kerax.saving.load_model(tmp_path / "fresh.keras")
    np.testing.assert_allclose(again(QUERIES), expected, rtol=1e-6, atol=1e-6)


def test_inputs_users_write_and_callables():
    layer = TextVectorization(vocabulary=["hello", "world"])
    assert layer("Hello, world!").tolist() == [2, 3]                   # a scalar string
    assert layer(["hello", "world hello x"]).tolist() == [[2, 0, 0], [3, 2, 1]]
    assert layer(np.array([b"world"])).tolist() == [[3]]               # bytes
    assert layer(np.array([["hello"]], dtype=object)).tolist() == [[2]]  # (batch, 1)
    assert layer(["hello"]).tolist() == layer(["hello"]).tolist()      # re-runs
    words = TextVectorization(
        standardize=lambda x: np.char.replace(np.char.upper(x), "-", " "),
        split=lambda rows: [r.split("/") for r in rows])
    words.adapt(["A-B/C", "c/C"])
    assert words.get_vocabulary() == ["", "[UNK]", "C", "A B"]
    assert words(["a-b/c/zz"]).tolist() == [[3, 2, 1]]


def test_vocabulary_file_and_set_vocabulary(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("red\ngreen\n", encoding="utf-8")
    layer = TextVectorization(vocabulary=str(path), output_mode="multi_hot")
    assert layer.get_vocabulary() == ["[UNK]", "red", "green"]  # no mask id outside "int"
    assert layer(["green blue"]).tolist() == [[1, 0, 1]]
    ids = TextVectorization(vocabulary=str(path))
    assert ids.get_vocabulary() == ["", "[UNK]", "red", "green"]
    ids.set_vocabulary(["blue"])
    assert ids(["green blue"]).tolist() == [[1, 2]]


def test_in_a_training_pipeline():
    """Host preprocessing feeds a compiled model: predict on the ids."""
    vectorize = TextVectorization(output_sequence_length=6)
    vectorize.adapt(CORPUS)
    model = kerax.Sequential([kerax.Input((6,), dtype="int64"),
                              kerax.layers.Embedding(vectorize.vocabulary_size(), 4),
                              kerax.layers.GlobalAveragePooling1D()])
    out = model.predict(vectorize(QUERIES), verbose=0)
    table = np.asarray(model.layers[0].embeddings)
    ids = vectorize(QUERIES)
    np.testing.assert_allclose(out, table[ids].mean(axis=1), rtol=1e-5, atol=1e-6)
    symbolic = vectorize(kerax.Input((1,), dtype="int32"))  # shape inference as Keras
    assert symbolic.shape == (None, 6) and symbolic.dtype == "int64"
    with pytest.raises(ValueError, match="host.*compiled"):
        jax.jit(lambda x: vectorize(x))(np.zeros((2, 1)))


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="standardize"):
        TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="split"):
        TextVectorization(split="comma")
    with pytest.raises(ValueError, match="output_mode"):
        TextVectorization(output_mode="bag")
    with pytest.raises(ValueError, match="ngrams"):
        TextVectorization(ngrams="2")
    with pytest.raises(ValueError, match="output_sequence_length"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="TensorFlow"):
        TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="TensorFlow"):
        TextVectorization(sparse=True)
    layer = TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        layer(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="cannot adapt"):
        layer.adapt(["a b"])
    with pytest.raises(ValueError, match="strings"):
        layer(np.array([1.5]))
    with pytest.raises(ValueError, match="single string"):
        TextVectorization().adapt("a b c")
    with pytest.raises(ValueError, match="safe mode"):
        TextVectorization.from_config({"vocabulary": "/etc/passwd", "name": "tv"})


def test_docstring_examples_run():
    import doctest

    from kerax.layers import text_vectorization
    result = doctest.testmod(text_vectorization)
    assert result.failed == 0 and result.attempted > 0
