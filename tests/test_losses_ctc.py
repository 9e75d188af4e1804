"""keras.losses.CTC / ctc against Keras 3: values, reductions, gradients,
config, a compiled fit, and `.keras` files with the loss both ways."""
import jax
import numpy as np
import pytest

import kerax


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    labels = np.array([[1, 2, 2, 0], [3, 0, 0, 0], [1, 3, 1, 2]], "int32")
    logits = rng.normal(size=(3, 9, 4)).astype("float32")
    return labels, logits


def test_ctc_values_and_gradients_match_keras(keras, data):
    labels, logits = data
    np.testing.assert_allclose(kerax.losses.ctc(labels, logits),
                               keras.losses.ctc(labels, logits), rtol=1e-5)
    weights = np.array([1.0, 0.5, 2.0], "float32")
    for reduction in ("sum_over_batch_size", "sum", None):
        np.testing.assert_allclose(
            kerax.losses.CTC(reduction=reduction)(labels, logits, sample_weight=weights),
            keras.losses.CTC(reduction=reduction)(labels, logits, sample_weight=weights),
            rtol=1e-5)
    got = jax.grad(lambda p: kerax.losses.CTC()(labels, p))(logits)
    expected = jax.grad(lambda p: keras.losses.CTC()(labels, p))(logits)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_ctc_config_and_lookup(keras):
    loss = kerax.losses.CTC(reduction="sum", name="my_ctc")
    assert loss.get_config() == keras.losses.CTC(reduction="sum", name="my_ctc").get_config()
    assert kerax.losses.serialize(loss) == keras.losses.serialize(
        keras.losses.CTC(reduction="sum", name="my_ctc"))
    again = kerax.losses.deserialize(kerax.losses.serialize(loss))
    assert isinstance(again, kerax.losses.CTC) and again.reduction == "sum"
    assert kerax.losses.get("ctc") is kerax.losses.ctc
    with pytest.raises(ValueError, match="y_true.*batch_size, max_length"):
        kerax.losses.ctc(np.zeros((2, 3, 1)), np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="y_pred.*num_classes"):
        kerax.losses.ctc(np.zeros((2, 3)), np.zeros((2, 5)))


def _model(lib):
    inputs = lib.Input((9, 3))
    return lib.Model(inputs, lib.layers.Dense(4)(inputs))


def test_ctc_fits_and_saves_both_ways(keras, data, tmp_path):
    labels, _ = data
    x = np.random.default_rng(1).normal(size=(3, 9, 3)).astype("float32")
    model = _model(kerax)
    model.compile(optimizer="adam", loss=kerax.losses.CTC())
    history = model.fit(x, labels, epochs=3, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = str(tmp_path / "kerax.keras")
    model.save(path)
    k_model = keras.saving.load_model(path)
    assert isinstance(k_model.loss, keras.losses.CTC)
    np.testing.assert_allclose(k_model.loss(labels, k_model(x)),
                               model.evaluate(x, labels, verbose=0), rtol=1e-5)

    k_model = _model(keras)
    k_model.compile(optimizer="sgd", loss=keras.losses.CTC(reduction="sum"))
    path = str(tmp_path / "keras.keras")
    k_model.save(path)
    loaded = kerax.saving.load_model(path)
    assert isinstance(loaded.loss, kerax.losses.CTC) and loaded.loss.reduction == "sum"
    np.testing.assert_allclose(loaded.evaluate(x, labels, verbose=0),
                               k_model.loss(labels, k_model(x)), rtol=1e-5)
