"""fit with an optimizer's `use_ema=True` ends with the moving averages in
the model's weights (Keras 3 calls `finalize_variable_values` after fit)."""
import numpy as np

import kerax


def test_fit_with_ema_ends_with_the_averages_like_keras(keras):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    w0 = [rng.normal(size=(3, 1)).astype(np.float32), np.zeros((1,), np.float32)]

    def run(lib):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        model.set_weights(w0)
        model.compile(optimizer=lib.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9),
                      loss="mse")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    ours, theirs = run(kerax), run(keras)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and the averages differ from the raw trained weights
    raw = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(1)])
    raw.set_weights(w0)
    raw.compile(optimizer=kerax.optimizers.SGD(0.1), loss="mse")
    raw.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert not np.allclose(raw.get_weights()[0], ours[0], atol=1e-4)
