"""SwapEMAWeights against Keras 3 on the same model, data and optimizer
(SGD with use_ema=True): the weights other callbacks see, the final weights,
and evaluate/predict with the EMA weights."""
import numpy as np
import pytest

import kerax

_X = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
_Y = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
_W = [np.arange(6, dtype="float32").reshape(3, 2) / 10, np.array([0.1, -0.2], "float32")]
_GRADS = [[np.full((3, 2), g, "float32"), np.array([g, -g], "float32")]
          for g in (0.5, -1.0, 2.0)]


def _model(lib):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    model.set_weights(_W)
    model.compile(lib.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "mse")
    return model


def _fit_recording(lib, epochs=2, **kwargs):
    model = _model(lib)
    seen = []
    record = lib.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append([np.array(w) for w in model.get_weights()]))
    history = model.fit(_X, _Y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
                        callbacks=[lib.callbacks.SwapEMAWeights(**kwargs), record])
    return model, seen, history.history


def test_swap_on_epoch_matches_keras(keras):
    """Other callbacks see the EMA weights at each epoch's end; training goes
    on from the trained weights; the model ends with the EMA weights."""
    ours, ours_seen, ours_hist = _fit_recording(kerax, swap_on_epoch=True)
    theirs, theirs_seen, theirs_hist = _fit_recording(keras, swap_on_epoch=True)
    np.testing.assert_allclose(ours_hist["loss"], theirs_hist["loss"], rtol=1e-5)
    for a, b in zip(ours_seen + [ours.get_weights()], theirs_seen + [theirs.get_weights()]):
        for wa, wb in zip(a, b):
            np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def _stepped(lib):
    """The model after three optimizer steps with fixed gradients (no fit)."""
    model = _model(lib)
    for grads in _GRADS:
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return model


def test_evaluate_and_predict_use_the_ema_weights_like_keras(keras):
    ours, theirs = _stepped(kerax), _stepped(keras)
    trained = [np.array(w) for w in ours.get_weights()]
    for a, b in zip(trained, theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    ema = lambda lib: lib.callbacks.SwapEMAWeights()  # noqa: E731
    ours_loss = ours.evaluate(_X, _Y, verbose=0, callbacks=[ema(kerax)])
    theirs_loss = theirs.evaluate(_X, _Y, verbose=0, callbacks=[ema(keras)])
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-5)
    assert not np.isclose(ours_loss, ours.evaluate(_X, _Y, verbose=0), rtol=1e-4)
    for a, b in zip(ours.get_weights(), trained):  # swapped back after evaluate
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.predict(_X, verbose=0, callbacks=[ema(kerax)]),
                               theirs.predict(_X, verbose=0, callbacks=[ema(keras)]),
                               rtol=1e-5, atol=1e-6)
    # Keras 3.15 leaves the EMA weights in the model after predict (its
    # on_predict_end tests the wrong flag); kerax swaps them back.
    for a, b in zip(ours.get_weights(), trained):
        np.testing.assert_array_equal(a, b)


def test_validation_during_fit_uses_the_ema_weights_like_keras(keras):
    def run(lib):
        model = _model(lib)
        return model.fit(_X, _Y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                         validation_data=(_X, _Y),
                         callbacks=[lib.callbacks.SwapEMAWeights()]).history
    ours, theirs = run(kerax), run(keras)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours["val_loss"], theirs["val_loss"], rtol=1e-5)


def test_needs_an_ema_optimizer():
    model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(2)])
    model.compile(kerax.optimizers.SGD(0.1), "mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        model.evaluate(_X, _Y, verbose=0, callbacks=[kerax.callbacks.SwapEMAWeights()])
