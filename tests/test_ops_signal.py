"""ops.stft / istft, fold / unfold, ctc_decode and rearrange against Keras 3
(its JAX backend) on the same inputs, plus closed forms where Keras 3.15 is
wrong (see the tests' docstrings)."""
import itertools

import jax
import numpy as np
import pytest

import kerax
from kerax import ops


@pytest.fixture(scope="module")
def signal():
    return np.random.default_rng(0).normal(size=(2, 3, 21)).astype("float32")


def test_stft_and_istft_match_keras(keras, signal):
    cases = [((8, 4, 8), "hann", True), ((6, 3, 8), None, False)]
    for sizes, window, center in cases:
        expected = keras.ops.stft(signal, *sizes, window=window, center=center)
        got = ops.stft(signal, *sizes, window=window, center=center)
        for e, g in zip(expected, got):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, atol=1e-5)
        length = 12 if center else None
        expected = keras.ops.istft(got, *sizes, length=length, window=window, center=center)
        back = ops.istft(got, *sizes, length=length, window=window, center=center)
        assert back.shape == expected.shape
        np.testing.assert_allclose(back, expected, atol=1e-4, rtol=1e-4)


def test_istft_inverts_stft_where_keras_drops_samples(signal):
    """With few frames for the window (fft_length > frames * stride) Keras 3.15
    on JAX returns one sample less (jax.scipy's overlap-add cuts it); kerax
    returns the whole signal, equal to the input (a closed form)."""
    x = signal[0, 0, :16]
    back = ops.istft(ops.stft(x, 9, 2, 9, window=None, center=False), 9, 2, 9,
                     window=None, center=False)
    assert back.shape == (15,)  # 9 + 2 * 3 samples covered by the 4 frames
    windowed = ops.istft(ops.stft(x, 8, 2, 8, center=True), 8, 2, 8, length=16)
    np.testing.assert_allclose(windowed, x, atol=1e-5)


def test_windows_are_scipys():
    import scipy.signal

    from kerax.ops.windows import window_values
    for name in ("hann", "hamming", "blackman", "bartlett", "boxcar", "kaiser"):
        for periodic in (True, False):
            window = ("kaiser", 4.0) if name == "kaiser" else name
            np.testing.assert_allclose(window_values(window, 7, periodic),
                                       scipy.signal.get_window(window, 7, fftbins=periodic),
                                       atol=1e-12)
    # stft's window is the periodic one, zero-padded to fft_length in the middle
    x = np.random.default_rng(7).normal(size=(12,)).astype("float32")
    frame = x[:8] * np.pad(scipy.signal.get_window("hamming", 6), (1, 1))
    np.testing.assert_allclose(ops.stft(x, 6, 3, 8, window="hamming", center=False)[0][0],
                               np.fft.rfft(frame).real, atol=1e-5)


def test_stft_errors_name_the_argument():
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.stft(np.arange(16), 8, 4, 8)
    with pytest.raises(ValueError, match="fft_length"):
        ops.stft(np.zeros(16, "float32"), 8, 4, 4)
    with pytest.raises(ValueError, match="'hann' or 'hamming'"):
        ops.stft(np.zeros(16, "float32"), 8, 4, 8, window="kaiser")
    with pytest.raises(ValueError, match=r"window.*\(8,\)"):
        ops.stft(np.zeros(16, "float32"), 8, 4, 8, window=np.ones(5))


def test_stft_runs_under_jit_with_a_traced_window(signal):
    fn = jax.jit(lambda x, w: ops.stft(x, 8, 4, 8, window=w)[0])
    np.testing.assert_allclose(fn(signal, np.hanning(9)[:8].astype("float32")),
                               ops.stft(signal, 8, 4, 8)[0], atol=1e-5)


GEOMETRIES = [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1,
                                        stride=(2, 1))]


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_unfold_and_fold_match_keras(keras, geometry):
    image = np.random.default_rng(1).normal(size=(2, 3, 7, 8)).astype("float32")
    columns = ops.unfold(image, **geometry)
    np.testing.assert_allclose(columns, keras.ops.unfold(image, **geometry), rtol=1e-6)
    np.testing.assert_allclose(ops.fold(columns, (7, 8), **geometry),
                               keras.ops.fold(columns, (7, 8), **geometry), atol=1e-5)


def test_fold_gives_the_requested_size_where_keras_cuts_it():
    """Blocks that do not reach the last column (width 8, kernel 3, stride 2):
    Keras 3.15 returns width 7; kerax returns output_size, the last column
    zero as nothing covers it (PyTorch's Fold, which Keras documents)."""
    image = np.random.default_rng(2).normal(size=(1, 2, 7, 8)).astype("float32")
    columns = ops.unfold(image, 3, stride=2)
    folded = np.asarray(ops.fold(columns, (7, 8), 3, stride=2))
    assert folded.shape == (1, 2, 7, 8)
    # each pixel summed once per block covering it: fold(unfold(x)) = x * count
    count = np.asarray(ops.fold(ops.unfold(np.ones_like(image), 3, stride=2), (7, 8), 3,
                                stride=2))
    np.testing.assert_allclose(folded, image * count, atol=1e-5)
    assert not count[..., -1].any() and count[..., :7].all()


def test_fold_and_unfold_errors():
    with pytest.raises(ValueError, match="unfold: `x` must be a 4D"):
        ops.unfold(np.zeros((3, 4, 4)), 2)
    with pytest.raises(ValueError, match="has 5 blocks"):
        ops.fold(np.zeros((1, 8, 5)), (4, 4), 2)
    with pytest.raises(ValueError, match="multiple of kH \\* kW"):
        ops.fold(np.zeros((1, 7, 9)), (4, 4), 2)


def test_ctc_decode_matches_keras(keras):
    """Greedy decoding against Keras. (Beam search matched Keras 3.15 exactly on
    random inputs too, but Keras' beam search takes ~15 s to compile, so the
    suite checks it against the closed form below instead.)"""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 7, 5)).astype("float32") * 2
    lengths = np.array([7, 5, 3], "int32")
    for mask_index, merge in ((0, True), (None, False)):
        expected = keras.ops.ctc_decode(logits, lengths, merge_repeated=merge,
                                        mask_index=mask_index)
        got = ops.ctc_decode(logits, lengths, merge_repeated=merge, mask_index=mask_index)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


def test_ctc_beam_search_scores_are_prefix_probabilities():
    """Closed form: with a beam wide enough to keep every prefix, a path's score
    is the log of the summed probabilities of all alignments that collapse to
    it; a shorter `sequence_lengths` reads only that many steps."""
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 3, 3)).astype("float32") * 2
    probs = np.asarray(jax.nn.softmax(logits, axis=-1))
    paths, scores = ops.ctc_decode(logits, [3, 2], strategy="beam_search", beam_width=16,
                                   top_paths=3)
    assert paths.shape == (3, 2, 3) and paths.dtype == np.int32 and scores.shape == (2, 3)
    for row, steps in ((0, 3), (1, 2)):
        totals = {}
        for alignment in itertools.product(range(3), repeat=steps):
            labels = tuple(k for i, k in enumerate(alignment)
                           if k != 0 and (i == 0 or alignment[i - 1] != k))
            p = np.prod([probs[row, t, k] for t, k in enumerate(alignment)])
            totals[labels] = totals.get(labels, 0.0) + p
        best = sorted(totals.items(), key=lambda kv: -kv[1])[:3]
        for k, (labels, p) in enumerate(best):
            assert [v for v in np.asarray(paths[k, row]).tolist() if v >= 0] == list(labels)
            np.testing.assert_allclose(scores[row, k], np.log(p), rtol=1e-5)


def test_ctc_decode_errors():
    with pytest.raises(ValueError, match="'greedy' or 'beam_search'"):
        ops.ctc_decode(np.zeros((1, 3, 3)), [3], strategy="beam")
    with pytest.raises(ValueError, match="top_paths"):
        ops.ctc_decode(np.zeros((1, 3, 3)), [3], strategy="beam_search", beam_width=2,
                       top_paths=3)
    with pytest.raises(ValueError, match="batch, steps, classes"):
        ops.ctc_decode(np.zeros((3, 3)), [3])


@pytest.mark.parametrize("pattern,lengths", [
    ("b h w c -> b c h w", {}), ("b h w c -> (b h) w c", {}), ("b h w c -> b (c h w)", {}),
    ("b (h1 h) (w1 w) c -> (b h1 w1) h w c", dict(h1=2, w1=2)),
    ("b (h h1) (w w1) c -> b h w (c h1 w1)", dict(h1=2, w1=4))])
def test_rearrange_matches_keras(keras, pattern, lengths):
    x = np.random.default_rng(5).normal(size=(2, 6, 8, 3)).astype("float32")
    np.testing.assert_array_equal(ops.rearrange(x, pattern, **lengths),
                                  keras.ops.rearrange(x, pattern, **lengths))


def test_rearrange_ellipsis_and_errors():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(ops.rearrange(x, "b ... c -> c b ..."), np.moveaxis(x, 3, 0))
    np.testing.assert_array_equal(ops.rearrange(x, "b ... c -> b (... c)"), x.reshape(2, 60))
    with pytest.raises(ValueError, match="only on one side: \\['c'\\]"):
        ops.rearrange(x, "b h w c -> b h w")
    with pytest.raises(ValueError, match="cannot infer both"):
        ops.rearrange(x, "b (h h1) w c -> b h w c h1")
    with pytest.raises(ValueError, match="has 3 axes"):
        ops.rearrange(x, "b h w -> b w h")


def test_new_ops_in_a_saved_functional_model(tmp_path, keras):
    """A model using rearrange and stft, saved by kerax, loads in Keras with the same
    outputs."""
    inputs = kerax.Input(batch_shape=(2, 16))  # Keras' Rearrange needs a known batch
    real, imag = ops.stft(inputs, 8, 4, 8)
    out = ops.rearrange(ops.stack([real, imag], axis=-1), "b t f c -> b (t f c)")
    model = kerax.Model(inputs, out)
    x = np.random.default_rng(6).normal(size=(2, 16)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(x), model(x), atol=1e-5)


def test_docstring_examples_run():
    import doctest
    import importlib

    from kerax import initializers
    from kerax.layers import audio
    from kerax.ops import einops, math, nn, windows
    ctc_module = importlib.import_module("kerax.losses.ctc")
    objects = [(math, math.stft), (math, math.istft), (nn, nn.unfold), (nn, nn.fold),
               (nn, nn.ctc_decode), (einops, einops.rearrange), (windows, windows.window_values),
               (initializers, initializers.STFT), (audio, audio.MelSpectrogram),
               (audio, audio.STFTSpectrogram), (audio, audio.linear_to_mel_weight_matrix),
               (ctc_module, ctc_module.ctc)]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for module, obj in objects:
        for test in doctest.DocTestFinder(recurse=False).find(obj, globs=vars(module)):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted >= 25


def test_stft_of_an_unknown_length_has_unknown_frames(keras):
    for lib in (kerax, keras):
        assert tuple(lib.ops.stft(lib.KerasTensor((None, None)), 8, 4, 8)[0].shape) == (
            None, None, 5)
    got = ops.stft(kerax.KerasTensor((3, 2, 21)), 6, 4, 8, center=False)
    expected = keras.ops.stft(keras.KerasTensor((3, 2, 21)), 6, 4, 8, center=False)
    assert [tuple(t.shape) for t in got] == [tuple(t.shape) for t in expected]
