"""Convolutional LSTM layers (Shi et al. 2015): ConvLSTM1D, ConvLSTM2D,
ConvLSTM3D, Keras 3's arguments, weights and configs.

An LSTM whose input and recurrent transformations are convolutions: inputs
`(batch, time, *spatial, channels)` (channels_first: `(batch, time,
channels, *spatial)`), states `h` and `c` of shape `(batch, *out_spatial,
filters)`. Weights are Keras' (`conv_lstm_cell`: kernel `(*kernel_size,
channels, 4 * filters)`, recurrent_kernel `(*kernel_size, filters, 4 *
filters)`, bias `(4 * filters,)`, gates `i, f, c, o`).

They run on the RNN machinery of `rnn.py` (masking, return_sequences,
return_state, go_backwards, stateful, initial_state): the input convolution
of all time steps is one convolution before the `lax.scan`, whose body only
does the recurrent ("same"-padded, stride 1) convolution. Dropout masks (one
per gate, as Keras) are drawn once per sequence, in training only.
"""
import functools

import jax
import jax.numpy as jnp

from kerax import activations
from kerax import random as _random
from kerax.layers.convolutional import (conv_output_length, dimension_numbers,
                                        standardize_data_format, standardize_padding,
                                        standardize_tuple)
from kerax.layers.layer import Layer
from kerax.layers.rnn import RNN, _clip_rate, _positive_int, _scan_loop
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["ConvLSTMCell", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]


def _conv(x, kernel, rank, data_format, strides, padding, dilation):
    return jax.lax.conv_general_dilated(
        x, kernel.astype(x.dtype), window_strides=strides, padding=padding.upper(),
        rhs_dilation=dilation, dimension_numbers=dimension_numbers(rank, data_format))


def _split_gates(kernel, n=4):
    return jnp.split(kernel, n, axis=-1)


class ConvLSTMCell(Layer):
    """One ConvLSTM step (the cell of ConvLSTM1D/2D/3D; not a Keras public name).

    `call(inputs, states, training=False)` with `inputs` of shape
    `(batch, *spatial, channels)` and `states = [h, c]` returns `(h, [h, c])`.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"ConvLSTM{rank}D {self.name!r}"
        if rank not in (1, 2, 3):
            raise ValueError(f"{where}: rank {rank!r} convolutions are not implemented "
                             "(rank must be 1, 2 or 3).")
        self.rank = rank
        self.filters = _positive_int(filters, where, "filters")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size", where)
        self.strides = standardize_tuple(strides, rank, "strides", where)
        self.padding = standardize_padding(padding, where)
        self.data_format = standardize_data_format(data_format, where)
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate", where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{where}: `strides > 1` cannot be combined with `dilation_rate > 1`, got "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}.")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.unit_forget_bias = unit_forget_bias
        set_weight_options(
            self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.dropout = _clip_rate(dropout, where, "dropout")
        self.recurrent_dropout = _clip_rate(recurrent_dropout, where, "recurrent_dropout")
        self.seed = seed
        self.seed_generator = _random.SeedGenerator(seed)
        self.state_size = [-1, -1]  # h and c; their shapes follow the inputs' (see build)
        self.spatial_dims = None

    # ---- shapes ------------------------------------------------------------------
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _out_spatial(self, spatial):
        return tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def state_shape(self, batch_size):
        out = self._out_spatial(self.spatial_dims)
        if self.data_format == "channels_last":
            return (batch_size,) + out + (self.filters,)
        return (batch_size, self.filters) + out

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        where = f"Layer {self.name!r} (ConvLSTM{self.rank}D)"
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{where}: a step's inputs must have rank {self.rank + 2}, got "
                             f"shape {input_shape}.")
        spatial = input_shape[1:-1] if self.data_format == "channels_last" \
            else input_shape[2:]
        if None in spatial:
            raise ValueError(
                f"{where}: ConvLSTM layers need static spatial dimensions, got input "
                f"shape {input_shape}.")
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(f"{where}: the channel dimension of the inputs must be known, "
                             f"got input shape {input_shape}.")
        if min(self._out_spatial(spatial)) < 1:
            raise ValueError(
                f"{where}: kernel_size {self.kernel_size} with padding='{self.padding}' is "
                f"larger than the spatial dimensions {tuple(spatial)} of the inputs.")
        self.spatial_dims = tuple(spatial)
        self.input_dim = int(channels)
        f4 = 4 * self.filters
        self.kernel = self.add_weight(
            shape=self.kernel_size + (self.input_dim, f4), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, f4), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(f4,), name="bias", initializer=self._bias_init(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, n = self.bias_initializer, self.filters

        def init(shape, dtype=None):
            return jnp.concatenate([
                jnp.asarray(base((n,), dtype=dtype)), jnp.ones((n,), dtype),
                jnp.asarray(base((2 * n,), dtype=dtype))]).astype(dtype)

        return init

    def get_initial_state(self, batch_size=None):
        shape = self.state_shape(batch_size)
        return [jnp.zeros(shape, self.compute_dtype), jnp.zeros(shape, self.compute_dtype)]

    # ---- computation -------------------------------------------------------------
    def _make_masks(self, step_shape, state_shape, dtype, training):
        """Four input and four recurrent dropout masks (one per gate), or None."""
        dp = rdp = None
        if training and 0.0 < self.dropout < 1.0:
            dp = _random.dropout(jnp.ones((4,) + tuple(step_shape), dtype), self.dropout,
                                 seed=self.seed_generator)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rdp = _random.dropout(jnp.ones((4,) + tuple(state_shape), dtype),
                                  self.recurrent_dropout, seed=self.seed_generator)
        return dp, rdp

    def _project(self, x, dp):
        """The input convolution (+ bias) of a batch of steps `x`; with dropout
        masks `dp` of shape `(4,) + x.shape`, gate g convolves `x * dp[g]`
        with its quarter of the kernel."""
        conv = functools.partial(_conv, rank=self.rank, data_format=self.data_format,
                                 strides=self.strides, padding=self.padding,
                                 dilation=self.dilation_rate)
        kernel = self.kernel.value
        if dp is None:
            z = conv(x, kernel)
        else:
            z = jnp.concatenate([conv(x * dp[g], k) for g, k in
                                 enumerate(_split_gates(kernel))], axis=self._channel_axis())
        if self.bias is not None:
            b = self.bias.value.astype(z.dtype)
            z = z + (b if self.data_format == "channels_last"
                     else b.reshape((-1,) + (1,) * self.rank))
        return z

    def _recur_spec(self):
        return (self.activation, self.recurrent_activation, self.rank, self.data_format)

    @staticmethod
    def _recur_pure(spec, rk, z, states, rdp):
        act, ra, rank, data_format = spec
        h, c = states
        axis = -1 if data_format == "channels_last" else 1
        conv = functools.partial(_conv, rank=rank, data_format=data_format,
                                 strides=(1,) * rank, padding="same", dilation=(1,) * rank)
        if rdp is None:
            r = conv(h, rk)
        else:
            r = jnp.concatenate([conv(h * rdp[g], k) for g, k in enumerate(_split_gates(rk))],
                                axis=axis)
        zi, zf, zc, zo = jnp.split(z + r, 4, axis=axis)
        c = ra(zf) * c + ra(zi) * act(zc)
        h = ra(zo) * act(c)
        return h, [h, c]

    def call(self, inputs, states, training=False):
        states = list(states)
        dp, rdp = self._make_masks(inputs.shape, states[0].shape, inputs.dtype, training)
        z = self._project(inputs, dp)
        return ConvLSTMCell._recur_pure(self._recur_spec(), self.recurrent_kernel.value, z,
                                        states, rdp)

    def get_config(self):
        config = super().get_config()
        config.update(_cell_config(self))
        return config


def _cell_config(cell):
    return {
        "filters": cell.filters,
        "kernel_size": cell.kernel_size,
        "strides": cell.strides,
        "padding": cell.padding,
        "data_format": cell.data_format,
        "dilation_rate": cell.dilation_rate,
        "activation": activations.serialize(cell.activation),
        "recurrent_activation": activations.serialize(cell.recurrent_activation),
        "use_bias": cell.use_bias,
        **weight_options_config(cell, "kernel", "recurrent", "bias", kinds=("initializer",)),
        "unit_forget_bias": cell.unit_forget_bias,
        **weight_options_config(cell, "kernel", "recurrent", "bias", kinds=("regularizer",)),
        **weight_options_config(cell, "kernel", "recurrent", "bias", kinds=("constraint",)),
        "dropout": cell.dropout,
        "recurrent_dropout": cell.recurrent_dropout,
        "seed": cell.seed,
    }


@functools.partial(jax.jit, static_argnames=("spec", "reverse", "collect", "zero_out"))
def _conv_lstm_scan(rk, zs, states, m, out0, rdp, *, spec, reverse, collect, zero_out):
    def step(z_t, s):
        return ConvLSTMCell._recur_pure(spec, rk, z_t, s, rdp)

    return _scan_loop(step, states, zs, m, out0, reverse, collect, zero_out, False,
                      last_is_state0=True)


_CELL_ATTRS = ("filters", "kernel_size", "strides", "padding", "data_format",
               "dilation_rate", "activation", "recurrent_activation", "use_bias",
               "kernel_initializer", "recurrent_initializer", "bias_initializer",
               "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
               "bias_regularizer", "kernel_constraint", "recurrent_constraint",
               "bias_constraint", "dropout", "recurrent_dropout")


class ConvLSTM(RNN):
    """Shared body of ConvLSTM1D/2D/3D (an RNN owning one ConvLSTMCell)."""

    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, **kwargs):
        cell = ConvLSTMCell(
            rank=self.rank, filters=filters, kernel_size=kernel_size, strides=strides,
            padding=padding, data_format=data_format, dilation_rate=dilation_rate,
            activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="conv_lstm_cell",
            dtype=kwargs.get("dtype"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)

    def __getattr__(self, name):
        if name in _CELL_ATTRS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _check_rank(self, shape):
        shape = tuple(shape)
        if len(shape) != self.rank + 3:
            sp = {1: "steps", 2: "rows, cols", 3: "depth, rows, cols"}[self.rank]
            layout = f"(batch, time, {sp}, channels)" if self.cell.data_format == \
                "channels_last" else f"(batch, time, channels, {sp})"
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank "
                f"{self.rank + 3} {layout}, got inputs of shape {shape} (rank {len(shape)}).")

    def _scan(self, sequences, states, mask, training):
        cell = self.cell
        x = jnp.swapaxes(sequences, 0, 1)  # time major
        t, batch = x.shape[0], x.shape[1]
        dp, rdp = cell._make_masks(x.shape[1:], states[0].shape, x.dtype, training)
        z = cell._project(x.reshape((t * batch,) + x.shape[2:]), dp if dp is None else
                          jnp.tile(dp, (1, t) + (1,) * (dp.ndim - 2)))
        z = z.reshape((t, batch) + z.shape[1:])
        m = None
        if mask is not None:
            m = jnp.swapaxes(jnp.asarray(mask).astype(bool), 0, 1)
            if m.ndim > 2:
                m = jnp.any(m.reshape(m.shape[:2] + (-1,)), axis=-1)
        out0 = None if self.return_sequences else jnp.zeros_like(states[0])
        return _conv_lstm_scan(cell.recurrent_kernel.value, z, states, m, out0, rdp,
                               spec=cell._recur_spec(), reverse=self.go_backwards,
                               collect=self.return_sequences,
                               zero_out=bool(self.zero_output_for_mask))

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        self._check_rank(sequences_shape)
        batch, steps = sequences_shape[0], sequences_shape[1]
        cell = self.cell
        spatial = sequences_shape[2:-1] if cell.data_format == "channels_last" \
            else sequences_shape[3:]
        out = cell._out_spatial(spatial)
        state = out + (cell.filters,) if cell.data_format == "channels_last" \
            else (cell.filters,) + out
        output = (batch, steps) + state if self.return_sequences else (batch,) + state
        if self.return_state:
            return output, (batch,) + state, (batch,) + state
        return output

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        return [out, None, None] if self.return_state else out

    def get_config(self):
        config = super().get_config()
        config.update(_cell_config(self.cell))
        config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        return config


def _make(rank, doc):
    name = f"ConvLSTM{rank}D"
    cls = type(name, (ConvLSTM,), {"rank": rank, "__doc__": doc, "__module__": __name__})
    return register_builtin("keras.layers")(cls)


ConvLSTM1D = _make(1, """1D convolutional LSTM over `(batch, time, steps, channels)`.

    >>> import numpy as np, kerax
    >>> layer = kerax.layers.ConvLSTM1D(4, 3, padding="same", return_sequences=True)
    >>> layer(np.zeros((2, 5, 8, 3), "float32")).shape
    (2, 5, 8, 4)
    """)
ConvLSTM2D = _make(2, """2D convolutional LSTM over `(batch, time, rows, cols, channels)`.

    >>> import numpy as np, kerax
    >>> layer = kerax.layers.ConvLSTM2D(4, 3)
    >>> layer(np.zeros((2, 5, 8, 8, 3), "float32")).shape
    (2, 6, 6, 4)
    """)
ConvLSTM3D = _make(3, """3D convolutional LSTM over `(batch, time, depth, rows, cols,
    channels)`.

    >>> import numpy as np, kerax
    >>> layer = kerax.layers.ConvLSTM3D(2, 2, return_state=True)
    >>> [t.shape for t in layer(np.zeros((1, 3, 4, 4, 4, 1), "float32"))]
    [(1, 3, 3, 3, 2), (1, 3, 3, 3, 2), (1, 3, 3, 3, 2)]
    """)
