"""Optimizers (Keras 3's `keras.optimizers`), each a thin layer over optax
whose state lives in kerax Variables."""
from kerax.optimizers import schedules  # noqa: F401
from kerax.optimizers.base import OptaxOptimizer, Optimizer
from kerax.optimizers.ftrl import Ftrl  # noqa: F401
from kerax.optimizers.lamb import Lamb  # noqa: F401
from kerax.optimizers.loss_scale_optimizer import LossScaleOptimizer  # noqa: F401
from kerax.optimizers.lookup import deserialize, get, serialize
from kerax.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap  # noqa: F401
from kerax.optimizers.muon import Muon  # noqa: F401
from kerax.optimizers.optimizers import (  # noqa: F401
    SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Lion, Nadam, RMSprop)
from kerax.optimizers.schedule_free_adamw import ScheduleFreeAdamW  # noqa: F401

__all__ = ["Optimizer", "OptaxOptimizer", "LossScaleOptimizer", "SGD", "RMSprop", "Adam", "AdamW", "Nadam",
           "Adamax", "Adagrad", "Adadelta", "Adafactor", "Lion", "schedules", "get",
           "serialize", "deserialize"]
__all__ += ["Ftrl", "Lamb", "Muon", "ScheduleFreeAdamW"]
__all__ += ["MultiOptimizer", "OptimizerMap"]
