"""kerax.losses against Keras 3 (JAX backend), NumPy closed forms and the
custom losses of Geron's chapter 12 (huber_fn, create_huber, HuberLoss)."""
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax.losses as L
from kerax.saving import object_registration as reg

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]
TOL = dict(rtol=1e-6, atol=1e-6)
N, C = 4, 5


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               **{**TOL, **kw})


# ---- input makers (rng -> y_true, y_pred) ---------------------------------------
def _reg(rng):
    return rng.normal(size=(N, 3)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")


def _pos(rng):
    return (rng.uniform(0.1, 2.0, (N, 3)).astype("float32"),
            rng.uniform(0.1, 2.0, (N, 3)).astype("float32"))


def _probs_pair(rng):
    t = rng.dirichlet(np.ones(C), N).astype("float32")
    p = rng.dirichlet(np.ones(C), N).astype("float32")
    return t, p


def _bin_probs(rng):
    return (rng.integers(0, 2, (N, 3)).astype("float32"),
            rng.uniform(0.02, 0.98, (N, 3)).astype("float32"))


def _bin_logits(rng):
    return rng.integers(0, 2, (N, 3)).astype("float32"), rng.normal(0, 3, (N, 3)).astype("float32")


def _bin_column(rng):  # (N, 1) labels and predictions
    return rng.integers(0, 2, (N, 1)).astype("float32"), rng.uniform(0.02, 0.98, (N, 1)).astype("float32")


def _pm1(rng):
    return rng.choice([-1.0, 1.0], (N, 3)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")


def _onehot_probs(rng):
    t = np.eye(C, dtype="float32")[rng.integers(0, C, N)]
    p = rng.uniform(0.05, 1.0, (N, C)).astype("float32")  # unnormalized on purpose
    return t, p


def _onehot_logits(rng):
    t = np.eye(C, dtype="float32")[rng.integers(0, C, N)]
    return t, rng.normal(0, 3, (N, C)).astype("float32")


def _onehot_3d(rng):  # classes on axis 1: (N, C, 3)
    t = np.eye(C, dtype="float32")[rng.integers(0, C, (N, 3))].transpose(0, 2, 1)
    return t, rng.uniform(0.05, 1.0, (N, C, 3)).astype("float32")


def _sparse(rng):
    return rng.integers(0, C, N), rng.dirichlet(np.ones(C), N).astype("float32")


def _sparse_col(rng):
    return rng.integers(0, C, (N, 1)), rng.dirichlet(np.ones(C), N).astype("float32")


def _sparse_logits(rng):
    return rng.integers(0, C, N), rng.normal(0, 3, (N, C)).astype("float32")


def _sparse_seq(rng):  # (N, 3) labels, (N, 3, C) predictions
    return rng.integers(0, C, (N, 3)), rng.dirichlet(np.ones(C), (N, 3)).astype("float32")


# (function name, class name, kwargs, inputs)
SPECS = [
    ("mean_squared_error", "MeanSquaredError", {}, _reg),
    ("mean_absolute_error", "MeanAbsoluteError", {}, _reg),
    ("mean_absolute_percentage_error", "MeanAbsolutePercentageError", {}, _reg),
    ("mean_squared_logarithmic_error", "MeanSquaredLogarithmicError", {}, _pos),
    ("cosine_similarity", "CosineSimilarity", {}, _reg),
    ("cosine_similarity", "CosineSimilarity", {"axis": 0}, _reg),
    ("huber", "Huber", {}, _reg),
    ("huber", "Huber", {"delta": 0.4}, _reg),
    ("log_cosh", "LogCosh", {}, _reg),
    ("hinge", "Hinge", {}, _bin_logits),
    ("hinge", "Hinge", {}, _pm1),
    ("squared_hinge", "SquaredHinge", {}, _bin_logits),
    ("squared_hinge", "SquaredHinge", {}, _pm1),
    ("categorical_hinge", "CategoricalHinge", {}, _onehot_logits),
    ("kl_divergence", "KLDivergence", {}, _probs_pair),
    ("poisson", "Poisson", {}, _pos),
    ("binary_crossentropy", "BinaryCrossentropy", {}, _bin_probs),
    ("binary_crossentropy", "BinaryCrossentropy", {}, _bin_column),
    ("binary_crossentropy", "BinaryCrossentropy", {"from_logits": True}, _bin_logits),
    ("binary_crossentropy", "BinaryCrossentropy", {"label_smoothing": 0.2}, _bin_probs),
    ("binary_crossentropy", "BinaryCrossentropy",
     {"from_logits": True, "label_smoothing": 0.1, "axis": 0}, _bin_logits),
    ("binary_focal_crossentropy", "BinaryFocalCrossentropy", {}, _bin_probs),
    ("binary_focal_crossentropy", "BinaryFocalCrossentropy",
     {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5, "label_smoothing": 0.1},
     _bin_probs),
    ("binary_focal_crossentropy", "BinaryFocalCrossentropy",
     {"from_logits": True, "apply_class_balancing": True}, _bin_logits),
    ("categorical_crossentropy", "CategoricalCrossentropy", {}, _onehot_probs),
    ("categorical_crossentropy", "CategoricalCrossentropy", {"from_logits": True},
     _onehot_logits),
    ("categorical_crossentropy", "CategoricalCrossentropy",
     {"from_logits": True, "label_smoothing": 0.2}, _onehot_logits),
    ("categorical_crossentropy", "CategoricalCrossentropy", {"label_smoothing": 0.1},
     _onehot_probs),
    ("categorical_crossentropy", "CategoricalCrossentropy", {"axis": 1}, _onehot_3d),
    ("categorical_focal_crossentropy", "CategoricalFocalCrossentropy", {}, _onehot_probs),
    ("categorical_focal_crossentropy", "CategoricalFocalCrossentropy",
     {"alpha": 0.5, "gamma": 3.0, "from_logits": True, "label_smoothing": 0.1},
     _onehot_logits),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {}, _sparse),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {}, _sparse_col),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
     {"from_logits": True}, _sparse_logits),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {}, _sparse_seq),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
     {"ignore_class": 2}, _sparse),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
     {"ignore_class": 1, "from_logits": True}, _sparse_seq),
]
SPEC_IDS = [f"{fn}-{'-'.join(f'{k}={v}' for k, v in kw.items())}-{make.__name__}"
            for fn, _, kw, make in SPECS]


@pytest.mark.parametrize("fn_name,cls_name,kwargs,make", SPECS, ids=SPEC_IDS)
def test_matches_keras(keras, fn_name, cls_name, kwargs, make):
    rng = np.random.default_rng(zlib.crc32(repr((fn_name, kwargs, make.__name__)).encode()))
    y_true, y_pred = make(rng)
    # function form
    expected = np.asarray(getattr(keras.losses, fn_name)(y_true, y_pred, **kwargs))
    got = getattr(L, fn_name)(y_true, y_pred, **kwargs)
    assert got.shape == expected.shape
    close(got, expected)
    # class form, every reduction, without and with sample_weight
    sample_weights = [None, rng.uniform(0.1, 2.0, expected.shape).astype("float32")]
    if fn_name in ("mean_squared_error", "sparse_categorical_crossentropy"):
        # other weight layouts: (N, 1) for (N,) losses, and a scalar
        if expected.ndim == 1:
            sample_weights.append(rng.uniform(0.1, 2.0, (expected.shape[0], 1)).astype("float32"))
        sample_weights.append(np.float32(1.7))
    for reduction in REDUCTIONS:
        k_loss = getattr(keras.losses, cls_name)(reduction=reduction, **kwargs)
        x_loss = getattr(L, cls_name)(reduction=reduction, **kwargs)
        for sw in sample_weights:
            expected = np.asarray(k_loss(y_true, y_pred, sample_weight=sw))
            got = x_loss(y_true, y_pred, sample_weight=sw)
            assert got.shape == expected.shape, (reduction, sw)
            close(got, expected, err_msg=f"reduction={reduction} sample_weight={sw}")


GRAD_SPECS = [0, 4, 6, 18, 23, 25, 28, 36]


@pytest.mark.parametrize("fn_name,cls_name,kwargs,make", [SPECS[i] for i in GRAD_SPECS],
                         ids=[SPEC_IDS[i] for i in GRAD_SPECS])
def test_jit_and_grad_match_keras(keras, fn_name, cls_name, kwargs, make):
    rng = np.random.default_rng(1)
    y_true, y_pred = make(rng)
    sw = rng.uniform(0.1, 2.0, (N,)).astype("float32")
    x_loss = getattr(L, cls_name)(**kwargs)
    k_loss = getattr(keras.losses, cls_name)(**kwargs)
    k_val, k_grad = jax.value_and_grad(lambda p: k_loss(y_true, p))(y_pred)
    x_val, x_grad = jax.jit(jax.value_and_grad(lambda p: x_loss(y_true, p)))(y_pred)
    close(x_val, k_val)
    close(x_grad, k_grad, rtol=1e-5)
    if kwargs.get("axis", -1) == -1 and "ignore_class" not in kwargs:
        jitted = jax.jit(lambda t, p, w: x_loss(t, p, sample_weight=w))
        close(jitted(y_true, y_pred, sw), k_loss(y_true, y_pred, sample_weight=sw))
    fn = getattr(L, fn_name)
    g = jax.jit(jax.grad(lambda p: jnp.sum(fn(y_true, p, **kwargs))))(y_pred)
    kg = jax.grad(lambda p: jnp.sum(getattr(keras.losses, fn_name)(y_true, p, **kwargs)))(y_pred)
    close(g, kg, rtol=1e-5)


# ---- variants Keras' JAX backend cannot compute: NumPy closed forms ----------------
def _np_log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def test_sparse_categorical_axis_and_ignore_class_numpy(rng):
    logits = rng.normal(size=(N, C, 3)).astype("float32")  # classes on axis 1
    labels = rng.integers(0, C, (N, 3))
    labels[0, 0] = labels[1, 2] = 3
    logp = _np_log_softmax(logits.astype("float64"), 1)
    per = -np.take_along_axis(logp, labels[:, None, :], axis=1)[:, 0, :]
    close(L.sparse_categorical_crossentropy(labels, logits, from_logits=True, axis=1), per)
    valid = labels != 3
    loss = L.SparseCategoricalCrossentropy(from_logits=True, axis=1, ignore_class=3)
    close(loss(labels, logits), (per * valid).sum() / valid.sum())
    sw = rng.uniform(0.5, 1.5, (N,)).astype("float32")  # per-sample weights, (N, 3) losses
    close(loss(labels, logits, sample_weight=sw),
          (per * valid * sw[:, None]).sum() / valid.sum())
    none = L.SparseCategoricalCrossentropy(from_logits=True, axis=1, ignore_class=3,
                                           reduction="none")(labels, logits)
    close(none, per * valid)


def test_categorical_label_smoothing_with_axis_numpy(rng):
    t, p = _onehot_3d(rng)
    ls = 0.3
    ts = t * (1 - ls) + ls / C  # smoothed over the class axis (axis=1)
    q = np.clip(p / p.sum(1, keepdims=True), 1e-7, 1 - 1e-7)
    close(L.categorical_crossentropy(t, p, label_smoothing=ls, axis=1),
          -(ts * np.log(q)).sum(1))


def test_per_sample_weights_broadcast_over_timesteps(rng):
    y_true, y_pred = rng.normal(size=(N, 3, 2)), rng.normal(size=(N, 3, 2))
    sw = rng.uniform(0.5, 1.5, N)
    per = ((y_true - y_pred) ** 2).mean(-1) * sw[:, None]
    close(L.MeanSquaredError()(y_true, y_pred, sample_weight=sw), per.mean(), rtol=1e-5)
    close(L.MeanSquaredError(reduction="sum")(y_true, y_pred, sample_weight=sw), per.sum(),
          rtol=1e-5)
    with pytest.raises(ValueError, match="sample_weight"):
        L.MeanSquaredError()(y_true, y_pred, sample_weight=np.ones(2))


def test_reductions_closed_form(rng):
    values_fn = lambda t, p: (t - p) ** 2  # noqa: E731
    t, p = rng.normal(size=(N,)).astype("float32"), rng.normal(size=(N,)).astype("float32")
    sw = rng.uniform(0.1, 2.0, N).astype("float32")
    per = (t - p) ** 2
    wrapped = {r: L.LossFunctionWrapper(values_fn, reduction=r) for r in REDUCTIONS}
    close(wrapped["sum"](t, p, sw), (per * sw).sum())
    close(wrapped["sum_over_batch_size"](t, p, sw), (per * sw).sum() / N)
    close(wrapped["mean"](t, p, sw), (per * sw).sum() / N)
    close(wrapped["mean_with_sample_weight"](t, p, sw), (per * sw).sum() / sw.sum())
    close(wrapped["mean_with_sample_weight"](t, p), per.mean())
    close(wrapped["none"](t, p, sw), per * sw)
    close(wrapped[None](t, p), per)
    # divide_no_nan: all-zero weights give 0, not nan
    close(wrapped["mean_with_sample_weight"](t, p, np.zeros(N)), 0.0)
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="avg")


def test_hinge_non_binary_labels_left_alone(keras, rng):
    t = rng.choice([-1.0, 0.0, 1.0], (N, 3)).astype("float32")
    p = rng.normal(size=(N, 3)).astype("float32")
    close(L.hinge(t, p), keras.losses.hinge(t, p))
    close(L.hinge(t, p), np.maximum(1 - t * p, 0).mean(-1))


def test_from_logits_is_stable():
    logits = jnp.array([[200.0, -200.0, 0.0]])
    labels = jnp.array([[0.0, 1.0, 0.0]])
    v = L.categorical_crossentropy(labels, logits, from_logits=True)
    close(v, [400.0], rtol=1e-6)
    v = L.binary_crossentropy(jnp.array([[0.0]]), jnp.array([[100.0]]), from_logits=True)
    close(v, [100.0])
    g = jax.grad(lambda x: L.BinaryFocalCrossentropy(from_logits=True)(jnp.ones((2, 1)), x))(
        jnp.array([[-60.0], [60.0]]))
    assert np.all(np.isfinite(g))


def test_probabilities_are_clipped():
    v = L.binary_crossentropy(jnp.array([1.0]), jnp.array([0.0]))
    close(v, -np.log(np.float32(1e-7)), rtol=1e-5)
    v = L.categorical_crossentropy(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]))
    close(v, [-np.log(np.float32(1e-7))], rtol=1e-5)


def test_loss_dtype_and_lists():
    loss = L.MeanSquaredError(dtype="float16")
    assert loss.dtype == "float16"
    assert loss([1.0, 2.0], [1.5, 2.0]).dtype == jnp.float16
    close(L.MeanSquaredError()([[1.0], [2.0]], [[1.5], [2.0]]), 0.125)
    assert L.MeanSquaredError()([1, 2], [1, 3]).dtype == jnp.float32


# ---- config, serialization, get -----------------------------------------------------
NON_DEFAULT = {
    "MeanSquaredError": {}, "MeanAbsoluteError": {}, "MeanAbsolutePercentageError": {},
    "MeanSquaredLogarithmicError": {}, "LogCosh": {}, "Hinge": {}, "SquaredHinge": {},
    "CategoricalHinge": {}, "KLDivergence": {}, "Poisson": {},
    "CosineSimilarity": {"axis": 1},
    "Huber": {"delta": 2.5},
    "BinaryCrossentropy": {"from_logits": True, "label_smoothing": 0.1, "axis": 0},
    "BinaryFocalCrossentropy": {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.0,
                                "from_logits": True, "label_smoothing": 0.2, "axis": 1},
    "CategoricalCrossentropy": {"from_logits": True, "label_smoothing": 0.1, "axis": 1},
    "CategoricalFocalCrossentropy": {"alpha": 0.4, "gamma": 3.0, "from_logits": True,
                                     "label_smoothing": 0.1, "axis": 0},
    "SparseCategoricalCrossentropy": {"from_logits": True, "ignore_class": 0, "axis": 1},
}
# Keras 3 leaves these constructor arguments out of get_config (so a saved
# Huber(delta=2.5) reloads as delta=1.0 there); kerax keeps them.
EXTRA_KEYS = {"Huber": {"delta"}, "CosineSimilarity": {"axis"},
              "SparseCategoricalCrossentropy": {"axis"}}
FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
             "mean_squared_logarithmic_error", "cosine_similarity", "huber", "log_cosh",
             "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson",
             "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
             "categorical_focal_crossentropy", "sparse_categorical_crossentropy"]


@pytest.mark.parametrize("cls_name", sorted(NON_DEFAULT))
def test_config_round_trip_and_serialize_like_keras(keras, cls_name):
    kwargs = dict(NON_DEFAULT[cls_name], reduction="sum", name="my_loss")
    obj = getattr(L, cls_name)(**kwargs)
    config = obj.get_config()
    again = type(obj).from_config(config)
    assert type(again) is type(obj) and again.get_config() == config
    for key, value in NON_DEFAULT[cls_name].items():
        assert getattr(again, key) == value
    extra = EXTRA_KEYS.get(cls_name, set())
    k_obj = getattr(keras.losses, cls_name)(**kwargs)
    k_ser = keras.saving.serialize_keras_object(k_obj)
    ser = L.serialize(obj)
    assert {k: v for k, v in ser["config"].items() if k not in extra} == k_ser["config"]
    assert {k: v for k, v in ser.items() if k != "config"} == {
        k: v for k, v in k_ser.items() if k != "config"}
    assert set(ser["config"]) - set(k_ser["config"]) == extra
    # defaults: identical dicts where Keras keeps every argument
    if not extra:
        assert L.serialize(getattr(L, cls_name)()) == keras.saving.serialize_keras_object(
            getattr(keras.losses, cls_name)())
    # each side loads the other's dict
    back = L.deserialize(k_ser)
    assert type(back) is type(obj) and back.reduction == "sum"
    k_back = keras.losses.deserialize(ser)
    assert type(k_back).__name__ == cls_name
    for key, value in NON_DEFAULT[cls_name].items():
        assert getattr(k_back, key, value) == value


def test_serialize_functions_and_base_like_keras(keras):
    for name in FUNCTIONS:
        fn = getattr(L, name)
        k_ser = keras.losses.serialize(getattr(keras.losses, name))
        assert L.serialize(fn) == k_ser
        assert reg.serialize_keras_object(fn) == k_ser
        assert L.deserialize(k_ser) is fn
        assert reg.deserialize_keras_object(k_ser) is fn  # Keras' "builtins" module
        assert keras.losses.deserialize(L.serialize(fn)) is getattr(keras.losses, name)
    assert L.serialize(L.Loss(name="loss")) == keras.losses.serialize(keras.losses.Loss(name="loss"))
    from keras.src.losses.losses import LossFunctionWrapper as KWrapper
    k_ser = keras.losses.serialize(KWrapper(keras.losses.huber, name="w", delta=2.0))
    wrapper = L.LossFunctionWrapper(L.huber, name="w", delta=2.0)
    assert L.serialize(wrapper) == k_ser
    back = L.deserialize(k_ser)
    assert isinstance(back, L.LossFunctionWrapper) and back.fn is L.huber
    assert back._fn_kwargs == {"delta": 2.0}
    t, p = np.array([[0.0, 3.0]]), np.array([[1.0, 0.5]])
    close(back(t, p), L.Huber(delta=2.0)(t, p))


def test_get(keras):
    for alias in ["mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
                  "bce", "BCE", "huber", "log_cosh", "binary_crossentropy",
                  "categorical_crossentropy", "sparse_categorical_crossentropy",
                  "kl_divergence", "poisson", "hinge", "cosine_similarity"]:
        assert L.get(alias).__name__ == keras.losses.get(alias).__name__, alias
    assert L.get("logcosh") is L.log_cosh
    assert L.get(None) is None
    huber = L.get("Huber")
    assert isinstance(huber, L.Huber) and huber.delta == 1.0
    assert isinstance(L.get(L.CategoricalCrossentropy), L.CategoricalCrossentropy)
    obj = L.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert isinstance(obj, L.CategoricalCrossentropy) and obj.from_logits is True
    inst = L.BinaryCrossentropy()
    assert L.get(inst) is inst
    with pytest.raises(ValueError, match="Unknown loss.*'no_such_loss'.*mean_squared_error"):
        L.get("no_such_loss")
    with pytest.raises(ValueError, match="loss identifier"):
        L.get(42)


# ---- Geron, chapter 12: custom losses ------------------------------------------------
def huber_fn(y_true, y_pred):
    error = y_true - y_pred
    is_small_error = jnp.abs(error) < 1
    squared_loss = jnp.square(error) / 2
    linear_loss = jnp.abs(error) - 0.5
    return jnp.where(is_small_error, squared_loss, linear_loss)


def create_huber(threshold=1.0):
    def huber_fn(y_true, y_pred):
        error = y_true - y_pred
        is_small_error = jnp.abs(error) < threshold
        squared_loss = jnp.square(error) / 2
        linear_loss = threshold * jnp.abs(error) - threshold ** 2 / 2
        return jnp.where(is_small_error, squared_loss, linear_loss)
    return huber_fn


class HuberLoss(L.Loss):
    def __init__(self, threshold=1.0, **kwargs):
        self.threshold = threshold
        super().__init__(**kwargs)

    def call(self, y_true, y_pred):
        error = y_true - y_pred
        is_small_error = jnp.abs(error) < self.threshold
        squared_loss = jnp.square(error) / 2
        linear_loss = self.threshold * jnp.abs(error) - self.threshold ** 2 / 2
        return jnp.where(is_small_error, squared_loss, linear_loss)

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "threshold": self.threshold}


def np_huber(y_true, y_pred, threshold):
    err = np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)
    return np.where(np.abs(err) < threshold, err ** 2 / 2,
                    threshold * np.abs(err) - threshold ** 2 / 2)


def test_chapter_huber_fn_and_create_huber(rng):
    y_true = rng.normal(0, 2, (8, 1)).astype("float32")
    y_pred = rng.normal(0, 2, (8, 1)).astype("float32")
    sw = rng.uniform(0.2, 1.0, 8).astype("float32")
    assert L.get(huber_fn) is huber_fn
    huber2 = create_huber(2.0)
    assert L.get(huber2) is huber2
    close(huber_fn(y_true, y_pred), np_huber(y_true, y_pred, 1.0))
    close(huber2(y_true, y_pred), np_huber(y_true, y_pred, 2.0))
    # compile(loss=fn) wraps a plain function with the default reduction
    close(L.LossFunctionWrapper(huber_fn)(y_true, y_pred), np_huber(y_true, y_pred, 1.0).mean())
    close(L.LossFunctionWrapper(huber2)(y_true, y_pred, sample_weight=sw),
          (np_huber(y_true, y_pred, 2.0)[:, 0] * sw).mean())
    close(L.LossFunctionWrapper(huber2)(y_true, y_pred), L.Huber(delta=2.0)(y_true, y_pred))
    # the closure serializes by name and loads with custom_objects
    config = L.serialize(L.LossFunctionWrapper(huber2, name="h"))
    back = L.deserialize(config, custom_objects={"huber_fn": huber2})
    assert back.fn is huber2


def test_chapter_huber_loss_class(rng):
    y_true = rng.normal(0, 2, (8, 1)).astype("float32")
    y_pred = rng.normal(0, 2, (8, 1)).astype("float32")
    sw = rng.uniform(0.2, 1.0, 8).astype("float32")
    loss = HuberLoss(2.0)
    expected = np_huber(y_true, y_pred, 2.0)
    close(loss(y_true, y_pred), expected.mean())
    close(loss(y_true, y_pred, sample_weight=sw), (expected[:, 0] * sw).mean())
    close(HuberLoss(2.0, reduction="sum")(y_true, y_pred), expected.sum())
    close(loss(y_true, y_pred), L.Huber(delta=2.0)(y_true, y_pred))
    config = loss.get_config()
    assert config["threshold"] == 2.0 and config["reduction"] == "sum_over_batch_size"
    assert config["name"].startswith("huber_loss")
    again = HuberLoss.from_config(config)
    assert again.threshold == 2.0 and again.get_config() == config
    back = L.deserialize(L.serialize(loss), custom_objects={"HuberLoss": HuberLoss})
    assert isinstance(back, HuberLoss) and back.threshold == 2.0
    # jit and grad: d/dp mean(huber) against the closed form
    grad = jax.jit(jax.grad(lambda p: loss(y_true, p)))(y_pred)
    err = y_true.astype(np.float64) - y_pred
    dl_dp = np.where(np.abs(err) < 2.0, -err, -2.0 * np.sign(err)) / err.size
    close(grad, dl_dp)


def test_auto_names():
    class MyFancyLoss(L.Loss):
        def call(self, y_true, y_pred):
            return jnp.abs(y_true - y_pred)

    a, b = MyFancyLoss(), MyFancyLoss()
    assert a.name == "my_fancy_loss" and b.name == "my_fancy_loss_1"
    assert MyFancyLoss(name="x").name == "x"
    with pytest.raises(NotImplementedError, match="call"):
        L.Loss()(np.zeros(2), np.zeros(2))


# ---- bad input ---------------------------------------------------------------------
def test_sparse_with_one_hot_labels_is_a_clear_error(rng):
    t, p = _onehot_probs(rng)
    for call in (lambda: L.sparse_categorical_crossentropy(t, p),
                 lambda: L.SparseCategoricalCrossentropy()(t, p),
                 lambda: jax.jit(L.SparseCategoricalCrossentropy())(t, p)):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert "sparse_categorical_crossentropy" in msg
        assert f"y_true.shape=({N}, {C})" in msg and f"y_pred.shape=({N}, {C})" in msg
        assert "categorical_crossentropy" in msg.replace("sparse_categorical_crossentropy", "")


@pytest.mark.parametrize("label_shape", [(N,), (N, 1)])
@pytest.mark.parametrize("form", ["function", "class", "focal", "jit"])
def test_categorical_with_integer_labels_is_a_clear_error(rng, label_shape, form):
    labels = rng.integers(0, C, label_shape)
    p = rng.dirichlet(np.ones(C), N).astype("float32")
    name = "categorical_focal_crossentropy" if form == "focal" else "categorical_crossentropy"
    call = {"function": lambda: L.categorical_crossentropy(labels, p),
            "class": lambda: L.CategoricalCrossentropy()(labels, p),
            "focal": lambda: L.CategoricalFocalCrossentropy()(labels, p),
            "jit": lambda: jax.jit(L.CategoricalCrossentropy())(labels, p)}[form]
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(name)
    assert f"y_true.shape={label_shape}" in msg and f"y_pred.shape=({N}, {C})" in msg
    assert "sparse_categorical_crossentropy" in msg


def test_other_shape_errors(rng):
    with pytest.raises(ValueError, match=r"binary_crossentropy.*y_true.shape=\(4, 3\).*"
                                         r"y_pred.shape=\(4, 2\)"):
        L.BinaryCrossentropy()(np.zeros((4, 3)), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match=r"mean_squared_error.*y_true.shape=\(4, 3\).*"
                                         r"y_pred.shape=\(4, 2\)"):
        L.mean_squared_error(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(4,\).*"
                                         r"y_true.shape=\(3,\)"):
        L.sparse_categorical_crossentropy(np.zeros(3), np.full((4, 5), 0.2))
    with pytest.raises(ValueError, match="axis"):
        L.categorical_crossentropy(np.eye(3), np.eye(3), axis=True)
    with pytest.raises(ValueError, match="axis=2"):
        L.categorical_crossentropy(np.eye(3), np.eye(3), axis=2)
    # Keras-compatible squeeze/expand: (N,) labels with (N, 1) predictions work
    close(L.BinaryCrossentropy()(np.ones(4), np.full((4, 1), 0.5)), np.log(2.0), rtol=1e-6)


def test_losses_through_kerax_function_and_grad(rng):
    import kerax

    w = kerax.Variable(np.ones((3, C), "float32"))
    x = rng.normal(size=(N, 3)).astype("float32")
    labels = rng.integers(0, C, N)
    loss = L.SparseCategoricalCrossentropy(from_logits=True)

    def np_loss_and_grad(w):
        logits = x.astype(np.float64) @ w
        logp = _np_log_softmax(logits, -1)
        probs = np.exp(logp)
        probs[np.arange(N), labels] -= 1.0
        return -logp[np.arange(N), labels].mean(), x.T @ probs / N

    step = kerax.function(kerax.value_and_grad(lambda: loss(labels, x @ w.value), wrt=w))
    value, grad = step()
    expected_value, expected_grad = np_loss_and_grad(np.ones((3, C)))
    close(value, expected_value)
    close(grad, expected_grad, rtol=1e-5)
