"""`SwapEMAWeights`: evaluate (and optionally checkpoint) with the optimizer's
exponential moving average of the weights (Keras 3's callback)."""
from kerax.callbacks.callback import Callback

__all__ = ["SwapEMAWeights"]


def _swap(optimizer):
    """Exchange each trained variable's value with its moving average (the
    buffers change hands: nothing is copied)."""
    for var, average in zip(optimizer._trainable_variables, _averages(optimizer)):
        current = var.value
        var.assign(average.value)
        average.assign(current)


def _finalize(optimizer):
    for var, average in zip(optimizer._trainable_variables, _averages(optimizer)):
        average.assign(var.value)


def _averages(optimizer):
    if not optimizer.built:
        raise ValueError(
            f"SwapEMAWeights: the optimizer {type(optimizer).__name__} has no moving averages "
            "yet (it is not built): train the model first, or build the optimizer with "
            "`optimizer.build(model.trainable_variables)`.")
    optimizer._slot_variables()  # the averages are made with the optimizer's slots
    return optimizer._averages


class SwapEMAWeights(Callback):
    """Swaps the model's weights with the optimizer's EMA weights before
    evaluation and prediction, and back after (Keras 3's callback; use an
    optimizer with `use_ema=True`).

    With `swap_on_epoch=True` the EMA weights are also in the model at each
    `on_epoch_end` (so a `ModelCheckpoint` placed after this callback saves
    them) and swapped back at the next epoch's start; after the last epoch
    the model keeps its EMA weights.

    The swap exchanges values in place, so other callbacks must not modify
    the weights or the EMA weights meanwhile. Unlike Keras 3.15 (whose
    `on_predict_end` never swaps back), `predict` restores the trained weights
    when it ends.

    >>> import numpy as np, kerax
    >>> model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(1)])
    >>> model.compile(kerax.optimizers.SGD(0.1, use_ema=True), "mse")
    >>> x, y = np.ones((8, 3)), np.ones((8, 1))
    >>> model.fit(x, y, epochs=2, verbose=0, callbacks=[SwapEMAWeights()])  # doctest: +ELLIPSIS
    <...History...>
    >>> loss = model.evaluate(x, y, verbose=0, callbacks=[SwapEMAWeights()])  # EMA weights
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizers(self):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        if hasattr(optimizer, "optimizers"):  # several optimizers, each for some variables
            found = [o for o in optimizer.optimizers if getattr(o, "use_ema", False)]
            if not found:
                raise ValueError(
                    "SwapEMAWeights must be used when at least one inner optimizer has "
                    "`use_ema=True` set. Received a MultiOptimizer with all inner optimizers "
                    "having `use_ema=False`.")
            return found
        if not getattr(optimizer, "use_ema", False):
            raise ValueError(
                "SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. "
                f"Received: use_ema={getattr(optimizer, 'use_ema', None)}")
        return [optimizer]

    def _swap_variables(self):
        for optimizer in self._optimizers():
            _swap(optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            if epoch == self.params["epochs"] - 1:
                # the averages take the swapped-out EMA values back, so that
                # finalize_variable_values leaves the EMA weights in the model
                for optimizer in self._optimizers():
                    _finalize(optimizer)

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end
