"""Muon (Jordan et al., 2024; Moonlight's scaling), Keras 3's `Muon`.

2D variables (except embeddings and `exclude_layers`) get momentum
orthogonalised by a quintic Newton-Schulz iteration; every other variable
gets AdamW. Keras' numerics (its Newton-Schulz coefficients and norm, its
`rms_rate` scaling, separate weight decays) differ from optax.contrib's
`muon`, so this is a per-variable `update_step` over Keras' slots: each
variable's `momentum`, then its `velocity` when it takes the AdamW path.
"""
import re

import jax.numpy as jnp

from kerax.optimizers.base import Optimizer
from kerax.optimizers.optimizers import _base_kwargs
from kerax.registry import register_builtin

__all__ = ["Muon"]


def _swap_last(x):
    return jnp.swapaxes(x, -1, -2)


@register_builtin("keras.optimizers", aliases=("muon",))
class Muon(Optimizer):
    """Muon for 2D weights, AdamW (at `learning_rate * adam_lr_ratio`) for
    the rest.

    Muon step: `m += g + (momentum - 1) * m`; with `nesterov` the direction
    is `g + momentum * m` (else `m`), orthogonalised by `ns_steps` of
    `x = a x + (b A + c A^2) x`, `A = x x^T`, and scaled by
    `sqrt(max(rows, cols)) * rms_rate`. Weight decay: `weight_decay` for the
    Muon variables, `adam_weight_decay` for the AdamW ones.

    >>> import kerax
    >>> w, b = kerax.Variable(jnp.ones((3, 2))), kerax.Variable(jnp.zeros(2))
    >>> opt = Muon(learning_rate=0.01)
    >>> _ = opt.apply_gradients([(jnp.ones((3, 2)), w), (jnp.ones(2), b)])
    >>> [v.name for v in opt.variables]
    ['iteration', 'learning_rate', 'variable_momentum', 'variable_momentum', 'variable_velocity']
    """

    _config_keys = ("adam_beta_1", "adam_beta_2", "epsilon", "exclude_layers", "muon_a",
                    "muon_b", "muon_c", "adam_lr_ratio", "momentum", "ns_steps", "nesterov",
                    "exclude_embeddings", "adam_weight_decay", "rms_rate")

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999,
                 adam_weight_decay=0.004, epsilon=1e-7, weight_decay=0.004, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None,
                 exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315,
                 adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        self.adam_beta_1, self.adam_beta_2, self.epsilon = adam_beta_1, adam_beta_2, epsilon
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio, self.momentum, self.ns_steps = adam_lr_ratio, momentum, ns_steps
        self.nesterov, self.exclude_embeddings = nesterov, exclude_embeddings
        self.exclude_layers = list(exclude_layers or [])
        self.adam_weight_decay, self.rms_rate = adam_weight_decay, rms_rate

    def _should_use_adamw(self, variable):
        """AdamW for variables that are not 2D, embeddings (with
        `exclude_embeddings`) and paths matching an `exclude_layers` pattern."""
        if len(variable.shape) != 2:
            return True
        if self.exclude_embeddings and "embedding" in variable.path.lower():
            return True
        return any(re.search(pattern, variable.path) for pattern in self.exclude_layers)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = [None] * len(var_list)
        self._adam_velocities = [None] * len(var_list)
        for i, var in enumerate(var_list):
            if getattr(var, "overwrite_with_gradient", False):
                continue
            self._momentums[i] = self.add_variable_from_reference(var, "momentum")
            if self._should_use_adamw(var):
                self._adam_velocities[i] = self.add_variable_from_reference(var, "velocity")

    def _chain(self, learning_rate, iteration, frozen=()):
        # Muon decays its two kinds of variables at two rates: update_step
        # does it, so the base chain's single-rate decay is left out.
        rate, self.weight_decay = self.weight_decay, None
        try:
            return super()._chain(learning_rate, iteration, frozen)
        finally:
            self.weight_decay = rate

    def _decay(self, variable, adamw):
        rate = self.adam_weight_decay if adamw else self.weight_decay
        if rate is None or not self._use_weight_decay(variable):
            return
        lr = jnp.asarray(self._get_current_learning_rate(), variable.dtype)
        w = variable.value
        self.assign(variable, w - w * jnp.asarray(rate, variable.dtype) * lr)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._adam_velocities[index]
        if m is None:
            return
        self._decay(variable, v is not None)
        if v is not None:
            self._adamw_step(gradient, variable, learning_rate * self.adam_lr_ratio, m, v)
        else:
            self._muon_step(gradient, variable, learning_rate, m)

    def _muon_step(self, gradient, variable, learning_rate, m):
        g = jnp.asarray(gradient, variable.dtype)
        new_m = m.value + g + m.value * (self.momentum - 1)
        self.assign(m, new_m)
        direction = g + self.momentum * new_m if self.nesterov else new_m
        update = self.zeropower_via_newtonschulz5(direction, self.ns_steps)
        self.assign(variable, variable.value - self.lr_adjust(learning_rate * update))

    def _adamw_step(self, gradient, variable, learning_rate, m, v):
        dtype = variable.dtype
        lr = jnp.asarray(learning_rate, dtype)
        g = jnp.asarray(gradient, dtype)
        t = jnp.asarray(self.iterations.value + 1, dtype)
        b1, b2 = jnp.asarray(self.adam_beta_1, dtype), jnp.asarray(self.adam_beta_2, dtype)
        alpha = lr * jnp.sqrt(1 - jnp.power(b2, t)) / (1 - jnp.power(b1, t))
        new_m = m.value + (g - m.value) * (1 - b1)
        new_v = v.value + (jnp.square(g) - v.value) * (1 - b2)
        self.assign(m, new_m)
        self.assign(v, new_v)
        self.assign(variable, variable.value - new_m * alpha / (jnp.sqrt(new_v) + self.epsilon))

    def lr_adjust(self, x):
        """Moonlight's scaling of a 2D update: `x * sqrt(max(rows, cols)) * rms_rate`."""
        if self.rms_rate is None:
            return x
        return x * jnp.sqrt(jnp.maximum(x.shape[0], x.shape[1])) * self.rms_rate

    def zeropower_via_newtonschulz5(self, x, steps):
        """`steps` quintic Newton-Schulz iterations towards the orthogonal
        factor of `x` (rank >= 2; the last two axes are the matrix)."""
        if x.ndim < 2:
            raise ValueError("Expected gradient or momentum to have at least 2 dimensions. "
                             f"Received: shape={tuple(x.shape)}")
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = _swap_last(x)
        x = x / (jnp.linalg.norm(x, axis=(-2, -1), keepdims=True) + 1e-7)
        for _ in range(steps):
            gram = x @ _swap_last(x)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return _swap_last(x) if tall else x
