"""Learning-rate schedules (Keras 3's `keras.optimizers.schedules`).

A schedule is a callable of the optimizer step (`optimizer.iterations`)
returning the learning rate; it is evaluated inside the update, so it
compiles with it. Values follow Keras 3's formulas, computed in float32.
"""
import math

import jax.numpy as jnp

from kerax.registry import (
    deserialize_keras_object, register_builtin, serialize_keras_object)
from kerax.variables import Variable

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts",
           "serialize", "deserialize"]

_MODULE = "keras.optimizers.schedules"


def _float(x):
    return jnp.asarray(x, jnp.float32)


def _step(step, dtype=jnp.float32):
    if isinstance(step, Variable):
        step = step.value
    return jnp.asarray(step).astype(dtype)


def _check_positive(value, arg):
    if value <= 0:
        raise ValueError(f"Argument `{arg}` must be > 0. Received: {arg}={value}")


@register_builtin(_MODULE)
class LearningRateSchedule:
    """Base class: implement `__call__(self, step)` and `get_config()`."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _StepDecay(LearningRateSchedule):
    """The arguments and config ExponentialDecay and InverseTimeDecay share;
    `_progress(step)` is `step / decay_steps`, floored when `staircase`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        super().__init__()
        _check_positive(decay_steps, "decay_steps")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step):
        p = _step(step) / _float(self.decay_steps)
        return jnp.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


@register_builtin(_MODULE)
class ExponentialDecay(_StepDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (the
    exponent floored when `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _float(self.initial_learning_rate) * jnp.power(_float(self.decay_rate),
                                                              self._progress(step))


@register_builtin(_MODULE)
class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, `values[-1]` after."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = step.value if isinstance(step, Variable) else step
        step = jnp.asarray(step)
        bounds = [jnp.asarray(b).astype(step.dtype) for b in self.boundaries]
        vals = [jnp.asarray(v) for v in self.values]
        dtype = vals[0].dtype
        out = jnp.zeros([], dtype)
        out = out + (step <= bounds[0]).astype(dtype) * vals[0]
        out = out + (step > bounds[-1]).astype(dtype) * vals[-1]
        for lo, hi, v in zip(bounds[:-1], bounds[1:], vals[1:-1]):
            out = out + ((step > lo) & (step <= hi)).astype(dtype) * v
        return out

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@register_builtin(_MODULE)
class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`, with the
    step capped at `decay_steps` (or, when `cycle`, decay_steps stretched to
    the next multiple)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        super().__init__()
        _check_positive(decay_steps, "decay_steps")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        init = _float(self.initial_learning_rate)
        end = _float(self.end_learning_rate)
        s = _step(step)
        decay_steps = _float(self.decay_steps)
        if self.cycle:
            mult = jnp.where(s == 0, 1.0, jnp.ceil(s / decay_steps))
            decay_steps = decay_steps * mult
        else:
            s = jnp.minimum(s, decay_steps)
        p = s / decay_steps
        return (init - end) * jnp.power(1 - p, _float(self.power)) + end

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


@register_builtin(_MODULE)
class InverseTimeDecay(_StepDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (the
    ratio floored when `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _float(self.initial_learning_rate) / (
            1.0 + _float(self.decay_rate) * self._progress(step))


@register_builtin(_MODULE)
class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from `initial_learning_rate` to `warmup_target`
    over `warmup_steps`, then cosine decay over `decay_steps` to `alpha` times
    the starting value (`warmup_target`, or `initial_learning_rate` without
    warmup)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        super().__init__()
        _check_positive(decay_steps, "decay_steps")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_steps, start):
        frac = step / decay_steps
        cosine = 0.5 * (1.0 + jnp.cos(_float(math.pi) * frac))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        init = _float(self.initial_learning_rate)
        decay_steps = _float(self.decay_steps)
        s = _step(step)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(s, decay_steps), decay_steps, init)
        target = _float(self.warmup_target)
        warmup_steps = _float(self.warmup_steps)
        s = jnp.minimum(s, decay_steps + warmup_steps)
        # Guard the unused branch against 0/0 when warmup_steps == 0.
        safe_warm = jnp.where(warmup_steps > 0, warmup_steps, 1.0)
        warm = (target - init) * (s / safe_warm) + init
        return jnp.where(s < warmup_steps, warm,
                         self._decay(s - warmup_steps, decay_steps, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


@register_builtin(_MODULE)
class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay from 1 to `alpha` over `first_decay_steps`, then warm
    restarts, each `t_mul` times longer and `m_mul` times lower."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        super().__init__()
        _check_positive(first_decay_steps, "first_decay_steps")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        init = _float(self.initial_learning_rate)
        alpha = _float(self.alpha)
        t_mul = _float(self._t_mul)
        m_mul = _float(self._m_mul)
        frac = _step(step) / _float(self.first_decay_steps)
        if float(self._t_mul) == 1.0:
            i_restart = jnp.floor(frac)
            frac = frac - i_restart
        else:
            i_restart = jnp.floor(jnp.log(1.0 - frac * (1.0 - t_mul)) / jnp.log(t_mul))
            sum_r = (1.0 - jnp.power(t_mul, i_restart)) / (1.0 - t_mul)
            frac = (frac - sum_r) / jnp.power(t_mul, i_restart)
        m_fac = jnp.power(m_mul, i_restart)
        cosine = 0.5 * m_fac * (1.0 + jnp.cos(_float(math.pi) * frac))
        return init * ((1 - alpha) * cosine + alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


def serialize(learning_rate_schedule):
    """A schedule's Keras 3 config dict."""
    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """A schedule from its config dict."""
    return deserialize_keras_object(config, custom_objects=custom_objects, module=_MODULE)
