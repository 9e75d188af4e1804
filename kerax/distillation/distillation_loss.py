"""Keras 3's distillation losses: how a teacher's outputs (or intermediate
features) are compared with a student's."""
import jax
import jax.numpy as jnp

from kerax import losses as losses_module
from kerax import tree
from kerax.registry import register_builtin, serialize_keras_object

__all__ = ["DistillationLoss", "LogitsDistillation", "FeatureDistillation"]

_MODULE = "keras.distillation"


def _loss_function(item):
    """A loss name -> the loss (function or instance); None and objects stay."""
    if item is None:
        return None
    if isinstance(item, str):
        return losses_module.get(item)
    if isinstance(item, dict):
        return losses_module.deserialize(item)
    if not callable(item):
        raise ValueError(f"A distillation loss must be a loss name, a Loss or a function "
                         f"`fn(y_true, y_pred)`, or None; received {item!r}.")
    return item


def _losses(loss):
    structure = tree.map_structure(_loss_function, loss)
    if all(item is None for item in tree.flatten(structure)):
        return structure, False
    return structure, True


def _total(values):
    return jnp.sum(jnp.stack([jnp.asarray(v, "float32") for v in tree.flatten(values)]))


@register_builtin(_MODULE)
class DistillationLoss:
    """Base class of distillation losses: override `compute_loss(teacher_outputs,
    student_outputs)` (a scalar), optionally `validate_outputs` and
    `validate_model_compatibility`.

    >>> class L2(DistillationLoss):
    ...     def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
    ...         return jnp.mean(jnp.square(teacher_outputs - student_outputs))
    >>> float(L2().compute_loss(jnp.ones(3), jnp.zeros(3)))
    1.0
    """

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        raise NotImplementedError("Subclasses must implement compute_loss")

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Raise if teacher and student outputs have different structures."""
        tree.assert_same_structure(teacher_outputs, student_outputs)

    def validate_model_compatibility(self, teacher, student):
        """Raise if this loss cannot be used with these models (default: any)."""


@register_builtin(_MODULE)
class FeatureDistillation(DistillationLoss):
    """`loss(teacher_features, student_features)` averaged, summed over the
    outputs. The features are the final outputs, or those of
    `teacher_layer_name` / `student_layer_name` (Functional or Sequential
    models). `loss`: a loss name, Loss, function, or a structure of them
    matching the outputs (None skips an output); default "mse".

    >>> import numpy as np
    >>> float(FeatureDistillation().compute_loss(np.ones((2, 3)), np.zeros((2, 3))))
    1.0
    """

    def __init__(self, loss="mse", teacher_layer_name=None, student_layer_name=None):
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.loss, any_loss = _losses(loss)
        if not any_loss:
            raise ValueError("The `loss` argument in `FeatureDistillation` must contain at "
                             "least one non-`None` value.")

    def validate_model_compatibility(self, teacher, student):
        if self.teacher_layer_name is None and self.student_layer_name is None:
            return
        symbolic = [(who, getattr(m, "inputs", None) is not None)
                    for who, m in (("teacher", teacher), ("student", student))]
        subclassed = [who for who, ok in symbolic if not ok]
        if subclassed:
            raise ValueError(
                "FeatureDistillation with specific layer names requires Functional or "
                f"Sequential models. The {' and '.join(subclassed)} model(s) appear to be "
                "subclassed (no symbolic inputs/outputs). Either use Functional/Sequential "
                "models, or use FeatureDistillation without layer names (to distill final "
                "outputs only), or use LogitsDistillation instead.")
        for who, model, name in (("teacher", teacher, self.teacher_layer_name),
                                 ("student", student, self.student_layer_name)):
            if name is not None:
                try:
                    model.get_layer(name=name)
                except ValueError as e:
                    raise ValueError(f"In {who} model: {e}") from None

    def validate_outputs(self, teacher_outputs, student_outputs):
        super().validate_outputs(teacher_outputs, student_outputs)
        try:
            tree.assert_same_structure(self.loss, teacher_outputs)
        except ValueError as e:
            raise ValueError(
                f"FeatureDistillation: the loss structure does not match the outputs' "
                f"structure: {e}") from None

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        def one(fn, teacher, student):
            return 0.0 if fn is None else jnp.mean(fn(teacher, student))

        return _total(tree.map_structure(one, self.loss, teacher_outputs, student_outputs))

    def get_config(self):
        return {"loss": serialize_keras_object(self.loss),
                "teacher_layer_name": self.teacher_layer_name,
                "student_layer_name": self.student_layer_name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = _deserialize_losses(config["loss"])
        return cls(**config)


def _deserialize_losses(config):
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, dict) and "class_name" in config:
        return losses_module.deserialize(config)
    if isinstance(config, dict):
        return {k: _deserialize_losses(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [_deserialize_losses(v) for v in config]
    return config


@register_builtin(_MODULE)
class LogitsDistillation(DistillationLoss):
    """Distillation of the final outputs (logits) at a `temperature`: both
    are divided by it, then compared with `loss` (default "kl_divergence").
    As in Keras 3, a `KLDivergence` *instance* compares the softmaxed scaled
    logits and is multiplied by `temperature ** 2`; a loss function, the
    default `kl_divergence` included, gets the scaled logits as they are.

    >>> import numpy as np
    >>> from kerax.losses import KLDivergence
    >>> loss = LogitsDistillation(temperature=2.0, loss=KLDivergence())
    >>> float(loss.compute_loss(np.zeros((1, 3)), np.zeros((1, 3))))
    0.0
    """

    def __init__(self, temperature=3.0, loss="kl_divergence"):
        self.temperature = temperature
        self.loss, any_loss = _losses(loss)
        if not any_loss:
            raise ValueError("At least one loss must be non-`None`.")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise ValueError(f"temperature must be a number, got {type(temperature)}")
        if temperature <= 0.0:
            raise ValueError("temperature must be positive.")

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        t = self.temperature

        def one(fn, teacher, student):
            if fn is None:
                return 0.0
            teacher, student = jnp.asarray(teacher) / t, jnp.asarray(student) / t
            if isinstance(fn, losses_module.KLDivergence):
                value = fn(jax.nn.softmax(teacher), jax.nn.softmax(student))
                return jnp.mean(value) * t ** 2
            return jnp.mean(fn(teacher, student))

        return _total(tree.map_structure(one, self.loss, teacher_outputs, student_outputs))

    def get_config(self):
        return {"temperature": self.temperature, "loss": serialize_keras_object(self.loss)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = _deserialize_losses(config["loss"])
        return cls(**config)


