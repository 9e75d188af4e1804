"""kerax.quantizers against keras.quantizers: each function on the same
inputs, the quantizer/config classes' configs, and the quantized dtype
policies (names, dtypes, configs both ways)."""
import jax
import numpy as np
import pytest

from kerax import dtype_policies as dp
from kerax import quantizers as Q


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(5, 7)).astype("float32"),
            "i4": rng.integers(-8, 8, size=(5, 3)).astype("int8"),
            "u4": rng.integers(0, 16, size=(4, 3)).astype("uint8"),
            "hist": np.abs(rng.normal(size=(6,))).astype("float32")}


def _same(a, b, exact=False):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_abs_max_and_grouped_quantize_match_keras(keras, data):
    x = data["x"]
    for axis, to_numpy in ((0, False), (-1, True), ((0, 1), False)):
        ours = Q.abs_max_quantize(x, axis, to_numpy=to_numpy)
        theirs = keras.quantizers.abs_max_quantize(x, axis, to_numpy=to_numpy)
        _same(ours[0], theirs[0], exact=True)
        _same(ours[1], theirs[1])
    ours = Q.abs_max_quantize(x, 0, value_range=(-8, 7))
    _same(ours[0], keras.quantizers.abs_max_quantize(x, 0, value_range=(-8, 7))[0], exact=True)
    const = np.ones((4, 2), "float32")  # a constant group (min == max)
    for inputs in (x, const):
        for to_numpy in (False, True):
            ours = Q.abs_max_quantize_grouped_with_zero_point(inputs, 3, to_numpy=to_numpy)
            theirs = keras.quantizers.abs_max_quantize_grouped_with_zero_point(
                inputs, 3, to_numpy=to_numpy)
            for a, b in zip(ours, theirs):
                _same(a, b)
    q, s = Q.AbsMaxQuantizer(axis=0)(x)
    kq, ks = keras.quantizers.AbsMaxQuantizer(axis=0)(x)
    _same(q, kq, exact=True)
    _same(s, ks)


def test_pack_unpack_int4_match_keras(keras, data):
    for axis in (0, 1, -1):
        ours = Q.pack_int4(data["i4"], axis)
        theirs = keras.quantizers.pack_int4(data["i4"], axis)
        _same(ours[0], theirs[0], exact=True)
        assert ours[1:] == theirs[1:]
        _same(Q.unpack_int4(ours[0], ours[2], axis),
              keras.quantizers.unpack_int4(theirs[0], theirs[2], axis), exact=True)
        _same(Q.unpack_int4(ours[0], ours[2], axis), data["i4"], exact=True)
    ours = Q.pack_int4(data["u4"], 0, "uint8")
    _same(ours[0], keras.quantizers.pack_int4(data["u4"], 0, "uint8")[0], exact=True)
    _same(Q.unpack_int4(ours[0], 4, 0, "uint8"), data["u4"], exact=True)
    with pytest.raises(TypeError, match="int8"):
        Q.pack_int4(data["x"])
    with pytest.raises(ValueError, match="dtype"):
        Q.unpack_int4(ours[0], 4, dtype="int4")


def test_fake_quant_values_and_gradients_match_keras(keras, data):
    x = data["x"]
    for lo, hi, bits, narrow in ((-0.5, 0.7, 8, False), (np.float32(-1.0), np.float32(1.2), 4,
                                                           True)):
        _same(Q.fake_quant_with_min_max_vars(x, lo, hi, num_bits=bits, narrow_range=narrow),
              keras.quantizers.fake_quant_with_min_max_vars(x, lo, hi, num_bits=bits,
                                                            narrow_range=narrow))
    lo, hi = np.full(7, -0.5, "float32"), np.full(7, 0.6, "float32")

    def grads(fn):
        return jax.grad(lambda a, b, c: (fn(a, b, c, axis=-1) ** 2).sum(),
                        argnums=(0, 1, 2))(x, lo, hi)

    for a, b in zip(grads(Q.fake_quant_with_min_max_vars),
                    grads(keras.quantizers.fake_quant_with_min_max_vars)):
        _same(a, b)


def test_float8_helpers_match_keras(keras, data):
    x, hist = data["x"], data["hist"]
    _same(Q.compute_float8_amax_history(x, hist),
          keras.quantizers.compute_float8_amax_history(x, hist))
    for amax in (3.0, 0.0, np.inf):
        args = (np.float32(amax), np.float32(0.5), np.float32(448.0))
        _same(Q.compute_float8_scale(*args), keras.quantizers.compute_float8_scale(*args))
    for dtype in ("float8_e4m3fn", "float8_e5m2"):
        _same(Q.quantize_and_dequantize(x * 100, np.float32(0.3), dtype, "float32"),
              keras.quantizers.quantize_and_dequantize(x * 100, np.float32(0.3), dtype,
                                                       "float32"))


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k != "shared_object_id"}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def test_configs_round_trip_with_keras(keras):
    K = keras.quantizers
    theirs = [K.Int8QuantizationConfig(), K.Int8QuantizationConfig(activation_quantizer=None),
              K.Int4QuantizationConfig(),
              K.Int4QuantizationConfig(block_size=None,
                                       weight_quantizer=K.AbsMaxQuantizer(value_range=(-8, 7))),
              K.Float8QuantizationConfig(), K.GPTQConfig(None, None, group_size=32),
              K.AWQConfig(None, None, group_size=-1), K.AbsMaxQuantizer(axis=0)]
    for obj in theirs:
        config = keras.saving.serialize_keras_object(obj)
        ours = Q.deserialize(config)
        assert type(ours).__name__ == type(obj).__name__
        assert _plain(Q.serialize(ours)) == _plain(config)
        try:  # (Keras' own Int4 config with a weight quantizer fails this after JSON)
            keras.saving.deserialize_keras_object(_plain(config))
        except ValueError:
            continue
        back = keras.saving.deserialize_keras_object(_plain(Q.serialize(ours)))
        assert _plain(keras.saving.serialize_keras_object(back)) == _plain(config)
    assert Q.GPTQConfig(None, None).dtype_policy_string() == \
        K.GPTQConfig(None, None).dtype_policy_string()
    assert isinstance(Q.get("AbsMaxQuantizer"), Q.AbsMaxQuantizer)
    assert Q.get(None) is None
    with pytest.raises(ValueError, match="interpret"):
        Q.get("nope")
    with pytest.raises(ValueError, match="block_size"):
        Q.Int4QuantizationConfig(block_size=0)
    with pytest.raises(ValueError, match="custom quantizers"):
        Q.Int4QuantizationConfig(weight_quantizer=Q.AbsMaxQuantizer(value_range=(-8, 7)))
    with pytest.raises(ValueError, match="weight_bits"):
        Q.GPTQConfig(None, None, weight_bits=5)
    with pytest.raises(ValueError, match="4-bit"):
        Q.AWQConfig(None, None, weight_bits=8)
    with pytest.raises(ValueError, match="int8"):
        Q.AbsMaxQuantizer(value_range=(-200, 200))


@pytest.mark.parametrize("name", ["int8_from_float32", "int4_from_mixed_bfloat16",
                                  "int4/64_from_float32", "float8_from_float32",
                                  "gptq/4/128_from_float32", "awq/4/-1_from_bfloat16"])
def test_quantized_policies_match_keras(keras, name):
    ours, theirs = dp.get(name), keras.dtype_policies.get(name)
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype, ours.quantization_mode) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype, theirs.quantization_mode)
    assert dp.serialize(ours) == keras.dtype_policies.serialize(theirs)
    assert dp.deserialize(keras.dtype_policies.serialize(theirs)) == ours
    assert ours != dp.DTypePolicy(ours.variable_dtype)


def test_quantized_policy_errors():
    with pytest.raises(ValueError, match="float16"):
        dp.QuantizedDTypePolicy("int8", "float16")
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        dp.QuantizedDTypePolicy("int3", "float32")
    with pytest.raises(ValueError, match="block_size"):
        dp.get("int4/0_from_float32")
    with pytest.raises(ValueError, match="Expected format"):
        dp.Int4DTypePolicy("int4", "float32")
    with pytest.raises(ValueError, match="weight_bits"):
        dp.get("gptq/5/128_from_float32")
    with pytest.raises(TypeError, match="amax_history_length"):
        dp.QuantizedFloat8DTypePolicy("float8", "float32", amax_history_length=1.5)
