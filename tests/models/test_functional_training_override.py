"""An explicit outer `training` overrides the value recorded on a functional
node, as in Keras 3 (whose files record training=True for random layers)."""
import numpy as np

import kerax


def test_outer_training_overrides_recorded_training(keras):
    x = np.ones((2, 4), "float32")
    for lib in (keras, kerax):
        inp = lib.Input((4,))
        model = lib.Model(inp, lib.layers.Dropout(0.5, seed=1)(inp, training=True))
        np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), x)
        np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)
        # with no outer value the recorded training=True holds
        assert not np.array_equal(np.asarray(model(x)), x)
