"""Keras arguments kerax accepts are honoured as Keras does, or refused."""
import numpy as np
import pytest

import kerax


def _autocast_probe(base, ops):
    class Probe(base):
        def build(self, input_shape):
            self.fixed = self.add_weight(shape=(2,), initializer="ones", autocast=False)
            self.cast = self.add_weight(shape=(2,), initializer="ones")

        def call(self, x):
            return x * ops.cast(self.fixed, x.dtype) + x * self.cast, self.fixed * 1, self.cast * 1

    return Probe(dtype="mixed_bfloat16")


def test_add_weight_autocast_false_reads_in_variable_dtype(keras):
    x = np.ones((1, 2), "float32")
    _, fixed, cast = _autocast_probe(kerax.layers.Layer, kerax.ops)(x)
    _, k_fixed, k_cast = _autocast_probe(keras.layers.Layer, keras.ops)(x)
    assert (str(fixed.dtype), str(cast.dtype)) == (str(k_fixed.dtype), str(k_cast.dtype))
    assert (str(fixed.dtype), str(cast.dtype)) == ("float32", "bfloat16")


@pytest.mark.parametrize("kwargs", [{"input_length": 3}, {"weights": [np.ones((2, 2))]}])
def test_unknown_layer_arguments_raise_as_in_keras(keras, kwargs):
    with pytest.raises((TypeError, ValueError)):
        keras.layers.Dense(2, **kwargs)
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        kerax.layers.Dense(2, **kwargs)


def test_save_format_is_refused_or_warned_as_in_keras(tmp_path):
    model = kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)])
    with pytest.raises(ValueError, match="save_format"):
        kerax.saving.save_model(model, tmp_path / "m.h5", save_format="h5")
    with pytest.warns(UserWarning, match="save_format"):
        kerax.saving.save_model(model, tmp_path / "m.keras", save_format="keras")
    assert (tmp_path / "m.keras").exists()


def test_input_tensor_argument_is_refused_not_ignored():
    with pytest.raises(NotImplementedError, match="tensor"):
        kerax.Input((2,), tensor=kerax.Input((2,)))


def test_unsafe_deserialization_switch_never_overrides_explicit_safe_mode(tmp_path):
    from kerax.core import config as core_config
    from kerax.layers.lambda_serialization import in_safe_mode

    model = kerax.Sequential([kerax.Input((2,)), kerax.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / "lam.keras")
    assert in_safe_mode()
    kerax.config.enable_unsafe_deserialization()
    try:
        assert not in_safe_mode()
        with pytest.raises(Exception, match="(?i)lambda|safe"):
            kerax.models.load_model(tmp_path / "lam.keras", safe_mode=True)
    finally:
        core_config._SWITCHES["unsafe_deserialization"] = False
    assert in_safe_mode()
