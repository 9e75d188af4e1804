"""kerax.dtype_policies: FloatDTypePolicy, DTypePolicyMap, get/serialize/deserialize,
against Keras 3."""
import pytest

from kerax import dtype_policies as dp
from kerax import mixed_precision


def test_get_serialize_match_keras(keras):
    for name in ["float32", "mixed_bfloat16", "mixed_float16", "bfloat16"]:
        ours, theirs = dp.get(name), keras.dtype_policies.get(name)
        assert (ours.name, ours.compute_dtype, ours.variable_dtype) == \
            (theirs.name, theirs.compute_dtype, theirs.variable_dtype)
        assert dp.serialize(ours) == keras.dtype_policies.serialize(theirs)
        assert dp.deserialize(keras.dtype_policies.serialize(theirs)) == ours
    assert dp.serialize(dp.FloatDTypePolicy("float16")) == \
        keras.dtype_policies.serialize(keras.dtype_policies.FloatDTypePolicy("float16"))
    assert dp.get(None) == dp.global_policy()
    assert dp.get({"class_name": "DTypePolicy", "config": {"name": "float16"}}).name == "float16"


def test_get_refuses_nonsense():
    # (quantized policy names: tests/quantizers/test_quantized_policies.py)
    with pytest.raises(ValueError, match="Cannot interpret"):
        dp.get("not_a_dtype")


def test_policy_map_lookup_and_config_match_keras(keras):
    def fill(mod):
        m = mod.DTypePolicyMap(default_policy="float32")
        m["encoder/layer_0/dense"] = "bfloat16"
        m["encoder/.*"] = "float16"
        return m

    ours, theirs = fill(dp), fill(keras.dtype_policies)
    for path in ["encoder/layer_0/dense", "encoder/attention/query", "decoder/attention"]:
        assert ours[path].name == theirs[path].name
    assert ours.name == theirs.name == "map_float32"
    assert dp.serialize(ours) == keras.dtype_policies.serialize(theirs)
    back = dp.deserialize(keras.dtype_policies.serialize(theirs))
    assert isinstance(back, dp.DTypePolicyMap) and back["encoder/x"].name == "float16"
    ours["encoder/attention/.*"] = "bfloat16"
    with pytest.raises(ValueError, match="multiple"):
        ours["encoder/attention/query"]
    with pytest.raises(ValueError, match="already exist"):
        ours["encoder/.*"] = "float32"
    with pytest.raises(ValueError, match="cannot be a `DTypePolicyMap`"):
        dp.DTypePolicyMap(ours)
    assert len(ours) == 3 and "encoder/.*" in ours
    del ours["encoder/.*"]
    assert ours["encoder/zzz"].name == "float32"


def test_policy_map_default_follows_global_policy():
    m = dp.DTypePolicyMap()
    try:
        dp.set_global_policy("mixed_bfloat16")
        assert m.compute_dtype == "bfloat16" and m.variable_dtype == "float32"
    finally:
        dp.set_global_policy(None)


def test_mixed_precision_policy_alias(keras):
    assert mixed_precision.Policy is dp.DTypePolicy
    assert keras.mixed_precision.Policy is keras.dtype_policies.DTypePolicy
