"""Window functions for the short-time Fourier transform (`ops.stft`,
`initializers.STFT`, the audio layers), as `scipy.signal.get_window` gives them.

>>> window_values("hann", 4, periodic=True).tolist()
[0.0, 0.5, 1.0, 0.5]
"""
import numpy as np

__all__ = ["window_values"]

# symmetric windows of length n, in closed form (NumPy's definitions equal SciPy's)
_SYMMETRIC = {
    "hann": np.hanning, "hanning": np.hanning, "hamming": np.hamming,
    "blackman": np.blackman, "bartlett": np.bartlett,
    "boxcar": np.ones, "rectangular": np.ones, "ones": np.ones,
}


def window_values(window, length, periodic=True, who="window"):
    """The `length` values of `window` as a float64 NumPy array.

    `window` is a name ("hann", "hamming", "blackman", "bartlett", "boxcar";
    any other `scipy.signal.get_window` name or (name, parameter) tuple is
    asked of SciPy) or the values
    themselves (array-like of `length`). `periodic=True` gives the window for
    spectral analysis (SciPy's `fftbins=True`: the symmetric window of
    `length + 1` without its last value)."""
    length = int(length)
    if isinstance(window, str) or (isinstance(window, tuple) and window
                                   and isinstance(window[0], str)):
        if isinstance(window, str) and window in _SYMMETRIC:
            n = length + 1 if periodic else length
            values = np.asarray(_SYMMETRIC[window](n), np.float64)
            return values[:length]
        try:
            import scipy.signal  # optional: windows beyond the common ones above
        except ImportError:  # pragma: no cover (scipy comes with jax)
            raise ValueError(f"{who}: window {window!r} needs SciPy; use one of "
                             f"{sorted(_SYMMETRIC)} or give the values.") from None
        try:
            return np.asarray(scipy.signal.get_window(window, length, fftbins=periodic),
                              np.float64)
        except ValueError as e:
            raise ValueError(f"{who}: unknown window {window!r} ({e}).") from None
    values = np.asarray(window, np.float64)
    if values.ndim != 1 or values.shape[0] != length:
        raise ValueError(f"{who}: the window must have shape ({length},), got "
                         f"{values.shape}.")
    return values
