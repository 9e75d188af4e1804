"""Shared check for the keras.io example programs: kerax's final loss is finite
and within `factor` of Keras 3's (the two libraries draw different initial
weights from the same seed, so the losses agree in order of magnitude, not in
digits)."""
import math


def check_loss(kerax_loss, keras_loss, factor=3.0):
    kerax_loss, keras_loss = float(kerax_loss), float(keras_loss)
    assert math.isfinite(kerax_loss), kerax_loss
    assert math.isfinite(keras_loss), keras_loss
    lo, hi = sorted((abs(kerax_loss), abs(keras_loss)))
    assert hi <= factor * max(lo, 1e-3), (kerax_loss, keras_loss)
