"""Embedding: integer indices -> dense vectors."""
import jax.numpy as jnp
import numpy as np

from kerax.layers.core import LoraMixin, lora_weight_property
from kerax.layers.layer import KerasTensor, Layer
from kerax.layers.quantized import EmbeddingQuantization, quantized_weight_property
from kerax.layers.weight_options import set_weight_options, weight_options_config
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["Embedding"]


@register_builtin("keras.layers")
class Embedding(EmbeddingQuantization, LoraMixin, Layer):
    """Looks up rows of an `(input_dim, output_dim)` table: `(batch, ...)` integer
    inputs give `(batch, ..., output_dim)`. With `mask_zero=True`, index 0 is
    padding and `compute_mask` returns `inputs != 0`. With `lora_rank=r` (or
    `enable_lora(r)` once built) the table is frozen and a rank-r update
    `lora_alpha / r * lora_embeddings_a @ lora_embeddings_b` is trained."""

    _lora_weight = "embeddings"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        kwargs.pop("input_length", None)
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Embedding {self.name!r}: `{arg}` must be a positive integer, "
                    f"got {value!r}.")
        self._init_quantization(quantization_config)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        set_weight_options(self, embeddings=(embeddings_initializer, embeddings_regularizer,
                                             embeddings_constraint))
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self._init_lora(lora_rank, lora_alpha)
        if weights is not None:
            self.build()
            if not isinstance(weights, (list, tuple)):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.built:
            return
        if self.quantization_mode:  # quantization hook (kerax.layers.quantized)
            self.quantized_build((self.input_dim, self.output_dim), self.quantization_mode,
                                 self.quantization_config)
        else:
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim),
                initializer=self.embeddings_initializer,
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint, name="embeddings")
        self.built = True
        self._build_lora()

    embeddings = quantized_weight_property(lora_weight_property("embeddings"))

    def call(self, inputs):
        if self.quantization_mode:  # quantization hook (kerax.layers.quantized)
            return self.quantized_call(inputs)
        if not jnp.issubdtype(inputs.dtype, jnp.integer):
            inputs = inputs.astype("int32")
        return jnp.take(self._lora_merged(), inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        if isinstance(inputs, KerasTensor):
            return KerasTensor(inputs.shape, "bool")
        return jnp.not_equal(inputs, 0)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            **weight_options_config(self, "embeddings", kinds=("initializer", "regularizer")),
            "activity_regularizer": serialize_keras_object(self.activity_regularizer),
            **weight_options_config(self, "embeddings", kinds=("constraint",)),
            "mask_zero": self.mask_zero,
            "quantization_config": self._quantization_config_entry(),
        })
        return self._lora_config(config)
