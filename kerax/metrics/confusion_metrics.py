"""Metrics built on confusion-matrix counts: TruePositives ... FalseNegatives,
Precision, Recall, the *At* metrics, and AUC."""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import config
from kerax.metrics import metrics_utils
from kerax.metrics.metric import Metric
from kerax.metrics.metrics_utils import ConfusionMatrix, divide_no_nan, to_array

CM = ConfusionMatrix


class _ConfusionMatrixConditionCount(Metric):
    """Counts one confusion-matrix cell at each threshold."""

    def __init__(self, confusion_matrix_cond, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._confusion_matrix_cond = confusion_matrix_cond
        self.init_thresholds = thresholds
        self.thresholds = metrics_utils.parse_init_thresholds(thresholds, default_threshold=0.5)
        self._thresholds_distributed_evenly = metrics_utils.is_evenly_distributed_thresholds(
            self.thresholds)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),),
                                             initializer="zeros", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        metrics_utils.update_confusion_matrix_variables(
            {self._confusion_matrix_cond: self.accumulator}, y_true, y_pred,
            thresholds=self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight)

    def result(self):
        acc = self.accumulator.value
        return acc[0] if len(self.thresholds) == 1 else acc

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class FalsePositives(_ConfusionMatrixConditionCount):
    """Weighted count of false positives (`y_pred > threshold`, label 0)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(CM.FALSE_POSITIVES, thresholds=thresholds, name=name, dtype=dtype)


class FalseNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of false negatives."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(CM.FALSE_NEGATIVES, thresholds=thresholds, name=name, dtype=dtype)


class TrueNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of true negatives."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(CM.TRUE_NEGATIVES, thresholds=thresholds, name=name, dtype=dtype)


class TruePositives(_ConfusionMatrixConditionCount):
    """Weighted count of true positives."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(CM.TRUE_POSITIVES, thresholds=thresholds, name=name, dtype=dtype)


class _PrecisionRecallBase(Metric):
    _second = None  # the ConfusionMatrix cell next to true positives
    _second_name = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else metrics_utils.NEG_INF
        self.thresholds = metrics_utils.parse_init_thresholds(thresholds,
                                                              default_threshold=default)
        self._thresholds_distributed_evenly = metrics_utils.is_evenly_distributed_thresholds(
            self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer="zeros",
                                                name="true_positives")
        setattr(self, self._second_name, self.add_variable(
            shape=(n,), initializer="zeros", name=self._second_name))

    def update_state(self, y_true, y_pred, sample_weight=None):
        metrics_utils.update_confusion_matrix_variables(
            {CM.TRUE_POSITIVES: self.true_positives,
             self._second: getattr(self, self._second_name)},
            y_true, y_pred, thresholds=self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            top_k=self.top_k, class_id=self.class_id, sample_weight=sample_weight)

    def result(self):
        tp = self.true_positives.value
        res = divide_no_nan(tp, tp + getattr(self, self._second_name).value)
        return res[0] if len(self.thresholds) == 1 else res

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives.assign(jnp.zeros((n,), self.true_positives.dtype))
        other = getattr(self, self._second_name)
        other.assign(jnp.zeros((n,), other.dtype))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecallBase):
    """true_positives / (true_positives + false_positives).

    Args:
      thresholds: a float or list of floats in [0, 1]; a prediction is positive
        when `y_pred > threshold` (default 0.5, or none with `top_k`). With a
        list, the result is one precision per threshold.
      top_k: only the top-k predictions of each sample count as positive.
      class_id: compute the metric for this class (column) only.
    """
    _second = CM.FALSE_POSITIVES
    _second_name = "false_positives"


class Recall(_PrecisionRecallBase):
    """true_positives / (true_positives + false_negatives). Arguments as `Precision`."""
    _second = CM.FALSE_NEGATIVES
    _second_name = "false_negatives"


class SensitivitySpecificityBase(Metric):
    """Base of the "best X where Y >= value" metrics over evenly spaced thresholds.

    A subclass names the two rates in `_compared = (Y, X)`: Y is also the name
    of its constructor argument (the constraint's value) and of its attribute.
    """

    _compared = ()

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if self._compared:
            _check_unit(self._compared[0], value)
            setattr(self, self._compared[0], value)
        self.num_thresholds = num_thresholds
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if not isinstance(num_thresholds, int) or num_thresholds <= 0:
            raise ValueError(
                "Argument `num_thresholds` must be an integer > 0. Received: "
                f"num_thresholds={num_thresholds}")
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._thresholds_distributed_evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0] + inner + [1.0]
            self._thresholds_distributed_evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer="zeros",
                                                name="true_positives")
        self.false_positives = self.add_variable(shape=(n,), initializer="zeros",
                                                 name="false_positives")
        self.true_negatives = self.add_variable(shape=(n,), initializer="zeros",
                                                name="true_negatives")
        self.false_negatives = self.add_variable(shape=(n,), initializer="zeros",
                                                 name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        metrics_utils.update_confusion_matrix_variables(
            {CM.TRUE_POSITIVES: self.true_positives, CM.TRUE_NEGATIVES: self.true_negatives,
             CM.FALSE_POSITIVES: self.false_positives,
             CM.FALSE_NEGATIVES: self.false_negatives},
            y_true, y_pred, thresholds=self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            class_id=self.class_id, sample_weight=sample_weight)

    def reset_state(self):
        for v in (self.true_positives, self.false_positives, self.true_negatives,
                  self.false_negatives):
            v.assign(jnp.zeros(v.shape, v.dtype))

    def _rates(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        sensitivity = divide_no_nan(tp, tp + fn)
        return {"sensitivity": sensitivity, "recall": sensitivity,
                "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp)}

    def _find_max_under_constraint(self, constrained, dependent):
        feasible = constrained >= self.value
        return jnp.max(jnp.where(feasible, dependent, 0.0), initial=0.0)

    def result(self):
        rates = self._rates()
        constrained, maximised = self._compared
        return self._find_max_under_constraint(rates[constrained], rates[maximised])

    def get_config(self):
        config = {**super().get_config(), "class_id": self.class_id}
        if self._compared:
            config.update({"num_thresholds": self.num_thresholds,
                           self._compared[0]: self.value})
        return config


def _check_unit(name, value):
    if value < 0 or value > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: "
                         f"{name}={value}")


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) where specificity >= `specificity`."""

    _compared = ("specificity", "sensitivity")

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity where sensitivity >= `sensitivity`."""

    _compared = ("sensitivity", "specificity")

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision where recall >= `recall`."""

    _compared = ("recall", "precision")

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall where precision >= `precision`."""

    _compared = ("precision", "recall")

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


class AUC(Metric):
    """Area under the ROC or PR curve, by a Riemann sum over thresholds.

    Args:
      num_thresholds: number of thresholds (default 200), evenly spaced in
        [0, 1] (the end ones nudged by epsilon so 0 and 1 predictions count).
      curve: "ROC" (default), "PR" or "PRGAIN".
      summation_method: "interpolation" (default; for PR, the Davis & Goadrich
        interpolation), "minoring" or "majoring".
      thresholds: explicit thresholds in [0, 1] (overrides num_thresholds).
      multi_label: treat each column of a (batch, labels) `y_pred` as its own
        binary problem and average the AUCs (weighted by `label_weights`).
      num_labels: the number of labels when `multi_label` (else built on the
        first update).
      label_weights: per-label weights (for multi_label, of the average; else
        of each label's counts).
      from_logits: apply a sigmoid to `y_pred` first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._direction = "up"
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            thresholds = sorted(float(t) for t in metrics_utils.parse_init_thresholds(thresholds))
            self.num_thresholds = len(thresholds) + 2
            self._thresholds_distributed_evenly = \
                metrics_utils.is_evenly_distributed_thresholds(
                    np.array([0.0] + thresholds + [1.0]))
        else:
            if not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. Received: "
                    f"num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1)
                          for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        eps = config.epsilon()
        self._thresholds = np.array([0.0 - eps] + thresholds + [1.0 + eps])
        self.curve = curve if isinstance(curve, metrics_utils.AUCCurve) else \
            metrics_utils.AUCCurve.from_str(curve)
        self.summation_method = summation_method if isinstance(
            summation_method, metrics_utils.AUCSummationMethod) else \
            metrics_utils.AUCSummationMethod.from_str(summation_method)
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        if isinstance(label_weights, dict) and label_weights.get("class_name") in (
                "__tensor__", "__numpy__"):
            # Keras writes its label_weights tensor in this form.
            label_weights = (label_weights.get("config") or {}).get("value")
        if label_weights is not None:
            self.label_weights = jnp.asarray(np.asarray(label_weights), self.dtype)
        else:
            self.label_weights = None
        self._from_logits = from_logits
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        return [float(t) for t in self._thresholds]

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    "AUC: `y_pred` must have rank 2 when `multi_label=True`. Found rank "
                    f"{len(shape)}; full shape received for `y_pred`: {tuple(shape)}")
            self._num_labels = shape[1]
            var_shape = (self.num_thresholds, self._num_labels)
        else:
            var_shape = (self.num_thresholds,)
        self._build_input_shape = shape
        self.true_positives = self.add_variable(shape=var_shape, initializer="zeros",
                                                name="true_positives")
        self.false_positives = self.add_variable(shape=var_shape, initializer="zeros",
                                                 name="false_positives")
        self.true_negatives = self.add_variable(shape=var_shape, initializer="zeros",
                                                name="true_negatives")
        self.false_negatives = self.add_variable(shape=var_shape, initializer="zeros",
                                                 name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = to_array(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = jax.nn.sigmoid(y_pred)
        metrics_utils.update_confusion_matrix_variables(
            {CM.TRUE_POSITIVES: self.true_positives, CM.TRUE_NEGATIVES: self.true_negatives,
             CM.FALSE_POSITIVES: self.false_positives,
             CM.FALSE_NEGATIVES: self.false_negatives},
            y_true, y_pred, self._thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)

    def interpolate_pr_auc(self):
        """PR-AUC with the Davis & Goadrich (2006) interpolation between thresholds."""
        return self._interpolate_pr_auc(self.true_positives.value,
                                        self.false_positives.value,
                                        self.false_negatives.value)

    def _interpolate_pr_auc(self, tp, fp, fn):
        return _interpolate_pr_auc(self._result_key(), tp, fp, fn, self.label_weights)

    def result(self):
        if not self._built:
            return jnp.zeros((), self.dtype)
        return _auc_result(self._result_key(), self.true_positives.value,
                           self.false_positives.value, self.true_negatives.value,
                           self.false_negatives.value, self.label_weights)

    def _result_key(self):
        # Everything `_result_from_counts` reads from `self` besides the counts:
        # metrics with the same key share one compiled result function.
        return _AUCResultKey(self.num_thresholds, self.curve, self.summation_method,
                             self.multi_label, self.label_weights is not None)

    def _result_from_counts(self, tp, fp, tn, fn):
        return _auc_from_counts(self._result_key(), tp, fp, tn, fn, self.label_weights)

    def reset_state(self):
        if self._built:
            for v in (self.true_positives, self.false_positives, self.true_negatives,
                      self.false_negatives):
                v.assign(jnp.zeros(v.shape, v.dtype))

    def get_config(self):
        lw = self.label_weights
        config_ = {"num_thresholds": self.num_thresholds, "curve": self.curve.value,
                   "summation_method": self.summation_method.value,
                   "multi_label": self.multi_label, "num_labels": self.num_labels,
                   "label_weights": None if lw is None else np.asarray(lw).tolist(),
                   "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config_["thresholds"] = self.thresholds[1:-1]
        return {**super().get_config(), **config_}


class _AUCResultKey(tuple):
    def __new__(cls, num_thresholds, curve, summation_method, multi_label, weighted):
        return super().__new__(cls, (num_thresholds, curve, summation_method, multi_label,
                                     weighted))

    num_thresholds = property(lambda self: self[0])
    curve = property(lambda self: self[1])
    summation_method = property(lambda self: self[2])
    multi_label = property(lambda self: self[3])


def _auc_aggregate(key, terms, label_weights):
    if key.multi_label:
        by_label = jnp.sum(terms, axis=0)
        if label_weights is None:
            return jnp.mean(by_label)
        return divide_no_nan(jnp.sum(by_label * label_weights), jnp.sum(label_weights))
    return jnp.sum(terms)

def _auc_from_counts(key, tp, fp, tn, fn, label_weights):
    if key.curve == metrics_utils.AUCCurve.PR and \
            key.summation_method == metrics_utils.AUCSummationMethod.INTERPOLATION:
        return _interpolate_pr_auc(key, tp, fp, fn, label_weights)
    n = key.num_thresholds
    recall = divide_no_nan(tp, tp + fn)
    if key.curve == metrics_utils.AUCCurve.ROC:
        x, y = divide_no_nan(fp, fp + tn), recall
    elif key.curve == metrics_utils.AUCCurve.PR:
        x, y = recall, divide_no_nan(tp, tp + fp)
    else:  # PRGAIN
        scaling = divide_no_nan(tp + fn, tn + fp)
        recall_gain = 1.0 - scaling * divide_no_nan(fn, tp)
        precision_gain = 1.0 - scaling * divide_no_nan(fp, tp)
        recall_gain = jnp.where(tp == 0.0, 0.0, recall_gain)
        precision_gain = jnp.where(tp == 0.0, 1.0, precision_gain)
        x, y = jnp.maximum(recall_gain, 0.0), precision_gain
    if key.summation_method == metrics_utils.AUCSummationMethod.INTERPOLATION:
        heights = (y[:n - 1] + y[1:]) / 2.0
    elif key.summation_method == metrics_utils.AUCSummationMethod.MINORING:
        heights = jnp.minimum(y[:n - 1], y[1:])
    else:
        heights = jnp.maximum(y[:n - 1], y[1:])
    return _auc_aggregate(key, (x[:n - 1] - x[1:]) * heights, label_weights)


_auc_result = jax.jit(_auc_from_counts, static_argnums=0)


def _interpolate_pr_auc(key, tp, fp, fn, label_weights):
    n = key.num_thresholds
    dtp = tp[:n - 1] - tp[1:]
    p = tp + fp
    dp = p[:n - 1] - p[1:]
    prec_slope = divide_no_nan(dtp, jnp.maximum(dp, 0))
    intercept = tp[1:] - prec_slope * p[1:]
    safe_p_ratio = jnp.where((p[:n - 1] > 0) & (p[1:] > 0),
                             divide_no_nan(p[:n - 1], jnp.maximum(p[1:], 0)),
                             jnp.ones_like(p[1:]))
    increments = divide_no_nan(prec_slope * (dtp + intercept * jnp.log(safe_p_ratio)),
                               jnp.maximum(tp[1:] + fn[1:], 0))
    return _auc_aggregate(key, increments, label_weights)
