"""MultiOptimizer and OptimizerMap against Keras 3: weights after 20 fit
steps of a model split between Adam and SGD, configs, `.keras` files that
resume training identically both ways, compiled fit, LossScaleOptimizer
around it, and clear errors."""
import doctest

import numpy as np
import pytest

import kerax
from kerax import optimizers
from kerax.optimizers import multi_optimizer
from kerax.saving import optimizer_layout


def _model(m):
    # named: variable paths (and so optimizer slot paths) do not depend on how
    # many models the process made before
    return m.Sequential([m.Input((3,)), m.layers.Dense(4, name="enc"),
                         m.layers.Dense(3, name="mid"), m.layers.Dense(2, name="head")],
                        name="seq")


def _split(o, **sgd):
    """enc by Adam, mid and head by SGD (the default); an RMSprop whose key
    matches nothing (it stays unbuilt)."""
    return o.MultiOptimizer(o.OptimizerMap(
        default_optimizer=o.SGD(0.05, momentum=0.9, name="sgd", **sgd),
        optimizer_map={".*enc/.*": o.Adam(0.01, name="adam"),
                       ".*nothing/.*": o.RMSprop(name="rmsprop")}),
        name="multi")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(20, 3)).astype("float32"), rng.normal(size=(20, 2)).astype("float32")


def _keras_state(opt):
    return [np.asarray(v.value) for v in opt.variables]


def _kerax_state(opt):
    return [np.asarray(v.numpy()) * s for v, s in optimizer_layout.keras_layout(opt)]


def _close(ref, got, atol=1e-6):
    assert len(ref) == len(got)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=atol)


def test_matches_keras_after_20_fit_steps(keras, data):
    """Same initial weights, 20 steps of fit (5 batches x 4 epochs): the
    weights, every inner optimizer's state and counters equal Keras'; SGD
    keeps an EMA, which fit puts into the weights at the end, as Keras."""
    x, y = data
    kmodel, model = _model(keras), _model(kerax)
    model.set_weights(kmodel.get_weights())
    kopt, opt = _split(keras.optimizers, use_ema=True), _split(optimizers, use_ema=True)
    kmodel.compile(optimizer=kopt, loss="mse")
    model.compile(optimizer=opt, loss="mse")
    kmodel.fit(x, y, batch_size=4, epochs=4, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=4, epochs=4, shuffle=False, verbose=0)
    _close(kmodel.get_weights(), model.get_weights())
    assert [type(o).__name__ for o in opt.optimizers] == ["Adam", "RMSprop", "SGD"]
    assert int(opt.iterations) == 20
    assert [int(o.iterations) for o in opt.optimizers] == \
        [int(np.asarray(o.iterations.value)) for o in kopt.optimizers] == [20, 0, 20]
    assert not opt.optimizers[1].built  # no variable mapped to it, as in Keras
    _close(_keras_state(kopt), _kerax_state(opt))
    assert [v.path for v, _ in optimizer_layout.keras_layout(opt)] == \
        [v.path for v in kopt.variables]


def test_config_matches_keras_and_round_trips(keras):
    ours, theirs = _split(optimizers), _split(keras.optimizers)
    config = ours.get_config()
    assert config == theirs.get_config()
    assert optimizers.MultiOptimizer.from_config(config).get_config() == config
    again = optimizers.deserialize(optimizers.serialize(ours))
    assert type(again) is optimizers.MultiOptimizer and again.get_config() == config
    # Keras' serialized form loads in kerax, and the reverse
    assert optimizers.deserialize(keras.optimizers.serialize(theirs)).get_config() == config
    assert keras.optimizers.deserialize(optimizers.serialize(ours)).get_config() == config
    omap = ours._optimizer_map
    assert omap.get_config() == theirs._optimizer_map.get_config()
    back = optimizers.OptimizerMap.from_config(omap.get_config())
    assert list(back) == list(omap)
    assert type(back["x/enc/kernel"]).__name__ == "Adam"


def test_keras_files_resume_identically_both_ways(keras, data, tmp_path):
    """Keras trains 3 steps and saves; kerax loads (weights, every inner
    optimizer's state and counter) and one more step in each agrees; then
    kerax saves, Keras loads, and one more step in each agrees again."""
    x, y = data[0][:8], data[1][:8]
    kmodel = _model(keras)
    kmodel.compile(optimizer=_split(keras.optimizers), loss="mse")
    for _ in range(3):
        kmodel.train_on_batch(x, y)
    kmodel.save(tmp_path / "k.keras")
    model = kerax.models.load_model(tmp_path / "k.keras")
    opt = model.optimizer
    assert type(opt) is optimizers.MultiOptimizer
    assert [int(o.iterations) for o in opt.optimizers] == [3, 0, 3]
    _close(_keras_state(kmodel.optimizer), _kerax_state(opt))
    kmodel.train_on_batch(x, y)
    model.train_on_batch(x, y)
    _close(kmodel.get_weights(), model.get_weights())
    model.save(tmp_path / "x.keras")
    back = keras.models.load_model(tmp_path / "x.keras")
    assert [int(np.asarray(o.iterations.value)) for o in back.optimizer.optimizers] == [4, 0, 4]
    _close(_keras_state(back.optimizer), _kerax_state(opt))
    back.train_on_batch(x, y)
    model.train_on_batch(x, y)
    _close(back.get_weights(), model.get_weights())


class _CountingDense(kerax.layers.Dense):
    traces = 0

    def call(self, inputs):
        _CountingDense.traces += 1
        return super().call(inputs)


def test_compiled_fit_traces_once_with_a_callable_map(data):
    """A callable map; fit compiles one step (no retrace per batch or per
    epoch, nor when a callback sets the inner learning rates); each inner
    optimizer only moves its own variables."""
    x, y = data
    adam, sgd = optimizers.Adam(0.01, name="adam"), optimizers.SGD(0.0, name="sgd")

    def choose(variable):
        return adam if "/enc/" in "/" + variable.path else sgd

    model = kerax.Sequential([kerax.Input((3,)), _CountingDense(4, name="enc"),
                              kerax.layers.Dense(2, name="head")])
    model.compile(optimizer=optimizers.MultiOptimizer(choose), loss="mse")
    head = [w.copy() for w in model.layers[1].get_weights()]
    enc = [w.copy() for w in model.layers[0].get_weights()]
    before = _CountingDense.traces
    halve = kerax.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[halve])
    assert _CountingDense.traces - before <= 2  # the step's trace, not one per batch
    assert float(adam.learning_rate) == pytest.approx(0.0025)  # each inner rate halved
    assert history.history["learning_rate_adam"] == pytest.approx([0.005, 0.0025])
    mid = _CountingDense.traces
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert _CountingDense.traces == mid  # the compiled step is reused
    assert model.optimizer.optimizers == [adam, sgd]
    assert int(adam.iterations) == int(sgd.iterations) == 15
    _close(head, model.layers[1].get_weights())  # SGD(0.0): unchanged
    assert not np.allclose(enc[0], model.layers[0].get_weights()[0])


def test_loss_scale_optimizer_wraps_a_multi_optimizer():
    """As Keras' own test: the dynamic scale replaces the MultiOptimizer's
    loss_scale_factor (propagated to the inner ones); gradients are divided
    by it: 2 - 0.1 * (10 / 10) = 1.9."""
    w1 = kerax.Variable([[2.0, 2.0]], name="kernel")
    w1._path = "dense_1/kernel"
    w2 = kerax.Variable([[2.0, 2.0]], name="kernel")
    w2._path = "dense_2/kernel"
    sgd1, sgd2 = optimizers.SGD(0.1), optimizers.SGD(0.1)
    multi = optimizers.MultiOptimizer(
        optimizers.OptimizerMap(sgd2, {".*dense_1/.*": sgd1}), loss_scale_factor=5.0)
    assert sgd1.loss_scale_factor == sgd2.loss_scale_factor == 5.0
    lso = optimizers.LossScaleOptimizer(multi, initial_scale=10.0)
    assert multi.loss_scale_factor is None and sgd1.loss_scale_factor is None
    assert float(lso.scale_loss(2.0)) == 20.0
    lso.build([w1, w2])
    grads = [np.full((1, 2), 10.0, "float32")] * 2
    new, _ = lso.stateless_apply([v.value for v in lso.variables], grads, [w1.value, w2.value])
    _close([[[1.9, 1.9]]] * 2, new)
    lso.apply(grads, [w1, w2])  # eagerly, and an overflow skips the step
    lso.apply([np.full((1, 2), np.inf, "float32")] * 2, [w1, w2])
    _close([[[1.9, 1.9]]] * 2, [w1.numpy(), w2.numpy()])
    assert int(multi.iterations) == int(sgd1.iterations) == int(sgd2.iterations) == 1


def test_unscaling_stateless_apply_and_missing_gradients():
    w1 = kerax.Variable([[2.0, 2.0]], name="kernel")
    w1._path = "dense_1/kernel"
    w2 = kerax.Variable([[3.0, 3.0]], name="kernel")
    w2._path = "dense_2/kernel"
    sgd1 = optimizers.SGD(0.1, loss_scale_factor=2.0)
    sgd2 = optimizers.SGD(1.0)
    multi = optimizers.MultiOptimizer(optimizers.OptimizerMap(sgd2, {"dense_1/.*": sgd1}),
                                      loss_scale_factor=5.0)
    assert float(multi.scale_loss(2.0)) == 10.0
    multi.build([w1, w2])
    grads = [np.full((1, 2), 10.0, "float32")] * 2
    new, new_opt = multi.stateless_apply([v.value for v in multi.variables], grads,
                                         [w1.value, w2.value])
    _close([[[1.8, 1.8]], [[1.0, 1.0]]], new)  # grads / 5, then each SGD's rate
    assert [int(v) for v in new_opt[:1]] == [1] and len(new_opt) == len(multi.variables)
    assert int(multi.iterations) == 0  # stateless: nothing assigned
    with pytest.warns(UserWarning, match="dense_2/kernel"):
        multi.apply([grads[0], None], [w1, w2])  # SGD 2 has nothing to do this step
    _close([[[1.8, 1.8]], [[3.0, 3.0]]], [w1.numpy(), w2.numpy()])
    assert (int(multi.iterations), int(sgd1.iterations), int(sgd2.iterations)) == (1, 1, 0)


def test_bad_input_raises_clear_errors():
    adam, sgd = optimizers.Adam(), optimizers.SGD()
    multi = optimizers.MultiOptimizer(optimizers.OptimizerMap(sgd))
    with pytest.raises(AttributeError, match="sub-optimizers"):
        multi.learning_rate
    with pytest.raises(AttributeError, match="sub-optimizers"):
        multi.learning_rate = 0.1
    with pytest.raises(ValueError, match="inner optimizers"):
        multi.exclude_from_weight_decay(var_names=["bias"])
    with pytest.raises(TypeError, match="default_optimizer"):
        optimizers.OptimizerMap("adam")
    with pytest.raises(TypeError, match="optimizer_map"):
        optimizers.OptimizerMap(adam, [("a", sgd)])
    omap = optimizers.OptimizerMap(adam)
    omap[".*kernel"] = sgd
    with pytest.raises(ValueError, match="already exists"):
        omap[".*kernel"] = sgd
    with pytest.raises(ValueError, match="cannot be LossScaleOptimizer"):
        omap["a"] = optimizers.LossScaleOptimizer(optimizers.SGD())
    with pytest.raises(ValueError, match="cannot be MultiOptimizer"):
        omap["b"] = optimizers.MultiOptimizer(optimizers.OptimizerMap(optimizers.SGD()))
    omap["dense/.*"] = optimizers.RMSprop()
    with pytest.raises(ValueError, match="Multiple optimizers assigned to variable dense/kernel"):
        omap["dense/kernel"]
    with pytest.raises(TypeError, match="OptimizerMap or a callable"):
        optimizers.MultiOptimizer(sgd)
    var = kerax.Variable(np.ones(2, "float32"), name="w")
    with pytest.raises(ValueError, match="LossScaleOptimizer cannot be used inside"):
        optimizers.MultiOptimizer(lambda v: optimizers.LossScaleOptimizer(sgd)).build([var])
    with pytest.raises(ValueError, match="is not an Optimizer"):
        optimizers.MultiOptimizer(lambda v: "sgd").build([var])


def test_docstring_examples_run():
    result = doctest.testmod(multi_optimizer, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
