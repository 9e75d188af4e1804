"""Attention layers: MultiHeadAttention, Attention (Luong), AdditiveAttention
(Bahdanau), with Keras 3's weights, masks and arguments."""
import math
import string

import jax
import jax.numpy as jnp

from kerax import constraints, initializers, regularizers
from kerax import random as _random
from kerax.layers.einsum_dense import EinsumDense
from kerax.layers.layer import Layer
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]

_LETTERS = string.ascii_lowercase


def _large_negative(dtype):
    return -3e4 if jnp.dtype(dtype) == jnp.float16 else -1e9


def _check_positive_int(value, where, arg, allow_none=False):
    if allow_none and value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"{where}: `{arg}` must be a positive integer{' or None' if allow_none else ''}, "
            f"got {value!r}.")
    return value


def _projection_equation(rank, bound, out_dims):
    """EinsumDense equation mapping the last `bound` axes of a rank-`rank`
    input to `out_dims` new axes: returns (equation, bias_axes)."""
    free = _LETTERS[:rank - bound]
    inp = _LETTERS[:rank]
    new = _LETTERS[rank:rank + out_dims]
    kernel = inp[rank - bound:] + new
    return f"{inp},{kernel}->{free}{new}", new


def _attention_equations(rank, attn_axes):
    """Einsum equations of the scores `key . query` and of `scores . value`
    for projected tensors of rank `rank` (batch, ..., heads, dim); the scores
    are laid out (batch and non-attention axes, heads, query axes, key axes)."""
    target = _LETTERS[:rank]
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    extra = iter(_LETTERS[rank:])
    source = "".join(target[i] if (i in batch_dims or i == rank - 1) else next(extra)
                     for i in range(rank))
    product = ("".join(target[i] for i in batch_dims) + "".join(target[i] for i in attn_axes)
               + "".join(source[i] for i in attn_axes))
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


@register_builtin("keras.layers")
class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017), Keras 3's layout: sublayers
    `query`, `key`, `value` with kernels `(dim, num_heads, key_dim)` and
    `attention_output` with kernel `(num_heads, value_dim, output_dim)`.

    Call: `layer(query, value, key=None, query_mask=None, value_mask=None,
    key_mask=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`. Boolean masks: True = attend.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"MultiHeadAttention {self.name!r}"
        self._num_heads = _check_positive_int(num_heads, where, "num_heads")
        self._key_dim = _check_positive_int(key_dim, where, "key_dim")
        self._value_dim = _check_positive_int(value_dim, where, "value_dim", True) or key_dim
        try:
            ok = 0.0 <= float(dropout) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{where}: `dropout` must be a float in [0, 1], got {dropout!r}.")
        self._dropout = dropout
        self._use_bias = use_bias
        self._use_gate = use_gate
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(output_shape)
            except TypeError:
                raise ValueError(
                    f"{where}: `output_shape` must be an int, a tuple or a list, got "
                    f"{output_shape!r}.") from None
        self._output_shape = output_shape or None
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                f"{where}: `attention_axes` must be an int, a list or a tuple, got "
                f"{attention_axes!r}.")
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        if sliding_window is not None:
            _check_positive_int(sliding_window, where, "sliding_window")
        self._sliding_window = sliding_window
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        if self._dropout > 0:
            self.seed_generator = _random.SeedGenerator(seed)
        self.supports_masking = True

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _sublayer_kwargs(self):
        return dict(
            kernel_initializer=initializers.get(initializers.serialize(self._kernel_initializer)),
            bias_initializer=initializers.get(initializers.serialize(self._bias_initializer)),
            kernel_regularizer=self._kernel_regularizer, bias_regularizer=self._bias_regularizer,
            activity_regularizer=self._activity_regularizer,
            kernel_constraint=self._kernel_constraint, bias_constraint=self._bias_constraint,
            dtype=self.dtype)

    def _proj(self, shape, dim, name, activation=None):
        rank = len(shape)
        eq, bias_axes = _projection_equation(rank, 1, 2)
        layer = EinsumDense(eq, output_shape=[None] * (rank - 2) + [self._num_heads, dim],
                            bias_axes=bias_axes if self._use_bias else None,
                            activation=activation, name=name, **self._sublayer_kwargs())
        layer.build(tuple(shape))
        object.__setattr__(layer, "built", True)
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: build needs `query_shape` and "
                "`value_shape` (call the layer on query and value tensors).")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: all dimensions of `value` and `key` "
                f"except the last must be equal, got value shape {value_shape} and key "
                f"shape {key_shape}.")
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3 or shape[-1] is None:
                raise ValueError(
                    f"Layer {self.name!r} (MultiHeadAttention) expects `{arg}` of rank 3 or "
                    f"more with a known last dimension, got shape {shape}.")
        rank = len(query_shape)
        self.query_dense = self._proj(query_shape, self._key_dim, "query")
        self.key_dense = self._proj(key_shape, self._key_dim, "key")
        if self._use_gate:
            self._gate_dense = self._proj(query_shape, self._value_dim, "gate", "sigmoid")
        self.value_dense = self._proj(value_shape, self._value_dim, "value")
        proj_rank = rank + 1
        if self._attention_axes is None:
            axes = tuple(range(1, proj_rank - 2))
        else:
            axes = tuple(a if a >= 0 else (proj_rank - 1) + a for a in self._attention_axes)
        self._attention_axes = axes
        self._dot_eq, self._combine_eq, scores_rank = _attention_equations(proj_rank, axes)
        self._norm_axes = tuple(range(scores_rank - len(axes), scores_rank))
        out_shape = self._output_shape or (query_shape[-1],)
        eq, bias_axes = _projection_equation(proj_rank, 2, len(out_shape))
        self.output_dense = EinsumDense(
            eq, output_shape=[None] * (rank - 2) + list(out_shape),
            bias_axes=bias_axes if self._use_bias else None, name="attention_output",
            **self._sublayer_kwargs())
        self.output_dense.build(query_shape[:-1] + (self._num_heads, self._value_dim))
        object.__setattr__(self.output_dense, "built", True)
        self.built = True

    # The sublayers live under Keras' public names (its weights-file groups);
    # the underscored names are aliases.
    _query_dense = property(lambda self: self.query_dense)
    _key_dense = property(lambda self: self.key_dense)
    _value_dense = property(lambda self: self.value_dense)
    _output_dense = property(lambda self: self.output_dense)

    def _causal_mask(self, query, value):
        t, s = query.shape[1], value.shape[1]
        return (jnp.arange(t)[:, None] >= jnp.arange(s)[None, :])[None]

    def _compute_attention_mask(self, query, value, query_mask=None, value_mask=None,
                                key_mask=None, attention_mask=None, use_causal_mask=False):
        auto = None

        def merge(a, b):
            return b if a is None else a & b

        if query_mask is not None:
            auto = merge(auto, jnp.asarray(query_mask).astype(bool)[..., None])
        if value_mask is not None:
            auto = merge(auto, jnp.asarray(value_mask).astype(bool)[..., None, :])
        if key_mask is not None:
            auto = merge(auto, jnp.asarray(key_mask).astype(bool)[..., None, :])
        if use_causal_mask:
            auto = merge(auto, self._causal_mask(query, value))
        if self._sliding_window is not None:
            t, s = query.shape[1], value.shape[1]
            window = jnp.abs(jnp.arange(t)[:, None] - jnp.arange(s)[None, :]) < self._sliding_window
            auto = merge(auto, window[None])
        if attention_mask is not None:
            attention_mask = jnp.asarray(attention_mask).astype(bool)
        if auto is not None:
            attention_mask = auto if attention_mask is None else attention_mask & auto
        return attention_mask

    def _masked_softmax(self, scores, mask=None):
        if mask is not None:
            axis = -len(self._attention_axes) * 2 - 1
            while mask.ndim < scores.ndim:
                mask = jnp.expand_dims(mask, axis)
            scores = jnp.where(mask, scores, jnp.asarray(_large_negative(scores.dtype), scores.dtype))
        return jax.nn.softmax(scores, axis=self._norm_axes)

    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        query = query * jnp.asarray(self._inverse_sqrt_key_dim, query.dtype)
        scores = jnp.einsum(self._dot_eq, key, query)
        scores = self._masked_softmax(scores, attention_mask)
        probs = scores
        if training and self._dropout > 0:
            probs = _random.dropout(scores, self._dropout, seed=self.seed_generator)
        return jnp.einsum(self._combine_eq, probs, value), scores

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if key is None:
            key = value
        if "query_dense" not in self.__dict__:
            self.build(query.shape, value.shape, key.shape)
        attention_mask = self._compute_attention_mask(
            query, value, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
            attention_mask=attention_mask, use_causal_mask=use_causal_mask)
        gate = self._gate_dense(query) if self._use_gate else None
        q = self.query_dense(query)
        k = self.key_dense(key)
        v = self.value_dense(value)
        out, scores = self._compute_attention(q, k, v, attention_mask, training)
        if gate is not None:
            out = out * gate
        out = self.output_dense(out)
        if return_attention_scores:
            return out, scores
        return out

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "output_shape": self._output_shape,
            "attention_axes": self._config_axes(),
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": serialize_keras_object(self._kernel_regularizer),
            "bias_regularizer": serialize_keras_object(self._bias_regularizer),
            "activity_regularizer": serialize_keras_object(self._activity_regularizer),
            "kernel_constraint": serialize_keras_object(self._kernel_constraint),
            "bias_constraint": serialize_keras_object(self._bias_constraint),
            "seed": self.seed,
        })
        return config

    def _config_axes(self):
        axes = self._attention_axes
        return None if axes is None else list(axes) if isinstance(axes, list) else axes


@register_builtin("keras.layers")
class Attention(Layer):
    """Dot-product (Luong) attention over `[query, value]` or `[query, value,
    key]`: `softmax(query @ key^T) @ value`. `score_mode="concat"` uses
    `sum(tanh(query + key))`; `use_scale` adds a learned scalar scale."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: `score_mode` must be 'dot' or "
                f"'concat', got {score_mode!r}.")
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        if self.dropout > 0:
            self.seed_generator = _random.SeedGenerator(seed)
        self.supports_masking = True

    def _validate(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"Layer {self.name!r} ({name}) expects `inputs` to be a list "
                f"[query, value] or [query, value, key], got {inputs!r}.")
        if mask is not None and (not isinstance(mask, (list, tuple)) or
                                 not 2 <= len(mask) <= 3):
            raise ValueError(
                f"Layer {self.name!r} ({name}) expects `mask` to be a list "
                f"[query_mask, value_mask] (or with key_mask), got {mask!r}.")

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                name="concat_score_weight", shape=(), initializer="ones")
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = jnp.matmul(query, jnp.swapaxes(key, -2, -1))
            if self.scale is not None:
                scores = scores * self.scale.value
            return scores
        qk = query[..., :, None, :] + key[..., None, :, :]
        if self.scale is not None:
            qk = self.scale.value * qk
        return self.concat_score_weight.value * jnp.sum(jnp.tanh(qk), axis=-1)

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        if scores_mask is not None:
            pad = jnp.logical_not(scores_mask)
            if pad.ndim == 2:
                pad = pad[:, None, :]
            big = 65504.0 if scores.dtype == jnp.float16 else 1.0e9
            scores = jnp.where(pad, scores - big, scores)
        weights = jax.nn.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = _random.dropout(weights, self.dropout, seed=self.seed_generator)
        return jnp.matmul(weights, value), weights

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._calculate_scores(q, k)
        scores_mask = None if v_mask is None else jnp.asarray(v_mask).astype(bool)
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = (jnp.arange(tq)[:, None] >= jnp.arange(tv)[None, :])[None]
            scores_mask = causal if scores_mask is None else \
                jnp.logical_and(scores_mask[..., None, :], causal)
        out, weights = self._apply_scores(scores, v, scores_mask, training)
        if q_mask is not None:
            out = jnp.where(jnp.asarray(q_mask).astype(bool)[..., None], out, 0)
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def get_config(self):
        config = super().get_config()
        config.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                       "dropout": self.dropout, "seed": self.seed})
        return config


@register_builtin("keras.layers")
class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores `sum(scale * tanh(query + key))`
    with a learned `scale` vector of the feature size when `use_scale`."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(input_shape)
        dim = input_shape[0][-1]
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,),
                                         initializer="glorot_uniform")
        self.built = True

    def _calculate_scores(self, query, key):
        t = jnp.tanh(query[..., :, None, :] + key[..., None, :, :])
        if self.use_scale:
            t = self.scale.value * t
        return jnp.sum(t, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode", None)
        return config
