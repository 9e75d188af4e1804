"""Record Keras 3's TextVectorization outputs and files for
tests/layers/test_text_vectorization.py (not a test; pytest does not collect it).

Keras' TextVectorization needs TensorFlow on every backend and the test
environment has none, so its outputs are recorded once, from Keras itself:

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu keras
    /tmp/tfenv/bin/python tests/layers/make_text_vectorization_fixtures.py

writes `fixtures/text_vectorization_reference.json` (cases: arguments, adapt
data or vocabulary, inputs, Keras' vocabulary and outputs) and two layers
saved by Keras (`fixtures/text_vectorization_{int,tfidf}_keras.keras`).

    /tmp/tfenv/bin/python tests/layers/make_text_vectorization_fixtures.py --check FILE.keras

loads a TextVectorization file written by kerax in Keras and prints its
vocabulary and outputs on the reference queries (the other direction).

    /tmp/tfenv/bin/python tests/layers/make_text_vectorization_fixtures.py --model

writes a string-input functional model saved by Keras
(`fixtures/text_model_keras.keras`) and its predictions
(`fixtures/text_model_reference.json`); `--check-model FILE.keras` prints
Keras' predictions of such a model written by kerax.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

CORPUS = ["The cat sat.", "the DOG, the cat!", "Éclair  and\tcafé\u00a0noir",
          "a\x1cb c\u3000d", "  dogs, cats; and 'the' birds...  ", "the end\n"]
SAVED_CORPUS = [t for t in CORPUS if "\x1c" not in t]
QUERIES = ["the cat", "ÉCLAIR dog zebra", "", "Cats and DOGS and the rest, the end.",
           "a\x1cb  c"]

CASES = [
    ({}, "adapt"),
    ({"output_sequence_length": 4}, "adapt"),
    ({"standardize": "lower", "split": "character", "max_tokens": 12, "ngrams": 2}, "adapt"),
    ({"standardize": "strip_punctuation", "ngrams": 2, "output_mode": "multi_hot"}, "adapt"),
    ({"standardize": None, "output_mode": "count", "max_tokens": 6}, "adapt"),
    ({"ngrams": (1, 3), "output_mode": "tf_idf"}, "adapt"),
    ({"output_mode": "tf_idf", "max_tokens": 20, "pad_to_max_tokens": True}, "adapt"),
    ({"standardize": None, "split": None, "output_mode": "int"}, "adapt"),
    ({"split": None, "output_mode": "one_hot"}, "adapt"),
    ({"split": None, "output_mode": "multi_hot", "ngrams": 2}, "adapt"),
    ({"vocabulary": ["the", "cat", "dog", "end"], "output_sequence_length": 6}, None),
    ({"vocabulary": ["the", "cat", "dog"], "output_mode": "count", "pad_to_max_tokens": True,
      "max_tokens": 8}, None),
    ({"vocabulary": ["the", "cat", "dog"], "idf_weights": [0.5, 1.0, 2.0],
      "output_mode": "tf_idf"}, None),
]


def _call(layer, split):
    x = np.array(QUERIES) if split else np.array(QUERIES)[:, None]
    out = np.asarray(layer(x))
    return out.tolist(), str(out.dtype)


def generate():
    import keras
    import tensorflow as tf
    TV = keras.layers.TextVectorization
    os.makedirs(HERE, exist_ok=True)
    cases = []
    for kwargs, how in CASES:
        split = kwargs.get("split", "whitespace") is not None
        layer = TV(**kwargs)
        if how == "adapt":
            layer.adapt(np.array(CORPUS) if split else np.array(CORPUS)[:, None])
        out, dtype = _call(layer, split)
        cases.append({"kwargs": kwargs, "adapt": how == "adapt", "outputs": out, "dtype": dtype,
                      "vocabulary": [str(v) for v in layer.get_vocabulary()],
                      "vocabulary_size": int(layer.vocabulary_size()),
                      "config": {k: v for k, v in layer.get_config().items()
                                 if k not in ("name", "dtype")}})
    # adapt from an iterable of batches, with steps
    gen = TV(output_mode="count")
    gen.adapt(iter([np.array(CORPUS[:2]), np.array(CORPUS[2:4]), np.array(CORPUS[4:])]),
              steps=2)
    iterable = {"vocabulary": [str(v) for v in gen.get_vocabulary()],
                "outputs": np.asarray(gen(np.array(QUERIES))).tolist()}
    saved = {}
    for tag, kwargs in (("int", {"output_sequence_length": 5, "ngrams": 2}),
                        ("tfidf", {"output_mode": "tf_idf", "max_tokens": 9})):
        layer = TV(name=f"tv_{tag}", **kwargs)
        # Keras reads vocabulary.txt back with str.splitlines(), which also
        # breaks lines at "\x1c": a token holding one would not survive the file
        layer.adapt(np.array(SAVED_CORPUS))
        keras.src.saving.saving_lib.save_model(layer, os.path.join(
            HERE, f"text_vectorization_{tag}_keras.keras"))
        saved[tag] = {"kwargs": kwargs, "outputs": np.asarray(layer(np.array(QUERIES))).tolist()}
    ref = {"keras_version": keras.__version__, "tensorflow_version": tf.__version__,
           "corpus": CORPUS, "saved_corpus": SAVED_CORPUS, "queries": QUERIES,
           "cases": cases, "iterable": iterable,
           "saved": saved}
    with open(os.path.join(HERE, "text_vectorization_reference.json"), "w") as f:
        json.dump(ref, f, indent=0, ensure_ascii=False)
    print("wrote", HERE)


MODEL_QUERIES = ["the cat", "ÉCLAIR dog zebra", "Cats and DOGS and the rest, the end.",
                 "birds"]


def generate_model():
    """A functional model on strings, saved by Keras: Input(dtype="string")
    -> TextVectorization -> Embedding(mask_zero) -> GlobalAveragePooling1D ->
    Dense, and its predictions (tests/models/test_string_inputs.py)."""
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(7)
    vectorize = keras.layers.TextVectorization(output_sequence_length=6, name="vec")
    vectorize.adapt(np.array(SAVED_CORPUS))
    text = keras.Input((1,), dtype="string", name="text")
    x = keras.layers.Embedding(vectorize.vocabulary_size(), 4, mask_zero=True,
                               name="emb")(vectorize(text))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    model = keras.Model(text, keras.layers.Dense(3, name="out")(x))
    model.save(os.path.join(HERE, "text_model_keras.keras"))
    out = model.predict(tf.constant(MODEL_QUERIES)[:, None], verbose=0)
    with open(os.path.join(HERE, "text_model_reference.json"), "w") as f:
        json.dump({"keras_version": keras.__version__, "tensorflow_version": tf.__version__,
                   "queries": MODEL_QUERIES, "outputs": out.tolist()}, f, indent=0,
                  ensure_ascii=False)
    print("wrote the text model to", HERE)


def check_model(path):
    """Load a string-input model written by kerax in Keras and print its
    predictions on MODEL_QUERIES."""
    import keras
    import tensorflow as tf
    model = keras.saving.load_model(path)
    print(json.dumps(model.predict(tf.constant(MODEL_QUERIES)[:, None], verbose=0).tolist()))


def check(path):
    import keras
    layer = keras.saving.load_model(path)
    print(json.dumps({"vocabulary": [str(v) for v in layer.get_vocabulary()],
                      "outputs": np.asarray(layer(np.array(QUERIES))).tolist()},
                     ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--model":
        generate_model()
    elif len(sys.argv) == 3 and sys.argv[1] == "--check-model":
        check_model(sys.argv[2])
    else:
        generate()
