"""Keras 3's `Distiller`: a Model that trains a student on a weighted sum of
its supervised loss and distillation losses against a frozen teacher."""
import jax.numpy as jnp

from kerax import metrics as metrics_module
from kerax import tree
from kerax.distillation.distillation_loss import _loss_function
from kerax.models import Model, Sequential
from kerax.registry import (
    deserialize_keras_object, register_builtin, serialize_keras_object)

__all__ = ["Distiller"]


def _same_shapes(a, b, context):
    a, b = tuple(a), tuple(b)
    if len(a) != len(b):
        raise ValueError(f"Teacher and student {context} shapes have different dimensions. "
                         f"Teacher: {a}, Student: {b}.")
    for x, y in zip(a, b):
        if x is not None and y is not None and x != y:
            raise ValueError(f"Teacher and student {context} shapes are incompatible. "
                             f"Teacher: {a}, Student: {b}. All dimensions must match.")


def _same_dtype(a, b, context):
    if a != b:
        raise ValueError(f"Teacher and student {context} dtypes must match. "
                         f"Teacher: {a}, Student: {b}.")


def _layer_output(layer):
    """The symbolic output of a layer called once in a model's graph (Keras'
    `layer.output`)."""
    nodes = [n for n in getattr(layer, "_inbound_nodes", ()) if n is not None]
    if len(nodes) != 1:
        raise ValueError(
            f"Layer {layer.name!r} has {len(nodes)} inbound nodes: its features are "
            "well-defined only for a layer called exactly once in the model.")
    outputs = nodes[0].outputs
    return outputs


@register_builtin("keras.distillation")
class Distiller(Model):
    """Knowledge distillation: train `student` on
    `student_loss_weight * loss(y, student(x)) + (1 - student_loss_weight) *
    sum(w_i * distillation_losses[i](teacher, student))`, the teacher frozen
    (`teacher.trainable = False`, run with `training=False`). `compile(loss=)`
    is the student's supervised loss; logs add `student_loss`,
    `distillation_loss` and `total_loss`. After training use
    `distiller.student`.

    >>> import kerax, numpy as np
    >>> from kerax.distillation import LogitsDistillation
    >>> def net(units):
    ...     return kerax.Sequential([kerax.Input((4,)), kerax.layers.Dense(units),
    ...                              kerax.layers.Dense(3)])
    >>> d = Distiller(net(8), net(2), LogitsDistillation(temperature=2.0))
    >>> d.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> h = d.fit(np.ones((4, 4)), np.zeros(4), verbose=0)
    >>> sorted(h.history)
    ['distillation_loss', 'loss', 'student_loss', 'total_loss']
    """

    def __init__(self, teacher, student, distillation_losses, distillation_loss_weights=None,
                 student_loss_weight=0.5, name="distiller", **kwargs):
        super().__init__(name=name, **kwargs)
        self._validate_models(teacher, student)
        self.teacher = teacher
        self.student = student
        if isinstance(student_loss_weight, bool) or not isinstance(
                student_loss_weight, (int, float)):
            raise ValueError(f"student_loss_weight must be a number, got "
                             f"{type(student_loss_weight)}")
        if not 0.0 <= student_loss_weight <= 1.0:
            raise ValueError(f"student_loss_weight must be between 0.0 and 1.0, got "
                             f"{student_loss_weight}")
        self.student_loss_weight = student_loss_weight
        if distillation_losses is None:
            raise ValueError(
                "'distillation_losses' cannot be `None`. Provide a distillation loss (e.g., "
                "LogitsDistillation or FeatureDistillation) or a list of distillation losses.")
        if not isinstance(distillation_losses, (list, tuple)):
            distillation_losses, weights = [distillation_losses], [1.0]
        elif distillation_loss_weights is None:
            weights = [1.0] * len(distillation_losses)
        else:
            weights = list(distillation_loss_weights)
            if len(weights) != len(distillation_losses):
                raise ValueError(
                    f"Number of distillation_loss_weights ({len(weights)}) must match number "
                    f"of distillation_losses ({len(distillation_losses)})")
        self.distillation_losses = list(distillation_losses)
        self.distillation_loss_weights = weights
        for loss in self.distillation_losses:
            if not hasattr(loss, "compute_loss"):
                raise ValueError(f"Each distillation loss must be a DistillationLoss (with "
                                 f"`compute_loss`); received {loss!r}.")
            loss.validate_model_compatibility(teacher, student)
        self._teacher_feature_extractor = self._feature_extractor(
            teacher, self._layer_names("teacher_layer_name"))
        self._student_feature_extractor = self._feature_extractor(
            student, self._layer_names("student_layer_name"))
        self.teacher.trainable = False
        self.student_loss_tracker = metrics_module.Mean(name="student_loss")
        self.distillation_loss_tracker = metrics_module.Mean(name="distillation_loss")
        self.total_loss_tracker = metrics_module.Mean(name="total_loss")

    # ---- validation ----------------------------------------------------------------
    def _validate_models(self, teacher, student):
        for who, model in (("Teacher", teacher), ("Student", student)):
            if not isinstance(model, Model):
                raise ValueError(f"{who} must be a kerax Model, got {type(model)}")
        t_in, s_in = getattr(teacher, "inputs", None), getattr(student, "inputs", None)
        if t_in is None or s_in is None:
            return
        tree.map_structure(lambda a, b: _same_shapes(a.shape, b.shape, "input"), t_in, s_in)
        t_out, s_out = getattr(teacher, "outputs", None), getattr(student, "outputs", None)
        if t_out is not None and s_out is not None:
            tree.map_structure(lambda a, b: _same_shapes(a.shape, b.shape, "output"),
                               t_out, s_out)
        tree.map_structure(lambda a, b: _same_dtype(a.dtype, b.dtype, "input"), t_in, s_in)
        if t_out is not None and s_out is not None:
            tree.map_structure(lambda a, b: _same_dtype(a.dtype, b.dtype, "output"),
                               t_out, s_out)

    # ---- features ------------------------------------------------------------------
    def _layer_names(self, attribute):
        names = []
        for loss in self.distillation_losses:
            name = getattr(loss, attribute, None)
            if name and name not in names:
                names.append(name)
        return names

    @staticmethod
    def _feature_extractor(model, layer_names):
        """A Functional model giving the final output and each named layer's
        output in one pass (None when no layer is named)."""
        if not layer_names:
            return None
        if getattr(model, "inputs", None) is None:
            raise ValueError(f"Cannot create feature extractor for {model.name}. The model "
                             "has no symbolic inputs attribute.")
        final = _layer_output(model.layers[-1]) if isinstance(model, Sequential) \
            else model.outputs[0] if len(model.outputs) == 1 else model.outputs
        outputs = {"final_output": final}
        for name in layer_names:
            outputs[name] = _layer_output(model.get_layer(name=name))
        return Model(inputs=model.inputs, outputs=outputs,
                     name=f"{model.name}_multi_feature_extractor")

    def _teacher_features(self, x):
        if self._teacher_feature_extractor is not None:
            return self._teacher_feature_extractor(x, training=False)
        return {"final_output": self.teacher(x, training=False)}

    def _student_features(self, x, y_pred):
        if self._student_feature_extractor is not None:
            return self._student_feature_extractor(x, training=True)
        return {"final_output": y_pred}

    # ---- training ------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """`loss`: the student's supervised loss (required; a structure for
        multi-output students). Other arguments as `Model.compile`."""
        if loss is None:
            raise ValueError("'loss' cannot be `None`.")
        self._student_loss = tree.map_structure(_loss_function, loss)
        self._student_loss_for_serialization = loss
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(f"metrics must be a list or tuple, got {type(metrics)}")
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)

    def call(self, inputs, training=None, **kwargs):
        return self.student(inputs, training=training, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The weighted sum of the student's loss and the distillation losses
        (`sample_weight` is not used, as in Keras 3)."""
        if y_pred is None:
            y_pred = self(x, training=training)
        student_loss = 0.0
        if self.student_loss_weight > 0.0 and y is not None:
            values = tree.flatten(tree.map_structure(
                lambda fn, target, pred: fn(target, pred), self._student_loss, y, y_pred))
            student_loss = jnp.sum(jnp.stack(values)) if len(values) > 1 else values[0]
            if jnp.ndim(student_loss) > 0:
                student_loss = jnp.mean(student_loss)
        distillation_loss = 0.0
        if self.student_loss_weight < 1.0:
            teacher = self._teacher_features(x)
            student = self._student_features(x, y_pred)
            for loss, weight in zip(self.distillation_losses, self.distillation_loss_weights):
                if getattr(loss, "teacher_layer_name", None) is not None:
                    t_out = self._feature(loss, teacher, "teacher")
                    s_out = self._feature(loss, student, "student")
                else:
                    t_out, s_out = teacher["final_output"], y_pred
                loss.validate_outputs(t_out, s_out)
                value = loss.compute_loss(t_out, s_out)
                if jnp.ndim(value) > 0:
                    raise ValueError(
                        f"Distillation loss {type(loss).__name__} returned a non-scalar loss "
                        f"with shape {tuple(jnp.shape(value))}. The compute_loss method must "
                        "return a scalar tensor.")
                distillation_loss = distillation_loss + weight * value
        total = (self.student_loss_weight * student_loss
                 + (1.0 - self.student_loss_weight) * distillation_loss)
        self.student_loss_tracker.update_state(student_loss)
        self.distillation_loss_tracker.update_state(distillation_loss)
        self.total_loss_tracker.update_state(total)
        return total

    @staticmethod
    def _feature(loss, features, who):
        name = getattr(loss, f"{who}_layer_name", None) or "final_output"
        if name not in features:
            raise RuntimeError(
                f"Failed to extract features for {type(loss).__name__} targeting teacher "
                f"layer '{loss.teacher_layer_name}' and student layer "
                f"'{loss.student_layer_name}'. Layer '{name}' not found in extracted "
                f"features. Available: {list(features)}")
        return features[name]

    def reset_metrics(self):
        super().reset_metrics()
        for tracker in (self.student_loss_tracker, self.distillation_loss_tracker,
                        self.total_loss_tracker):
            tracker.reset_state()

    # ---- config --------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update({
            "teacher": serialize_keras_object(self.teacher),
            "student": serialize_keras_object(self.student),
            "distillation_losses": [serialize_keras_object(d) for d in self.distillation_losses],
            "distillation_loss_weights": self.distillation_loss_weights,
            "student_loss_weight": self.student_loss_weight,
        })
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = deserialize_keras_object(config[key], custom_objects=custom_objects)
        config["distillation_losses"] = [
            deserialize_keras_object(d, custom_objects=custom_objects, module="keras.distillation")
            for d in config["distillation_losses"]]
        return cls(**config)
