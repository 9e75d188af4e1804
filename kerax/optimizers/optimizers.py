"""The built-in optimizers, each an optax transformation configured (or, where
Keras' formula differs from optax's, a small transform from
`kerax.optimizers.transforms`) so that its steps equal Keras 3's.

`Ftrl`, `Lamb`, `Muon` and `ScheduleFreeAdamW` have a module each;
`LossScaleOptimizer` wraps another optimizer (loss_scale_optimizer.py).
"""
from kerax._lazy import optax  # imported on first use

from kerax.optimizers import transforms
from kerax.optimizers.base import Optimizer
from kerax.registry import register_builtin

__all__ = ["SGD", "RMSprop", "Adam", "AdamW", "Nadam", "Adamax", "Adagrad",
           "Adadelta", "Adafactor", "Lion"]

_MODULE = "keras.optimizers"

_BASE_ARGS = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
              "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
              "gradient_accumulation_steps", "name")


def _base_kwargs(local):
    out = {k: local[k] for k in _BASE_ARGS}
    out.update(local.get("kwargs") or {})
    return out


def _keep(opt, local):
    """Set the optimizer's own hyperparameters (its `_config_keys`) from its
    constructor's arguments."""
    for key in opt._config_keys:
        setattr(opt, key, local[key])


@register_builtin(_MODULE, aliases=("sgd",))
class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum:
    `m = momentum * m - lr * g; var += m` (Nesterov: `var += momentum * m - lr * g`)."""

    _slot_names = {"trace": "momentum"}
    _config_keys = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")

    def _transform(self, lr):
        # Scaling before the trace keeps the learning rate inside the momentum
        # (as Keras does), which matters when the learning rate changes.
        parts = [optax.scale(-lr)]
        if self.momentum != 0:
            parts.append(optax.trace(decay=self.momentum, nesterov=self.nesterov))
        return optax.chain(*parts)


@register_builtin(_MODULE, aliases=("rmsprop",))
class RMSprop(Optimizer):
    """RMSprop: `v = rho * v + (1 - rho) * g^2`, step `lr * g / sqrt(v + eps)`
    (centered: `v - mean(g)^2`), accumulated in a momentum when `momentum > 0`."""

    _slot_names = {"nu": "velocity", "trace": "momentum", "mu": "average_gradient"}
    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        if self.centered:
            scale = optax.scale_by_stddev(decay=self.rho, eps=self.epsilon, eps_in_sqrt=True)
        else:
            scale = optax.scale_by_rms(decay=self.rho, eps=self.epsilon, eps_in_sqrt=True)
        parts = [scale, optax.scale(-lr)]
        if self.momentum > 0:
            parts.append(optax.trace(decay=self.momentum))
        return optax.chain(*parts)


@register_builtin(_MODULE, aliases=("adam",))
class Adam(Optimizer):
    """Adam (Kingma & Ba), with Keras' epsilon placement
    (`lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`) and optional AMSGrad."""

    _slot_names = {"mu": "momentum", "nu": "velocity", "nu_max": "velocity_hat"}
    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        return optax.chain(
            transforms.keras_adam(self.beta_1, self.beta_2, self.epsilon, self.amsgrad),
            optax.scale(-lr))


@register_builtin(_MODULE, aliases=("adamw", "adam_w"))
class AdamW(Adam):
    """Adam with decoupled weight decay (`var -= lr * weight_decay * var`
    before each Adam step), as Keras 3."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, **_base_kwargs(locals()))


class _BetasEpsilon(Optimizer):
    """Nadam and Adamax: Keras' `(beta_1=0.9, beta_2=0.999, epsilon=1e-7)`
    constructor and the step `-lr * _scale_by(beta_1, beta_2, epsilon)(g)`."""

    _config_keys = ("beta_1", "beta_2", "epsilon")
    _scale_by = None  # a staticmethod of a kerax.optimizers.transforms factory

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        return optax.chain(self._scale_by(self.beta_1, self.beta_2, self.epsilon),
                           optax.scale(-lr))


@register_builtin(_MODULE, aliases=("nadam",))
class Nadam(_BetasEpsilon):
    """Adam with Nesterov momentum and Dozat's momentum schedule, as Keras 3."""

    _slot_names = {"mu": "momentum", "nu": "velocity"}
    _scale_by = staticmethod(transforms.keras_nadam)


@register_builtin(_MODULE, aliases=("adamax",))
class Adamax(_BetasEpsilon):
    """Adam with the infinity norm: `lr * m / ((1 - b1^t) * (u + eps))`,
    `u = max(b2 * u, |g|)`."""

    _slot_names = {"mu": "momentum", "nu": "norm"}
    _scale_by = staticmethod(transforms.keras_adamax)


@register_builtin(_MODULE, aliases=("adagrad",))
class Adagrad(Optimizer):
    """Adagrad: `acc += g^2; var -= lr * g / sqrt(acc + eps)`, with `acc`
    starting at `initial_accumulator_value`."""

    _slot_names = {"sum_of_squares": "accumulator"}
    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        return optax.chain(
            optax.scale_by_rss(initial_accumulator_value=self.initial_accumulator_value,
                               eps=self.epsilon),
            optax.scale(-lr))


@register_builtin(_MODULE, aliases=("adadelta",))
class Adadelta(Optimizer):
    """Adadelta (Zeiler): `delta = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g`,
    scaled by the learning rate."""

    _slot_names = {"e_g": "accumulated_grad", "e_x": "accumulated_delta_var"}
    _config_keys = ("rho", "epsilon")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        return optax.chain(optax.scale_by_adadelta(rho=self.rho, eps=self.epsilon),
                           optax.scale(-lr))


@register_builtin(_MODULE, aliases=("adafactor",))
class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern) as Keras 3 writes it: factored second
    moments for variables with 2+ dimensions, relative step sizes."""

    _slot_names = {"v": "velocity"}
    _config_keys = ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step")

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30,
                 epsilon_2=1e-3, clip_threshold=1.0, relative_step=True, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())

    def _transform(self, lr):
        # Keras caps the learning rate at 1/sqrt(t) only for a float learning rate.
        cap = self.relative_step and not callable(self._learning_rate)
        return transforms.keras_adafactor(lr, self.beta_2_decay, self.epsilon_1,
                                          self.epsilon_2, self.clip_threshold, cap)


@register_builtin(_MODULE, aliases=("lion",))
class Lion(Optimizer):
    """Lion (Chen et al.): `var -= lr * sign(b1 * m + (1 - b1) * g)`,
    `m = b2 * m + (1 - b2) * g`."""

    _slot_names = {"mu": "momentum"}
    _config_keys = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_kwargs(locals()))
        _keep(self, locals())
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(
                "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                f"degenerates to SignSGD. Received: beta_1={beta_1}.")

    def _transform(self, lr):
        return optax.chain(optax.scale_by_lion(b1=self.beta_1, b2=self.beta_2),
                           optax.scale(-lr))
