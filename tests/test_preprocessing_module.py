"""kerax.preprocessing: Keras 3's public `keras.preprocessing` names."""
import numpy as np
import pytest

import kerax


@pytest.mark.parametrize("shape,size,fmt", [((34, 50, 3), (20, 20), "channels_last"),
                                            ((2, 50, 34, 3), (10, 30), "channels_last"),
                                            ((2, 3, 40, 25), (16, 16), "channels_first")])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_smart_resize_matches_keras(keras, shape, size, fmt, interpolation):
    x = np.random.default_rng(0).random(shape).astype("float32")
    got = kerax.preprocessing.image.smart_resize(x, size, interpolation=interpolation,
                                                 data_format=fmt)
    ref = keras.preprocessing.image.smart_resize(x, size, interpolation=interpolation,
                                                 data_format=fmt)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_smart_resize_errors(keras):
    with pytest.raises(ValueError, match="incorrect rank"):
        kerax.preprocessing.image.smart_resize(np.ones((4, 4)), (2, 2))
    with pytest.raises(ValueError, match="2 integers"):
        kerax.preprocessing.image.smart_resize(np.ones((4, 4, 1)), (2, 2, 2))


def test_sequence_and_builders_are_the_utils_ones():
    assert kerax.preprocessing.sequence.pad_sequences is kerax.utils.pad_sequences
    for name in ("timeseries_dataset_from_array", "image_dataset_from_directory",
                 "text_dataset_from_directory"):
        assert getattr(kerax.preprocessing, name) is getattr(kerax.utils, name)
    np.testing.assert_array_equal(
        kerax.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3), [[0, 1, 2], [0, 0, 3]])
