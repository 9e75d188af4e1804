"""model.quantize / layer.quantize against Keras 3: the same float weights
quantized by both give the same variables (names, dtypes, shapes, values),
outputs, gradients, configs, training steps and `.keras` files (both ways)."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax import quantizers as Q

MODES = {"int8": ("int8", None), "int4": ("int4", None),
         "int4_per_channel": (None, {"block_size": None}), "int8_weight_only": (None, "wo"),
         "float8": ("float8", None)}


def _mode_args(quantizers, name):
    mode, extra = MODES[name]
    if extra == "wo":
        return None, quantizers.Int8QuantizationConfig(activation_quantizer=None)
    if extra is not None:
        return None, quantizers.Int4QuantizationConfig(**extra)
    return mode, None


def _model(mod):
    i = mod.Input((4, 6))
    t = mod.Input((4,), dtype="int32")
    h = mod.layers.Dense(5, activation="relu", name="d")(i)
    h = mod.layers.EinsumDense("abc,ced->abde", output_shape=(4, 3, 2), bias_axes="de",
                               name="ed")(h)
    e = mod.layers.Embedding(9, 6, name="e")(t)
    return mod.Model([i, t], [h, e])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 4, 6)).astype("float32"),
            rng.integers(0, 9, size=(3, 4)).astype("int32")]


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k != "shared_object_id"}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


@pytest.mark.parametrize("name", list(MODES))
def test_quantized_model_matches_keras(keras, data, name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _model(keras)
        ours = _model(kerax)
        ours.set_weights(theirs.get_weights())
        mode, config = _mode_args(keras.quantizers, name)
        theirs.quantize(mode, config=config)
        mode, config = _mode_args(Q, name)
        ours.quantize(mode, config=config)
    assert [(w.path, str(w.dtype), tuple(w.shape), w.trainable) for w in ours.weights] == \
        [(w.path, w.dtype, tuple(w.shape), w.trainable) for w in theirs.weights]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    expected = theirs.predict(data, verbose=0)
    for a, b in zip(ours.predict(data, verbose=0), expected):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for lname in ("d", "ed", "e"):
        assert _plain(ours.get_layer(lname).get_config()) == \
            _plain(theirs.get_layer(lname).get_config())
    if name in ("int4_per_channel", "int8_weight_only"):
        return  # the same files as int4 / int8, other shapes: no file round trip
    # .keras files both ways
    theirs.save(tmp_path / "k.keras")
    ours.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_keras = kerax.saving.load_model(tmp_path / "k.keras")
        from_kerax = keras.saving.load_model(tmp_path / "m.keras")
    assert from_keras.get_layer("d").dtype_policy == ours.get_layer("d").dtype_policy
    for model in (from_keras, from_kerax):
        for a, b in zip(model.predict(data, verbose=0), expected):
            np.testing.assert_allclose(a, b, atol=1e-5)


def _mlp(mod):
    return mod.Sequential([
        mod.Input((6,)), mod.layers.Dense(8, activation="relu", name="a"),
        mod.layers.EinsumDense("ab,bc->ac", output_shape=(3,), bias_axes="c", name="b")])


@pytest.mark.parametrize("mode", ["int8", "float8"])
def test_quantized_fit_matches_keras(keras, mode):
    """Training a quantized model: the biases (int8) or all weights and the
    float8 scales / amax histories (float8, overwritten by their "gradients")
    follow Keras step for step."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    theirs, ours = _mlp(keras), _mlp(kerax)
    ours.set_weights(theirs.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.quantize(mode)
    ours.quantize(mode)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=kerax.optimizers.SGD(0.1), loss="mse")
    expected = theirs.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    got = ours.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(got.history["loss"], expected.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    if mode == "float8":
        assert float(ours.get_layer("a").inputs_amax_history.numpy()[0]) > 0


def test_inputs_gradient_matches_keras(keras):
    """The inputs' gradient goes through the dequantized kernel (Keras' custom
    gradient), not through the rounding."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5)).astype("float32")
    for cls, kwargs, mode in (("Dense", {"units": 3}, "int8"),
                              ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": (3,),
                                               "bias_axes": "c"}, "int4")):
        theirs = getattr(keras.layers, cls)(**kwargs)
        theirs.build((None, 5))
        ours = getattr(L, cls)(**kwargs)
        ours.build((None, 5))
        ours.set_weights(theirs.get_weights())
        theirs.quantize(mode)
        ours.quantize(mode)
        expected = jax.jit(jax.grad(lambda v: jnp.sum(theirs(v) ** 2)))(x)
        got = jax.jit(jax.grad(lambda v: jnp.sum(ours(v) ** 2)))(x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert float(jnp.abs(got).sum()) > 0


def test_quantized_policy_builds_quantized_layers(keras):
    dense = L.Dense(4, dtype="int8_from_float32")
    dense.build((None, 3))
    assert [(w.name, str(w.dtype)) for w in dense.weights] == \
        [("bias", "float32"), ("kernel", "int8"), ("kernel_scale", "float32")]
    emb = L.Embedding(10, 5, dtype="int4/2_from_float32")
    emb.build()
    k_emb = keras.layers.Embedding(10, 5, dtype="int4/2_from_float32")
    k_emb.build()
    assert [(w.name, str(w.dtype), tuple(w.shape)) for w in emb.weights] == \
        [(w.name, w.dtype, tuple(w.shape)) for w in k_emb.weights]
    # a quantized policy set on a built layer quantizes it (as Keras)
    layer = L.Dense(2)
    layer.build((None, 3))
    layer.dtype_policy = "int8_from_float32"
    assert str(layer.kernel.dtype) == "int8" and layer.quantization_mode == "int8"
    # int4 kernels read unpacked, as Keras' layer.kernel
    int4 = L.Dense(3)
    int4.build((None, 4))
    int4.quantize("int4")
    assert tuple(int4.kernel.shape) == (4, 3) and tuple(int4._kernel.shape) == (4, 2)


def test_quantize_errors_and_filters():
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(4, name="keep"), L.Dense(2, name="q")])
    model.quantize("int8", filters="^q$")
    assert model.get_layer("keep").quantization_mode is None
    assert model.get_layer("q").quantization_mode == "int8"
    with pytest.raises(ValueError, match="already quantized"):
        model.get_layer("q").quantize("int8")
    with pytest.raises(ValueError, match="isn't yet built"):
        L.Dense(2).quantize("int8")
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        model.quantize("int3")
    with pytest.raises(ValueError, match="Contradictory"):
        model.quantize("int8", config=Q.Int4QuantizationConfig())
    with pytest.raises(ValueError, match="GPTQConfig"):
        model.quantize("gptq")
    with pytest.raises(NotImplementedError, match="GPTQ"):
        model.quantize(config=Q.GPTQConfig(dataset=None, tokenizer=None))
    with pytest.raises(ValueError, match="filters"):
        model.quantize("int8", filters=3)

    class MyDense(L.Dense):
        pass

    sub = MyDense(2)
    sub.build((None, 3))
    with pytest.raises(NotImplementedError, match="quantize"):
        sub.quantize("int8")
    sub.quantize("int8", type_check=False)
    assert sub.quantization_mode == "int8"
    emb = kerax.Sequential([kerax.Input((2,), dtype="int32"), L.Embedding(5, 3)])
    with pytest.warns(UserWarning, match="Invalid quantization mode"):
        emb.quantize("float8")
    lora = L.Dense(2, lora_rank=1)
    lora.build((None, 3))
    with pytest.raises(NotImplementedError, match="LoRA"):
        lora.quantize("int8")
