"""kerax.config.set_max_epochs / set_max_steps_per_epoch cap fit, evaluate and
predict as in Keras 3."""
import numpy as np
import pytest

import kerax


def _run(lib):
    lib.utils.set_random_seed(0)
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.arange(60, dtype="float32").reshape(20, 3) / 60
    y = x.sum(axis=1, keepdims=True)
    steps = []

    class Count(lib.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    history = model.fit(x, y, batch_size=2, epochs=5, verbose=0, shuffle=False,
                        callbacks=[Count()])
    return len(history.history["loss"]), len(steps), model.predict(x, batch_size=2, verbose=0)


def test_caps_match_keras(keras):
    kerax.config.set_max_epochs(2)
    kerax.config.set_max_steps_per_epoch(3)
    keras.config.set_max_epochs(2)
    keras.config.set_max_steps_per_epoch(3)
    try:
        with pytest.warns(UserWarning, match="epochs"):
            epochs, steps, pred = _run(kerax)
        k_epochs, k_steps, k_pred = _run(keras)
    finally:
        kerax.config.set_max_epochs(None)
        kerax.config.set_max_steps_per_epoch(None)
        keras.config.set_max_epochs(None)
        keras.config.set_max_steps_per_epoch(None)
    assert (epochs, steps) == (k_epochs, k_steps) == (2, 6)
    assert pred.shape == k_pred.shape
