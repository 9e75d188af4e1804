"""Knowledge distillation (Keras 3's `keras.distillation`): a `Distiller`
model and the losses that compare a teacher with a student."""
from kerax.distillation.distillation_loss import (
    DistillationLoss, FeatureDistillation, LogitsDistillation)
from kerax.distillation.distiller import Distiller

__all__ = ["Distiller", "DistillationLoss", "LogitsDistillation", "FeatureDistillation"]
