"""FTRL-Proximal (McMahan et al., 2013), Keras 3's `Ftrl`.

optax has no FTRL rule, so this is a per-variable `update_step` over two
slots per variable, `accumulator` and `linear`, created in Keras' order (the
`.keras` file layout is Keras' own).
"""
import jax.numpy as jnp

from kerax.optimizers.base import Optimizer
from kerax.optimizers.optimizers import _base_kwargs, _keep
from kerax.registry import register_builtin

__all__ = ["Ftrl"]


def _non_negative(value, arg):
    if value < 0.0:
        raise ValueError(f"`{arg}` needs to be positive or zero. Received: {arg}={value}.")


@register_builtin("keras.optimizers", aliases=("ftrl",))
class Ftrl(Optimizer):
    """FTRL-Proximal with L1, L2 and L2-shrinkage regularization:

    ```
    n' = n + g^2
    z += g + 2 * l2_shrinkage * w - (n'^-p - n^-p) / lr * w
    w = (clip(z, -l1, l1) - z) / (n'^-p / lr + 2 * (l2 + beta / (2 * lr)))
    ```
    with `p = learning_rate_power` (-0.5) and `n` starting at
    `initial_accumulator_value`.

    >>> import kerax
    >>> v = kerax.Variable([1.0, -1.0])
    >>> opt = Ftrl(learning_rate=0.1, l1_regularization_strength=0.01)
    >>> _ = opt.apply_gradients([(jnp.array([0.5, 0.5]), v)])
    >>> [v.path for v in opt.variables][2:]
    ['ftrl/variable_accumulator', 'ftrl/variable_linear']
    """

    _config_keys = ("learning_rate_power", "initial_accumulator_value",
                    "l1_regularization_strength", "l2_regularization_strength",
                    "l2_shrinkage_regularization_strength", "beta")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _non_negative(initial_accumulator_value, "initial_accumulator_value")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        _non_negative(l1_regularization_strength, "l1_regularization_strength")
        _non_negative(l2_regularization_strength, "l2_regularization_strength")
        _non_negative(l2_shrinkage_regularization_strength,
                      "l2_shrinkage_regularization_strength")
        _keep(self, locals())

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = [], []
        for var in var_list:  # Keras' order: each variable's accumulator, then linear
            self._accumulators.append(self.add_variable_from_reference(
                var, "accumulator", initializer=self.initial_accumulator_value))
            self._linears.append(self.add_variable_from_reference(var, "linear"))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = jnp.asarray(learning_rate, dtype)
        g = jnp.asarray(gradient, dtype)
        w = variable.value
        index = self._get_variable_index(variable)
        accum, linear = self._accumulators[index], self._linears[index]
        power = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        n, new_n = accum.value, accum.value + jnp.square(g)
        shrunk = g + 2 * self.l2_shrinkage_regularization_strength * w
        z = linear.value + shrunk - (jnp.power(new_n, power) - jnp.power(n, power)) / lr * w
        quadratic = jnp.power(new_n, power) / lr + 2 * l2
        l1 = self.l1_regularization_strength
        self.assign(linear, z)
        self.assign(variable, (jnp.clip(z, -l1, l1) - z) / quadratic)
        self.assign(accum, new_n)
