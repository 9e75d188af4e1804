"""MelSpectrogram, STFTSpectrogram and initializers.STFT against Keras 3:
outputs, gradients, weights, configs, symbolic shapes and `.keras` files both ways."""
import json
import warnings

import jax
import numpy as np
import pytest

import kerax


@pytest.fixture(scope="module")
def audio():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 64, 2)).astype("float32"), rng.normal(size=(2, 300)).astype(
        "float32")


def _angle_diff(a, b):
    return np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b))))


STFT_CASES = [
    dict(mode="log", frame_length=16, frame_step=6, fft_length=32, padding="same"),
    dict(mode="stft", frame_length=16, fft_length=32, data_format="channels_first",
         expand_dims=True),
    dict(mode="psd", frame_length=12, frame_step=5, window="hamming", periodic=True,
         scaling="spectrum", expand_dims=True),
    dict(mode="angle", frame_length=16, frame_step=8, scaling=None),
]


@pytest.mark.parametrize("kwargs", STFT_CASES)
def test_stft_spectrogram_matches_keras(keras, audio, kwargs):
    x = audio[0] if kwargs.get("data_format") != "channels_first" else np.swapaxes(
        audio[0], 1, 2)
    k_layer = keras.layers.STFTSpectrogram(name="spec", **kwargs)
    expected = k_layer(x)
    layer = kerax.layers.STFTSpectrogram(name="spec", **kwargs)
    got = layer(x)
    assert got.shape == expected.shape
    if kwargs["mode"] == "angle":  # +-pi where the imaginary part is ~0 (rounding)
        np.testing.assert_allclose(_angle_diff(got, expected), 0.0, atol=2e-4)
    else:
        np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)
    assert [w.name for w in layer.weights] == [w.name for w in k_layer.weights]
    assert [w.trainable for w in layer.weights] == [w.trainable for w in k_layer.weights]
    assert layer.get_config() == k_layer.get_config()
    symbolic = layer(kerax.Input(x.shape[1:]))
    assert tuple(symbolic.shape) == tuple(k_layer.compute_output_shape((None,) + x.shape[1:]))


def test_stft_spectrogram_gradients_match_keras(keras, audio):
    x = audio[0]
    kwargs = dict(mode="magnitude", frame_length=16, frame_step=8, fft_length=16)
    k_layer = keras.layers.STFTSpectrogram(**kwargs)
    k_layer(x)
    layer = kerax.layers.STFTSpectrogram(**kwargs)
    layer(x)
    weights = [np.asarray(w) for w in k_layer.get_weights()]
    weights = [w + 0.01 * np.random.default_rng(1).normal(size=w.shape).astype("float32")
               for w in weights]

    def loss(lib_layer, ws, inputs):
        out, _ = lib_layer.stateless_call(ws, [], inputs)
        return (out ** 2).sum()

    expected = jax.grad(lambda w, i: loss(k_layer, w, i), argnums=(0, 1))(weights, x)
    got = jax.grad(lambda w, i: loss(layer, w, i), argnums=(0, 1))(weights, x)
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=1e-3)


MEL_CASES = [
    dict(fft_length=64, sequence_stride=16, num_mel_bins=8),
    dict(fft_length=64, sequence_stride=20, sequence_length=40, num_mel_bins=10,
         power_to_db=False, window="hamming", sampling_rate=8000, min_freq=50.0,
         max_freq=3000.0, mag_exp=1.0),
    dict(fft_length=32, sequence_stride=8, window=None, top_db=20.0, ref_power=2.0,
         num_mel_bins=6),
]


@pytest.mark.parametrize("kwargs", MEL_CASES)
def test_mel_spectrogram_matches_keras(keras, audio, kwargs):
    signal = audio[1]
    k_layer = keras.layers.MelSpectrogram(name="mel", **kwargs)
    layer = kerax.layers.MelSpectrogram(name="mel", **kwargs)
    np.testing.assert_allclose(layer(signal), k_layer(signal), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer(signal[0]), k_layer(signal[0]), rtol=1e-4, atol=1e-4)
    assert layer.get_config() == k_layer.get_config()
    assert layer.weights == []


def test_audio_layer_configs_load_in_the_other_library(keras):
    for name, kwargs in (("MelSpectrogram", MEL_CASES[1]), ("STFTSpectrogram", STFT_CASES[2])):
        layer = getattr(kerax.layers, name)(**kwargs)
        config = json.loads(json.dumps(kerax.layers.serialize(layer)))
        k_layer = keras.layers.deserialize(config)
        assert k_layer.get_config() == layer.get_config()
        back = kerax.layers.deserialize(json.loads(json.dumps(keras.layers.serialize(k_layer))))
        assert type(back) is type(layer) and back.get_config() == layer.get_config()


def test_stft_initializer_matches_keras(keras):
    for side in ("real", "imag"):
        for window, scaling, periodic in (("hann", "density", False),
                                          ("hamming", "spectrum", True),
                                          (None, None, False),
                                          (np.arange(8.0), "density", False)):
            np.testing.assert_allclose(
                kerax.initializers.STFT(side, window, scaling, periodic)((8, 1, 5)),
                keras.initializers.STFT(side, window, scaling, periodic)((8, 1, 5)),
                rtol=1e-5, atol=1e-5)
    init = kerax.initializers.STFTInitializer("imag", "blackman", periodic=True)
    assert kerax.initializers.serialize(init) == keras.initializers.serialize(
        keras.initializers.STFT("imag", "blackman", periodic=True))
    assert isinstance(kerax.initializers.get("stft"), kerax.initializers.STFT)
    assert kerax.initializers.stft is kerax.initializers.STFT


def test_audio_models_saved_by_one_load_in_the_other(keras, audio, tmp_path):
    x, signal = audio
    inputs = kerax.Input((64, 2))
    features = kerax.layers.STFTSpectrogram(mode="log", frame_length=16, frame_step=8)(inputs)
    model = kerax.Model(inputs, kerax.layers.Dense(3)(features))
    path = str(tmp_path / "kerax.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(x), model(x), atol=1e-4)

    k_inputs = keras.Input((300,))
    mel = keras.layers.MelSpectrogram(fft_length=64, sequence_stride=32, num_mel_bins=8)
    k_model = keras.Model(k_inputs, keras.layers.Flatten()(mel(k_inputs)))
    path = str(tmp_path / "keras.keras")
    k_model.save(path)
    np.testing.assert_allclose(kerax.saving.load_model(path)(signal), k_model(signal),
                               rtol=1e-4, atol=1e-4)


def test_audio_layer_errors():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        kerax.layers.STFTSpectrogram(mode="power")
    with pytest.raises(ValueError, match="`padding`"):
        kerax.layers.STFTSpectrogram(padding="causal")
    with pytest.raises(ValueError, match="frame_step"):
        kerax.layers.STFTSpectrogram(frame_length=16, frame_step=32)
    with pytest.raises(ValueError, match="unknown window"):
        kerax.layers.STFTSpectrogram(window="no_such_window")
    with pytest.raises(ValueError, match="rank 3"):
        kerax.layers.STFTSpectrogram(frame_length=8)(np.zeros((2, 32), "float32"))
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        kerax.layers.STFTSpectrogram(frame_length=8)(np.zeros((2, 32, 1), "int32"))
    with pytest.raises(ValueError, match="sequence_length"):
        kerax.layers.MelSpectrogram(fft_length=32, sequence_length=64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kerax.layers.STFTSpectrogram(frame_length=8, fft_length=12)
    assert any("power of two" in str(w.message) for w in caught)


def test_unknown_signal_lengths_stay_unknown(keras):
    """A signal length of None gives None frames (not sizes probed from tiny
    signals), the other axes as Keras."""
    for kwargs in (STFT_CASES[0], STFT_CASES[1]):
        shape = (2, None) if kwargs.get("data_format") == "channels_first" else (None, 2)
        got = kerax.layers.STFTSpectrogram(**kwargs)(kerax.Input(shape)).shape
        assert tuple(got) == tuple(
            keras.layers.STFTSpectrogram(**kwargs).compute_output_shape((None,) + shape))
    mel = kerax.layers.MelSpectrogram(**MEL_CASES[0])
    assert tuple(mel(kerax.Input((None,))).shape) == (None, 8, None)
    assert tuple(mel(kerax.Input((300,))).shape) == tuple(
        keras.layers.MelSpectrogram(**MEL_CASES[0]).compute_output_shape((None, 300)))
