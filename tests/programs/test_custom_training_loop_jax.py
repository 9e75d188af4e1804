"""keras-io guides/writing_a_custom_training_loop_in_jax.py: a functional MLP,
optimizer.build(trainable_variables), a jax.jit train step over
model.stateless_call under jax.value_and_grad(has_aux=True),
optimizer.stateless_apply, a CategoricalAccuracy metric driven statelessly,
writing the state back with Variable.assign, a jit eval step, and the guide's
"losses tracked by the model" part (an add_loss layer read back with
stateless_call(..., return_losses=True))."""
import jax
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras, tracked_losses=True):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_all = rng.random((64, 20)).astype("float32")
    y_all = keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
    batches = [(x_all[i:i + 16], y_all[i:i + 16]) for i in range(0, 48, 16)]

    class ActivityRegularizationLayer(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * keras.ops.sum(inputs))
            return inputs

    inputs = keras.Input(shape=(20,), name="digits")
    x1 = keras.layers.Dense(16, activation="relu")(inputs)
    if tracked_losses:
        x1 = ActivityRegularizationLayer()(x1)
    x2 = keras.layers.Dense(16, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)

    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    optimizer.build(model.trainable_variables)
    train_acc_metric = keras.metrics.CategoricalAccuracy()
    val_acc_metric = keras.metrics.CategoricalAccuracy()

    def compute_loss_and_updates(trainable_variables, non_trainable_variables,
                                 metric_variables, x, y):
        y_pred, non_trainable_variables, losses = model.stateless_call(
            trainable_variables, non_trainable_variables, x, return_losses=True)
        loss = loss_fn(y, y_pred)
        if losses:
            loss += keras.ops.sum(losses)
        metric_variables = train_acc_metric.stateless_update_state(metric_variables, y, y_pred)
        return loss, (non_trainable_variables, metric_variables)

    grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

    @jax.jit
    def train_step(state, data):
        (trainable_variables, non_trainable_variables, optimizer_variables,
         metric_variables) = state
        x, y = data
        (loss, (non_trainable_variables, metric_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, metric_variables, x, y)
        trainable_variables, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        return loss, (trainable_variables, non_trainable_variables, optimizer_variables,
                      metric_variables)

    @jax.jit
    def eval_step(state, data):
        trainable_variables, non_trainable_variables, metric_variables = state
        x, y = data
        y_pred, non_trainable_variables = model.stateless_call(
            trainable_variables, non_trainable_variables, x)
        loss = loss_fn(y, y_pred)
        metric_variables = val_acc_metric.stateless_update_state(metric_variables, y, y_pred)
        return loss, (trainable_variables, non_trainable_variables, metric_variables)

    # The guide passes the Variable lists themselves; Keras 3.15.1 on the
    # installed JAX rejects that ("Triggering __jax_array__() during
    # abstractification"), so both libraries get the arrays (kerax takes either).
    trainable_variables = [v.value for v in model.trainable_variables]
    non_trainable_variables = [v.value for v in model.non_trainable_variables]
    optimizer_variables = [v.value for v in optimizer.variables]
    metric_variables = [v.value for v in train_acc_metric.variables]
    state = (trainable_variables, non_trainable_variables, optimizer_variables,
             metric_variables)
    for data in batches:
        loss, state = train_step(state, data)
    trainable_variables, non_trainable_variables, optimizer_variables, metric_variables = state
    for variable, value in zip(train_acc_metric.variables, metric_variables):
        variable.assign(value)
    assert 0.0 <= float(train_acc_metric.result()) <= 1.0
    for variable, value in zip(model.trainable_variables, trainable_variables):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, non_trainable_variables):
        variable.assign(value)

    eval_state = (trainable_variables, non_trainable_variables,
                  [v.value for v in val_acc_metric.variables])
    val_loss, eval_state = eval_step(eval_state, (x_all[48:], y_all[48:]))
    direct = loss_fn(y_all[48:], model(x_all[48:]))
    np.testing.assert_allclose(float(val_loss), float(direct), rtol=1e-5)
    return float(loss)


def test_custom_training_loop_jax(keras):
    check_loss(build_and_train(kerax), build_and_train(keras))


def test_custom_training_loop_jax_without_tracked_losses(keras):
    check_loss(build_and_train(kerax, tracked_losses=False),
               build_and_train(keras, tracked_losses=False))
