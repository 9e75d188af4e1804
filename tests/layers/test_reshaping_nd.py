"""UpSampling, ZeroPadding and Cropping against Keras 3, and bad input."""
import numpy as np
import pytest

from kerax import layers as L
from tests.layers.keras_compare import compare_layer

CF = {"data_format": "channels_first"}
CASES = [
    ("UpSampling1D", dict(size=3), (2, 4, 3)),
    ("UpSampling2D", dict(size=(2, 3), **CF), (2, 3, 4, 5)),
    ("UpSampling2D", dict(size=2, interpolation="bilinear"), (2, 4, 5, 3)),
    ("UpSampling3D", dict(size=(1, 2, 3)), (1, 2, 3, 4, 2)),
    ("ZeroPadding1D", dict(padding=(1, 2)), (2, 4, 3)),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 3)), **CF), (2, 3, 4, 5)),
    ("ZeroPadding2D", dict(padding=2), (2, 4, 5, 3)),
    ("ZeroPadding3D", dict(padding=(1, 0, 2)), (1, 2, 3, 4, 2)),
    ("Cropping1D", dict(cropping=(1, 2)), (2, 5, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=1, **CF), (2, 3, 4, 5)),
    ("Cropping3D", dict(cropping=(1, 0, 1), **CF), (1, 2, 3, 3, 4)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_keras(keras, rng, name, kwargs, shape):
    compare_layer(keras, name, kwargs, shape, rng)


def test_bad_input():
    with pytest.raises(ValueError, match=r"UpSampling2D.*rank 4.*\(2, 5, 3\)"):
        L.UpSampling2D()(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match="padding"):
        L.ZeroPadding2D(padding=(1, 2, 3))
    with pytest.raises(ValueError, match="non-negative"):
        L.ZeroPadding1D(padding=-1)
    with pytest.raises(ValueError, match="leaves nothing"):
        L.Cropping2D(cropping=((2, 2), (0, 0)))(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="interpolation"):
        L.UpSampling2D(interpolation="area")
