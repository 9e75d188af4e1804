"""Math ops: Keras 3's `keras.ops.math` names over jax.lax / jax.scipy."""
import jax
import jax.numpy as jnp

from kerax.ops.core import convert_to_tensor as _t
from kerax.ops.core import float_tensor as _f


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
