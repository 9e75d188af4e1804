"""keras-io guides/custom_train_step_in_tensorflow.py, first CustomModel: a
stateful `train_step(self, data)` (self(x, training=True), self.compute_loss,
optimizer.apply(grads, trainable_variables), metric.update_state over
self.metrics, returning {m.name: m.result()}). Keras 3 has no stateful
gradient API on JAX, so the guide's tf.GradientTape is the one line changed:
kerax.value_and_grad. The reference is Keras 3's built-in train_step on the
same initial weights, which this step reproduces, so the losses must agree
closely."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras, weights=None):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((64, 8)).astype("float32")
    y = rng.random((64, 1)).astype("float32")

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data

            def loss_fn():
                y_pred = self(x, training=True)
                return self.compute_loss(y=y, y_pred=y_pred), y_pred

            (loss, y_pred), grads = kerax.value_and_grad(
                loss_fn, self.trainable_variables, has_aux=True)()
            self.optimizer.apply(grads, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    cls = CustomModel if keras is kerax else keras.Model
    inputs = keras.Input(shape=(8,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    model = cls(inputs, keras.layers.Dense(1)(h))
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert np.isfinite(history.history["mae"][-1])
    return history.history["loss"][-1], model.get_weights()


def test_custom_train_step_stateful(keras):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    init = keras.Model(inputs, keras.layers.Dense(1)(h)).get_weights()
    kx_loss, kx_w = build_and_train(kerax, init)
    k_loss, k_w = build_and_train(keras, init)
    check_loss(kx_loss, k_loss)
    np.testing.assert_allclose(kx_loss, k_loss, rtol=1e-4)
    for a, b in zip(kx_w, k_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
