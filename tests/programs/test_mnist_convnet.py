"""keras-io examples/vision/mnist_convnet.py ("Simple MNIST convnet"):
Sequential Conv2D/MaxPooling2D/Flatten/Dropout/Dense(softmax),
to_categorical labels, categorical_crossentropy, adam, validation_split."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras):
    layers = keras.layers

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    num_classes, input_shape = 10, (12, 12, 1)
    x = rng.random((64, 12, 12), dtype=np.float32)
    x = np.expand_dims(x, -1)
    y = keras.utils.to_categorical(rng.integers(0, num_classes, 64), num_classes)
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=1, validation_split=0.1, verbose=0)
    score = model.evaluate(x, y, verbose=0)
    return score[0]


def test_mnist_convnet(keras):
    check_loss(build_and_train(kerax), build_and_train(keras))
