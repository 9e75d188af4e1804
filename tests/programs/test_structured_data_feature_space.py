"""keras-io examples/structured_data/structured_data_classification_with_feature_space.py
(heart disease): FeatureSpace with integer_categorical(num_oov_indices=0),
string_categorical, float_discretized, float_normalized and two crosses with
their own crossing_dim, adapt on the unlabeled data, a training model built on
`get_encoded_features()` (Dense/Dropout/Dense sigmoid), fit on batches that
the FeatureSpace encodes, then inference on a raw dict row.

Keras 3's FeatureSpace needs tf.data, so Keras cannot run this program without
TensorFlow; its encodings are checked against Keras' recorded outputs in
tests/utils/test_feature_space.py. Here kerax runs the whole program (the
inference path is `model.predict(feature_space(raw))`: the strings are encoded
on the host), and Keras 3 trains the same model on the same encoded matrix
for the loss comparison."""
import math

import numpy as np

import kerax

from ._compare import check_loss

N, BATCH = 300, 32
INT_FEATURES = ("sex", "cp", "fbs", "restecg", "exang", "ca")
FLOAT_FEATURES = ("trestbps", "chol", "thalach", "oldpeak", "slope")


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    cols = {
        "sex": rng.integers(0, 2, N), "cp": rng.integers(0, 5, N),
        "fbs": rng.integers(0, 2, N), "restecg": rng.integers(0, 3, N),
        "exang": rng.integers(0, 2, N), "ca": rng.integers(0, 4, N),
        "thal": rng.choice(["normal", "fixed", "reversible"], N),
        "age": rng.uniform(29, 77, N).round(0),
        "trestbps": rng.normal(131, 17, N).round(0), "chol": rng.normal(246, 51, N).round(0),
        "thalach": rng.normal(150, 23, N).round(0), "oldpeak": rng.exponential(1.0, N).round(1),
        "slope": rng.integers(1, 4, N).astype("float64"),
    }
    logit = (1.5 * (cols["thal"] == "reversible") + 0.8 * cols["exang"] - 0.04 * (
        cols["thalach"] - 150) + 0.6 * cols["ca"] - 1.2)
    target = (rng.random(N) < 1 / (1 + np.exp(-logit))).astype("float32")
    return cols, target


class Batches(kerax.utils.PyDataset):
    """(raw dict batch, labels), encoded by `transform` when given: the
    example's `train_ds.map(lambda x, y: (feature_space(x), y))`."""

    def __init__(self, cols, target, transform=None):
        super().__init__()
        self.cols, self.target, self.transform = cols, target, transform

    def __len__(self):
        return math.ceil(len(self.target) / BATCH)

    def __getitem__(self, i):
        s = slice(i * BATCH, (i + 1) * BATCH)
        x = {k: v[s] for k, v in self.cols.items()}
        return (self.transform(x) if self.transform else x), self.target[s]


def build_feature_space(keras):
    FS = keras.utils.FeatureSpace
    features = {name: FS.integer_categorical(num_oov_indices=0) for name in INT_FEATURES}
    features["thal"] = FS.string_categorical(num_oov_indices=0)
    features["age"] = FS.float_discretized(num_bins=30)
    features.update({name: FS.float_normalized() for name in FLOAT_FEATURES})
    return FS(features=features,
              crosses=[FS.cross(feature_names=("sex", "age"), crossing_dim=64),
                       FS.cross(feature_names=("thal", "ca"), crossing_dim=16)],
              output_mode="concat")


def build_model(keras, encoded_features):
    x = keras.layers.Dense(32, activation="relu")(encoded_features)
    x = keras.layers.Dropout(0.5)(x)
    predictions = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=encoded_features, outputs=predictions)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_feature_space_program_trains_and_predicts_raw_rows(keras):
    cols, target = make_data()
    n_train = 240
    train = {k: v[:n_train] for k, v in cols.items()}
    val = {k: v[n_train:] for k, v in cols.items()}

    kerax.utils.set_random_seed(0)
    feature_space = build_feature_space(kerax)
    feature_space.adapt(Batches(train, target[:n_train]))  # (x, y) batches: adapts on x
    encoded_features = feature_space.get_encoded_features()
    training_model = build_model(kerax, encoded_features)
    train_ds = Batches(train, target[:n_train], feature_space)
    val_ds = Batches(val, target[n_train:], feature_space)
    x_train = feature_space(train)
    before = training_model.evaluate(x_train, target[:n_train], verbose=0)[0]
    history = training_model.fit(train_ds, epochs=1, validation_data=val_ds, verbose=0)
    after = training_model.evaluate(x_train, target[:n_train], verbose=0)[0]
    assert math.isfinite(history.history["loss"][0]) and math.isfinite(after)
    assert after < before, (before, after)

    # Inference on one raw row, strings included, as the example's `sample`.
    sample = {"age": 60, "sex": 1, "cp": 1, "trestbps": 145, "chol": 233, "fbs": 1,
              "restecg": 2, "thalach": 150, "exang": 0, "oldpeak": 2.3, "slope": 3, "ca": 0,
              "thal": "fixed"}
    row = feature_space({name: [value] for name, value in sample.items()})
    assert row.shape == (1, encoded_features.shape[1])
    prob = training_model.predict(row, verbose=0)
    assert prob.shape == (1, 1) and 0.0 <= float(prob[0, 0]) <= 1.0
    single = feature_space(sample)  # a dict of scalars: one encoded vector
    np.testing.assert_array_equal(single, row[0])

    # Keras 3 (JAX) trains the same model on the same encoded data.
    keras.utils.set_random_seed(0)
    keras_model = build_model(keras, keras.Input(shape=(x_train.shape[1],)))
    keras_hist = keras_model.fit(x_train, target[:n_train], batch_size=BATCH, epochs=1,
                                 validation_data=(feature_space(val), target[n_train:]),
                                 verbose=0)
    check_loss(history.history["loss"][0], keras_hist.history["loss"][0])
