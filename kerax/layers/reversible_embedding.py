"""ReversibleEmbedding: an Embedding that also maps hidden states back to
logits over the vocabulary (`reverse=True`), as in tied-embedding language
models."""
import jax.numpy as jnp

from kerax.core.dtypes import standardize_dtype
from kerax.layers.embedding import Embedding
from kerax.layers.layer import KerasTensor
from kerax.registry import register_builtin

__all__ = ["ReversibleEmbedding"]


@register_builtin("keras.layers")
class ReversibleEmbedding(Embedding):
    """`layer(ids)` looks up embeddings; `layer(hidden, reverse=True)` returns
    `hidden @ embeddings.T` (with `tie_weights=True`, the default) or `hidden
    @ reverse_embeddings` (a separate `(output_dim, input_dim)` weight with
    `tie_weights=False`). `reverse_dtype` casts both operands of the reverse
    matmul; `logit_soft_cap` maps logits to `cap * tanh(logits / cap)`.

    >>> import numpy as np, kerax
    >>> emb = kerax.layers.ReversibleEmbedding(10, 4)
    >>> hidden = emb(np.array([[1, 2, 3]]))
    >>> emb(hidden, reverse=True).shape
    (1, 3, 10)
    """

    def __init__(self, input_dim, output_dim, tie_weights=True,
                 embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = None if reverse_dtype is None else standardize_dtype(
            reverse_dtype, f"ReversibleEmbedding {self.name!r} `reverse_dtype`")
        if logit_soft_cap is not None and not (
                isinstance(logit_soft_cap, (int, float)) and logit_soft_cap > 0):
            raise ValueError(
                f"ReversibleEmbedding {self.name!r}: `logit_soft_cap` must be None or a "
                f"positive number, got {logit_soft_cap!r}.")
        self.logit_soft_cap = logit_soft_cap

    def _no_quantization(self):
        return NotImplementedError(
            f"ReversibleEmbedding {self.name!r}: quantization (Keras' int8/int4 "
            "ReversibleEmbedding, with its reverse_embeddings scales) is not implemented in "
            "kerax; keep this layer in float (quantize the other layers, e.g. with "
            "model.quantize(mode, filters=...)).")

    def quantize(self, mode=None, type_check=True, config=None):
        raise self._no_quantization()

    def build(self, input_shape=None):
        if self.quantization_mode:
            raise self._no_quantization()
        super().build(input_shape)
        if not self.tie_weights and "reverse_embeddings" not in self.__dict__:
            self.reverse_embeddings = self.add_weight(
                shape=(self.output_dim, self.input_dim), name="reverse_embeddings",
                initializer=self.embeddings_initializer, trainable=True)

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(
                f"Layer {self.name!r} (ReversibleEmbedding): with reverse=True the inputs' "
                f"last dimension must be output_dim={self.output_dim}, got inputs of shape "
                f"{tuple(inputs.shape)}.")
        kernel = (self._lora_merged().T if self.tie_weights
                  else self.reverse_embeddings.value)
        if self.reverse_dtype is not None:
            inputs = inputs.astype(self.reverse_dtype)
            kernel = kernel.astype(self.reverse_dtype)
        else:
            kernel = kernel.astype(inputs.dtype)
        logits = jnp.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = jnp.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, mask=None):
        # The mask of the forward lookup (integer ids); none for reverse calls,
        # whose inputs are the float hidden states.
        dtype = inputs.dtype
        if isinstance(inputs, KerasTensor):
            dtype = standardize_dtype(dtype)
        if not self.mask_zero or jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
            return None
        return super().compute_mask(inputs, mask)

    def get_config(self):
        config = super().get_config()
        config.update({"tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                       "logit_soft_cap": self.logit_soft_cap})
        return config
