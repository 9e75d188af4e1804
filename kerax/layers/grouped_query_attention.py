"""GroupQueryAttention (Ainslie et al. 2023): multi-head attention whose
`num_query_heads` query heads share `num_key_value_heads` key/value heads
(Keras 3's `keras.layers.GroupQueryAttention`, class `GroupedQueryAttention`)."""
import math

import jax.numpy as jnp

from kerax import constraints, initializers, ops, regularizers
from kerax.core.config import is_flash_attention_enabled
from kerax.layers.activations import Softmax
from kerax.layers.einsum_dense import EinsumDense
from kerax.layers.layer import Layer
from kerax.layers.regularization import Dropout
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["GroupedQueryAttention", "GroupQueryAttention"]


def _positive_int(value, where, arg):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: `{arg}` must be a positive integer, got {value!r}.")
    return value


@register_builtin("keras.layers", name="GroupQueryAttention")
class GroupedQueryAttention(Layer):
    """Grouped-query attention with Keras 3's weights: sublayers `query`
    (kernel `(dim, num_query_heads, head_dim)`), `key` and `value` (kernels
    `(dim, num_key_value_heads, head_dim)`), optional sigmoid `gate` and
    `attention_output` (kernel `(num_query_heads, head_dim, dim)`).

    Call: `layer(query, value, key=None, query_mask=None, value_mask=None,
    key_mask=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)` on `(batch, seq, dim)` tensors;
    boolean masks, True = attend, as in MultiHeadAttention.
    `sliding_window=w` lets position `i` attend only to `|i - j| < w`.
    `flash_attention` is accepted as in Keras (it may not be combined with
    `dropout` or `return_attention_scores`); XLA picks the kernel.

    >>> import numpy as np, kerax
    >>> gqa = kerax.layers.GroupQueryAttention(head_dim=4, num_query_heads=4,
    ...                                        num_key_value_heads=2)
    >>> x = np.ones((2, 3, 8), "float32")
    >>> gqa(x, x).shape
    (2, 3, 8)
    """

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0,
                 use_bias=True, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        where = f"GroupQueryAttention {self.name!r}"
        self.supports_masking = True
        self.head_dim = _positive_int(head_dim, where, "head_dim")
        self.num_query_heads = _positive_int(num_query_heads, where, "num_query_heads")
        self.num_key_value_heads = _positive_int(num_key_value_heads, where,
                                                 "num_key_value_heads")
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError(
                f"{where}: `num_query_heads` ({num_query_heads}) must be divisible by "
                f"`num_key_value_heads` ({num_key_value_heads}).")
        self.num_repeats = num_query_heads // num_key_value_heads
        try:
            ok = 0.0 <= float(dropout) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{where}: `dropout` must be a float in [0, 1], got {dropout!r}.")
        self.dropout = dropout
        self.use_bias = use_bias
        self.use_gate = use_gate
        if sliding_window is not None:
            _positive_int(sliding_window, where, "sliding_window")
        self.sliding_window = sliding_window
        self._flash_attention = flash_attention or is_flash_attention_enabled()
        if self._flash_attention and self.dropout > 0.0:
            raise ValueError(
                f"{where}: dropout is not supported with flash attention; set dropout=0.0 "
                "or flash_attention=False.")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(self.head_dim))

    def _sublayer_kwargs(self):
        # fresh initializer instances per sublayer (a seeded initializer would
        # otherwise give every kernel the same values)
        return dict(
            kernel_initializer=initializers.get(initializers.serialize(self.kernel_initializer)),
            bias_initializer=initializers.get(initializers.serialize(self.bias_initializer)),
            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.activity_regularizer,
            kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy.name)

    def _dense(self, equation, heads, bias_axes, name, shape, activation=None):
        layer = EinsumDense(equation, output_shape=(None, heads, self.head_dim),
                            bias_axes=bias_axes if self.use_bias else None,
                            activation=activation, name=name, **self._sublayer_kwargs())
        layer.build(tuple(shape))
        object.__setattr__(layer, "built", True)
        return layer

    def build(self, query_shape, value_shape, key_shape=None):
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(
                    f"Layer {self.name!r} (GroupQueryAttention) expects `{arg}` of shape "
                    f"(batch, seq, dim) with a known dim, got shape {shape}.")
        self.feature_dim = query_shape[-1]
        u, v = self.num_query_heads, self.num_key_value_heads
        self._query_dense = self._dense("bqm,muh->bquh", u, "uh", "query", query_shape)
        self._key_dense = self._dense("bkm,mvh->bkvh", v, "vh", "key", key_shape)
        if self.use_gate:
            self._gate_dense = self._dense("bqm,muh->bquh", u, "uh", "gate", query_shape,
                                           activation="sigmoid")
        self._value_dense = self._dense("bkm,mvh->bkvh", v, "vh", "value", value_shape)
        self._softmax = Softmax(axis=-1, dtype=self.dtype_policy.name)
        self._dropout_layer = Dropout(rate=self.dropout, dtype=self.dtype_policy.name,
                                      seed=self.seed)
        self._output_dense = EinsumDense(
            "bquh,uhm->bqm", output_shape=(None, self.feature_dim),
            bias_axes="m" if self.use_bias else None, name="attention_output",
            **self._sublayer_kwargs())
        self._output_dense.build((None, None, u, self.head_dim))
        object.__setattr__(self._output_dense, "built", True)
        self.built = True

    # ---- masks --------------------------------------------------------------------
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
        t, s = query.shape[1], value.shape[1]
        rows, cols = jnp.arange(t)[:, None], jnp.arange(s)[None, :]
        if use_causal_mask:
            auto = merge(auto, (rows >= cols)[None])
        if self.sliding_window is not None:
            auto = merge(auto, (jnp.abs(rows - cols) < self.sliding_window)[None])
        if auto is not None:
            attention_mask = auto if attention_mask is None else \
                jnp.asarray(attention_mask).astype(bool) & auto
        return attention_mask

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, is_causal=False):
        if self._flash_attention and return_attention_scores:
            raise ValueError(
                f"Layer {self.name!r} (GroupQueryAttention): attention scores cannot be "
                "returned with flash attention; pass flash_attention=False.")
        if not (self.dropout > 0.0 or return_attention_scores):
            mask = None
            if attention_mask is not None:
                mask = jnp.asarray(attention_mask).astype(bool)
                while mask.ndim < 4:
                    mask = jnp.expand_dims(mask, -3)  # the heads axis
            out = ops.dot_product_attention(
                query, key, value, mask=mask, scale=self._inverse_sqrt_head_dim,
                is_causal=is_causal, flash_attention=self._flash_attention)
            return out, None
        if is_causal:
            t, s = query.shape[1], key.shape[1]
            causal = (jnp.arange(t)[:, None] >= jnp.arange(s)[None, :])[None]
            attention_mask = causal if attention_mask is None else \
                jnp.asarray(attention_mask).astype(bool) & causal
        query = query * jnp.asarray(self._inverse_sqrt_head_dim, query.dtype)
        scores = jnp.einsum("bquh,bkuh->buqk", query, key)
        mask = None
        if attention_mask is not None:
            mask = jnp.asarray(attention_mask)
            while mask.ndim < scores.ndim:
                mask = jnp.expand_dims(mask, -3)
        scores = self._softmax(scores, mask=mask)
        probs = self._dropout_layer(scores, training=training) if self.dropout > 0.0 \
            else scores
        return jnp.einsum("buqk,bkuh->bquh", probs, value), scores

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if key is None:
            key = value
        causal_only = (use_causal_mask and query_mask is None and value_mask is None
                       and key_mask is None and attention_mask is None
                       and self.sliding_window is None)
        if not causal_only:
            attention_mask = self._compute_attention_mask(
                query, value, query_mask=query_mask, value_mask=value_mask,
                key_mask=key_mask, attention_mask=attention_mask,
                use_causal_mask=use_causal_mask)
        gate = self._gate_dense(query) if self.use_gate else None
        q = self._query_dense(query)
        k = jnp.repeat(self._key_dense(key), self.num_repeats, axis=2)
        v = jnp.repeat(self._value_dense(value), self.num_repeats, axis=2)
        out, scores = self._compute_attention(
            q, k, v, attention_mask=attention_mask, training=training,
            return_attention_scores=return_attention_scores, is_causal=causal_only)
        if gate is not None:
            out = out * gate
        out = self._output_dense(out)
        if return_attention_scores:
            return out, scores
        return out

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if query_shape[-1] != value_shape[-1]:
            raise ValueError(
                f"Layer {self.name!r} (GroupQueryAttention): the last dimension of "
                f"`query_shape` and `value_shape` must be equal, got {query_shape} and "
                f"{value_shape}.")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(
                f"Layer {self.name!r} (GroupQueryAttention): all dimensions of `value` and "
                f"`key` except the last must be equal, got {value_shape} and {key_shape}.")
        return tuple(query_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
            "dropout": self.dropout,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_keras_object(self.kernel_regularizer),
            "bias_regularizer": serialize_keras_object(self.bias_regularizer),
            "activity_regularizer": serialize_keras_object(self.activity_regularizer),
            "kernel_constraint": serialize_keras_object(self.kernel_constraint),
            "bias_constraint": serialize_keras_object(self.bias_constraint),
            "seed": self.seed,
        })
        return config


GroupQueryAttention = GroupedQueryAttention
