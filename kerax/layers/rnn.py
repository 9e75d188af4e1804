"""Recurrent layers: SimpleRNN, LSTM, GRU, their cells, the generic `RNN(cell)`
(a list of cells is a stacked cell), Bidirectional, TimeDistributed, Masking.

Every recurrence runs on one `jax.lax.scan` over time (compiled once per
sequence length). Weights and gate layouts are Keras 3's, so weights load
from Keras: LSTM kernel `(input_dim, 4 * units)` with gates `i, f, c, o`; GRU
gates `z, r, h` with `reset_after=True` and a `(2, 3 * units)` bias by default.

For the built-in cells the input projection `x @ kernel + bias` of all time
steps is one matmul before the scan; the scan body only does the recurrent
matmul. Masked time steps (a `(batch, time)` boolean `mask`, from `Masking`,
`Embedding(mask_zero=True)` or passed explicitly) keep the previous states and
repeat the previous output (zeros with `zero_output_for_mask=True`), as Keras.
Dropout masks are drawn once per sequence, in training only.
"""
import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np

from kerax import activations
from kerax import random as _random
from kerax.layers.layer import KerasTensor, Layer
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.layers.wrapper import Wrapper
from kerax.registry import (deserialize_keras_object, register_builtin,
                                                serialize_keras_object)
from kerax.variables import Variable

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "RNN", "SimpleRNN",
           "LSTM", "GRU", "Bidirectional", "TimeDistributed", "Masking"]


def _positive_int(value, where, arg="units"):
    try:
        ok = int(value) == value and int(value) > 0 and not isinstance(value, bool)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{where}: `{arg}` must be a positive integer, got {value!r}.")
    return int(value)


def _clip_rate(rate, where, arg):
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `{arg}` must be a float in [0, 1], got {rate!r}.") from None
    return min(1.0, max(0.0, rate))


def _is_nested(x):
    return isinstance(x, (list, tuple))


def _is_var(x):
    return isinstance(x, Variable)


# ---- cells --------------------------------------------------------------------------
class _Cell(Layer):
    """Shared machinery of the built-in cells: weights, dropout masks, and the
    split of one step into an input projection (`_project`, hoisted out of the
    scan by `RNN`) and the recurrent part (`_recur`)."""

    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        where = f"{type(self).__name__} {self.name!r}"
        self.units = _positive_int(units, where)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        set_weight_options(
            self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.dropout = _clip_rate(dropout, where, "dropout")
        self.recurrent_dropout = _clip_rate(recurrent_dropout, where, "recurrent_dropout")
        self.seed = seed
        self.seed_generator = _random.SeedGenerator(seed)
        self._rnn_masks = None  # dropout masks fixed for one sequence by RNN.call
        self.state_size = self.units  # LSTMCell: [h, c]

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if input_shape is None or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the last dimension of the inputs "
                f"must be known, got input shape {input_shape}.")
        input_dim = int(input_shape[-1])
        g = self._gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, g), name="kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, g), name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(), name="bias", initializer=self._bias_init(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None
        self.built = True

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if _is_nested(self.state_size) else [self.state_size]
        return [jnp.zeros((batch_size, d), self.compute_dtype) for d in sizes]

    # dropout masks, drawn once per sequence (in training only)
    def _make_masks(self, batch, input_dim, dtype, training):
        dp = rdp = None
        if training and 0.0 < self.dropout < 1.0:
            dp = _random.dropout(jnp.ones((batch, input_dim), dtype), self.dropout,
                                 seed=self.seed_generator)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rdp = _random.dropout(jnp.ones((batch, self.units), dtype),
                                  self.recurrent_dropout, seed=self.seed_generator)
        return dp, rdp

    def _input_bias(self):
        return None if self.bias is None else self.bias.value

    def _project(self, x, dp):
        """`(x * dropout_mask) @ kernel + input bias` for any leading axes."""
        if dp is not None:
            x = x * dp
        z = jnp.matmul(x, self.kernel.value)
        b = self._input_bias()
        if b is not None:
            z = z + b
        return z

    def _recur_spec(self):
        """Hashable description of the recurrence (static for jit)."""
        return (self.activation, getattr(self, "recurrent_activation", None), self.units,
                getattr(self, "reset_after", None), self.bias is not None)

    def _recur_params(self):
        return (self.recurrent_kernel.value,)

    @staticmethod
    def _recur_pure(spec, params, z, states, rdp):
        raise NotImplementedError

    def _recur(self, z, states, rdp):
        return type(self)._recur_pure(self._recur_spec(), self._recur_params(), z, states, rdp)

    def call(self, inputs, states, training=False):
        nested = _is_nested(states)
        states = list(states) if nested else [states]
        masks = self._rnn_masks
        if masks is None:
            masks = self._make_masks(inputs.shape[0], inputs.shape[-1], inputs.dtype, training)
        dp, rdp = masks
        out, new_states = self._recur(self._project(inputs, dp), states, rdp)
        return out, (new_states if nested else new_states[0])

    def _base_config(self):
        return {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "recurrent", "bias"),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    def get_config(self):
        config = super().get_config()
        config.update(self._base_config())
        return config


@register_builtin("keras.layers")
class SimpleRNNCell(_Cell):
    """`h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)` (its
    constructor is `_Cell`'s)."""

    @staticmethod
    def _recur_pure(spec, params, z, states, rdp):
        h = states[0]
        if rdp is not None:
            h = h * rdp
        out = spec[0](z + jnp.matmul(h, params[0]))
        return out, [out]


@register_builtin("keras.layers")
class LSTMCell(_Cell):
    """One LSTM step, Keras 3's fused layout: `z = x @ kernel + h @
    recurrent_kernel + bias` split into gates `i, f, c, o`."""

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [self.units, self.units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, u = self.bias_initializer, self.units

        def init(shape, dtype=None):
            return jnp.concatenate([
                jnp.asarray(base((u,), dtype=dtype)), jnp.ones((u,), dtype),
                jnp.asarray(base((2 * u,), dtype=dtype))]).astype(dtype)

        return init

    @staticmethod
    def _recur_pure(spec, params, z, states, rdp):
        act, ra = spec[0], spec[1]
        h, c = states[0], states[1]
        if rdp is not None:
            h = h * rdp
        z = z + jnp.matmul(h, params[0])
        zi, zf, zc, zo = jnp.split(z, 4, axis=-1)
        c = ra(zf) * c + ra(zi) * act(zc)
        h = ra(zo) * act(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


@register_builtin("keras.layers")
class GRUCell(_Cell):
    """One GRU step, gates `z, r, h`. With `reset_after=True` (the default, as
    cuDNN) the reset gate multiplies `h @ recurrent_kernel + recurrent_bias`
    and the bias has shape `(2, 3 * units)` (input bias, recurrent bias)."""

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, reset_after=True, seed=None, **kwargs):
        super().__init__(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None:
            return None
        b = self.bias.value
        return b[0] if self.reset_after else b

    def _recur_params(self):
        rb = self.bias.value[1] if (self.bias is not None and self.reset_after) else None
        return (self.recurrent_kernel.value, rb)

    @staticmethod
    def _recur_pure(spec, params, z, states, rdp):
        act, ra, u, reset_after = spec[0], spec[1], spec[2], spec[3]
        rk, rb = params
        h = states[0]
        hd = h * rdp if rdp is not None else h
        xz, xr, xh = jnp.split(z, 3, axis=-1)
        if reset_after:
            inner = jnp.matmul(hd, rk)
            if rb is not None:
                inner = inner + rb
            rz, rr, rh = jnp.split(inner, 3, axis=-1)
            zg = ra(xz + rz)
            r = ra(xr + rr)
            hh = act(xh + r * rh)
        else:
            inner = jnp.matmul(hd, rk[:, :2 * u])
            rz, rr = jnp.split(inner, 2, axis=-1)
            zg = ra(xz + rz)
            r = ra(xr + rr)
            hh = act(xh + jnp.matmul(r * hd, rk[:, 2 * u:]))
        h = zg * h + (1 - zg) * hh
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config


_FAST_CELLS = (SimpleRNNCell, LSTMCell, GRUCell)


def _cell_output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    s = cell.state_size
    return s[0] if _is_nested(s) else s


@register_builtin("keras.layers")
class StackedRNNCells(Layer):
    """Cells applied one after the other within each time step; the states are
    a list with one entry per cell."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
                raise ValueError(
                    f"StackedRNNCells {self.name!r}: every cell needs a `call` method and "
                    f"a `state_size` attribute, got {cell!r}.")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _cell_output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        out = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                out.append(fn(batch_size=batch_size))
            elif _is_nested(cell.state_size):
                out.append([jnp.zeros((batch_size, d), self.compute_dtype)
                            for d in cell.state_size])
            else:
                out.append(jnp.zeros((batch_size, cell.state_size), self.compute_dtype))
        return out

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
                object.__setattr__(cell, "built", True)
            shape = (shape[0], _cell_output_size(cell))
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, s in zip(self.cells, states):
            was_list = _is_nested(s)
            s = list(s) if was_list else [s]
            inputs, s = _call_cell(cell, inputs, s, training)
            s = list(s) if _is_nested(s) else [s]
            new_states.append(s if was_list or len(s) != 1 else s[0])
        return inputs, new_states

    def get_config(self):
        config = super().get_config()
        config["cells"] = [serialize_keras_object(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["cells"] = [deserialize_keras_object(c, custom_objects=custom_objects,
                                                    module="keras.layers") for c in config["cells"]]
        return super().from_config(config)


def _call_cell(cell, inputs, states, training):
    if isinstance(cell, Layer):
        if cell._call_signature()["training"]:
            return cell(inputs, states, training=training)
        return cell(inputs, states)
    fn = cell.call
    if "training" in inspect.signature(fn).parameters:
        return fn(inputs, states, training=training)
    return fn(inputs, states)


def _prepare_masks(cell, batch, input_dim, dtype, training):
    if isinstance(cell, StackedRNNCells):
        for c in cell.cells:
            _prepare_masks(c, batch, input_dim, dtype, training)
            input_dim = _cell_output_size(c)
    elif isinstance(cell, _Cell):
        object.__setattr__(cell, "_rnn_masks",
                           cell._make_masks(batch, input_dim, dtype, training))


def _clear_masks(cell):
    if isinstance(cell, StackedRNNCells):
        for c in cell.cells:
            _clear_masks(c)
    elif isinstance(cell, _Cell):
        object.__setattr__(cell, "_rnn_masks", None)


def _where_time(m, new, old):
    """Select `new` where the step mask `m` (batch,) is true, per example."""
    m = m.reshape(m.shape + (1,) * (new.ndim - 1))
    return jnp.where(m, new, old)


def _scan_loop(step, states, xs, m, out0, reverse, collect, zero_out, stacked,
               last_is_state0=False):
    """`lax.scan` of `step(x_t, states) -> (output, states)` over time-major
    `xs`, with Keras' masking: masked steps keep the states and output the
    previous output (the first state; zeros with `zero_out`). Returns
    `(last_output, outputs (batch-major) or None, final_states)`.
    `last_is_state0`: the output is the first state (built-in cells), so the
    last output is read from the final states instead of carried."""
    if last_is_state0 and not collect and not zero_out:
        out0 = None

    def body(carry, inp):
        s, prev = carry
        if m is None:
            out, new = step(inp, s)
        else:
            x_t, m_t = inp
            out, new = step(x_t, s)
            new = jax.tree_util.tree_map(lambda a, b: _where_time(m_t, a, b), new, s)
            if zero_out:
                out = _where_time(m_t, out, jnp.zeros_like(out))
            else:
                first = s[-1] if stacked else s
                first = first[0] if _is_nested(first) else first
                out = _where_time(m_t, out, first)
        new = jax.tree_util.tree_map(lambda a, b: a.astype(b.dtype), new, s)
        if collect:
            return (new, None), out
        if prev is None:
            return (new, None), None
        return (new, out.astype(prev.dtype)), None

    xs_all = xs if m is None else (xs, m)
    (states, last), ys = jax.lax.scan(body, (states, out0), xs_all, reverse=reverse)
    if last is None and not collect:
        last = states[0]
    outputs = None
    if collect:
        if reverse:
            ys = jnp.flip(ys, axis=0)
        last = ys[-1]
        outputs = jnp.swapaxes(ys, 0, 1)
    return last, outputs, states


@functools.partial(jax.jit, static_argnames=("recur", "spec", "reverse", "collect", "zero_out",
                                             "stacked"))
def _fast_scan(params, xs, states, m, out0, rdp, *, recur, spec, reverse, collect, zero_out,
               stacked):
    def step(z_t, s):
        return recur(spec, params, z_t, s, rdp)

    return _scan_loop(step, states, xs, m, out0, reverse, collect, zero_out, stacked,
                      last_is_state0=True)


class _StateBox:
    """Holds a stateful RNN's state Variables out of the layer's weights (as
    Keras 3, whose `weights` do not include them)."""

    def __init__(self):
        self.vars = None


# ---- RNN ---------------------------------------------------------------------------------
@register_builtin("keras.layers")
class RNN(Layer):
    """Runs `cell` over the time axis of `(batch, time, ...)` inputs with one
    `lax.scan`. A list of cells is stacked (`StackedRNNCells`). `unroll` is
    accepted and ignored (XLA compiles the scan)."""

    _exact_rank = None

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call"):
            raise ValueError(f"RNN: `cell` must have a `call` method, got {cell!r}.")
        state_size = getattr(cell, "state_size", None)
        if not isinstance(state_size, (int, list, tuple)):
            raise ValueError(
                "RNN: the cell must have a `state_size` attribute (an integer or a list "
                f"of integers, one per state), got {state_size!r} on {cell!r}.")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.supports_masking = True
        self._state_box = _StateBox()
        self._expected_batch_size = None

    @property
    def state_size(self):
        s = self.cell.state_size
        return list(s) if _is_nested(s) else [s]

    @property
    def states(self):
        return self._state_box.vars

    def _check_rank(self, shape):
        shape = tuple(shape)
        rank = len(shape)
        if self._exact_rank is not None and rank != self._exact_rank:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank "
                f"{self._exact_rank} (batch, timesteps, features), but got an input of "
                f"rank {rank} with shape {shape}.")
        if rank < 3:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank 3 "
                f"or more (batch, timesteps, ...), but got an input of rank {rank} with "
                f"shape {shape}.")

    def build(self, sequences_shape, initial_state_shape=None):
        if isinstance(sequences_shape, list) and sequences_shape and \
                isinstance(sequences_shape[0], (list, tuple)):
            sequences_shape = sequences_shape[0]
        sequences_shape = tuple(sequences_shape)
        self._check_rank(sequences_shape)
        step_shape = (sequences_shape[0],) + sequences_shape[2:]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            object.__setattr__(self.cell, "built", True)
        if self.stateful:
            if self._state_box.vars is not None:
                self.reset_state()
            else:
                batch = sequences_shape[0]
                if batch is None:
                    raise ValueError(
                        f"Layer {self.name!r}: with `stateful=True` the batch size must "
                        f"be static; got input shape {sequences_shape}. Pass "
                        "`batch_size=` to kerax.Input (or `batch_input_shape`).")
                init = self.get_initial_state(int(batch))
                self._state_box.vars = jax.tree_util.tree_map(
                    lambda v: Variable(np.asarray(v), trainable=False, name="rnn_state"),
                    init)
                self._expected_batch_size = int(batch)
        self.built = True

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            init = fn(batch_size=batch_size)
            return list(init) if _is_nested(init) else [init]
        return [jnp.zeros((batch_size, d), self.compute_dtype) for d in self.state_size]

    def reset_state(self, states=None):
        """Zero the states of a stateful RNN (or set them to `states`)."""
        if self._state_box.vars is None:
            return
        flat = jax.tree_util.tree_leaves(self._state_box.vars, is_leaf=_is_var)
        if states is None:
            for v in flat:
                v.assign(jnp.zeros(v.shape, v.dtype))
            return
        values = jax.tree_util.tree_leaves(states)
        if len(values) != len(flat):
            raise ValueError(
                f"Layer {self.name!r}: reset_states expected {len(flat)} state arrays, "
                f"got {len(values)}.")
        for v, val in zip(flat, values):
            val = jnp.asarray(val, v.dtype)
            if tuple(val.shape) != v.shape:
                raise ValueError(
                    f"Layer {self.name!r}: state of shape {v.shape} cannot be set to an "
                    f"array of shape {tuple(val.shape)}.")
            v.assign(val)

    def reset_states(self, states=None):
        self.reset_state(states)

    def _structure_states(self, initial_state):
        """Normalize a user initial_state to the cell's state structure."""
        if not _is_nested(initial_state):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        if isinstance(self.cell, StackedRNNCells):
            sizes = [len(s) if _is_nested(s) else None for s in self.cell.state_size]
            n_flat = sum(1 if k is None else k for k in sizes)
            if len(initial_state) == n_flat and not any(_is_nested(s) for s in initial_state):
                grouped, i = [], 0
                for k in sizes:
                    grouped.append(initial_state[i] if k is None else list(initial_state[i:i + k]))
                    i += 1 if k is None else k
                initial_state = grouped
        else:
            if len(initial_state) != len(self.state_size):
                raise ValueError(
                    f"Layer {self.name!r}: expected {len(self.state_size)} initial state "
                    f"tensor(s) (state_size={self.cell.state_size}), got "
                    f"{len(initial_state)}.")
        return initial_state

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_rank(sequences.shape)
        if _is_nested(mask):
            mask = mask[0]
        batch = sequences.shape[0]
        if self.stateful and self._expected_batch_size is not None and \
                batch != self._expected_batch_size:
            raise ValueError(
                f"Layer {self.name!r} is stateful and was built for batches of "
                f"{self._expected_batch_size}, but got inputs of shape "
                f"{tuple(sequences.shape)}.")
        if initial_state is None:
            if self.stateful and self._state_box.vars is not None:
                initial_state = jax.tree_util.tree_map(
                    lambda v: v.value, self._state_box.vars, is_leaf=_is_var)
            else:
                initial_state = self.get_initial_state(batch)
        else:
            initial_state = self._structure_states(initial_state)
        dtype = self.compute_dtype
        states = jax.tree_util.tree_map(lambda s: jnp.asarray(s, dtype), initial_state)
        last, outputs, states = self._scan(sequences, states, mask, training)
        if self.stateful and self._state_box.vars is not None:
            flat_vars = jax.tree_util.tree_leaves(self._state_box.vars, is_leaf=_is_var)
            for v, s in zip(flat_vars, jax.tree_util.tree_leaves(states)):
                v.assign(s)
        output = outputs if self.return_sequences else last
        if self.return_state:
            return (output, *states)
        return output

    def _scan(self, sequences, states, mask, training):
        cell = self.cell
        x = jnp.swapaxes(sequences, 0, 1)  # time major
        batch = sequences.shape[0]
        m = None
        if mask is not None:
            m = jnp.swapaxes(jnp.asarray(mask).astype(bool), 0, 1)
            if m.ndim > 2:
                m = jnp.any(m.reshape(m.shape[:2] + (-1,)), axis=-1)
        out0 = None if self.return_sequences else \
            jnp.zeros((batch, _cell_output_size(cell)), self.compute_dtype)
        opts = dict(reverse=self.go_backwards, collect=self.return_sequences,
                    zero_out=bool(self.zero_output_for_mask),
                    stacked=isinstance(cell, StackedRNNCells))
        if type(cell) in _FAST_CELLS:
            # Input projection of all steps at once; the scan is a jitted pure
            # function of the weights (compiled once per shape, also eagerly).
            dp, rdp = cell._make_masks(batch, sequences.shape[-1], sequences.dtype, training)
            xs = cell._project(x, dp)
            return _fast_scan(cell._recur_params(), xs, states, m, out0, rdp,
                              recur=type(cell)._recur_pure, spec=cell._recur_spec(), **opts)
        _prepare_masks(cell, batch, sequences.shape[-1], sequences.dtype, training)

        def step(x_t, s):
            out, new = _call_cell(cell, x_t, s, training)
            if not _is_nested(new):
                new = [new]
            return out, list(new)

        try:
            return _scan_loop(step, states, x, m, out0, **opts)
        finally:
            _clear_masks(cell)

    def compute_mask(self, inputs, mask=None):
        if _is_nested(mask):
            mask = mask[0] if mask else None
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self.state_size)
        return out_mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        if type(self) is RNN:
            config["cell"] = serialize_keras_object(self.cell)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if cls is RNN:
            config["cell"] = deserialize_keras_object(config["cell"], custom_objects=custom_objects,
                                                      module="keras.layers")
        return super().from_config(config)


_CELL_PROPS = ("units", "activation", "recurrent_activation", "use_bias",
               "kernel_initializer", "recurrent_initializer", "bias_initializer",
               "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
               "bias_regularizer", "kernel_constraint", "recurrent_constraint",
               "bias_constraint", "dropout", "recurrent_dropout", "reset_after", "seed")


class _CellRNN(RNN):
    """SimpleRNN/LSTM/GRU: an RNN owning one built-in cell whose arguments it takes."""

    _exact_rank = 3
    _cell_class = None
    _cell_name = None

    def __init__(self, cell_kwargs, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, activity_regularizer=None,
                 use_cudnn="auto", **kwargs):
        cell = self._cell_class(dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                                name=self._cell_name, **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.use_cudnn = use_cudnn

    def __getattr__(self, name):
        if name in _CELL_PROPS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        config = super().get_config()
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        return config


@register_builtin("keras.layers")
class SimpleRNN(_CellRNN):
    """Fully-connected RNN whose output is fed back as the next input state."""

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 seed=None, **kwargs):
        super().__init__(dict(
            units=units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed),
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)  # Keras 3's SimpleRNN config has no seed
        return config


@register_builtin("keras.layers")
class LSTM(_CellRNN):
    """Long Short-Term Memory layer (Hochreiter 1997), Keras 3's weight layout."""

    _cell_class = LSTMCell
    _cell_name = "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):
        super().__init__(dict(
            units=units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed,
            implementation=kwargs.pop("implementation", 2)),
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, use_cudnn=use_cudnn, **kwargs)


@register_builtin("keras.layers")
class GRU(_CellRNN):
    """Gated Recurrent Unit (Cho et al. 2014), Keras 3's weight layout."""

    _cell_class = GRUCell
    _cell_name = "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(dict(
            units=units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after,
            seed=seed, implementation=kwargs.pop("implementation", 2)),
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, use_cudnn=use_cudnn, **kwargs)


# ---- Bidirectional ----------------------------------------------------------------------
def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


@register_builtin("keras.layers")
class Bidirectional(Layer):
    """Runs a copy of `layer` forwards and another (or `backward_layer`)
    backwards over the sequence and merges their outputs (`merge_mode`
    "concat", "sum", "ave", "mul" or None for a pair)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Bidirectional: `layer` must be a kerax Layer instance, got {layer!r}.")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(
                "Bidirectional: `backward_layer` must be a kerax Layer instance, got "
                f"{backward_layer!r}.")
        if merge_mode not in ("sum", "mul", "ave", "concat", None):
            raise ValueError(
                f"Bidirectional: invalid `merge_mode` {merge_mode!r}; expected one of "
                "'sum', 'mul', 'ave', 'concat' or None.")
        super().__init__(**kwargs)
        config = serialize_keras_object(layer)
        config["config"]["name"] = "forward_" + _strip(layer.name, "forward_")
        self.forward_layer = deserialize_keras_object(config, module="keras.layers")
        if backward_layer is None:
            config = serialize_keras_object(layer)
            config["config"]["go_backwards"] = not config["config"].get("go_backwards", False)
            config["config"]["name"] = "backward_" + _strip(layer.name, "backward_")
            self.backward_layer = deserialize_keras_object(config, module="keras.layers")
        else:
            self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if getattr(fwd, "go_backwards", None) == getattr(bwd, "go_backwards", None):
            raise ValueError(
                "Bidirectional: the forward and backward layers must have different "
                f"`go_backwards` values, got {getattr(fwd, 'go_backwards', None)} for both.")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr, None) != getattr(bwd, attr, None):
                raise ValueError(
                    f"Bidirectional: the forward and backward layers must have the same "
                    f"`{attr}`, got {getattr(fwd, attr, None)} and {getattr(bwd, attr, None)}.")
        for sub in (fwd, bwd):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = list(weights) if weights else None
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = getattr(layer, "return_sequences", False)
        self.return_state = getattr(layer, "return_state", False)
        self.supports_masking = True

    @property
    def states(self):
        f, b = getattr(self.forward_layer, "states", None), getattr(self.backward_layer, "states", None)
        if f and b:
            return tuple(list(f) + list(b))
        return None

    def reset_state(self):
        if not self.stateful:
            raise AttributeError(f"Bidirectional {self.name!r}: the layer is not stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def build(self, sequences_shape, initial_state_shape=None):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(sequences_shape)
                object.__setattr__(sub, "built", True)
                sub._build_shapes = sequences_shape
        if self._initial_weights:
            n = len(self._initial_weights) // 2
            self.forward_layer.set_weights(self._initial_weights[:n])
            self.backward_layer.set_weights(self._initial_weights[n:])
            self._initial_weights = None
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {}
        if self.forward_layer._call_signature()["training"]:
            kwargs["training"] = training
        if self.forward_layer._call_signature()["mask"]:
            kwargs["mask"] = mask
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fs, bs = initial_state[:half], initial_state[half:]
            y = self.forward_layer(sequences, initial_state=fs, **kwargs)
            y_rev = self.backward_layer(sequences, initial_state=bs, **kwargs)
        else:
            y = self.forward_layer(sequences, **kwargs)
            y_rev = self.backward_layer(sequences, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)
        mode = self.merge_mode
        if mode == "concat":
            output = jnp.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            output = y + y_rev
        elif mode == "ave":
            output = (y + y_rev) / 2
        elif mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            if mode is None:
                return output + states
            return (output,) + states
        return output

    def compute_mask(self, inputs, mask=None):
        if _is_nested(mask):
            mask = mask[0] if mask else None
        if self.return_sequences:
            out = mask if self.merge_mode else [mask, mask]
        else:
            out = None if self.merge_mode else [None, None]
        if self.return_state:
            n = len(getattr(self.forward_layer, "state_size", [])) * 2
            out = (out if isinstance(out, list) else [out]) + [None] * n
        return out

    def get_config(self):
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = serialize_keras_object(self.forward_layer)
        config["backward_layer"] = serialize_keras_object(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_keras_object(
            config["layer"], custom_objects=custom_objects, module="keras.layers")
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_keras_object(
                config["backward_layer"], custom_objects=custom_objects, module="keras.layers")
        return super().from_config(config)


# ---- TimeDistributed and Masking -----------------------------------------------------------
@register_builtin("keras.layers")
class TimeDistributed(Wrapper):
    """Applies `layer` to every time step of `(batch, time, ...)` inputs (as
    one call on `(batch * time, ...)`)."""

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(
                f"Layer {self.name!r} (TimeDistributed) expects inputs of rank 3 or more "
                f"(batch, timesteps, ...), got shape {input_shape}.")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        super().build(self._child_shape(tuple(input_shape)))

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        b, t = shape[0], shape[1]
        flat = jnp.reshape(inputs, (b * t,) + shape[2:])
        kwargs = {}
        sig = self.layer._call_signature()
        if sig["training"]:
            kwargs["training"] = training
        if sig["mask"] and mask is not None:
            mask = jnp.asarray(mask)
            if mask.ndim < 2 or tuple(mask.shape[:2]) != (b, t):
                raise ValueError(
                    f"Layer {self.name!r} (TimeDistributed): the mask must have shape "
                    f"(batch, timesteps, ...) = ({b}, {t}, ...), got {tuple(mask.shape)}.")
            kwargs["mask"] = jnp.reshape(mask, (b * t,) + tuple(mask.shape[2:]))
        out = self.layer(flat, **kwargs)
        return jax.tree_util.tree_map(
            lambda o: jnp.reshape(o, (b, t) + tuple(o.shape[1:])), out)


@register_builtin("keras.layers")
class Masking(Layer):
    """Masks time steps whose features all equal `mask_value`: they are zeroed
    and the mask `any(inputs != mask_value, axis=-1)` goes to the next layers."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, dict) and mask_value.get("config") is not None:
            mask_value = deserialize_keras_object(mask_value)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs, mask=None):
        if isinstance(inputs, KerasTensor):
            return KerasTensor(inputs.shape[:-1], "bool")
        return jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return jnp.where(keep, inputs, jnp.zeros((), inputs.dtype))

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
