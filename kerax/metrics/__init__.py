"""kerax.metrics: Keras 3's metrics (`keras.metrics`) over JAX.

A metric is a stateful object whose state lives in non-trainable Variables:
`m.update_state(y_true, y_pred, sample_weight=None)`, `m.result()`,
`m.reset_state()`, `m(y_true, y_pred)` (update, then result). The same code
runs eagerly, inside `kerax.function` and inside `fit`'s compiled step, and as
pure functions through `stateless_update_state` / `stateless_result` /
`stateless_reset_state`.

`compile(metrics=[...])` accepts what `get` accepts (a name such as "mse",
"binary_accuracy", "AUC", a config dict, a `Metric` instance or class, or a
function `fn(y_true, y_pred)`), plus "accuracy"/"acc", whose concrete metric
depends on the target and output shapes: see `get_accuracy_for`.
"""

from kerax.core.naming import to_snake_case as _to_snake_case
from kerax.losses.losses import (  # noqa: F401 (keras.metrics re-exports them)
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence, log_cosh,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
    mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy, squared_hinge)
from kerax.metrics.accuracy_metrics import (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy, binary_accuracy,
    categorical_accuracy, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy)
from kerax.metrics.confusion_metrics import (
    AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
    RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
    TruePositives)
from kerax.metrics.correlation_metrics import (
    ConcordanceCorrelation, PearsonCorrelation, concordance_correlation, pearson_correlation)
from kerax.metrics.f_score_metrics import F1Score, FBetaScore
from kerax.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from kerax.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from kerax.metrics.metric import Metric
from kerax.metrics.probabilistic_metrics import (
    BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson,
    SparseCategoricalCrossentropy)
from kerax.metrics.reduction_metrics import (
    _FN_MODULE, _LOSS_FUNCTIONS, Mean, MeanMetricWrapper, Sum, get_function)
from kerax.metrics.regression_metrics import (
    CosineSimilarity, LogCoshError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredError, MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError)
from kerax.registry import (
    deserialize_keras_object, get_object, register_builtin, serialize_keras_object)

_MODULE = "keras.metrics"

ALL_CLASSES = (
    Metric, Mean, Sum, MeanMetricWrapper,
    MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score,
    AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
    RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
    TruePositives,
    ConcordanceCorrelation, PearsonCorrelation,
    Hinge, SquaredHinge, CategoricalHinge,
    KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    F1Score, FBetaScore,
    IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
)

# Keras 3's extra string names for metrics (`keras.metrics.get("mse")`).
_CLASS_ALIASES = {
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
}

for _cls in ALL_CLASSES:
    # Class name first, so it is the name the class serializes under.
    register_builtin(_MODULE, name=_cls.__name__, aliases=(_to_snake_case(_cls.__name__),))(_cls)
for _alias, _cls in _CLASS_ALIASES.items():
    register_builtin(_MODULE, name=_alias)(_cls)

# Functions that are kerax.metrics' own (the loss-like ones come from kerax.losses).
_OWN_FUNCTIONS = (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                  top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
                  pearson_correlation, concordance_correlation)
for _fn in _OWN_FUNCTIONS:
    register_builtin(_FN_MODULE)(_fn)

def serialize(metric):
    """The config dict of a `Metric` instance or a metric function (Keras 3's format)."""
    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """A `Metric` instance or metric function from `serialize`'s output or a name."""
    return deserialize_keras_object(config, custom_objects=custom_objects, module=_MODULE)


def get(identifier):
    """Resolve a metric identifier as Keras 3's `keras.metrics.get`.

    None -> None; a name ("mse", "binary_accuracy", "AUC", ...) or a config dict
    -> a new `Metric` instance (class names give the default arguments); a
    `Metric` class -> an instance; a `Metric` instance or any callable
    `fn(y_true, y_pred)` -> itself. Unknown names raise a ValueError listing
    the valid ones. ("accuracy" alone gives `Accuracy`, exact equality; in
    `compile`, "accuracy"/"acc" are resolved with `get_accuracy_for`.)
    """
    return get_object(identifier, _MODULE, "metric", base=Metric)


_BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy", "bce",
                  "binarycrossentropy", "binaryfocalcrossentropy")


def _loss_name(loss):
    if loss is None:
        return None
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "__name__", None) or type(loss).__name__
    return _to_snake_case(name) if name[:1].isupper() else name.lower()


def get_accuracy_for(loss, y_true_shape, y_pred_shape, name="accuracy"):
    """The metric the string "accuracy" (or "acc") stands for in `compile`.

    Keras 3's rule looks only at the shapes of the targets and the outputs:
      - `y_pred.shape[-1] == 1`                                  -> BinaryAccuracy
      - `rank(y_true) < rank(y_pred)`, or `y_true.shape[-1] == 1`
        while `y_pred.shape[-1] > 1`                             -> SparseCategoricalAccuracy
      - otherwise                                                -> CategoricalAccuracy
    (tf.keras 2 looked at the loss first; Keras 3 does not.) kerax follows
    Keras 3, with one addition: when the outputs are rank 1 (one probability
    per sample, where the shape rule would argmax over the batch) and `loss`
    is a binary crossentropy, it picks BinaryAccuracy as tf.keras did.

    Args:
      loss: the compiled loss (a name, a function or a Loss object) or None.
      y_true_shape, y_pred_shape: shapes (tuples; None for unknown dimensions).
      name: the metric's name (the string the user wrote).
    """
    yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
    if len(yp) == 0:
        raise ValueError(
            f"get_accuracy_for: cannot choose an accuracy for scalar outputs "
            f"(y_pred shape {yp}).")
    if len(yp) == 1 and _loss_name(loss) in _BINARY_LOSSES:
        return BinaryAccuracy(name=name)
    yt_last = yt[-1] if yt else None
    yp_last = yp[-1]
    if yp_last == 1:
        return BinaryAccuracy(name=name)
    if len(yt) < len(yp) or (yt_last == 1 and yp_last is not None and yp_last > 1):
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


def get_compile_metric(identifier, y_true_shape, y_pred_shape, loss=None):
    """Resolve one entry of `compile(metrics=[...])` into a `Metric`, as Keras 3
    does: "accuracy"/"acc" through `get_accuracy_for`; other identifiers
    through `get`; plain functions wrapped in `MeanMetricWrapper`. A metric
    given as a string is named by that string ("mse" logs as "mse")."""
    if identifier is None:
        raise ValueError("Expected a metric, received None.")
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return get_accuracy_for(loss, y_true_shape, y_pred_shape, name=identifier)
    obj = get(identifier)
    if not isinstance(obj, Metric):
        fn_name = getattr(obj, "__name__", None) or _to_snake_case(type(obj).__name__)
        obj = MeanMetricWrapper(obj, name=fn_name)
    if isinstance(identifier, str):
        obj.name = identifier
    return obj


__all__ = [c.__name__ for c in ALL_CLASSES] + [f.__name__ for f in _OWN_FUNCTIONS] + list(
    _LOSS_FUNCTIONS) + ["get", "serialize", "deserialize", "get_accuracy_for",
                        "get_compile_metric", "get_function"]
