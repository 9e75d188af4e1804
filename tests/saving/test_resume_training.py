"""A model saved mid-training and loaded continues exactly: same optimizer
state, same dropout RNG streams, bit-identical losses on CPU."""
import numpy as np

import kerax
from kerax import layers as L


def test_resume_from_file_is_bit_identical(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 1))).astype("float32")

    kerax.utils.set_random_seed(1)
    model = kerax.Sequential([kerax.Input((6,)), L.Dense(16, activation="relu"),
                              L.Dropout(0.3), L.BatchNormalization(), L.Dense(1)])
    model.compile(optimizer=kerax.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    model.save(tmp_path / "mid.keras")

    # the uninterrupted run: two more epochs (after re-seeding the global RNGs,
    # which drive fit's shuffling and are not part of a model)
    kerax.utils.set_random_seed(2)
    straight = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]

    resumed_model = kerax.models.load_model(tmp_path / "mid.keras")
    kerax.utils.set_random_seed(2)
    resumed = resumed_model.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]
    assert resumed == straight  # bit-identical
    for a, b in zip(model.get_weights(), resumed_model.get_weights()):
        np.testing.assert_array_equal(a, b)
