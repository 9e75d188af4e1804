"""compile()'s default `steps_per_execution`: fit/evaluate/predict group
consecutive batches into one dispatch unless a callback overrides a
batch-level hook of that call (then one step per batch, as Keras); grouping
changes no result; an explicit `steps_per_execution=1` is one per batch."""
import math

import numpy as np
import pytest

import kerax
from kerax.trainers import trainer as trainer_mod
from kerax.trainers.engine import StepEngine

N, BATCH = 200, 16          # 12 full batches and a partial one of 8
STEPS = math.ceil(N / BATCH)
FULL = N // BATCH


@pytest.fixture(autouse=True)
def group_short_calls(monkeypatch):
    """These calls are short (13 steps an epoch): group them anyway, the rule
    under test (test_short_calls_run_one_step_per_dispatch restores it)."""
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6, 1))).astype(np.float32)
    return x, y


def make_model(spe="default"):
    kerax.utils.set_random_seed(3)
    model = kerax.Sequential([
        kerax.Input((6,)), kerax.layers.Dense(8, activation="relu"),
        kerax.layers.BatchNormalization(), kerax.layers.Dropout(0.3), kerax.layers.Dense(1)])
    kwargs = {} if spe == "default" else {"steps_per_execution": spe}
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], **kwargs)
    return model


class Dispatches:
    """Counts the engine's dispatches per mode."""

    def __init__(self, monkeypatch):
        self.counts = {}
        real = StepEngine._run

        def counted(engine, *args, **kwargs):
            self.counts[engine.name] = self.counts.get(engine.name, 0) + 1
            return real(engine, *args, **kwargs)
        monkeypatch.setattr(StepEngine, "_run", counted)

    def take(self):
        out, self.counts = dict(self.counts), {}
        return out


class EveryBatch(kerax.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test, self.predict = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.train.append(batch)

    def on_test_batch_end(self, batch, logs=None):
        self.test.append(batch)

    def on_predict_batch_end(self, batch, logs=None):
        self.predict.append(batch)


def test_default_groups_dispatches_ceil_steps_over_k(data, monkeypatch):
    x, y = data
    model = make_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # compiles, measures the cap
    k = min(trainer_mod.MAX_GROUP, model._trainer_state.group_cap["train"])
    assert k > 1  # a tiny step takes far less than GROUP_SECONDS / 2
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)
    # per epoch: the full batches in groups of k, then the partial batch alone
    assert counter.take()["train"] == 3 * (math.ceil(FULL / k) + 1)


def test_explicit_one_step_per_execution_is_one_dispatch_per_batch(data, monkeypatch):
    x, y = data
    model = make_model(1)
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    assert counter.take()["train"] == 2 * STEPS
    model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert counter.take()["test"] == STEPS


def test_a_batch_callback_sees_every_batch_and_results_do_not_change(data, monkeypatch):
    x, y = data
    grouped = make_model()
    h_grouped = grouped.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    counter = Dispatches(monkeypatch)
    watched = make_model()
    cb = EveryBatch()
    h_watched = watched.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[cb])
    assert cb.train == list(range(STEPS)) * 2
    assert counter.take()["train"] == 2 * STEPS
    single = make_model(1)
    h_single = single.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    for other in (grouped, watched):
        for a, b in zip(other.get_weights(), single.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for h in (h_grouped, h_watched):
        np.testing.assert_allclose(h.history["loss"], h_single.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(h.history["mae"], h_single.history["mae"], rtol=1e-5)

    # evaluate and predict: the same rule with their own hooks
    counter.take()
    ev = watched.evaluate(x, y, batch_size=BATCH, verbose=0, callbacks=[cb])
    assert cb.test == list(range(STEPS)) and counter.take()["test"] == STEPS
    p = watched.predict(x, batch_size=BATCH, verbose=0, callbacks=[cb])
    assert cb.predict == list(range(STEPS)) and counter.take()["predict"] == STEPS
    np.testing.assert_allclose(watched.evaluate(x, y, batch_size=BATCH, verbose=0), ev,
                               rtol=1e-6)
    np.testing.assert_allclose(watched.predict(x, batch_size=BATCH, verbose=0), p, rtol=1e-6)
    assert counter.take()["predict"] < STEPS


def test_lambda_callback_and_declared_callbacks(data, monkeypatch):
    x, y = data
    model = make_model()
    model.fit(x, y, batch_size=BATCH, verbose=0)
    seen = []
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[
        kerax.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert seen == list(range(STEPS)) and counter.take()["train"] == STEPS

    class Grouped(EveryBatch):
        accepts_grouped_batches = True

    cb = Grouped()
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[cb])
    n = counter.take()["train"]
    assert n < STEPS and len(cb.train) == n and cb.train[-1] == STEPS - 1

    # an epoch-level callback (and the built-in History/progress bar) keeps groups
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[
        kerax.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None),
        kerax.callbacks.TerminateOnNaN()])
    assert counter.take()["train"] == n


def test_checkpoint_every_n_batches_runs_every_batch(data, monkeypatch, tmp_path):
    x, y = data
    model = make_model()
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[
        kerax.callbacks.ModelCheckpoint(str(tmp_path / "e.keras"))])
    assert counter.take()["train"] < STEPS
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[
        kerax.callbacks.ModelCheckpoint(str(tmp_path / "b.keras"), save_freq=5)])
    assert counter.take()["train"] == STEPS


def test_generator_input_is_grouped_with_the_same_result(data):
    x, y = data

    def gen():
        for i in range(0, N, BATCH):
            yield x[i:i + BATCH], y[i:i + BATCH]

    grouped = make_model()
    grouped.fit(gen(), epochs=1, verbose=0)
    single = make_model(1)
    single.fit(gen(), epochs=1, verbose=0)
    for a, b in zip(grouped.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compile_config_stores_keras_default(tmp_path, data):
    x, y = data
    model = make_model()
    assert model.get_compile_config()["steps_per_execution"] == 1
    assert model._trainer_state.steps_per_execution is None
    model.fit(x, y, batch_size=BATCH, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = kerax.saving.load_model(path)
    assert loaded._trainer_state.steps_per_execution is None  # the default again
    with pytest.raises(ValueError, match="steps_per_execution"):
        kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)]).compile(
            loss="mse", steps_per_execution=0)


def test_slow_steps_get_small_groups_of_the_same_program(data, monkeypatch):
    """A step measured slow gets groups small enough for a dispatch to take
    about GROUP_SECONDS (here 1: the target forced to nothing), run by the one
    grouped program (no second compile), with the same result."""
    x, y = data
    monkeypatch.setattr(trainer_mod, "GROUP_SECONDS", 1e-9)
    model = make_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert model._trainer_state.group_cap["train"] == 1
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    assert counter.take()["train"] == 2 * STEPS
    # one program for the full batches (the grouped one), one for the partial batch
    assert len(model._trainer_state.engines["train"]._compiled) == 2
    single = make_model(1)
    single.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)
    for a, b in zip(model.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def make_conv_model(spe="default"):
    kerax.utils.set_random_seed(5)
    model = kerax.Sequential([
        kerax.Input((6, 1)), kerax.layers.Conv1D(4, 3, activation="relu"),
        kerax.layers.GlobalAveragePooling1D(), kerax.layers.Dense(1)])
    kwargs = {} if spe == "default" else {"steps_per_execution": spe}
    model.compile(optimizer="adam", loss="mse", **kwargs)
    return model


@pytest.mark.skipif(kerax.backend.backend() != "jax" or
                    __import__("jax").default_backend() != "cpu", reason="a CPU rule")
def test_conv_training_steps_run_one_per_dispatch_on_cpu(data, monkeypatch):
    """On XLA's CPU backend a convolution's gradient runs several times
    slower inside a compiled loop: fit runs such steps one per dispatch (the
    plain one-step program); evaluate and predict (no gradient) stay grouped."""
    x, y = data
    x = x[..., None]
    model = make_conv_model()
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    assert model._trainer_state.group_cap["train"] == 0
    assert counter.take()["train"] == 2 * STEPS
    model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert counter.take()["test"] < STEPS
    single = make_conv_model(1)
    single.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_predict_outputs_copied_out_early_past_the_device_budget(data, monkeypatch):
    """Grouped predict keeps outputs on the device up to PENDING_BYTES; past it
    they are copied to the host as they come, with the same result."""
    x, _ = data
    model = make_model()
    want = make_model(1).predict(x, batch_size=BATCH, verbose=0)
    monkeypatch.setattr(trainer_mod, "PENDING_BYTES", 1)  # copy out every group
    got = model.predict(x, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.shape == (N, 1)


def test_short_calls_run_one_step_per_dispatch(data, monkeypatch):
    """A call with fewer than MIN_GROUPED_STEPS steps (all epochs together)
    runs one step per dispatch: the loop program would cost more compile time
    than grouping saves. A call with more is grouped."""
    x, y = data
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 3 * STEPS)
    model = make_model()
    counter = Dispatches(monkeypatch)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)  # 2 * STEPS steps: short
    model.evaluate(x, y, batch_size=BATCH, verbose=0)
    model.predict(x, batch_size=BATCH, verbose=0)
    assert counter.take() == {"train": 2 * STEPS, "test": STEPS, "predict": STEPS}
    model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)  # 3 * STEPS: grouped
    assert counter.take()["train"] < 3 * STEPS
    # fit's validation passes count together: 3 passes of STEPS batches
    model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, validation_data=(x, y))
    assert counter.take()["test"] < 3 * STEPS


@pytest.mark.skipif(__import__("jax").default_backend() != "cpu", reason="a CPU rule")
def test_conv_training_steps_from_a_generator_run_one_per_dispatch_on_cpu(data, monkeypatch):
    x, y = data
    x = x[..., None]

    class Batches(kerax.utils.PyDataset):
        def __len__(self):
            return STEPS

        def __getitem__(self, i):
            return x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    model = make_conv_model()
    counter = Dispatches(monkeypatch)
    model.fit(Batches(), epochs=2, verbose=0)
    assert model._trainer_state.group_cap["train"] == 0
    assert counter.take()["train"] == 2 * STEPS
