"""F-beta and F1 scores."""
import jax.numpy as jnp

from kerax import config
from kerax.metrics.metric import Metric
from kerax.metrics.metrics_utils import to_array


class FBetaScore(Metric):
    """F-beta score: (1 + beta^2) * precision * recall / (beta^2 * precision + recall).

    Args:
      average: None (one score per class), "micro" (global counts), "macro"
        (unweighted mean of the class scores) or "weighted" (mean weighted by
        each class's support).
      beta: a positive Python float.
      threshold: a float in (0, 1]: predictions above it are positive. With
        None, each sample's largest prediction is positive.

    Inputs have shape (batch, classes); the state is built on the first update.
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                "Invalid `average` argument value. Expected one of: {None, 'micro', "
                f"'macro', 'weighted'}}. Received: average={average!r}")
        if not isinstance(beta, float):
            raise ValueError(
                "Invalid `beta` argument value. It should be a Python float. Received: "
                f"beta={beta!r} of type {type(beta)}")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    "Invalid `threshold` argument value. It should be a Python float. "
                    f"Received: threshold={threshold!r} of type {type(threshold)}")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(
                    "Invalid `threshold` argument value. It should verify 0 < threshold "
                    f"<= 1. Received: threshold={threshold}")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                f"output_dim). Received input shapes: y_pred.shape={tuple(y_pred_shape)} "
                f"and y_true.shape={tuple(y_true_shape)}.")
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives",
                     "intermediate_weights"):
            setattr(self, name, self.add_variable(shape=shape, initializer="zeros",
                                                  dtype=self.dtype, name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = to_array(y_true, self.dtype)
        y_pred = to_array(y_pred, self.dtype)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if self.threshold is None:
            top = jnp.max(y_pred, axis=-1, keepdims=True)
            y_pred = (y_pred >= top) & (jnp.abs(y_pred) > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = y_pred.astype(self.dtype)
        sw = None if sample_weight is None else to_array(sample_weight, self.dtype)

        def wsum(val):
            if sw is not None:
                val = val * jnp.expand_dims(sw, 1)
            return jnp.sum(val, axis=self.axis)

        self.true_positives.assign(self.true_positives.value + wsum(y_pred * y_true))
        self.false_positives.assign(self.false_positives.value + wsum(y_pred * (1 - y_true)))
        self.false_negatives.assign(self.false_negatives.value + wsum((1 - y_pred) * y_true))
        self.intermediate_weights.assign(self.intermediate_weights.value + wsum(y_true))

    def result(self):
        if not self._built:
            return jnp.zeros((), self.dtype)
        eps = config.epsilon()
        tp = self.true_positives.value
        precision = tp / (tp + self.false_positives.value + eps)
        recall = tp / (tp + self.false_negatives.value + eps)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            w = self.intermediate_weights.value
            f = jnp.sum(f * w / (jnp.sum(w) + eps))
        elif self.average is not None:
            f = jnp.mean(f)
        return f

    def reset_state(self):
        for v in self.variables:
            v.assign(jnp.zeros(v.shape, v.dtype))

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 score: the harmonic mean of precision and recall (FBetaScore, beta=1)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config_ = super().get_config()
        del config_["beta"]
        return config_
