"""`LossScaleOptimizer`: dynamic loss scaling for float16 training."""
import jax.numpy as jnp

from kerax.optimizers.base import Optimizer
from kerax.saving.object_registration import register_builtin
from kerax.variables import Variable

__all__ = ["LossScaleOptimizer"]


@register_builtin("keras.optimizers")
class LossScaleOptimizer(Optimizer):
    """Wraps an optimizer for float16 training: the loss is multiplied by a
    scale before differentiation (`scale_loss`), gradients are divided by it,
    and a step whose gradients are not finite is skipped and halves the scale;
    after `dynamic_growth_steps` finite steps in a row the scale doubles.
    Works eagerly and in compiled steps (the skip is a `where`, not a branch).
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        from kerax import optimizers
        inner = optimizers.get(inner_optimizer)
        if not isinstance(inner, Optimizer):
            raise ValueError(
                f"LossScaleOptimizer: `inner_optimizer` must be an optimizer, got {inner_optimizer!r}.")
        if not initial_scale > 0:
            raise ValueError(f"LossScaleOptimizer: `initial_scale` must be > 0, got {initial_scale}.")
        if int(dynamic_growth_steps) < 1:
            raise ValueError(
                "LossScaleOptimizer: `dynamic_growth_steps` must be >= 1, got "
                f"{dynamic_growth_steps}.")
        super().__init__(learning_rate=0.0, name=name or "loss_scale_optimizer", **kwargs)
        self.inner_optimizer = inner
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.dynamic_scale = Variable(self.initial_scale, dtype="float32", trainable=False,
                                      name="dynamic_scale")
        self.step_counter = Variable(0, dtype="int32", trainable=False, name="step_counter")

    # the inner optimizer's hyperparameters
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if getattr(self, "inner_optimizer", None) is None:  # during base __init__
            return
        self.inner_optimizer.learning_rate = value

    def _set_learning_rate(self, learning_rate, initial=False):
        if initial:
            return
        self.inner_optimizer._set_learning_rate(learning_rate)

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def variables(self):
        return [self.dynamic_scale, self.step_counter] + list(self.inner_optimizer.variables)

    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        self.built = True

    def scale_loss(self, loss):
        return loss * self.dynamic_scale.value.astype(jnp.asarray(loss).dtype)

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if trainable_variables is None:
            trainable_variables = self.inner_optimizer._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(trainable_variables)
        self.built = True
        scale = self.dynamic_scale.value
        unscaled = [None if g is None else jnp.asarray(g, jnp.float32) / scale for g in grads]
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in unscaled if g is not None]))
        watched = trainable_variables + list(self.inner_optimizer.variables)
        before = [v.value for v in watched]
        safe = [None if g is None else jnp.where(finite, g, jnp.zeros_like(g)) for g in unscaled]
        self.inner_optimizer.apply(safe, trainable_variables)
        for var, old in zip(watched, before):
            var.assign(jnp.where(finite, var.value, old))
        counter = self.step_counter.value
        grow = jnp.logical_and(finite, counter + 1 >= self.dynamic_growth_steps)
        self.dynamic_scale.assign(jnp.where(finite, jnp.where(grow, scale * 2, scale),
                                            jnp.maximum(scale / 2, 1.0)))
        self.step_counter.assign(jnp.where(finite, jnp.where(grow, 0, counter + 1), 0))

    def apply_gradients(self, grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        self.apply([g for g, _ in grads_and_vars], [v for _, v in grads_and_vars])

    def get_config(self):
        from kerax.optimizers import serialize
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from kerax.optimizers import deserialize
        config = dict(config)
        config["inner_optimizer"] = deserialize(config["inner_optimizer"])
        return cls(**config)
