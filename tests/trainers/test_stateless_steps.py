"""Keras' JAX-backend stateless step overrides (`train_step(self, state, data)`,
as in the guide "Customizing what happens in fit() with JAX") against Keras 3
on the same weights and data; the stateful style alongside; validation_split's
split point."""
import jax
import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _unpack(data):
    if isinstance(data, (tuple, list)):
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


def _stateless_model(lib, batchnorm=True):
    """The guide's pattern: stateless_call + stateless_compute_loss under
    jax.value_and_grad, optimizer.stateless_apply, metrics updated statelessly
    by slicing `metrics_variables` in `self.metrics` order (the compiled loss
    tracker, the compiled metrics, a custom tracker)."""

    class StatelessModel(lib.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.tracker = lib.metrics.Mean(name="custom_loss")

        def loss_and_updates(self, tv, ntv, mv, x, y, sw, training=False):
            y_pred, ntv = self.stateless_call(tv, ntv, x, training=training)
            loss, (tv, ntv, mv) = self.stateless_compute_loss(
                tv, ntv, mv, x=x, y=y, y_pred=y_pred, sample_weight=sw, training=training)
            return loss, (y_pred, ntv, mv)

        def update_all_metrics(self, mv, loss, y, y_pred, sw):
            new, logs = [], {}
            for m in self.metrics:
                this = mv[len(new):len(new) + len(m.variables)]
                if m.name in ("loss", "custom_loss"):
                    this = m.stateless_update_state(this, loss, sample_weight=sw)
                else:
                    this = m.stateless_update_state(this, y, y_pred, sample_weight=sw)
                logs[m.name] = m.stateless_result(this)
                new += this
            return logs, new

        def train_step(self, state, data):
            tv, ntv, ov, mv = state
            x, y, sw = _unpack(data)
            grad_fn = jax.value_and_grad(self.loss_and_updates, has_aux=True)
            (loss, (y_pred, ntv, mv)), grads = grad_fn(tv, ntv, mv, x, y, sw, training=True)
            tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
            logs, mv = self.update_all_metrics(mv, loss, y, y_pred, sw)
            return logs, (tv, ntv, ov, mv)

        def test_step(self, state, data):
            tv, ntv, mv = state
            x, y, sw = _unpack(data)
            loss, (y_pred, ntv, mv) = self.loss_and_updates(tv, ntv, mv, x, y, sw)
            logs, mv = self.update_all_metrics(mv, loss, y, y_pred, sw)
            return logs, (tv, ntv, mv)

        def predict_step(self, state, data):
            tv, ntv = state
            x, _, _ = _unpack(data)
            y_pred, ntv = self.stateless_call(tv, ntv, x, training=False)
            return 2.0 * y_pred, ntv

    inputs = lib.Input((8,))
    h = lib.layers.Dense(16, activation="tanh")(inputs)
    if batchnorm:  # non-trainable state that the step threads through
        h = lib.layers.BatchNormalization()(h)
    return StatelessModel(inputs, lib.layers.Dense(1)(h))


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=tol, atol=tol)


def _pair(keras, build, spe=1):
    k, kx = build(keras), build(kerax)
    kx.set_weights(k.get_weights())
    for lib, m in ((keras, k), (kerax, kx)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse", metrics=["mae"],
                  steps_per_execution=spe)
    return k, kx


@pytest.mark.parametrize("spe", [1, 3])
def test_stateless_fit_matches_keras(keras, spe):
    x, y = _data()
    k, kx = _pair(keras, _stateless_model, spe)
    hk = k.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hx = kx.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert set(hx.history) == set(hk.history) == {"loss", "mae", "custom_loss"}
    for key in hk.history:
        _close(hx.history[key], hk.history[key])
    for a, b in zip(kx.get_weights(), k.get_weights()):
        _close(a, b)
    # the optimizer's state went back into its Variables too
    assert int(kx.optimizer.iterations.numpy()) == int(k.optimizer.iterations.numpy()) == 10


def test_stateless_evaluate_and_predict(keras):
    x, y = _data(n=30, seed=1)
    k, kx = _pair(keras, _stateless_model, 2)
    k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    kx.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ek = k.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    ex = kx.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    assert set(ex) == set(ek)
    for key in ek:
        _close(ex[key], ek[key])
    pk, px = k.predict(x, batch_size=7, verbose=0), kx.predict(x, batch_size=7, verbose=0)
    _close(px, pk)
    _close(px, 2.0 * np.asarray(kx(x, training=False)))  # the override ran
    _close(kx.predict_on_batch(x[:5]), pk[:5])
    # train/test_on_batch go through the same steps
    lk = k.train_on_batch(x[:8], y[:8], return_dict=True)
    lx = kx.train_on_batch(x[:8], y[:8], return_dict=True)
    for key in lk:
        _close(lx[key], lk[key])
    for a, b in zip(kx.get_weights(), k.get_weights()):
        _close(a, b)


def test_stateless_validation_split_matches_keras(keras):
    x, y = _data(n=42)
    k, kx = _pair(keras, _stateless_model)
    hk = k.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_split=0.25)
    hx = kx.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_split=0.25)
    assert set(hx.history) == set(hk.history)
    for key in hk.history:
        _close(hx.history[key], hk.history[key])


def test_stateless_run_eagerly(keras):
    x, y = _data(n=16)
    k, kx = _pair(keras, _stateless_model)
    kx.compile(optimizer=kerax.optimizers.SGD(0.05), loss="mse", metrics=["mae"],
               run_eagerly=True)
    hk = k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    hx = kx.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for key in hk.history:
        _close(hx.history[key], hk.history[key])


def test_super_step_with_state(keras):
    """A stateless override may delegate to the built-in step with
    `super().train_step(state, data)`, as on Keras' JAX backend."""

    def build(lib):
        class Delegating(lib.Model):
            def train_step(self, state, data):
                logs, state = super().train_step(state, data)
                return logs, state

            def test_step(self, state, data):
                return super().test_step(state, data)

        i = lib.Input((8,))
        return Delegating(i, lib.layers.Dense(1)(lib.layers.Dense(4, activation="relu")(i)))

    x, y = _data(n=24)
    k, kx = _pair(keras, build)
    hk = k.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hx = kx.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for key in hk.history:
        _close(hx.history[key], hk.history[key])
    for a, b in zip(kx.get_weights(), k.get_weights()):
        _close(a, b)
    _close(kx.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0))


def test_stateful_override_still_works():
    class Stateful(kerax.Model):
        def train_step(self, data):
            self.seen.assign_add(1.0)
            return super().train_step(data)

    i = kerax.Input((8,))
    m = Stateful(i, kerax.layers.Dense(1)(i))
    m.seen = kerax.Variable(0.0, trainable=False)
    m.compile(optimizer="sgd", loss="mse", steps_per_execution=2)
    x, y = _data(n=32)
    h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert float(m.seen.numpy()) == 8.0
    assert len(h.history["loss"]) == 2


def test_stateless_step_bad_state_is_clear():
    class Bad(kerax.Model):
        def train_step(self, state, data):
            tv, ntv, ov, mv = state
            return {}, (tv, ntv, ov)

    i = kerax.Input((8,))
    m = Bad(i, kerax.layers.Dense(1)(i))
    m.compile(optimizer="sgd", loss="mse")
    x, y = _data(n=8)
    with pytest.raises(ValueError, match="train_step"):
        m.fit(x, y, batch_size=8, verbose=0)


def test_stateless_compute_loss_is_pure(keras):
    x, y = _data(n=8)
    k, kx = _pair(keras, lambda lib: _stateless_model(lib, batchnorm=False))
    for m in (k, kx):
        tv = [v.value for v in m.trainable_variables]
        ntv = [v.value for v in m.non_trainable_variables]
        mv = [v.value for v in m.metrics_variables]
        y_pred, _ = m.stateless_call(tv, ntv, x)
        loss, (tv2, ntv2, mv2) = m.stateless_compute_loss(tv, ntv, mv, x=x, y=y,
                                                          y_pred=y_pred)
        assert len(tv2) == len(tv) and len(ntv2) == len(ntv) and len(mv2) == len(mv)
        _close(loss, np.mean((np.asarray(y_pred) - y) ** 2))


@pytest.mark.parametrize("n,split", [(10, 0.25), (42, 0.25), (7, 0.5), (96, 0.3)])
def test_validation_split_point_matches_keras(keras, n, split):
    """Keras 3 trains on the first floor(n * (1 - split)) samples and validates
    on the rest (the validation part rounds up)."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = rng.normal(size=(n, 1)).astype(np.float32)

    def build(lib):
        return lib.Sequential([lib.Input((8,)), lib.layers.Dense(1)])

    k, kx = build(keras), build(kerax)
    kx.set_weights(k.get_weights())
    for lib, m in ((keras, k), (kerax, kx)):
        m.compile(optimizer=lib.optimizers.SGD(0.0), loss="mse")
    # lr=0: the weights stay put, so val_loss tells which samples were validated on
    hk = k.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
               validation_split=split, validation_batch_size=1)
    n_val_keras = n - int(np.floor(n * (1 - split)))
    hx = kx.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                validation_split=split, validation_batch_size=1)
    _close(hx.history["val_loss"], hk.history["val_loss"])
    # the validation loss is the mean over the last n_val samples
    pred = x[n - n_val_keras:] @ kx.get_weights()[0] + kx.get_weights()[1]
    _close(hx.history["val_loss"][0], np.mean((pred - y[n - n_val_keras:]) ** 2), tol=1e-4)


def test_validation_split_too_small_raises():
    m = kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x = np.ones((1, 2), np.float32)
    with pytest.raises(ValueError, match="not sufficient|validation_split"):
        m.fit(x, x[:, :1], validation_split=0.5, verbose=0)


def test_train_on_batch_logs_are_the_batch_alone(keras):
    """Keras 3 resets the metrics before each train_on_batch."""
    x, y = _data(n=16)
    k, kx = _pair(keras, lambda lib: lib.Sequential([lib.Input((8,)), lib.layers.Dense(1)]))
    for _ in range(2):
        lk = k.train_on_batch(x[:8], y[:8], return_dict=True)
        lx = kx.train_on_batch(x[:8], y[:8], return_dict=True)
        for key in lk:
            _close(lx[key], lk[key])
