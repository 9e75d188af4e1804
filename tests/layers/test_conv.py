"""Convolution layers against Keras 3 (same weights), plus bad input, and seed
001's subclassed CNN trained with fit."""
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import compare_layer

CF = {"data_format": "channels_first"}

CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2,
                    activation="relu"), (2, 9, 3)),
    ("Conv1D", dict(filters=4, kernel_size=2, strides=2, padding="same", **CF), (2, 3, 9)),
    ("Conv2D", dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 7, 8, 3)),
    ("Conv2D", dict(filters=4, kernel_size=(3, 2), groups=2, use_bias=False, **CF),
     (2, 4, 7, 8)),
    ("Conv3D", dict(filters=2, kernel_size=2, strides=(1, 2, 1)), (1, 4, 5, 4, 2)),
    ("Conv3D", dict(filters=2, kernel_size=2, padding="same", **CF), (1, 2, 3, 4, 3)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2), (2, 5, 4, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=4, strides=2, padding="same", **CF),
     (2, 2, 5, 4)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same",
                             output_padding=1), (2, 5, 4, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
     (1, 5, 4, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=(1, 2, 2)), (1, 3, 3, 3, 2)),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2, **CF), (2, 3, 7)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, strides=2, padding="same"),
     (2, 7, 7, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, dilation_rate=2), (2, 9, 3)),
    ("SeparableConv2D", dict(filters=2, kernel_size=2, strides=2, depth_multiplier=2,
                             activation="tanh", **CF), (1, 3, 6, 6)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_keras(keras, rng, name, kwargs, shape):
    compare_layer(keras, name, kwargs, shape, rng)


def test_regularizers_constraints_and_grad(keras, rng):
    layer = L.Conv2D(3, 2, kernel_regularizer="l2", bias_regularizer=kerax.regularizers.L1(0.1),
                     kernel_constraint="non_neg")
    x = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    layer(x)
    k = np.asarray(layer.kernel.numpy())
    assert np.isclose(float(layer.losses[0]), 0.01 * np.sum(k ** 2), rtol=1e-5)
    assert layer.kernel.constraint is not None
    k_layer = keras.layers.Conv2D(3, 2, kernel_regularizer="l2", bias_regularizer="l1",
                                  kernel_constraint="non_neg")
    assert set(layer.get_config()) == set(k_layer.get_config())

    @kerax.function
    def loss():
        return kerax.ops.sum(layer(x) ** 2)
    value, grads = kerax.value_and_grad(loss, layer.trainable_variables)()
    assert [g.shape for g in grads] == [v.shape for v in layer.trainable_variables]


def test_bad_input():
    with pytest.raises(ValueError, match=r"Conv2D.*rank 4.*\(1, 8, 3\)"):
        L.Conv2D(2, 3)(np.zeros((1, 8, 3), "float32"))
    with pytest.raises(ValueError, match="filters"):
        L.Conv2D(-2, 3)
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="larger than the input"):
        L.Conv2D(2, 5)(np.zeros((1, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match="groups"):
        L.Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match="dilation_rate"):
        L.Conv2D(3, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv2D(3, (3, 3, 3))
    with pytest.raises(ValueError, match="data_format"):
        L.Conv2D(3, 3, data_format="NHWC")
    layer = L.Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match="3 channels"):
        layer(np.zeros((1, 5, 5, 4), "float32"))


def test_symbolic_unknown_spatial_dims():
    # (Keras' compute_output_shape gives the same; unknown sizes stay unknown.)
    x = kerax.Input(shape=(None, None, 3))
    assert L.Conv2D(4, 5)(x).shape == (None, None, None, 4)
    assert L.Conv2DTranspose(4, 3, strides=2)(x).shape == (None, None, None, 4)
    assert L.Conv1D(4, 3, padding="causal")(kerax.Input(shape=(None, 2))).shape == \
        (None, None, 4)


class MyModel(kerax.Model):
    """Seed 001's subclassed CNN."""

    def __init__(self):
        super().__init__()
        self.conv1 = L.Conv2D(32, 3, activation="relu")
        self.flatten = L.Flatten()
        self.d1 = L.Dense(128, activation="relu")
        self.d2 = L.Dense(10, activation="softmax")

    def call(self, x):
        return self.d2(self.d1(self.flatten(self.conv1(x))))


def test_subclassed_cnn_trains_with_fit(rng):
    kerax.utils.set_random_seed(1)
    x = rng.normal(size=(20, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=(20,))
    model = MyModel()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert model.count_params() == 26 * 26 * 32 * 128 + 128 + 320 + 1290
