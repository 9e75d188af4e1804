"""`LossScaleOptimizer`: dynamic loss scaling for float16 training."""
import jax.numpy as jnp

from kerax.optimizers import transforms
from kerax.optimizers.base import Optimizer
from kerax.optimizers.lookup import deserialize, get, serialize
from kerax.registry import register_builtin
from kerax.variables import Variable

__all__ = ["LossScaleOptimizer"]


@register_builtin("keras.optimizers")
class LossScaleOptimizer(Optimizer):
    """Wraps an optimizer for float16 training: the loss is multiplied by a
    scale before differentiation (`scale_loss`), gradients are divided by it,
    and a step whose gradients are not finite is skipped and halves the scale
    (not below 1); after `dynamic_growth_steps` finite steps in a row the
    scale doubles (`transforms.keras_dynamic_loss_scale` around the inner
    optimizer's chain). Works eagerly and in compiled steps (the skip is a
    `where`, not a branch).
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        inner = get(inner_optimizer)
        if not isinstance(inner, Optimizer):
            raise ValueError(
                f"LossScaleOptimizer: `inner_optimizer` must be an optimizer, got {inner_optimizer!r}.")
        if not initial_scale > 0:
            raise ValueError(f"LossScaleOptimizer: `initial_scale` must be > 0, got {initial_scale}.")
        if int(dynamic_growth_steps) < 1:
            raise ValueError(
                "LossScaleOptimizer: `dynamic_growth_steps` must be >= 1, got "
                f"{dynamic_growth_steps}.")
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner_optimizer = inner
        # The dynamic scale replaces the inner optimizer's own loss scaling (as in Keras).
        inner.loss_scale_factor = None
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
        self._trainable_variables = self.inner_optimizer._trainable_variables
        self.built = True

    def scale_loss(self, loss):
        return loss * self.dynamic_scale.value.astype(jnp.asarray(loss).dtype)

    def apply(self, grads, trainable_variables=None):
        """The inner optimizer's step inside `keras_dynamic_loss_scale`: its
        chain, with the scale and counter as the outer state."""
        inner = self.inner_optimizer
        prepared = inner._prepare(grads, trainable_variables)
        if not self.built and inner.built:
            self.build(inner._trainable_variables)
        if prepared is None:
            return
        grads, frozen = prepared
        state = transforms.DynamicLossScaleState(
            self.dynamic_scale.value, self.step_counter.value, inner._read_state())
        tx = transforms.keras_dynamic_loss_scale(
            inner._chain(inner._get_current_learning_rate(), inner.iterations.value, frozen),
            growth_steps=self.dynamic_growth_steps)
        updates, state = tx.update(grads, state, inner._params())
        self.dynamic_scale.assign(state.dynamic_scale)
        self.step_counter.assign(state.step_counter)
        inner._finish(updates, state.inner_state, frozen,
                      applied=transforms.all_finite(grads))

    def finalize_variable_values(self, var_list=None):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["inner_optimizer"] = deserialize(config["inner_optimizer"])
        return cls(**config)
