"""fit/evaluate build the model, compiled loss/metrics and optimizer slots
before tracing, so each step's Python body runs once (no retrace for variables
created inside the trace)."""
import numpy as np

import kerax
from kerax import layers


class Counting(kerax.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)
        self.calls = {"train": 0, "test": 0}

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        self.calls["train"] += 1
        return super().train_step(data)

    def test_step(self, data):
        self.calls["test"] += 1
        return super().test_step(data)


def test_each_step_is_traced_once():
    x = np.ones((32, 3), "float32")
    y = np.ones((32, 1), "float32")
    model = Counting()
    model.compile("adam", "mse", metrics=["mae", "accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert model.calls["train"] == 1
    model.evaluate(x, y, batch_size=16, verbose=0)
    assert model.calls["test"] == 1
    fresh = Counting()
    fresh.compile("adam", "mse", metrics=["mae"])
    fresh.evaluate(x, y, batch_size=16, verbose=0)  # unbuilt model
    assert fresh.calls["test"] == 1
    assert not fresh.optimizer.built  # evaluate does not make optimizer slots
