"""keras-io examples/structured_data/imbalanced_classification.py (credit card
fraud): a Dense/Dropout binary classifier, confusion-matrix metrics
(FalseNegatives, FalsePositives, TrueNegatives, TruePositives, Precision,
Recall), Adam(1e-2), class_weight, a ModelCheckpoint with an {epoch} template,
validation_data."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras, tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((96, 30)).astype("float32")
    targets = (rng.random((96, 1)) < 0.1).astype("uint8")
    num_val = 24
    train_x, val_x = features[:-num_val], features[-num_val:]
    train_y, val_y = targets[:-num_val], targets[-num_val:]
    mean, std = np.mean(train_x, axis=0), np.std(train_x, axis=0)
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
    counts = np.bincount(train_y[:, 0], minlength=2)
    weight_for_0, weight_for_1 = 1.0 / counts[0], 1.0 / max(counts[1], 1)

    model = keras.Sequential([
        keras.Input(shape=train_x.shape[1:]),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    metrics = [
        keras.metrics.FalseNegatives(name="fn"),
        keras.metrics.FalsePositives(name="fp"),
        keras.metrics.TrueNegatives(name="tn"),
        keras.metrics.TruePositives(name="tp"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
    ]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy",
                  metrics=metrics)
    callbacks = [keras.callbacks.ModelCheckpoint(
        str(tmp_path / "fraud_model_at_epoch_{epoch}.keras"))]
    history = model.fit(train_x, train_y, batch_size=16, epochs=1, verbose=0,
                        callbacks=callbacks, validation_data=(val_x, val_y),
                        class_weight={0: weight_for_0, 1: weight_for_1})
    assert (tmp_path / "fraud_model_at_epoch_1.keras").exists()
    logs = history.history
    assert logs["tp"][-1] + logs["fn"][-1] + logs["tn"][-1] + logs["fp"][-1] == len(train_x)
    return logs["val_loss"][-1]


def test_imbalanced_classification(keras, tmp_path):
    (tmp_path / "kx").mkdir()
    (tmp_path / "k").mkdir()
    check_loss(build_and_train(kerax, tmp_path / "kx"), build_and_train(keras, tmp_path / "k"))
