"""keras-io guides/writing_your_own_callbacks.py: a Callback overriding every
train/test/predict hook, LossAndErrorPrintingCallback reading logs,
EarlyStoppingAtMinLoss (get_weights/set_weights, self.model.stop_training,
on_train_end), and CustomLearningRateScheduler reading and assigning
self.model.optimizer.learning_rate; SGD(0.1), mse, mean_absolute_error,
evaluate and predict with callbacks."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((64, 16)).astype("float32")
    y = rng.random((64, 1)).astype("float32")
    calls = []

    class CustomCallback(keras.callbacks.Callback):
        pass

    for hook in ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
                 "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                 "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"]:
        def method(self, *args, _hook=hook, **kwargs):
            calls.append(_hook)
        setattr(CustomCallback, hook, method)

    class LossAndErrorPrintingCallback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            calls.append(("batch_loss", logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch", logs["loss"], logs["mean_absolute_error"]))

    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait, self.stopped_epoch, self.best = 0, 0, np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best, self.wait = current, 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

        def on_train_end(self, logs=None):
            calls.append(("stopped", self.stopped_epoch))

    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule

        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            scheduled_lr = self.schedule(epoch, lr)
            self.model.optimizer.learning_rate = scheduled_lr
            calls.append(("lr", float(np.asarray(self.model.optimizer.learning_rate))))

    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss="mean_squared_error", metrics=["mean_absolute_error"])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[
        CustomCallback(), LossAndErrorPrintingCallback(), EarlyStoppingAtMinLoss(),
        CustomLearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    res = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[CustomCallback()])
    model.predict(x, batch_size=16, verbose=0, callbacks=[CustomCallback()])
    return history.history["loss"][-1], res, calls


def test_writing_callbacks(keras):
    kx_loss, kx_res, kx_calls = build_and_train(kerax)
    k_loss, k_res, k_calls = build_and_train(keras)
    check_loss(kx_loss, k_loss)
    check_loss(kx_res[0], k_res[0])

    def shape(calls):
        return [c if isinstance(c, str) else c[0] for c in calls]
    assert shape(kx_calls) == shape(k_calls)
    assert [c for c in kx_calls if c[0] in ("lr", "stopped")] == \
        [c for c in k_calls if c[0] in ("lr", "stopped")]
