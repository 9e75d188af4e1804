"""Dice, Tversky, Circle and CategoricalGeneralizedCrossEntropy against Keras 3:
values (class and function forms, reductions, sample weights), gradients,
configs, and a `.keras` file both ways."""
import json

import jax
import numpy as np
import pytest

import kerax
from kerax import layers as L

RNG = np.random.default_rng(0)
SEG_TRUE = (RNG.random((3, 4, 4, 1)) > 0.5).astype("float32")
SEG_PRED = RNG.random((3, 4, 4, 1)).astype("float32")
EMB = RNG.normal(size=(6, 5)).astype("float32")
EMB /= np.linalg.norm(EMB, axis=1, keepdims=True)
EMB_LABELS = np.array([0, 1, 0, 2, 1, 3])
PROBS = jax.nn.softmax(RNG.normal(size=(5, 4))).astype("float32")
LABELS = np.array([0, 3, 1, 1, 2])
SW3 = np.array([0.5, 1.0, 2.0], "float32")

# (class name, constructor kwargs, y_true, y_pred, sample_weight)
CASES = [
    ("Dice", {}, SEG_TRUE, SEG_PRED, None),
    ("Dice", {"axis": (1, 2, 3), "reduction": "sum"}, SEG_TRUE, SEG_PRED, SW3),
    ("Dice", {"axis": (1, 2)}, SEG_TRUE, SEG_PRED, None),
    ("Tversky", {"alpha": 0.7, "beta": 0.3, "axis": (1, 2, 3)}, SEG_TRUE, SEG_PRED, SW3),
    ("Tversky", {"reduction": None, "axis": (1, 2, 3)}, SEG_TRUE, SEG_PRED, None),
    ("Circle", {}, EMB_LABELS, EMB, None),
    ("Circle", {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False,
                "reduction": "mean_with_sample_weight"}, EMB_LABELS, EMB,
     np.linspace(0.5, 1.5, 6).astype("float32")),
    ("Circle", {"reduction": "none"}, EMB_LABELS[:, None], EMB, None),
    ("CategoricalGeneralizedCrossEntropy", {}, LABELS, PROBS, None),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.8, "reduction": "sum"}, LABELS, PROBS,
     np.arange(5, dtype="float32")),
]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred,sw", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_values_and_config_match_keras(keras, name, kwargs, y_true, y_pred, sw):
    ours, theirs = getattr(kerax.losses, name)(**kwargs), getattr(keras.losses, name)(**kwargs)
    np.testing.assert_allclose(np.asarray(ours(y_true, y_pred, sample_weight=sw)),
                               np.asarray(theirs(y_true, y_pred, sample_weight=sw)),
                               rtol=1e-5, atol=1e-6)
    config = ours.get_config()
    assert config == theirs.get_config()
    again = type(ours).from_config(config)
    assert again.get_config() == config
    restored = kerax.losses.deserialize(kerax.losses.serialize(ours)).get_config()
    assert restored == json.loads(json.dumps(config))  # a tuple axis is a list in JSON


def test_gradients_match_keras(keras):
    """d loss / d y_pred of each loss equals Keras' (jax.grad of both)."""
    for name, kwargs, y_true, y_pred, sw in [CASES[1], CASES[3], CASES[5], CASES[8]]:
        ours = getattr(kerax.losses, name)(**kwargs)
        theirs = getattr(keras.losses, name)(**kwargs)
        g_ours = jax.grad(lambda p: ours(y_true, p, sample_weight=sw))(y_pred)
        g_theirs = jax.grad(lambda p: theirs(y_true, p, sample_weight=sw))(y_pred)
        np.testing.assert_allclose(np.asarray(g_ours), np.asarray(g_theirs), rtol=1e-4,
                                   atol=1e-6, err_msg=name)


def test_function_forms_match_keras(keras):
    pairs = [
        ("dice", (SEG_TRUE, SEG_PRED), {"axis": (1, 2, 3)}),
        ("dice", (SEG_TRUE, SEG_PRED), {}),
        ("tversky", (SEG_TRUE, SEG_PRED), {"alpha": 0.2, "beta": 0.8}),
        ("circle", (EMB_LABELS, EMB), {"gamma": 20, "margin": 0.3}),
        ("circle", (EMB_LABELS[:3], EMB[:3]),
         {"ref_labels": EMB_LABELS, "ref_embeddings": EMB}),
        ("categorical_generalized_cross_entropy", (LABELS, PROBS), {"q": 0.3}),
    ]
    for name, args, kwargs in pairs:
        np.testing.assert_allclose(
            np.asarray(getattr(kerax.losses, name)(*args, **kwargs)),
            np.asarray(getattr(keras.losses, name)(*args, **kwargs)),
            rtol=1e-5, atol=1e-6, err_msg=name)


def test_circle_function_in_compile_averages_positive_losses_like_keras(keras):
    """`loss=circle` (a function, wrapped by compile) keeps Keras' mask: the
    mean is over the positive per-sample losses only."""
    ours = kerax.losses.LossFunctionWrapper(kerax.losses.circle)
    from keras.src.losses.losses import LossFunctionWrapper  # not exported by Keras
    theirs = LossFunctionWrapper(keras.losses.circle)
    values = np.asarray(kerax.losses.circle(EMB_LABELS, EMB))
    assert (values == 0).any() and (values > 0).any()
    np.testing.assert_allclose(float(ours(EMB_LABELS, EMB)), float(theirs(EMB_LABELS, EMB)),
                               rtol=1e-5)
    np.testing.assert_allclose(float(ours(EMB_LABELS, EMB)), values[values > 0].mean(),
                               rtol=1e-5)


def test_generalized_cross_entropy_labels_with_trailing_one():
    """(batch, 1) labels (documented by Keras) are class indices like (batch,)."""
    fn = kerax.losses.categorical_generalized_cross_entropy
    np.testing.assert_allclose(np.asarray(fn(LABELS[:, None], PROBS, q=0.5)),
                               np.asarray(fn(LABELS, PROBS, q=0.5)))
    p = PROBS[np.arange(5), LABELS]
    np.testing.assert_allclose(np.asarray(fn(LABELS, PROBS, q=0.5)), (1 - p ** 0.5) / 0.5,
                               rtol=1e-6)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="q must be in the interval"):
        kerax.losses.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(ValueError, match="axis"):
        kerax.losses.Dice(axis="channels")
    with pytest.raises(ValueError, match="out of range"):
        kerax.losses.dice(SEG_TRUE, SEG_PRED, axis=(1, 7))
    with pytest.raises(ValueError, match=r"circle: `y_pred` must be embeddings"):
        kerax.losses.circle(EMB_LABELS, EMB[:, :, None])
    with pytest.raises(ValueError, match="categorical_generalized_cross_entropy: y_true"):
        kerax.losses.categorical_generalized_cross_entropy(np.zeros((5, 4)), PROBS, q=0.5)


def test_keras_files_both_ways(keras, tmp_path):
    """A model compiled with each new loss: Keras' file loads in kerax with the
    same loss config, and kerax's file loads in Keras."""
    losses = [("Dice", {"axis": [1]}), ("Tversky", {"alpha": 0.3, "beta": 0.7}),
              ("Circle", {"gamma": 16.0}), ("CategoricalGeneralizedCrossEntropy", {"q": 0.7})]
    for name, kwargs in losses:
        kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        kmodel.compile(optimizer="sgd", loss=getattr(keras.losses, name)(**kwargs))
        kmodel.save(tmp_path / "k.keras")
        model = kerax.models.load_model(tmp_path / "k.keras")
        assert type(model.loss) is getattr(kerax.losses, name)
        assert model.loss.get_config() == kmodel.loss.get_config()
        model.save(tmp_path / "x.keras")
        back = keras.models.load_model(tmp_path / "x.keras")
        assert back.loss.get_config() == kmodel.loss.get_config()


def test_dice_trains_in_compiled_fit():
    x = RNG.normal(size=(16, 4)).astype("float32")
    y = (x[:, :2] > 0).astype("float32")
    model = kerax.Sequential([kerax.Input((4,)), L.Dense(2, activation="sigmoid")])
    model.compile(optimizer=kerax.optimizers.Adam(0.05), loss=kerax.losses.Dice(axis=-1))
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
