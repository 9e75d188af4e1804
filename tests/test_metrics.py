"""kerax.metrics against Keras 3 (results, configs, serialization), the
compiled and stateless paths, and the TensorFlow chapter's examples."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
import kerax.metrics as M

N = 8


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def make_data(kind, seed):
    r = np.random.default_rng(seed)
    f = np.float32
    if kind == "binary":
        return r.integers(0, 2, (N, 1)).astype(f), r.uniform(size=(N, 1)).astype(f)
    if kind == "binary_flat":
        return r.integers(0, 2, (N,)).astype(f), r.uniform(size=(N,)).astype(f)
    if kind == "logits":
        return r.integers(0, 2, (N, 1)).astype(f), r.normal(size=(N, 1)).astype(f) * 2
    if kind == "categorical":
        return (np.eye(5, dtype=f)[r.integers(0, 5, N)],
                _softmax(r.normal(size=(N, 5))).astype(f))
    if kind == "categorical_logits":
        return np.eye(5, dtype=f)[r.integers(0, 5, N)], r.normal(size=(N, 5)).astype(f) * 2
    if kind == "sparse":
        return r.integers(0, 5, (N,)).astype(f), _softmax(r.normal(size=(N, 5))).astype(f)
    if kind == "sparse_col":
        return r.integers(0, 5, (N, 1)).astype(f), _softmax(r.normal(size=(N, 5))).astype(f)
    if kind == "sparse_logits":
        return r.integers(0, 5, (N,)).astype(f), r.normal(size=(N, 5)).astype(f) * 2
    if kind == "regression":
        return (r.uniform(0.1, 3, (N, 3)).astype(f), r.uniform(0.1, 3, (N, 3)).astype(f))
    if kind == "multilabel":
        return r.integers(0, 2, (N, 3)).astype(f), r.uniform(size=(N, 3)).astype(f)
    if kind == "hinge":
        return (r.integers(0, 2, (N, 3)) * 2 - 1).astype(f), r.normal(size=(N, 3)).astype(f)
    if kind == "labels":
        return r.integers(0, 3, (N,)).astype(f), r.integers(0, 3, (N,)).astype(f)
    if kind == "seg":
        return r.integers(0, 3, (N, 4)), r.integers(0, 3, (N, 4))
    raise ValueError(kind)


# (class name, kwargs, data kind)
CASES = [
    ("Accuracy", {}, "labels"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary_flat"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_col"),
    ("TopKCategoricalAccuracy", {"k": 2}, "categorical"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("MeanSquaredError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("LogCoshError", {}, "regression"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1},
     "categorical_logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"),
    ("KLDivergence", {}, "categorical"),
    ("Poisson", {}, "regression"),
    ("Hinge", {}, "hinge"),
    ("Hinge", {}, "multilabel"),
    ("SquaredHinge", {}, "hinge"),
    ("CategoricalHinge", {}, "categorical"),
    ("TruePositives", {}, "binary"),
    ("TrueNegatives", {"thresholds": [0.3, 0.7]}, "binary"),
    ("FalsePositives", {}, "multilabel"),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.2, 0.5, 0.8]}, "binary_flat"),
    ("Precision", {"top_k": 2}, "multilabel"),
    ("Precision", {"class_id": 1}, "multilabel"),
    ("Recall", {}, "binary"),
    ("Recall", {"thresholds": [0.3, 0.6], "class_id": 2}, "multilabel"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary_flat"),
    ("AUC", {"summation_method": "minoring"}, "multilabel"),
    ("AUC", {"curve": "PR", "summation_method": "majoring", "num_thresholds": 20}, "binary"),
    ("AUC", {"curve": "PRGAIN", "num_thresholds": 50}, "binary"),
    ("AUC", {"multi_label": True}, "multilabel"),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [0.2, 0.3, 0.5],
             "curve": "PR"}, "multilabel"),
    ("AUC", {"thresholds": [0.25, 0.6]}, "binary"),
    ("AUC", {"from_logits": True, "num_thresholds": 30}, "logits"),
    ("PrecisionAtRecall", {"recall": 0.5}, "binary"),
    ("RecallAtPrecision", {"precision": 0.5}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5, "num_thresholds": 1}, "binary"),
    ("F1Score", {}, "multilabel"),
    ("F1Score", {"average": "micro", "threshold": 0.5}, "multilabel"),
    ("F1Score", {"average": "macro"}, "categorical"),
    ("FBetaScore", {"average": "weighted", "beta": 2.0, "threshold": 0.4}, "multilabel"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2},
     "regression"),
    ("R2Score", {"class_aggregation": None}, "regression"),
    ("MeanIoU", {"num_classes": 3}, "seg"),
    ("IoU", {"num_classes": 3, "target_class_ids": [0, 2], "ignore_class": 1}, "seg"),
    ("BinaryIoU", {"threshold": 0.4}, "binary"),
    ("OneHotMeanIoU", {"num_classes": 5}, "categorical"),
    ("PearsonCorrelation", {}, "regression"),
]


def _ids(case):
    name, kwargs, kind = case
    extra = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({extra})-{kind}"


def _weights(kind, seed):
    r = np.random.default_rng(100 + seed)
    if kind == "seg":  # IoU metrics hold an integer confusion matrix
        return r.integers(0, 3, (N, 4))
    return r.uniform(0.0, 2.0, (N,)).astype(np.float32)


def _run(metric, kind, weighted):
    for seed in (1, 2):
        y_true, y_pred = make_data(kind, seed)
        if weighted:
            metric.update_state(y_true, y_pred, sample_weight=_weights(kind, seed))
        else:
            metric.update_state(y_true, y_pred)
    return np.asarray(metric.result())


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_keras(keras, case, weighted):
    name, kwargs, kind = case
    if "ignore_class" in kwargs and name == "SparseCategoricalCrossentropy" and not weighted:
        pytest.skip("Keras 3 ignores the mask without sample_weight; see "
                    "test_sparse_crossentropy_ignore_class_is_masked")
    ours = _run(getattr(M, name)(**kwargs), kind, weighted)
    ref = _run(getattr(keras.metrics, name)(**kwargs), kind, weighted)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls", ["Mean", "Sum"])
def test_reduction_matches_keras(keras, cls, weighted):
    r = np.random.default_rng(0)
    ours, ref = getattr(M, cls)(), getattr(keras.metrics, cls)()
    for shape, wshape in [((N, 3), (N,)), ((N,), (N, 1)), ((N, 2, 3), (N, 2))]:
        values = r.normal(size=shape).astype(np.float32)
        w = r.uniform(size=wshape).astype(np.float32) if weighted else None
        ours.update_state(values, sample_weight=w)
        ref.update_state(values, sample_weight=w)
        np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(ref.result()),
                                   rtol=1e-6, atol=1e-6)
    ours.update_state(3.0)
    ref.update_state(3.0)
    np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(ref.result()), rtol=1e-6)


def test_mean_metric_wrapper_matches_keras(keras):
    def fn(y_true, y_pred):
        return jnp.abs(y_true - y_pred) ** 1.5

    ours = M.MeanMetricWrapper(fn, name="w")
    ref = keras.metrics.MeanMetricWrapper(fn, name="w")
    ours_t = M.MeanMetricWrapper(M.binary_accuracy, threshold=0.2)
    ref_t = keras.metrics.MeanMetricWrapper(keras.metrics.binary_accuracy, threshold=0.2)
    for seed in (1, 2):
        yt, yp = make_data("regression", seed)
        w = _weights("regression", seed)
        ours.update_state(yt, yp, sample_weight=w)
        ref.update_state(yt, yp, sample_weight=w)
        yt, yp = make_data("binary", seed)
        ours_t.update_state(yt, yp, sample_weight=w)
        ref_t.update_state(yt, yp, sample_weight=w)
    np.testing.assert_allclose(float(ours.result()), float(ref.result()), rtol=1e-6)
    np.testing.assert_allclose(float(ours_t.result()), float(ref_t.result()), rtol=1e-6)


def test_sparse_crossentropy_ignore_class_is_masked():
    # Entries labelled `ignore_class` count neither in the total nor in the count
    # (Keras 3 does so only when a sample_weight is given).
    m = M.SparseCategoricalCrossentropy(ignore_class=1)
    losses = []
    for seed in (1, 2):
        yt, yp = make_data("sparse", seed)
        m.update_state(yt, yp)
        keep = yt != 1
        losses.append(-np.log(np.clip(yp[np.arange(N), yt.astype(int)], 1e-7, 1))[keep])
    np.testing.assert_allclose(float(m.result()), np.concatenate(losses).mean(), rtol=1e-6)


# (metric class, kwargs, loss function of kerax.losses/keras.losses, sign, data kind)
LOSS_METRICS = [
    ("MeanSquaredError", {}, "mean_squared_error", 1, "regression"),
    ("MeanAbsoluteError", {}, "mean_absolute_error", 1, "regression"),
    ("MeanAbsolutePercentageError", {}, "mean_absolute_percentage_error", 1, "regression"),
    ("MeanSquaredLogarithmicError", {}, "mean_squared_logarithmic_error", 1, "regression"),
    ("LogCoshError", {}, "log_cosh", 1, "regression"),
    ("CosineSimilarity", {}, "cosine_similarity", -1, "regression"),  # the loss is -cos
    ("Poisson", {}, "poisson", 1, "regression"),
    ("KLDivergence", {}, "kl_divergence", 1, "categorical"),
    ("Hinge", {}, "hinge", 1, "multilabel"),
    ("SquaredHinge", {}, "squared_hinge", 1, "hinge"),
    ("CategoricalHinge", {}, "categorical_hinge", 1, "categorical"),
    ("BinaryCrossentropy", {}, "binary_crossentropy", 1, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1},
     "binary_crossentropy", 1, "logits"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "categorical_crossentropy", 1,
     "categorical"),
    ("CategoricalCrossentropy", {"from_logits": True}, "categorical_crossentropy", 1,
     "categorical_logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse_categorical_crossentropy", 1, "sparse_col"),
    ("SparseCategoricalCrossentropy", {"from_logits": True},
     "sparse_categorical_crossentropy", 1, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1},
     "sparse_categorical_crossentropy", 1, "sparse"),
]


@pytest.mark.parametrize("case", LOSS_METRICS,
                         ids=[_ids((c[0], c[1], c[4])) for c in LOSS_METRICS])
def test_loss_metrics_average_the_loss_function(keras, case):
    """A metric that wraps a loss reports the (weighted) mean of that loss
    function's per-sample values, and those values are Keras'."""
    name, kwargs, fn_name, sign, kind = case
    ours = getattr(M, name)(**kwargs)
    fn = getattr(kerax.losses, fn_name)
    total = count = 0.0
    for seed in (1, 2):
        yt, yp = make_data(kind, seed)
        w = _weights(kind, seed)
        ours.update_state(yt, yp, sample_weight=w)
        values = sign * np.asarray(fn(yt, yp, **kwargs), np.float64)
        np.testing.assert_allclose(values, sign * np.asarray(
            getattr(keras.losses, fn_name)(yt, yp, **kwargs)), rtol=1e-6, atol=1e-6)
        if "ignore_class" in kwargs:  # ignored entries count neither in total nor count
            w = w * (yt != kwargs["ignore_class"])
        total += float((values * w).sum())
        count += float(w.sum())
    np.testing.assert_allclose(float(ours.result()), total / count, rtol=1e-6)
    assert ours._direction == getattr(keras.metrics, name)()._direction


def test_concordance_correlation_closed_form():
    yt, yp = make_data("regression", 3)
    m = M.ConcordanceCorrelation()
    m.update_state(yt, yp)
    mt, mp = yt.mean(-1), yp.mean(-1)
    cov = ((yt - mt[:, None]) * (yp - mp[:, None])).mean(-1)
    ccc = 2 * cov / (yt.var(-1) + yp.var(-1) + (mt - mp) ** 2 + 1e-7)
    np.testing.assert_allclose(float(m.result()), ccc.mean(), rtol=1e-5)


# ---- config and serialization ------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_config_and_serialize_match_keras(keras, case):
    name, kwargs, kind = case
    kwargs = dict(kwargs, name="m")
    ours, ref = getattr(M, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    ref_config = ref.get_config()
    if "label_weights" in kwargs:
        # Keras keeps a tensor (serialized as "__tensor__"); kerax writes a list
        # and reads both.
        ref_config["label_weights"] = np.asarray(ref_config["label_weights"]).tolist()
        np.testing.assert_allclose(ours.get_config()["label_weights"],
                                   ref_config.pop("label_weights"))
        ref_config["label_weights"] = ours.get_config()["label_weights"]
    else:
        assert M.serialize(ours) == keras.metrics.serialize(ref)
    assert ours.get_config() == ref_config
    clone = type(ours).from_config(ours.get_config())
    assert clone.get_config() == ours.get_config()
    restored = M.deserialize(keras.metrics.serialize(ref))
    assert type(restored) is type(ours) and restored.get_config() == ours.get_config()


def test_serialize_functions_and_wrapper_match_keras(keras):
    for fname in ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                  "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"]:
        config = M.serialize(getattr(M, fname))
        assert config == keras.metrics.serialize(getattr(keras.metrics, fname))
        assert M.deserialize(config) is getattr(M, fname)
    ours = M.MeanMetricWrapper(M.binary_accuracy, name="w", threshold=0.3)
    ref = keras.metrics.MeanMetricWrapper(keras.metrics.binary_accuracy, name="w",
                                          threshold=0.3)
    assert M.serialize(ours) == keras.metrics.serialize(ref)
    back = M.deserialize(M.serialize(ours))
    assert back._fn is M.binary_accuracy and back._fn_kwargs == {"threshold": 0.3}
    # Keras' config loads in kerax and gives the same numbers.
    yt, yp = make_data("binary", 0)
    back.update_state(yt, yp)
    ref.update_state(yt, yp)
    assert float(back.result()) == pytest.approx(float(ref.result()))


def test_get_resolves_like_keras(keras):
    for ident in ["mse", "MSE", "mae", "mape", "msle", "bce", "accuracy", "binary_accuracy",
                  "categorical_accuracy", "sparse_categorical_accuracy", "auc", "AUC",
                  "precision", "recall", "Precision", "mean_squared_error",
                  "top_k_categorical_accuracy", "root_mean_squared_error", "f1_score"]:
        ours, ref = M.get(ident), keras.metrics.get(ident)
        assert type(ours).__name__ == type(ref).__name__, ident
        assert ours.name == ref.name or ref.name.startswith(ours.name.split("_")[0])
    assert M.get(None) is None
    m = M.Mean()
    assert M.get(m) is m
    assert isinstance(M.get(M.AUC), M.AUC)
    assert isinstance(M.get({"class_name": "AUC", "config": {"curve": "PR"}}), M.AUC)

    def fn(y_true, y_pred):
        return y_pred
    assert M.get(fn) is fn
    with pytest.raises(ValueError, match="Unknown metric: 'accuracyy'.*binary_accuracy"):
        M.get("accuracyy")


def test_get_accuracy_for_follows_keras_rule():
    assert type(M.get_accuracy_for(None, (None, 1), (None, 1))) is M.BinaryAccuracy
    assert type(M.get_accuracy_for(None, (None,), (None, 10))) is M.SparseCategoricalAccuracy
    assert type(M.get_accuracy_for("sparse_categorical_crossentropy", (None, 1),
                                   (None, 10))) is M.SparseCategoricalAccuracy
    assert type(M.get_accuracy_for(None, (None, 10), (None, 10))) is M.CategoricalAccuracy
    assert type(M.get_accuracy_for("binary_crossentropy", (None,), (None,))) is \
        M.BinaryAccuracy
    acc = M.get_compile_metric("acc", (None, 1), (None, 1))
    assert type(acc) is M.BinaryAccuracy and acc.name == "acc"
    mse = M.get_compile_metric("mse", (None, 1), (None, 1))
    assert type(mse) is M.MeanSquaredError and mse.name == "mse"

    def my_metric(y_true, y_pred):
        return y_pred

    wrapped = M.get_compile_metric(my_metric, (None, 1), (None, 1))
    assert isinstance(wrapped, M.MeanMetricWrapper) and wrapped.name == "my_metric"


def test_loss_functions_are_reexported():
    yt, yp = make_data("regression", 0)
    expected = np.mean((yt - yp) ** 2, axis=-1)
    np.testing.assert_allclose(np.asarray(M.mean_squared_error(yt, yp)), expected, rtol=1e-6)
    assert callable(M.binary_crossentropy) and callable(M.hinge)
    with pytest.raises(AttributeError):
        M.not_a_metric_function  # noqa: B018


# ---- compiled and stateless paths ---------------------------------------------------
@pytest.mark.parametrize("name,kwargs,kind", [
    ("BinaryAccuracy", {}, "binary"), ("AUC", {}, "binary"),
    ("Precision", {"thresholds": [0.3, 0.6]}, "binary"), ("MeanSquaredError", {}, "regression"),
    ("SparseCategoricalAccuracy", {}, "sparse"), ("F1Score", {"average": "macro"}, "multilabel"),
    ("MeanIoU", {"num_classes": 3}, "seg"), ("RootMeanSquaredError", {}, "regression"),
])
def test_compiled_update_equals_eager(name, kwargs, kind):
    eager, compiled = getattr(M, name)(**kwargs), getattr(M, name)(**kwargs)
    # Lazily built metrics create their state on the first (eager) update.
    yt0, yp0 = make_data(kind, 0)
    eager.update_state(yt0, yp0)
    compiled.update_state(yt0, yp0)

    @kerax.function
    def step(y_true, y_pred, sample_weight):
        compiled.update_state(y_true, y_pred, sample_weight=sample_weight)
        return compiled.result()

    for seed in (1, 2, 3):
        yt, yp = make_data(kind, seed)
        w = _weights(kind, seed)
        eager.update_state(yt, yp, sample_weight=w)
        out = step(jnp.asarray(yt), jnp.asarray(yp), jnp.asarray(w))
        np.testing.assert_allclose(np.asarray(out), np.asarray(eager.result()),
                                   rtol=1e-6, atol=1e-6)
    assert step.trace_count == 1
    for a, b in zip(compiled.variables, eager.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    compiled.reset_state()
    assert all(not np.any(v.numpy()) for v in compiled.variables)


def test_stateless_api_under_jit(keras):
    m = M.AUC(num_thresholds=50)
    ref = keras.metrics.AUC(num_thresholds=50)

    @jax.jit
    def update(values, y_true, y_pred, w):
        return m.stateless_update_state(values, y_true, y_pred, sample_weight=w)

    result = jax.jit(m.stateless_result)
    values = m.stateless_reset_state()
    for seed in (1, 2):
        yt, yp = make_data("binary", seed)
        w = _weights("binary", seed)
        values = update(values, yt, yp, w)
        ref.update_state(yt, yp, sample_weight=w)
    np.testing.assert_allclose(float(result(values)), float(ref.result()), rtol=1e-6)
    # The metric's own variables were not touched.
    assert all(not np.any(v.numpy()) for v in m.variables)
    assert len(values) == len(m.variables)
    with pytest.raises(ValueError, match="4 variables"):
        m.stateless_result(values[:2])


def test_stateless_reset_gives_initial_values():
    class Ones(M.Metric):
        def __init__(self):
            super().__init__(name="ones")
            self.a = self.add_variable(shape=(2,), initializer="ones", name="a")
            self.b = self.add_variable(shape=(), initializer=lambda s, d: jnp.full(s, 3.0, d),
                                       name="b")

        def update_state(self, x):
            self.a.assign(self.a.value + x)
            self.b.assign(self.b.value * 2)

        def result(self):
            return jnp.sum(self.a.value) + self.b.value

    m = Ones()
    assert float(m(1.0)) == pytest.approx(4.0 + 6.0)
    vals = m.stateless_reset_state()
    np.testing.assert_allclose(np.asarray(vals[0]), [1.0, 1.0])
    assert float(vals[1]) == 3.0
    m.reset_state()
    assert float(m.result()) == pytest.approx(5.0)
    assert [v.path for v in m.variables] == ["ones/a", "ones/b"]
    assert all(not v.trainable for v in m.variables)


# ---- the TensorFlow chapter's examples ---------------------------------------------
def create_huber(threshold=1.0):
    def huber_fn(y_true, y_pred):
        error = y_true - y_pred
        is_small_error = jnp.abs(error) < threshold
        squared_loss = jnp.square(error) / 2
        linear_loss = threshold * jnp.abs(error) - threshold ** 2 / 2
        return jnp.where(is_small_error, squared_loss, linear_loss)
    return huber_fn


def _np_huber(y_true, y_pred, threshold):
    e = y_true - y_pred
    return np.where(np.abs(e) < threshold, e ** 2 / 2, threshold * np.abs(e) - threshold ** 2 / 2)


class HuberMetric(M.Metric):
    def __init__(self, threshold=1.0, **kwargs):
        super().__init__(**kwargs)  # handles base args (e.g., dtype)
        self.threshold = threshold
        self.huber_fn = create_huber(threshold)
        self.total = self.add_weight("total", initializer="zeros")
        self.count = self.add_weight("count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        sample_metrics = self.huber_fn(y_true, y_pred)
        self.total.assign_add(jnp.sum(sample_metrics))
        self.count.assign_add(jnp.asarray(jnp.size(y_true), jnp.float32))

    def result(self):
        return self.total / self.count

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "threshold": self.threshold}


class HuberMeanMetric(M.Mean):
    def __init__(self, threshold=1.0, name="HuberMetric", dtype=None):
        self.threshold = threshold
        self.huber_fn = create_huber(threshold)
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = self.huber_fn(y_true, y_pred)
        super(HuberMeanMetric, self).update_state(metric, sample_weight)

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "threshold": self.threshold}


def test_chapter_huber_metric_subclass():
    r = np.random.default_rng(0)
    m = HuberMetric(2.0)
    batches = [(r.normal(size=(4, 1)).astype(np.float32) * 3,
                r.normal(size=(4, 1)).astype(np.float32)) for _ in range(2)]
    for yt, yp in batches:
        m.update_state(yt, yp)
    all_t = np.concatenate([b[0] for b in batches])
    all_p = np.concatenate([b[1] for b in batches])
    np.testing.assert_allclose(float(m.result()), _np_huber(all_t, all_p, 2.0).mean(),
                               rtol=1e-6)
    assert [v.name for v in m.variables] == ["total", "count"]
    assert m.name == "huber_metric"
    config = m.get_config()
    assert config == {"name": "huber_metric", "dtype": "float32", "threshold": 2.0}
    clone = HuberMetric.from_config(config)
    assert clone.threshold == 2.0 and float(clone.count.numpy()) == 0.0
    m.reset_state()
    assert float(m.total.numpy()) == 0.0 and float(m.count.numpy()) == 0.0

    # Compiled: same numbers as eager.
    m2 = HuberMetric(2.0)
    step = kerax.function(lambda yt, yp: m2(yt, yp))
    for yt, yp in batches:
        out = step(jnp.asarray(yt), jnp.asarray(yp))
    np.testing.assert_allclose(float(out), _np_huber(all_t, all_p, 2.0).mean(), rtol=1e-6)


def test_chapter_huber_mean_subclass():
    r = np.random.default_rng(1)
    m = HuberMeanMetric(1.5)
    yt = r.normal(size=(6, 1)).astype(np.float32) * 3
    yp = r.normal(size=(6, 1)).astype(np.float32)
    w = r.uniform(size=(6,)).astype(np.float32)
    m.update_state(yt, yp, sample_weight=w)
    per_sample = _np_huber(yt, yp, 1.5)[:, 0]
    np.testing.assert_allclose(float(m.result()), (per_sample * w).sum() / w.sum(), rtol=1e-6)
    assert m.name == "HuberMetric"
    assert m.get_config() == {"name": "HuberMetric", "dtype": "float32", "threshold": 1.5}
    assert [v.name for v in m.variables] == ["total", "count"]


def test_chapter_streaming_precision():
    precision = M.Precision()
    assert float(precision([0, 1, 1, 1, 0, 1, 0, 1], [1, 1, 0, 1, 0, 1, 0, 1])) == \
        pytest.approx(0.8)
    assert float(precision([0, 1, 0, 0, 1, 0, 1, 1], [1, 0, 1, 1, 0, 0, 0, 0])) == \
        pytest.approx(0.5)
    assert float(precision.result()) == pytest.approx(0.5)
    tp, fp = precision.variables
    assert tp.name == "true_positives" and fp.name == "false_positives"
    np.testing.assert_allclose(tp.numpy(), [4.0])
    np.testing.assert_allclose(fp.numpy(), [4.0])
    precision.reset_state()
    np.testing.assert_allclose(tp.numpy(), [0.0])
    np.testing.assert_allclose(fp.numpy(), [0.0])


# ---- naming and errors --------------------------------------------------------------
def test_auto_names_are_unique(keras):
    a, b = M.AUC(), M.AUC()
    assert a.name.startswith("auc") and b.name != a.name
    assert M.Mean().name == M.Mean().name == "mean"
    assert M.MeanIoU(2).name.startswith("mean_io_u")
    assert repr(M.Mean()) == "<Mean name=mean>"


def test_errors_are_clear():
    class Forgot(M.Metric):
        def __init__(self):
            self.x = 1

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Forgot().add_variable(shape=(), initializer="zeros")
    with pytest.raises(ValueError, match="thresholds"):
        M.Precision(thresholds=[1.5])
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XYZ")
    with pytest.raises(ValueError, match="average"):
        M.F1Score(average="mean")
    with pytest.raises(ValueError, match="MeanMetricWrapper: `fn`"):
        M.MeanMetricWrapper(3)
    with pytest.raises(ValueError, match="Invalid dtype"):
        M.Mean(dtype="not-a-dtype")
