"""`compute_loss` / `compute_metrics` overrides are called with the arguments
their signatures accept (Keras 3's rule: an override without `training`, such
as Keras' distillation example, is called without it)."""
import numpy as np
import pytest

import kerax
from kerax import ops
from kerax.trainers.trainer import _call_accepting

X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
Y = np.random.default_rng(1).normal(size=(8, 1)).astype(np.float32)
W0 = np.array([[0.5], [-1.0], [0.25]], np.float32)
B0 = np.array([0.1], np.float32)


def _half_mse(w, b):
    d = X @ w + b - Y
    return float(0.5 * np.mean(d ** 2))


def _sgd_step(w, b, lr):
    """One full-batch SGD step on 0.5 * mean((Xw + b - y)^2), in closed form."""
    d = X @ w + b - Y
    return w - lr * X.T @ d / len(X), b - lr * d.mean(0)


class _Linear(kerax.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = kerax.layers.Dense(1)
        self.calls = []

    def call(self, x):
        return self.dense(x)


class NoTraining(_Linear):
    # the signature of Keras' distillation example (no `training`)
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        self.calls.append("no-training")
        return 0.5 * ops.mean(ops.square(y_pred - y))


class WithTraining(_Linear):
    def compute_loss(self, x, y, y_pred, sample_weight, training=True):
        self.calls.append(training)
        return 0.5 * ops.mean(ops.square(y_pred - y))


class WithKwargs(_Linear):
    def compute_loss(self, x, y, y_pred, sample_weight, **kwargs):
        self.calls.append(kwargs.get("training"))
        return 0.5 * ops.mean(ops.square(y_pred - y))


def _model(cls):
    model = cls()
    model(X[:1])
    model.dense.kernel.assign(W0)
    model.dense.bias.assign(B0)
    model.compile(optimizer=kerax.optimizers.SGD(0.1), metrics=["mae"])
    return model


@pytest.mark.parametrize("cls", [NoTraining, WithTraining, WithKwargs])
def test_compute_loss_override_fit_and_evaluate(cls):
    model = _model(cls)
    logs = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], _half_mse(W0, B0), rtol=1e-5)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(X @ W0 + B0 - Y)), rtol=1e-5)
    evaluate_calls, model.calls = model.calls, []
    h = model.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    w1, b1 = _sgd_step(W0, B0, 0.1)
    w2, b2 = _sgd_step(w1, b1, 0.1)
    np.testing.assert_allclose(h.history["loss"], [_half_mse(W0, B0), _half_mse(w1, b1)],
                               rtol=1e-5)
    np.testing.assert_allclose(model.dense.kernel.numpy(), w2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.dense.bias.numpy(), b2, rtol=1e-5, atol=1e-6)
    # (called when the step is traced: how often is the engine's business)
    if cls is NoTraining:
        assert set(evaluate_calls) == set(model.calls) == {"no-training"}
    else:
        assert set(evaluate_calls) == {False} and set(model.calls) == {True}


def test_compute_loss_override_eager_matches():
    model = _model(NoTraining)
    model.run_eagerly = True
    model.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    w, b = W0, B0
    for i in (0, 4):  # two half batches, closed form per batch
        d = X[i:i + 4] @ w + b - Y[i:i + 4]
        w, b = w - 0.1 * X[i:i + 4].T @ d / 4, b - 0.1 * d.mean(0)
    np.testing.assert_allclose(model.dense.kernel.numpy(), w, rtol=1e-5, atol=1e-6)
    assert model.calls == ["no-training"] * 2


def test_compute_metrics_override_with_three_arguments():
    class FewerArgs(_Linear):
        def compute_metrics(self, x, y, y_pred):   # no sample_weight
            self.calls.append("metrics")
            return {"err": ops.mean(ops.abs(y_pred - y))}

    model = FewerArgs()
    model(X[:1])
    model.dense.kernel.assign(W0)
    model.dense.bias.assign(B0)
    model.compile(optimizer="sgd", loss="mse")
    logs = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["err"], np.mean(np.abs(X @ W0 + B0 - Y)), rtol=1e-5)
    assert model.calls == ["metrics"]


def test_call_accepting_rule():
    got = []

    def positional(x, y, y_pred, sample_weight):
        got.append(("positional", x, y, y_pred, sample_weight))

    def renamed(inputs, targets, preds, sw, training=False):
        got.append(("renamed", inputs, targets, preds, sw, training))

    def by_name(y, y_pred):
        got.append(("by_name", y, y_pred))

    def var_args(*args, **kwargs):
        got.append(("var", args, kwargs))

    def unknown(y, y_pred, extra):
        pass

    for fn in (positional, renamed, by_name, var_args):
        _call_accepting(fn, 1, 2, 3, 4, training=True)
    assert got == [("positional", 1, 2, 3, 4), ("renamed", 1, 2, 3, 4, True),
                   ("by_name", 2, 3), ("var", (1, 2, 3, 4), {"training": True})]
    with pytest.raises(TypeError, match="extra"):
        _call_accepting(unknown, 1, 2, 3, 4)


def test_distillation_style_override_matches_keras(keras):
    """The same override (no `training`) in Keras 3 and kerax: same weights
    after a few SGD steps with a student/teacher loss."""

    def make(lib):
        class Distiller(lib.Model):
            def __init__(self, teacher, student):
                super().__init__()
                self.teacher, self.student = teacher, student

            def call(self, x):
                return self.student(x)

            def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                             allow_empty=False):
                t = self.teacher(x, training=False)
                hard = lib.ops.mean(lib.ops.square(y_pred - y))
                soft = lib.ops.mean(lib.ops.square(y_pred - t))
                return 0.7 * hard + 0.3 * soft

        teacher = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        student = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="tanh"),
                                  lib.layers.Dense(1)])
        teacher.trainable = False
        return Distiller(teacher, student), teacher, student

    rng = np.random.default_rng(5)
    init_t = [rng.normal(size=s).astype(np.float32) for s in [(3, 1), (1,)]]
    init_s = [rng.normal(size=s).astype(np.float32) for s in [(3, 4), (4,), (4, 1), (1,)]]
    results = []
    for lib in (keras, kerax):
        model, teacher, student = make(lib)
        teacher.set_weights(init_t)
        student.set_weights(init_s)
        model.compile(optimizer=lib.optimizers.SGD(0.05))
        h = model.fit(X, Y, batch_size=4, epochs=3, shuffle=False, verbose=0)
        ev = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
        results.append((student.get_weights(), h.history["loss"], ev["loss"]))
    (wk, lk, ek), (wx, lx, ex) = results
    for a, b in zip(wk, wx):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lx, lk, rtol=1e-5)
    np.testing.assert_allclose(ex, ek, rtol=1e-5)
