"""Schedule-free AdamW (Defazio et al., 2024), Keras 3's `ScheduleFreeAdamW`.

Keras' formulation (uniform `1/t` averaging, Adam's bias-corrected second
moment) differs from optax.contrib's, so this is a per-variable
`update_step` over Keras' slots, `momentum` (the `z` sequence, starting at
the variable's value) and `velocity`, in Keras' order.
"""
import jax.numpy as jnp

from kerax.optimizers.base import Optimizer
from kerax.optimizers.optimizers import _base_kwargs, _keep
from kerax.registry import register_builtin

__all__ = ["ScheduleFreeAdamW"]


@register_builtin("keras.optimizers", aliases=("schedulefreeadamw",))
class ScheduleFreeAdamW(Optimizer):
    """AdamW without a learning-rate schedule: the trained variable is the
    interpolation `y = (1 - beta_1) * z + beta_1 * x` between the Adam-style
    iterate `z` (slot `momentum`) and its running average `x`, with a linear
    warm-up of the learning rate over `warmup_steps`.

    >>> import kerax
    >>> v = kerax.Variable([1.0, 2.0])
    >>> opt = ScheduleFreeAdamW(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(jnp.array([1.0, -1.0]), v)])
    >>> [round(float(x), 3) for x in v.numpy()]
    [0.9, 2.1]
    """

    _config_keys = ("beta_1", "beta_2", "epsilon", "warmup_steps")

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 warmup_steps=0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        for z, var in zip(self._momentums, var_list):
            z.assign(var.value)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = jnp.asarray(learning_rate, dtype)
        g = jnp.asarray(gradient, dtype)
        t = jnp.asarray(self.iterations.value + 1, dtype)
        beta_1, beta_2 = jnp.asarray(self.beta_1, dtype), jnp.asarray(self.beta_2, dtype)
        if self.warmup_steps > 0:
            lr = lr * jnp.minimum(t / self.warmup_steps, 1.0)
        index = self._get_variable_index(variable)
        z_var, v_var = self._momentums[index], self._velocities[index]
        z_old = z_var.value
        v = v_var.value + (jnp.square(g) - v_var.value) * (1 - beta_2)
        denom = jnp.sqrt(v / (1 - jnp.power(beta_2, t))) + jnp.asarray(self.epsilon, dtype)
        z = z_old - lr * g / denom
        weight = 1.0 / t
        x_old = (variable.value - (1 - beta_1) * z_old) / beta_1
        x = (1 - weight) * x_old + weight * z
        self.assign(v_var, v)
        self.assign(z_var, z)
        self.assign(variable, (1 - beta_1) * z + beta_1 * x)
