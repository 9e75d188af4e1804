"""keras-io examples/timeseries/timeseries_classification_from_scratch.py:
a fully convolutional net (Conv1D padding="same", BatchNormalization, ReLU,
GlobalAveragePooling1D, softmax), ModelCheckpoint(save_best_only) to .keras,
ReduceLROnPlateau, EarlyStopping, validation_split, then load_model and
evaluate."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras, tmp_path):
    layers = keras.layers
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 20)).astype("float32")
    x = x.reshape((x.shape[0], x.shape[1], 1))
    y = rng.integers(0, 2, (48,))
    num_classes = len(np.unique(y))
    idx = np.random.RandomState(0).permutation(len(x))
    x, y = x[idx], y[idx]

    input_layer = layers.Input(x.shape[1:])
    h = input_layer
    for _ in range(2):  # the example stacks three
        h = layers.Conv1D(filters=8, kernel_size=3, padding="same")(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
    gap = layers.GlobalAveragePooling1D()(h)
    output_layer = layers.Dense(num_classes, activation="softmax")(gap)
    model = keras.models.Model(inputs=input_layer, outputs=output_layer)

    path = str(tmp_path / "best_model.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(path, save_best_only=True, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20,
                                          min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, callbacks=callbacks,
              validation_split=0.2, verbose=0)
    model = keras.models.load_model(path)
    test_loss, test_acc = model.evaluate(x, y, verbose=0)
    return test_loss


def test_timeseries_classification(keras, tmp_path):
    (tmp_path / "kx").mkdir()
    (tmp_path / "k").mkdir()
    check_loss(build_and_train(kerax, tmp_path / "kx"), build_and_train(keras, tmp_path / "k"))
