"""The `Callback` base class (Keras 3's `keras.callbacks.Callback`)."""

__all__ = ["Callback"]


class Callback:
    """Base class of the objects `fit`, `evaluate` and `predict` call back.

    Subclass it and override the hooks you need. Attributes:
        params: a dict of training parameters (`verbose`, `epochs`, `steps`).
        model: the model being trained (set by `set_model`).

    Batch-level `logs` hold the step's metric values as 0-d JAX arrays that
    may still be being computed on the device: reading one as a Python float
    (`float(v)`) waits for the device, so convert only when you need the
    number. Epoch-level logs (`on_epoch_end`, `on_test_end`) hold Python
    floats and include the validation values as `val_<name>`.

    With `steps_per_execution=k`, `on_train_batch_begin/end` run once per `k`
    steps and receive the batch index of the last step of the group.

    Grouped batches: with `compile()`'s default `steps_per_execution`, fit,
    evaluate and predict run many steps per dispatch unless a callback
    overrides a batch-level hook of that call (`on_train_batch_begin/end`,
    `on_batch_begin/end`, `on_test_batch_*`, `on_predict_batch_*`): then they
    run one step per batch, exactly as Keras. A callback whose batch hooks are
    fine with once-per-group calls says so with `accepts_grouped_batches =
    True` (the hooks then see the index of the last batch of each group).
    """

    #: Whether this callback's batch-level hooks may run once per group of
    #: steps. None: decided from the class (a callback that overrides no batch
    #: hook accepts groups; one that overrides one does not).
    accepts_grouped_batches = None

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        model = self._model
        # A trainer that keeps the state outside the model's Variables while it
        # runs can write it back here, before a callback reads the weights.
        sync = getattr(model, "_sync_state_for_callbacks", None)
        if sync is not None:
            sync()
        return model

    # ---- hooks (all no-ops) --------------------------------------------------------
    def on_batch_begin(self, batch, logs=None):
        """A backward-compatible alias of `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """A backward-compatible alias of `on_train_batch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (training only)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with the epoch's metric results
        (training and `val_` ones) as Python floats."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called at the beginning of a training batch in `fit`."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called at the end of a training batch in `fit`, with the running
        metric results (0-d device arrays)."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called at the beginning of a batch in `evaluate` (and validation)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called at the end of a batch in `evaluate` (and validation)."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called at the beginning of a batch in `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called at the end of a batch in `predict`; `logs["outputs"]` holds
        the batch's predictions."""

    def on_train_begin(self, logs=None):
        """Called at the beginning of `fit`."""

    def on_train_end(self, logs=None):
        """Called at the end of `fit`."""

    def on_test_begin(self, logs=None):
        """Called at the beginning of `evaluate` (and of each validation)."""

    def on_test_end(self, logs=None):
        """Called at the end of `evaluate` with its results."""

    def on_predict_begin(self, logs=None):
        """Called at the beginning of `predict`."""

    def on_predict_end(self, logs=None):
        """Called at the end of `predict`."""
