"""LAMB (You et al., 2019), Keras 3's `Lamb`, on optax: Adam's direction
(`optax.scale_by_adam`, whose epsilon placement is Keras' here) scaled by
the layer-wise trust ratio `||w|| / ||update||` (`optax.scale_by_trust_ratio`;
1 where either norm is 0)."""
from kerax._lazy import optax  # imported on first use

from kerax.optimizers.base import Optimizer
from kerax.optimizers.optimizers import _base_kwargs, _keep
from kerax.registry import register_builtin

__all__ = ["Lamb"]


@register_builtin("keras.optimizers", aliases=("lamb",))
class Lamb(Optimizer):
    """Layer-wise adaptive large-batch optimizer:
    `w -= lr * ratio * m_hat / (sqrt(v_hat) + epsilon)`,
    `ratio = ||w|| / ||m_hat / (sqrt(v_hat) + epsilon)||`.

    >>> import jax.numpy as jnp, kerax
    >>> v = kerax.Variable([3.0, 4.0])
    >>> _ = Lamb(learning_rate=0.1).apply_gradients([(jnp.array([1.0, 0.0]), v)])
    >>> [round(float(x), 3) for x in v.numpy()]
    [2.5, 4.0]
    """

    _slot_names = {"mu": "momentum", "nu": "velocity"}
    _config_keys = ("beta_1", "beta_2", "epsilon")
    _keras_layout = (("per_var", ("momentum", "velocity")),)
    """Keras' file layout of the slots (see kerax.saving.optimizer_layout)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        return optax.chain(optax.scale_by_adam(b1=self.beta_1, b2=self.beta_2, eps=self.epsilon),
                           optax.scale_by_trust_ratio(), optax.scale(-lr))
