"""The chapter's training flows on kerax: custom losses, metrics, layers and
models in fit; custom training loops (eager and compiled); fit's options and
bad-input errors."""
import re

import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import ops
from kerax.layers import Dense
from tests.models.test_models import MyDense, ReconstructingRegressor, ResidualRegressor


@pytest.fixture(scope="module")
def housing():
    """A synthetic stand-in for the chapter's scaled California housing data."""
    rng = np.random.default_rng(42)
    X = rng.normal(size=(2000, 8)).astype(np.float32)
    w = rng.normal(size=(8, 1))
    y = (np.tanh(X @ w) + 0.3 * X[:, :1] ** 2 + 0.05 * rng.normal(size=(2000, 1))).astype(np.float32)
    return X[:1500], y[:1500], X[1500:], y[1500:]


def huber_fn(y_true, y_pred):
    error = y_true - y_pred
    is_small_error = ops.abs(error) < 1
    squared_loss = ops.square(error) / 2
    linear_loss = ops.abs(error) - 0.5
    return ops.where(is_small_error, squared_loss, linear_loss)


def create_huber(threshold=1.0):
    def huber_fn(y_true, y_pred):
        error = y_true - y_pred
        is_small_error = ops.abs(error) < threshold
        squared_loss = ops.square(error) / 2
        linear_loss = threshold * ops.abs(error) - threshold ** 2 / 2
        return ops.where(is_small_error, squared_loss, linear_loss)
    return huber_fn


class HuberLoss(kerax.losses.Loss):
    def __init__(self, threshold=1.0, **kwargs):
        self.threshold = threshold
        super().__init__(**kwargs)

    def call(self, y_true, y_pred):
        error = y_true - y_pred
        is_small_error = ops.abs(error) < self.threshold
        squared_loss = ops.square(error) / 2
        linear_loss = self.threshold * ops.abs(error) - self.threshold ** 2 / 2
        return ops.where(is_small_error, squared_loss, linear_loss)

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "threshold": self.threshold}


class HuberMetric(kerax.metrics.Metric):
    def __init__(self, threshold=1.0, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold
        self.huber_fn = create_huber(threshold)
        self.total = self.add_weight(name="total", initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = self.huber_fn(y_true, y_pred)
        self.total.assign_add(ops.sum(metric))
        self.count.assign_add(ops.cast(ops.size(y_true), "float32"))

    def result(self):
        return self.total / self.count

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "threshold": self.threshold}


class HuberMeanMetric(kerax.metrics.Mean):
    def __init__(self, threshold=1.0, name="HuberMetric", dtype=None):
        self.threshold = threshold
        self.huber_fn = create_huber(threshold)
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = self.huber_fn(y_true, y_pred)
        super().update_state(metric, sample_weight)


def _regressor(seed=0):
    kerax.utils.set_random_seed(seed)
    return kerax.Sequential([
        Dense(30, activation="selu", kernel_initializer="lecun_normal", input_shape=(8,)),
        Dense(1)])


@pytest.mark.parametrize("loss", [huber_fn, create_huber(2.0), HuberLoss(2.0)],
                         ids=["huber_fn", "create_huber", "HuberLoss"])
def test_custom_losses_train(housing, loss):
    X, y, Xv, yv = housing
    model = _regressor()
    model.compile(loss=loss, optimizer="nadam", metrics=[HuberMetric(2.0, name="huber_metric"), HuberMeanMetric(2.0)])
    h = model.fit(X, y, epochs=2, validation_data=(Xv, yv), verbose=0)
    assert h.history["loss"][1] < h.history["loss"][0]
    pred = model.predict(Xv, verbose=0)
    err = yv - pred
    thr = 2.0 if loss is not huber_fn else 1.0
    expect = np.where(np.abs(err) < thr, err ** 2 / 2, thr * np.abs(err) - thr ** 2 / 2)
    logs = model.evaluate(Xv, yv, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], expect.mean(), rtol=1e-4)
    e2 = np.where(np.abs(err) < 2.0, err ** 2 / 2, 2.0 * np.abs(err) - 2.0)
    np.testing.assert_allclose(logs["huber_metric"], e2.mean(), rtol=1e-4)
    np.testing.assert_allclose(logs["HuberMetric"], e2.mean(), rtol=1e-4)


def test_regression_reaches_bound(housing):
    X, y, Xv, yv = housing
    model = kerax.Sequential([Dense(30, activation="relu", input_shape=(8,)),
                              Dense(30, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer=kerax.optimizers.Adam(1e-2))
    h = model.fit(X, y, epochs=15, batch_size=32, validation_data=(Xv, yv), verbose=0)
    baseline = float(np.var(yv))
    assert h.history["val_loss"][-1] < 0.2 * baseline


def test_custom_layers_and_models_in_fit(housing):
    X, y, Xv, yv = housing
    kerax.utils.set_random_seed(1)
    model = kerax.Sequential([MyDense(30, activation="relu", input_shape=(8,)), MyDense(1)])
    model.compile(loss="mse", optimizer="nadam")
    h = model.fit(X, y, epochs=2, verbose=0)
    assert h.history["loss"][1] < h.history["loss"][0]

    rr = ResidualRegressor(1)
    rr.compile(loss="mse", optimizer="nadam")
    h = rr.fit(X, y, epochs=2, verbose=0)
    assert h.history["loss"][1] < h.history["loss"][0]


def test_reconstructing_regressor_trains_and_reports_its_metric(housing):
    X, y, Xv, yv = housing
    kerax.utils.set_random_seed(2)
    model = ReconstructingRegressor(1)
    model.compile(loss="mse", optimizer="nadam")
    h = model.fit(X, y, epochs=2, verbose=0)
    assert "reconstruction_error" in h.history
    assert h.history["loss"][1] < h.history["loss"][0]
    # the reported loss includes the 0.05 * reconstruction loss added in call
    pred = model.predict(X, verbose=0)
    mse = float(np.mean((pred - y) ** 2))
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    assert logs["loss"] > mse


def test_steps_per_execution_gives_same_weights(housing):
    X, y, _, _ = housing
    weights = []
    for k in (1, 16):
        model = _regressor(3)
        model.compile(loss="mse", optimizer="sgd", steps_per_execution=k)
        np.random.seed(0)
        model.fit(X[:1000], y[:1000], epochs=2, batch_size=32, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_custom_training_loop_eager_and_compiled(housing):
    X, y, _, _ = housing
    l2 = kerax.regularizers.l2(0.05)

    def make():
        kerax.utils.set_random_seed(4)
        return kerax.Sequential([
            Dense(30, activation="elu", kernel_initializer="he_normal",
                  kernel_regularizer=l2, input_shape=(8,)),
            Dense(1, kernel_regularizer=l2,
                  kernel_constraint=kerax.constraints.max_norm(1.0))])

    def random_batch(X, y, rng, batch_size=32):
        idx = rng.integers(len(X), size=batch_size)
        return X[idx], y[idx]

    results = []
    for compiled in (False, True):
        model = make()
        optimizer = kerax.optimizers.Nadam(learning_rate=0.01)
        loss_fn = kerax.losses.mean_squared_error
        mean_loss = kerax.metrics.Mean()
        metrics = [kerax.metrics.MeanAbsoluteError()]

        def compute_loss(X_batch, y_batch):
            y_pred = model(X_batch, training=True)
            main_loss = ops.mean(loss_fn(y_batch, y_pred))
            return ops.add_n([main_loss] + model.losses) if hasattr(ops, "add_n") else \
                main_loss + sum(model.losses), y_pred

        def train_step(X_batch, y_batch):
            (loss, y_pred), gradients = kerax.value_and_grad(
                compute_loss, model.trainable_variables, has_aux=True)(X_batch, y_batch)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            mean_loss(loss)
            for metric in metrics:
                metric(y_batch, y_pred)
            return loss

        step = kerax.function(train_step) if compiled else train_step
        rng = np.random.default_rng(0)
        first = None
        for epoch in range(2):
            for _ in range(20):
                X_batch, y_batch = random_batch(X, y, rng)
                step(X_batch, y_batch)
            if first is None:
                first = float(mean_loss.result())
            for metric in [mean_loss] + metrics:
                metric.reset_state()
        kernel = model.layers[1].kernel.numpy()
        assert np.all(np.linalg.norm(kernel, axis=0) <= 1.0 + 1e-5)  # constraint applied
        results.append(model.get_weights())
        if compiled:
            assert step.trace_count == 1
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_two_optimizers_on_two_parts(housing):
    X, y, _, _ = housing
    model = _regressor(5)
    model(X[:1])
    first, second = model.layers[0].trainable_variables, model.layers[1].trainable_variables
    opt1, opt2 = kerax.optimizers.SGD(0.01), kerax.optimizers.Adam(0.01)
    before = [v.numpy() for v in first + second]

    @kerax.function
    def step(xb, yb):
        loss, (g1, g2) = kerax.value_and_grad(
            lambda: ops.mean((model(xb, training=True) - yb) ** 2), (first, second))()
        opt1.apply_gradients(zip(g1, first))
        opt2.apply_gradients(zip(g2, second))
        return loss

    losses = [float(step(X[:64], y[:64])) for _ in range(10)]
    assert losses[-1] < losses[0]
    assert all(not np.allclose(b, v.numpy()) for b, v in zip(before, first + second))
    assert int(opt1.iterations.numpy()) == int(opt2.iterations.numpy()) == 10


def test_train_step_override_and_run_eagerly(housing, capsys):
    X, y, _, _ = housing

    class CustomModel(kerax.Model):
        def train_step(self, data):
            x, y = data
            print("step")

            def fwd():
                y_pred = self(x, training=True)
                return self.compute_loss(y=y, y_pred=y_pred), y_pred

            (loss, y_pred), grads = kerax.value_and_grad(fwd, self.trainable_variables,
                                                        has_aux=True)()
            self.optimizer.apply(grads, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = kerax.Input((8,))
    model = CustomModel(inputs, Dense(1)(Dense(16, activation="relu")(inputs)))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = model.fit(X[:320], y[:320], epochs=3, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    compiled_prints = capsys.readouterr().out.count("step")
    assert 1 <= compiled_prints <= 3  # traced, not run per batch
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], run_eagerly=True)
    model.fit(X[:320], y[:320], epochs=1, batch_size=32, verbose=0)
    assert capsys.readouterr().out.count("step") == 10


def test_inputs_generators_pydataset_and_foreign_iterables(housing):
    X, y, _, _ = housing
    model = _regressor(6)
    model.compile(loss="mse", optimizer="adam", steps_per_execution=4)

    def gen():
        for i in range(0, 640, 64):
            yield X[i:i + 64], y[i:i + 64]

    h = model.fit(gen(), epochs=1, verbose=0)
    assert len(h.history["loss"]) == 1

    class Seq(kerax.utils.PyDataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return X[i * 50:(i + 1) * 50], y[i * 50:(i + 1) * 50]

    h = model.fit(Seq(), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2

    class ForeignLoader:
        """Yields objects that only convert to NumPy (like torch tensors / tf.data)."""

        class T:
            def __init__(self, a):
                self.a = a

            def __array__(self, dtype=None, copy=None):
                return self.a

        def __iter__(self):
            for i in range(0, 300, 100):
                yield self.T(X[i:i + 100]), self.T(y[i:i + 100])

    h = model.fit(ForeignLoader(), epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"][0])
    assert model.predict(X[:1001], batch_size=32, verbose=0).shape == (1001, 1)
    out = model.evaluate(Seq(), verbose=0)
    assert np.isfinite(out)


def test_early_stopping_restores_best_weights(housing):
    X, y, Xv, yv = housing
    model = _regressor(7)
    model.compile(loss="mse", optimizer=kerax.optimizers.SGD(0.5))  # diverging-ish lr

    class Recorder(kerax.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.snaps = []

        def on_epoch_end(self, epoch, logs=None):
            self.snaps.append((logs["val_loss"], [w.copy() for w in self.model.get_weights()]))

    rec = Recorder()
    es = kerax.callbacks.EarlyStopping(patience=1, restore_best_weights=True)
    model.fit(X, y, epochs=30, validation_data=(Xv, yv), callbacks=[rec, es], verbose=0)
    best = min(rec.snaps, key=lambda s: s[0])
    for a, b in zip(model.get_weights(), best[1]):
        np.testing.assert_array_equal(a, b)
    assert len(rec.snaps) < 30


def test_progress_output_one_line_per_epoch_when_not_a_tty(housing, capsys):
    X, y, Xv, yv = housing
    model = _regressor(8)
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    model.fit(X[:320], y[:320], epochs=2, batch_size=32, validation_data=(Xv, yv), verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    lines = [l for l in out.splitlines() if l.startswith("10/10")]
    assert len(lines) == 2
    assert re.match(r"10/10 ━{20} \d+s \d+(ms|us|s)/step - loss: \d+\.\d{4} - mae: \d+\.\d{4} "
                    r"- val_loss: \d+\.\d{4} - val_mae: \d+\.\d{4}", lines[0]), lines[0]


def test_terminate_on_nan_reports_batch(housing, capsys):
    X, y, _, _ = housing
    model = _regressor(9)
    model.compile(loss="mse", optimizer=kerax.optimizers.SGD(1e6))
    h = model.fit(X * 1e3, y, epochs=5, batch_size=32, verbose=0,
                  callbacks=[kerax.callbacks.TerminateOnNaN()])
    out = capsys.readouterr().out
    assert re.search(r"Batch \d+: invalid loss", out, re.I), out
    assert len(h.history.get("loss", [])) <= 1


def test_bad_inputs(housing):
    X, y, _, _ = housing
    model = _regressor(10)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(X, y)
    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(ValueError, match=r"x sizes \[1500\].*y sizes \[100\]"):
        model.fit(X, y[:100], verbose=0)
    with pytest.raises(ValueError, match="non-empty"):
        model.fit(X[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="Unknown optimizer.*adam"):
        model.compile(loss="mse", optimizer="adamm")
    with pytest.raises(ValueError, match="Unknown loss.*mean_squared_error"):
        model.compile(loss="mean_squared_eror", optimizer="adam")
    clf = kerax.Sequential([Dense(3, activation="softmax", input_shape=(8,))])
    clf.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    onehot = np.eye(3, dtype=np.float32)[np.arange(64) % 3]
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        clf.fit(X[:64], onehot, verbose=0)
    clf.compile(loss="categorical_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        clf.fit(X[:64], (np.arange(64) % 3).astype(np.int32), verbose=0)
    with pytest.raises(ValueError, match="Unknown metric"):
        clf.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["acurracy"])

    def empty():
        return
        yield

    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(ValueError, match="empty"):
        model.fit(empty(), verbose=0)

    def varying():
        yield X[:32], y[:32]
        yield X[:32], y[:32], np.ones(32, np.float32)

    with pytest.raises(ValueError, match="varying structure"):
        model.fit(varying(), verbose=0)


def test_fit_does_not_invalidate_arrays_the_user_assigned():
    model = kerax.Sequential([kerax.Input((3,)), Dense(2)])
    w = jnp.ones((3, 2))
    model.layers[0].kernel.assign(w)
    b = jnp.zeros(2)
    model.layers[0].bias.assign(b)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), np.float32), np.ones((8, 2), np.float32), verbose=0)
    np.testing.assert_array_equal(np.asarray(w + 1), np.full((3, 2), 2.0))
    np.testing.assert_array_equal(np.asarray(b), np.zeros(2))
    assert not np.allclose(model.layers[0].kernel.numpy(), 1.0)  # it did train


def test_evaluate_list_follows_metrics_names_order(housing):
    X, y, _, _ = housing
    model = _regressor(11)
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    model.fit(X[:64], y[:64], verbose=0)
    assert model.metrics_names == ["loss", "mae"]
    loss, mae = model.evaluate(X[:64], y[:64], verbose=0)
    pred = model.predict(X[:64], verbose=0)
    np.testing.assert_allclose(loss, np.mean((pred - y[:64]) ** 2), rtol=1e-5)
    np.testing.assert_allclose(mae, np.mean(np.abs(pred - y[:64])), rtol=1e-5)
