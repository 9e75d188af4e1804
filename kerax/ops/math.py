"""Math ops: Keras 3's `keras.ops.math` names over jax.lax / jax.scipy."""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from kerax.ops.core import convert_to_tensor as _t
from kerax.ops.core import float_tensor as _f
from kerax.ops.windows import window_values


def erf(x):
    return jax.scipy.special.erf(_f(x))


def erfc(x):
    return jax.scipy.special.erfc(_f(x))


def erfinv(x):
    return jax.scipy.special.erfinv(_f(x))


def rsqrt(x):
    return jax.lax.rsqrt(_f(x))


def logsumexp(x, axis=None, keepdims=False):
    if isinstance(axis, list):
        axis = tuple(axis)
    return jax.scipy.special.logsumexp(_f(x), axis=axis, keepdims=keepdims)


def logdet(x):
    return jnp.linalg.slogdet(_f(x))[1]


def top_k(x, k, sorted=True):
    """The `k` largest values along the last axis and their int32 indices."""
    x = _t(x)
    k = int(k)
    if k > x.shape[-1]:
        raise ValueError(f"top_k: k={k} is larger than the last axis ({x.shape[-1]}).")
    values, indices = jax.lax.top_k(x, k)
    return values, indices.astype("int32")


def in_top_k(targets, predictions, k):
    """Whether each target is among the `k` largest predictions (ties with the
    k-th value count as in)."""
    targets, predictions = _t(targets), _t(predictions)
    targets = targets.astype("int32")
    target_vals = jnp.take_along_axis(predictions, targets[:, None], axis=-1)
    # Rank = how many predictions are strictly larger than the target's.
    rank = jnp.sum(predictions > target_vals, axis=-1)
    finite = jnp.isfinite(target_vals[:, 0])
    return jnp.logical_and(rank < k, finite)


def _segment(jfn, data, segment_ids, num_segments, sorted):
    data, segment_ids = _t(data), _t(segment_ids)
    if num_segments is None:
        num_segments = int(jnp.max(segment_ids)) + 1
    return jfn(data, segment_ids.astype("int32"), num_segments=int(num_segments),
               indices_are_sorted=sorted)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_sum, data, segment_ids, num_segments, sorted)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_max, data, segment_ids, num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_min, data, segment_ids, num_segments, sorted)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_prod, data, segment_ids, num_segments, sorted)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of `sequence_length` along the last axis, every `sequence_stride`."""
    x = _t(x)
    n = x.shape[-1]
    num = 1 + (n - sequence_length) // sequence_stride
    idx = (jnp.arange(num)[:, None] * sequence_stride + jnp.arange(sequence_length)[None, :])
    return x[..., idx]


def _complex_pair(x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError("expected a tuple (real, imag) of two tensors.")
    real, imag = _f(x[0]), _f(x[1])
    if real.shape != imag.shape:
        raise ValueError(f"real and imag parts must have the same shape, got "
                         f"{real.shape} and {imag.shape}.")
    return real + 1j * imag


def fft(x):
    c = jnp.fft.fft(_complex_pair(x))
    return jnp.real(c), jnp.imag(c)


def fft2(x):
    c = jnp.fft.fft2(_complex_pair(x))
    return jnp.real(c), jnp.imag(c)


def ifft2(x):
    c = jnp.fft.ifft2(_complex_pair(x))
    return jnp.real(c), jnp.imag(c)


def rfft(x, fft_length=None):
    c = jnp.fft.rfft(_f(x), n=fft_length)
    return jnp.real(c), jnp.imag(c)


def irfft(x, fft_length=None):
    return jnp.fft.irfft(_complex_pair(x), n=fft_length)


def view_as_complex(x):
    x = _f(x)
    if x.shape[-1] != 2:
        raise ValueError(f"view_as_complex: the last axis must have size 2, got {x.shape}.")
    return x[..., 0] + 1j * x[..., 1]


def view_as_real(x):
    x = _t(x)
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)


def _stft_window(window, sequence_length, fft_length, dtype, who):
    """The analysis window zero-padded (centred) to `fft_length`; all ones
    of `fft_length` when `window` is None (as Keras 3)."""
    if window is None:
        return jnp.ones((fft_length,), dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f"{who}: a `window` given by name must be 'hann' or 'hamming', "
                             f"got {window!r} (or give the values, or None).")
        values = jnp.asarray(window_values(window, sequence_length, periodic=True), dtype)
    else:
        values = _t(window).astype(dtype)
        if values.shape != (sequence_length,):
            raise ValueError(f"{who}: `window` must have shape ({sequence_length},) "
                             f"(sequence_length), got {values.shape}.")
    left = (fft_length - sequence_length) // 2
    return jnp.pad(values, (left, fft_length - sequence_length - left))


def _check_stft_sizes(who, sequence_length, sequence_stride, fft_length):
    for name, v in (("sequence_length", sequence_length),
                    ("sequence_stride", sequence_stride), ("fft_length", fft_length)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{who}: `{name}` must be a positive int, got {v!r}.")
    if fft_length < sequence_length:
        raise ValueError(f"{who}: `fft_length` must be >= `sequence_length`, got "
                         f"sequence_length={sequence_length}, fft_length={fft_length}.")


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform of real signals along the last axis.

    Frames of `sequence_length` samples every `sequence_stride`, each
    multiplied by `window` ("hann", "hamming", values of `sequence_length`, or
    None) centred in `fft_length`, then `rfft`'d. `center=True` reflect-pads the
    signal by `fft_length // 2` on both sides first. Returns `(real, imag)`,
    each `(..., num_frames, fft_length // 2 + 1)`.

    >>> import numpy as np
    >>> real, imag = stft(np.zeros((2, 16), "float32"), 8, 4, 8)
    >>> real.shape
    (2, 5, 5)
    """
    x = _t(x)
    if x.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"stft: `x` must be float32 or float64, got {x.dtype}.")
    _check_stft_sizes("stft", sequence_length, sequence_stride, fft_length)
    win = _stft_window(window, sequence_length, fft_length, x.dtype, "stft")
    padded = x.shape[-1] + (2 * (fft_length // 2) if center else 0)
    if padded < fft_length:
        raise ValueError(f"stft: the signal ({padded} samples"
                         f"{' after padding' if center else ''}) is shorter than "
                         f"`fft_length` ({fft_length}).")
    return _stft(x, win, sequence_stride, fft_length, bool(center))


def _stft_output_shapes(x, sequence_length, sequence_stride, fft_length, window="hann",
                        center=True):
    """stft's output shapes for an input with possibly unknown (None) sizes."""
    *lead, samples = x.shape
    frames = None if samples is None else (
        samples + (2 * (fft_length // 2) if center else 0) - fft_length) // sequence_stride + 1
    shape = tuple(lead) + (frames, fft_length // 2 + 1)
    return [shape, shape]


stft.output_shapes = _stft_output_shapes


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _stft(x, win, stride, fft_length, center):
    if center:
        half = fft_length // 2
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="reflect")
    spectrum = jnp.fft.rfft(extract_sequences(x, fft_length, stride) * win, n=fft_length)
    return jnp.real(spectrum), jnp.imag(spectrum)


def _overlap_add(frames, stride):
    """Sum frames (..., F, L) placed every `stride` samples: (..., L + stride * (F - 1))."""
    num, length = frames.shape[-2:]
    index = jnp.arange(num)[:, None] * stride + jnp.arange(length)[None, :]
    out = jnp.zeros(frames.shape[:-2] + (length + stride * (num - 1),), frames.dtype)
    return out.at[..., index].add(frames)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """Inverse of `stft`: `x = (real, imag)` of shape (..., num_frames,
    fft_length // 2 + 1) back to signals (..., samples) by windowed
    overlap-add (divided by the summed squared window). `length` cuts the
    result to that many samples; `center=True` drops the `fft_length // 2`
    samples `stft` padded on each side.

    >>> import numpy as np
    >>> signal = np.random.default_rng(0).normal(size=(32,)).astype("float32")
    >>> back = istft(stft(signal, 8, 4, 8), 8, 4, 8, length=32)
    >>> bool(np.allclose(back, signal, atol=1e-5))
    True
    """
    spectrum = _complex_pair(x)
    dtype = jnp.real(spectrum).dtype
    if spectrum.ndim < 2:
        raise ValueError(f"istft: `x` must have at least 2 dimensions (frames, bins), got "
                         f"shape {spectrum.shape}.")
    _check_stft_sizes("istft", sequence_length, sequence_stride, fft_length)
    win = _stft_window(window, sequence_length, fft_length, dtype, "istft")
    start = fft_length // 2 if center else 0
    return _istft(spectrum, win, sequence_stride, fft_length, window is None, start,
                  None if length is None else int(length), bool(center))


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6, 7))
def _istft(spectrum, win, stride, fft_length, unwindowed, start, length, center):
    frames = jnp.fft.irfft(spectrum, n=fft_length).astype(win.dtype)
    signal = _overlap_add(frames * win, stride)
    norm = _overlap_add(jnp.broadcast_to(win * win, frames.shape[-2:]), stride)
    signal = signal / jnp.where(norm > 1e-10, norm, 1.0)
    if unwindowed:  # Keras 3's scaling of the inverse without a window
        signal = signal * (fft_length / stride)
    if length is not None:
        end = start + length
    else:
        end = signal.shape[-1] - (fft_length // 2 if center else 0)
    return signal[..., start:end]


def cdist(x, y):
    x, y = _f(x), _f(y)
    return jnp.sqrt(jnp.maximum(jnp.sum(jnp.square(x[..., :, None, :] - y[..., None, :, :]),
                                        axis=-1), 0.0))


def qr(x, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}.")
    return jnp.linalg.qr(_f(x), mode=mode)


__all__ = sorted(n for n, v in list(globals().items())
                 if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == __name__)
