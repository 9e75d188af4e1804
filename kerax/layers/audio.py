"""Audio feature layers: MelSpectrogram and STFTSpectrogram (Keras 3's
`keras.layers` names, arguments, weights and configs)."""
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from kerax import config as _config
from kerax import initializers, ops
from kerax.layers.convolutional import ShapeSpecMixin, conv_output_length
from kerax.layers.layer import Layer
from kerax.registry import register_builtin

__all__ = ["MelSpectrogram", "STFTSpectrogram"]

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _window_config(window):
    if window is None or isinstance(window, (str, tuple)):
        return window
    return np.asarray(window).tolist()


def _hertz_to_mel(hertz):
    """HTK's mel scale: 1127 * ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hertz, np.float64) / 700.0)


def linear_to_mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate,
                                lower_edge_hertz, upper_edge_hertz):
    """(num_spectrogram_bins, num_mel_bins) triangular filters, evenly spaced on the
    mel scale between the edges, over linear bins from 0 to the Nyquist
    frequency (the 0 Hz bin gets no weight), as TensorFlow's and Keras' matrix.

    >>> linear_to_mel_weight_matrix(4, 9, 8000, 100.0, 4000.0).shape
    (9, 4)
    """
    linear = np.linspace(0.0, sampling_rate / 2.0, num_spectrogram_bins)[1:]
    bins_mel = _hertz_to_mel(linear)[:, None]
    edges = np.linspace(_hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz),
                        num_mel_bins + 2)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((1, 0), (0, 0)))


@register_builtin("keras.layers")
class MelSpectrogram(ShapeSpecMixin, Layer):
    """Mel spectrograms of audio signals `(batch, samples)` (or `(samples,)`):
    `|stft|^mag_exp` (`ops.stft` with `center=True`), mapped to `num_mel_bins`
    mel bands between `min_freq` and `max_freq` (default `sampling_rate / 2`),
    then, with `power_to_db`, in decibels relative to `ref_power` (floored at
    `min_power`, clipped `top_db` below the largest value of the batch).
    Output `(batch, num_mel_bins, frames)`; no weights.

    >>> import numpy as np
    >>> layer = MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)
    >>> layer(np.zeros((2, 128), "float32")).shape
    (2, 8, 9)
    """

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None,
                 window="hann", sampling_rate=16000, num_mel_bins=128, min_freq=20.0,
                 max_freq=None, power_to_db=True, top_db=80.0, mag_exp=2.0, min_power=1e-10,
                 ref_power=1.0, **kwargs):
        super().__init__(**kwargs)
        self.fft_length = fft_length
        self.sequence_stride = sequence_stride
        self.sequence_length = sequence_length or fft_length
        if self.fft_length < self.sequence_length:
            raise ValueError(
                f"MelSpectrogram {self.name!r}: `fft_length` ({fft_length}) must be >= "
                f"`sequence_length` ({self.sequence_length}).")
        if isinstance(window, str) and window not in ("hann", "hamming"):
            raise ValueError(f"MelSpectrogram {self.name!r}: `window` must be 'hann', "
                             f"'hamming', None or values, got {window!r}.")
        self.window = _window_config(window)
        self.sampling_rate = sampling_rate
        self.num_mel_bins = num_mel_bins
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        self.power_to_db = power_to_db
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power

    def call(self, inputs):
        dtype = self.compute_dtype if self.compute_dtype in ("float32", "float64") \
            else "float32"
        x = jnp.asarray(inputs).astype(dtype)
        real, imag = ops.stft(x, self.sequence_length, self.sequence_stride, self.fft_length,
                              window=self.window, center=True)
        spec = jnp.power(jnp.sqrt(jnp.square(real) + jnp.square(imag)), self.mag_exp)
        matrix = linear_to_mel_weight_matrix(self.num_mel_bins, spec.shape[-1],
                                             self.sampling_rate, self.min_freq, self.max_freq)
        mel = jnp.tensordot(spec, jnp.asarray(matrix, dtype), axes=1)
        if self.power_to_db:
            db = 10.0 * jnp.log10(jnp.maximum(mel, self.min_power))
            db = db - 10.0 * math.log10(max(abs(self.ref_power), self.min_power))
            mel = jnp.maximum(db, jnp.max(db) - self.top_db)
        return jnp.swapaxes(mel, -1, -2).astype(self.compute_dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) not in (1, 2):
            raise ValueError(f"Layer {self.name!r} (MelSpectrogram) expects signals of shape "
                             f"(batch, samples) or (samples,), got {input_shape}.")
        samples = input_shape[-1]
        half = self.fft_length // 2
        frames = None if samples is None else \
            (samples + 2 * half - self.fft_length) // self.sequence_stride + 1
        return input_shape[:-1] + (self.num_mel_bins, frames)

    def get_config(self):
        config = super().get_config()
        config.update({
            "fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
            "sequence_length": self.sequence_length, "window": self.window,
            "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
            "min_freq": self.min_freq, "max_freq": self.max_freq,
            "power_to_db": self.power_to_db, "top_db": self.top_db, "mag_exp": self.mag_exp,
            "min_power": self.min_power, "ref_power": self.ref_power})
        return config


_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


@register_builtin("keras.layers")
class STFTSpectrogram(ShapeSpecMixin, Layer):
    """Spectrograms of signals `(batch, samples, channels)` (channels_last) by
    convolution with STFT kernels (`initializers.STFT`; trainable unless
    `trainable=False`), each channel on its own.

    `mode`: "log" (log magnitude), "magnitude", "psd" (power, interior bins
    doubled), "real", "imag", "angle" or "stft" (real then imaginary bins).
    Frames of `frame_length` every `frame_step` (default half a frame),
    `fft_length` bins (default the next power of two), `padding` "valid" or
    "same". Output `(batch, frames, channels * bins)`, or with `expand_dims`
    `(batch, frames, bins, channels)` (channels_first: `(batch, channels *
    bins, frames)` / `(batch, channels, frames, bins)`).

    >>> import numpy as np
    >>> layer = STFTSpectrogram(frame_length=16, frame_step=8, fft_length=32)
    >>> layer(np.zeros((2, 64, 1), "float32")).shape
    (2, 7, 17)
    """

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None,
                 window="hann", periodic=False, scaling="density", padding="valid",
                 expand_dims=False, data_format=None, **kwargs):
        where = "STFTSpectrogram"
        if frame_step is not None and not 1 <= frame_step <= frame_length:
            raise ValueError(f"{where}: `frame_step` must be a positive int not greater "
                             f"than `frame_length` ({frame_length}), got {frame_step}.")
        if fft_length is not None and fft_length < frame_length:
            raise ValueError(f"{where}: `fft_length` ({fft_length}) must be >= "
                             f"`frame_length` ({frame_length}).")
        if fft_length is not None and fft_length & (fft_length - 1):
            warnings.warn(f"{where}: `fft_length` is recommended to be a power of two, "
                          f"got {fft_length}.", stacklevel=2)
        if mode not in _MODES:
            raise ValueError(f"{where}: `mode` must be one of {', '.join(_MODES)}, got "
                             f"{mode!r}.")
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(f"{where}: `scaling` must be None, 'density' or 'spectrum', "
                             f"got {scaling!r}.")
        if padding not in ("valid", "same"):
            raise ValueError(f"{where}: `padding` must be 'valid' or 'same', got "
                             f"{padding!r}.")
        # checks the window name now, as Keras does
        initializers.STFT("real", window, scaling, periodic)
        if data_format is None:
            data_format = _config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{where}: `data_format` must be 'channels_last' or "
                             f"'channels_first', got {data_format!r}.")
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = frame_length
        self.frame_step = frame_step
        self._frame_step = frame_step or frame_length // 2
        self.fft_length = fft_length
        self._fft_length = fft_length or 2 ** int(math.ceil(math.log2(frame_length)))
        self.window = _window_config(window)
        self.periodic = periodic
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = expand_dims
        self.data_format = data_format

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"Layer {self.name!r} (STFTSpectrogram) expects inputs of rank 3 "
                f"(batch, samples, channels) or (batch, channels, samples), got shape "
                f"{tuple(input_shape)}.")
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        window = np.asarray(self.window) if isinstance(self.window, list) else self.window
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                name="real_kernel", shape=shape,
                initializer=initializers.STFT("real", window, self.scaling, self.periodic))
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                name="imag_kernel", shape=shape,
                initializer=initializers.STFT("imag", window, self.scaling, self.periodic))
        self.built = True

    def _conv(self, x, kernel):
        """(batch, channels, samples) -> (batch, channels, bins, frames)."""
        batch, channels, samples = x.shape
        out = jax.lax.conv_general_dilated(
            x.reshape(batch * channels, 1, samples), jnp.asarray(kernel).astype(x.dtype),
            window_strides=(self._frame_step,), padding=self.padding.upper(),
            dimension_numbers=("NCH", "HIO", "NCH"))
        return out.reshape(batch, channels, out.shape[1], out.shape[2])

    def _arrange(self, out):
        batch, channels, bins, frames = out.shape
        if self.expand_dims:
            order = (0, 3, 2, 1) if self.data_format == "channels_last" else (0, 1, 3, 2)
            return jnp.transpose(out, order)
        out = out.reshape(batch, channels * bins, frames)
        return jnp.swapaxes(out, 1, 2) if self.data_format == "channels_last" else out

    def call(self, inputs):
        x = jnp.asarray(inputs)
        if x.dtype.name not in _FLOATS:
            raise TypeError(f"Layer {self.name!r} (STFTSpectrogram): inputs must be float16, "
                            f"float32 or float64, got {x.dtype}.")
        if self.data_format == "channels_last":
            x = jnp.swapaxes(x, 1, 2)
        real = self._conv(x, self.real_kernel) if self.mode != "imag" else None
        imag = self._conv(x, self.imag_kernel) if self.mode != "real" else None
        if self.mode == "real":
            return self._arrange(real)
        if self.mode == "imag":
            return self._arrange(imag)
        if self.mode == "angle":
            return self._arrange(jnp.arctan2(imag, real))
        if self.mode == "stft":
            return self._arrange(jnp.concatenate([real, imag], axis=2))
        power = jnp.square(real) + jnp.square(imag)
        if self.mode == "psd":
            interior = jnp.pad(power[:, :, 1:-1], ((0, 0), (0, 0), (1, 1), (0, 0)))
            return self._arrange(power + interior)
        eps = _config.epsilon()
        magnitude = self._arrange(jnp.sqrt(jnp.maximum(power, eps)))
        if self.mode == "magnitude":
            return magnitude
        return jnp.log(jnp.maximum(magnitude, eps))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"Layer {self.name!r} (STFTSpectrogram) expects inputs of rank 3 "
                f"(batch, samples, channels) or (batch, channels, samples), got shape "
                f"{input_shape}.")
        last = self.data_format == "channels_last"
        batch, samples, channels = ((input_shape[0], input_shape[1], input_shape[2]) if last
                                    else (input_shape[0], input_shape[2], input_shape[1]))
        frames = conv_output_length(samples, self.frame_length, self._frame_step,
                                    self.padding, 1)
        bins = (self._fft_length // 2 + 1) * (2 if self.mode == "stft" else 1)
        if self.expand_dims:
            return (batch, frames, bins, channels) if last else (batch, channels, frames, bins)
        total = None if channels is None else channels * bins
        return (batch, frames, total) if last else (batch, total, frames)

    def get_config(self):
        config = super().get_config()
        config.update({
            "mode": self.mode, "frame_length": self.frame_length,
            "frame_step": self.frame_step, "fft_length": self.fft_length,
            "window": self.window, "periodic": self.periodic, "scaling": self.scaling,
            "padding": self.padding, "data_format": self.data_format,
            "expand_dims": self.expand_dims})
        return config
