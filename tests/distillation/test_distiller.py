"""kerax.distillation against Keras 3: a short Distiller fit from the same
teacher/student weights gives the same student weights and logs; the
distillation losses' values and configs."""
import numpy as np
import pytest

import kerax
from kerax import distillation as D

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 5)).astype("float32")
Y = RNG.integers(0, 3, size=(16,))


def _net(m, hidden, name):
    inputs = m.Input((5,))
    h = m.layers.Dense(hidden, activation="relu", name="features")(inputs)
    h = m.layers.Dense(4, name="proj")(h)
    return m.Model(inputs, m.layers.Dense(3, name="logits")(h), name=name)


def _pair(m, weights=None):
    teacher, student = _net(m, 8, "teacher"), _net(m, 2, "student")
    if weights is not None:
        teacher.set_weights(weights[0])
        student.set_weights(weights[1])
    return teacher, student


def _distiller(m, teacher, student):
    mod = m.distillation
    return mod.Distiller(
        teacher, student,
        [mod.LogitsDistillation(temperature=2.0, loss=m.losses.KLDivergence()),
         mod.FeatureDistillation(loss="mse", teacher_layer_name="proj",
                                 student_layer_name="proj")],
        distillation_loss_weights=[1.0, 0.5], student_loss_weight=0.3)


def test_distiller_fit_matches_keras(keras):
    k_teacher, k_student = _pair(keras)
    weights = (k_teacher.get_weights(), k_student.get_weights())
    teacher, student = _pair(kerax, weights)
    theirs, ours = _distiller(keras, k_teacher, k_student), _distiller(kerax, teacher, student)
    for d, m in ((theirs, keras), (ours, kerax)):
        d.compile(optimizer=m.optimizers.SGD(0.1),
                  loss=m.losses.SparseCategoricalCrossentropy(from_logits=True))
    h_k = theirs.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h_x = ours.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    for a, b in zip(k_student.get_weights(), student.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    for a, b in zip(k_teacher.get_weights(), teacher.get_weights()):  # frozen
        np.testing.assert_array_equal(b, a)
    for key in ("loss", "student_loss", "distillation_loss", "total_loss"):
        np.testing.assert_allclose(h_x[key], h_k[key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(np.asarray(ours.predict(X, verbose=0)),
                               np.asarray(student.predict(X, verbose=0)), rtol=1e-6)


def test_distillation_losses_match_keras(keras):
    t, s = RNG.normal(size=(4, 3)).astype("float32"), RNG.normal(size=(4, 3)).astype("float32")
    cases = [
        (lambda m: m.distillation.LogitsDistillation(), (t, s)),
        (lambda m: m.distillation.LogitsDistillation(
            temperature=4, loss=m.losses.KLDivergence()), (t, s)),
        (lambda m: m.distillation.LogitsDistillation(
            loss=["categorical_crossentropy", None]), ([t, t], [s, s])),
        (lambda m: m.distillation.FeatureDistillation(loss="cosine_similarity"), (t, s)),
    ]
    for make, (a, b) in cases:
        ours, theirs = make(kerax), make(keras)
        np.testing.assert_allclose(float(ours.compute_loss(a, b)),
                                   float(theirs.compute_loss(a, b)), rtol=1e-5)
        config = ours.get_config()
        assert config == theirs.get_config()
        again = type(ours).from_config(config)
        np.testing.assert_allclose(float(again.compute_loss(a, b)),
                                   float(ours.compute_loss(a, b)), rtol=1e-6)


def test_bad_arguments_raise_clear_errors():
    teacher, student = _pair(kerax)
    with pytest.raises(ValueError, match="student_loss_weight must be between"):
        D.Distiller(teacher, student, D.LogitsDistillation(), student_loss_weight=2.0)
    with pytest.raises(ValueError, match="cannot be `None`"):
        D.Distiller(teacher, student, None)
    with pytest.raises(ValueError, match="must match number of distillation_losses"):
        D.Distiller(teacher, student, [D.LogitsDistillation()], distillation_loss_weights=[1, 2])
    with pytest.raises(ValueError, match="In student model"):
        D.Distiller(teacher, student, D.FeatureDistillation(student_layer_name="nope"))
    with pytest.raises(ValueError, match="temperature must be positive"):
        D.LogitsDistillation(temperature=0.0)
    with pytest.raises(ValueError, match="at least one non-`None`"):
        D.FeatureDistillation(loss=[None])
    other = kerax.Sequential([kerax.Input((6,)), kerax.layers.Dense(3)])
    with pytest.raises(ValueError, match="input shapes are incompatible"):
        D.Distiller(teacher, other, D.LogitsDistillation())
    distiller = D.Distiller(teacher, student, D.LogitsDistillation())
    with pytest.raises(ValueError, match="'loss' cannot be `None`"):
        distiller.compile(optimizer="sgd")
