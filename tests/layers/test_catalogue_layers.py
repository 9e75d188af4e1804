"""Issue 15's smaller layers against Keras 3: RMSNormalization, adaptive
pooling, ReversibleEmbedding, Pipeline, GroupQueryAttention, and the
InputSpec / serialize / deserialize names (outputs, gradients, configs,
`.keras` files both ways)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import layers as L
from tests.layers.keras_compare import compare_layer, plain


def _grads(layer, x, call_kwargs=None):
    """d sum(out * w) / d(trainable weights, x) through stateless_call."""
    call_kwargs = call_kwargs or {}
    tv = [v.value for v in layer.trainable_variables]
    ntv = [v.value for v in layer.non_trainable_variables]

    def f(tv, x):
        out, _ = layer.stateless_call(tv, ntv, x, **call_kwargs)
        out = jnp.asarray(out)
        w = jnp.cos(jnp.arange(out.size, dtype=out.dtype)).reshape(out.shape)
        return jnp.sum(out * w)

    return jax.jit(jax.grad(f, argnums=(0, 1)))(tv, jnp.asarray(x))


def _assert_same_grads(layer, k_layer, x, call_kwargs=None, atol=1e-5):
    ours, theirs = _grads(layer, x, call_kwargs), _grads(k_layer, x, call_kwargs)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=1e-5)


# ---- RMSNormalization -------------------------------------------------------------
def test_rms_normalization_matches_keras(keras, rng):
    kwargs = {"axis": [1, 2], "epsilon": 1e-3}
    layer, k_layer, x = compare_layer(keras, "RMSNormalization", kwargs, (2, 3, 4), rng)
    _assert_same_grads(layer, k_layer, x)


def test_rms_normalization_errors():
    with pytest.raises(TypeError, match="axis"):
        L.RMSNormalization(axis="last")
    with pytest.raises(ValueError, match="out of bounds"):
        L.RMSNormalization(axis=3)(np.ones((2, 3), "float32"))


# ---- adaptive pooling ----------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs,shape,grads", [
    ("AdaptiveMaxPooling1D", {"output_size": (4,)}, (2, 10, 2), False),
    ("AdaptiveAveragePooling2D", {"output_size": (2, 3), "data_format": "channels_first"},
     (2, 2, 5, 7), True),
    ("AdaptiveMaxPooling3D", {"output_size": (2, 1, 3)}, (1, 3, 2, 4, 1), True),
])
def test_adaptive_pooling_matches_keras(keras, rng, name, kwargs, shape, grads):
    layer, k_layer, x = compare_layer(keras, name, kwargs, shape, rng, symbolic=False)
    if grads:
        _assert_same_grads(layer, k_layer, x)


def test_adaptive_pooling_bins_closed_form():
    # bin j of n=5 into o=3 covers [floor(5j/3), ceil(5(j+1)/3)): [0,2) [1,4) [3,5)
    x = np.arange(5, dtype="float32")[None, :, None]
    out = np.asarray(L.AdaptiveAveragePooling1D(3)(x))[0, :, 0]
    np.testing.assert_allclose(out, [0.5, 2.0, 3.5])
    with pytest.raises(TypeError, match="output_size"):
        L.AdaptiveMaxPooling2D((1, 2, 3))
    with pytest.raises(ValueError, match="rank 4"):
        L.AdaptiveMaxPooling2D(2)(np.ones((2, 3, 4), "float32"))
    assert tuple(L.AdaptiveAveragePooling3D(2)(kerax.Input((5, None, 3, 2))).shape) == \
        (None, 2, 2, 2, 2)


# ---- ReversibleEmbedding ----------------------------------------------------------------
@pytest.mark.parametrize("tie", [True, False])
def test_reversible_embedding_matches_keras(keras, rng, tie):
    kwargs = dict(input_dim=10, output_dim=4, tie_weights=tie,
                  logit_soft_cap=None if tie else 2.0)
    ids = rng.integers(0, 10, size=(2, 3)).astype("int32")
    k_layer = keras.layers.ReversibleEmbedding(**kwargs)
    k_layer(ids)
    k_layer.set_weights([rng.normal(size=w.shape).astype("float32")
                         for w in k_layer.get_weights()])
    layer = L.ReversibleEmbedding(**kwargs)
    layer(ids)
    layer.set_weights(k_layer.get_weights())
    assert [v.path.split("/")[-1] for v in layer.weights] == \
        [v.path.split("/")[-1] for v in k_layer.weights]
    np.testing.assert_allclose(np.asarray(layer(ids)), np.asarray(k_layer(ids)), atol=1e-6)
    hidden = rng.normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(layer(hidden, reverse=True)),
                               np.asarray(k_layer(hidden, reverse=True)), atol=1e-5)
    config = layer.get_config()
    k_config = k_layer.get_config()
    assert set(config) == set(k_config)
    assert all(plain(config[k]) == plain(k_config[k]) for k in config if k != "name")
    if tie:
        return
    _assert_same_grads(layer, k_layer, hidden, {"reverse": True})
    assert plain(L.ReversibleEmbedding.from_config(config).get_config()) == plain(config)
    sym = L.ReversibleEmbedding(**kwargs)(kerax.Input((5, 4)), reverse=True)
    assert tuple(sym.shape) == (None, 5, 10)
    with pytest.raises(ValueError, match="output_dim=4"):
        layer(np.ones((2, 3), "float32"), reverse=True)
    with pytest.raises(NotImplementedError, match="quantization"):
        layer.quantize("int8")


def test_reversible_embedding_mask_only_for_ids():
    layer = L.ReversibleEmbedding(10, 4, mask_zero=True)
    ids = np.array([[1, 0, 2]])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids)), [[True, False, True]])
    assert layer.compute_mask(np.ones((1, 3, 4), "float32")) is None


# ---- Pipeline -----------------------------------------------------------------------------
def test_pipeline_matches_keras_and_config(keras, rng):
    x = rng.normal(size=(3, 4)).astype("float32")
    k_pipe = keras.layers.Pipeline([keras.layers.Dense(3, name="a"),
                                    keras.layers.Dropout(0.5, seed=1),
                                    keras.layers.Dense(2, name="b")])
    pipe = L.Pipeline([L.Dense(3, name="a"), L.Dropout(0.5, seed=1), L.Dense(2, name="b")])
    k_pipe(x)
    pipe(x)
    pipe.set_weights(k_pipe.get_weights())
    np.testing.assert_allclose(np.asarray(pipe(x, training=False)),
                               np.asarray(k_pipe(x, training=False)), atol=1e-5)
    # Keras' default is training=True: the Dropout is active outside a model
    assert not np.allclose(np.asarray(pipe(x)), np.asarray(pipe(x, training=False)))
    config, k_config = pipe.get_config(), k_pipe.get_config()
    assert set(config) == set(k_config) == {"layers", "name"}
    assert [c["class_name"] for c in config["layers"]] == \
        [c["class_name"] for c in k_config["layers"]]
    fresh = L.Pipeline.from_config(k_config)
    assert [type(layer).__name__ for layer in fresh.layers] == ["Dense", "Dropout", "Dense"]
    with pytest.raises(ValueError, match="layers"):
        L.Pipeline.from_config({"name": "p"})
    with pytest.raises(ValueError, match="list of kerax layers"):
        L.Pipeline([lambda t: t])


def test_pipeline_passes_masks():
    pipe = L.Pipeline([L.Embedding(5, 3, mask_zero=True), L.LSTM(2)])
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    lstm = pipe.layers[1]
    out = np.asarray(pipe(ids))
    # the padded steps are skipped: same as running on the unpadded prefix
    ref = np.asarray(lstm(pipe.layers[0](ids[:1, :2])))
    np.testing.assert_allclose(out[:1], ref, atol=1e-6)


# ---- GroupQueryAttention ------------------------------------------------------------------
@pytest.fixture(scope="module")
def gqa_pair(keras):
    rng = np.random.default_rng(3)
    kw = dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, use_gate=True)
    q = rng.normal(size=(2, 5, 6)).astype("float32")
    v = rng.normal(size=(2, 4, 6)).astype("float32")
    k_layer = keras.layers.GroupQueryAttention(**kw)
    k_layer(q, v)
    k_layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5
                         for w in k_layer.get_weights()])
    layer = L.GroupQueryAttention(**kw)
    layer(q, v)
    layer.set_weights(k_layer.get_weights())
    return layer, k_layer, q, v


@pytest.mark.parametrize("call", [
    {},
    {"use_causal_mask": True},
    {"query_mask": "q", "value_mask": "v"},
    {"attention_mask": "a", "return_attention_scores": True},
])
def test_gqa_matches_keras(gqa_pair, call):
    layer, k_layer, q, v = gqa_pair
    masks = {"q": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
             "v": np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool),
             "a": np.random.default_rng(1).uniform(size=(2, 5, 4)) > 0.3}
    call = {k: masks[c] if isinstance(c, str) else c for k, c in call.items()}
    got, want = layer(q, v, **call), k_layer(q, v, **call)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_gqa_weights_grads_config(gqa_pair):
    layer, k_layer, q, v = gqa_pair
    assert [w.path for w in layer.weights] == [w.path.replace("grouped_query_attention_1",
                                                              layer.name) for w in k_layer.weights] \
        or [w.path.split("/", 1)[1] for w in layer.weights] == \
        [w.path.split("/", 1)[1] for w in k_layer.weights]

    def loss(lay):
        tv = [w.value for w in lay.trainable_variables]

        def f(tv, q):
            out, _ = lay.stateless_call(tv, [], q, v, use_causal_mask=True)
            return jnp.sum(jnp.asarray(out) ** 2)
        return jax.grad(f, argnums=(0, 1))(tv, jnp.asarray(q))

    for a, b in zip(jax.tree_util.tree_leaves(loss(layer)),
                    jax.tree_util.tree_leaves(loss(k_layer))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-4, rtol=1e-4)
    config, k_config = layer.get_config(), k_layer.get_config()
    assert set(config) == set(k_config)
    assert all(plain(config[k]) == plain(k_config[k]) for k in config if k != "name")
    assert kerax.layers.serialize(layer)["class_name"] == "GroupQueryAttention"
    sym = L.GroupQueryAttention(**{k: config[k] for k in (
        "head_dim", "num_query_heads", "num_key_value_heads")})(
        kerax.Input((5, 6)), kerax.Input((4, 6)), return_attention_scores=True)
    assert [tuple(t.shape) for t in sym] == [(None, 5, 6), (None, 4, 5, 4)]


def test_gqa_options_and_errors(keras, gqa_pair):
    x = gqa_pair[2]
    kw = dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, sliding_window=2,
              use_bias=False)
    k_layer = keras.layers.GroupQueryAttention(**kw)
    k_layer.build(x.shape, x.shape)
    layer = L.GroupQueryAttention(**kw)
    layer.build(x.shape, x.shape)
    layer.set_weights(k_layer.get_weights())
    np.testing.assert_allclose(np.asarray(layer(x, x, use_causal_mask=True)),
                               np.asarray(k_layer(x, x, use_causal_mask=True)), atol=1e-5)
    drop = L.GroupQueryAttention(3, 4, 2, dropout=0.5, seed=0)
    assert not np.allclose(np.asarray(drop(x, x, training=True)), np.asarray(drop(x, x)))
    with pytest.raises(ValueError, match="divisible"):
        L.GroupQueryAttention(2, 3, 2)
    with pytest.raises(ValueError, match="flash attention"):
        L.GroupQueryAttention(2, 2, 1, dropout=0.1, flash_attention=True)
    with pytest.raises(ValueError, match="scores"):
        L.GroupQueryAttention(3, 4, 2, flash_attention=True)(x, x, return_attention_scores=True)
    with pytest.raises(ValueError, match="sliding_window"):
        L.GroupQueryAttention(2, 2, 1, sliding_window=0)


# ---- InputSpec, serialize, deserialize -------------------------------------------------------
def test_input_spec_serialize_deserialize(keras):
    assert kerax.InputSpec is L.InputSpec
    for kw in ({"ndim": 3, "axes": {-1: 4}}, {"shape": (None, 3), "dtype": "float32"},
               {"min_ndim": 2, "max_ndim": 4}):
        assert L.InputSpec(**kw).get_config() == keras.layers.InputSpec(**kw).get_config()
        assert repr(L.InputSpec(**kw)) == repr(keras.layers.InputSpec(**kw))
    assert L.InputSpec.from_config(L.InputSpec(ndim=2).get_config()).ndim == 2
    with pytest.raises(ValueError, match="greater"):
        L.InputSpec(ndim=2, axes={3: 1})
    with pytest.raises(TypeError, match="integer keys"):
        L.InputSpec(ndim=2, axes={"a": 1})

    k_dense = keras.layers.Dense(3, activation="relu", name="d")
    ours = L.serialize(L.Dense(3, activation="relu", name="d"))
    assert plain(ours) == plain(keras.layers.serialize(k_dense))
    layer = L.deserialize(keras.layers.serialize(k_dense))
    assert isinstance(layer, L.Dense) and layer.units == 3 and layer.name == "d"
    assert type(keras.layers.deserialize(ours)).__name__ == "Dense"
    with pytest.raises(ValueError, match="not a layer"):
        L.deserialize(kerax.initializers.serialize(kerax.initializers.Zeros()))


# ---- one .keras file with all of them, both ways -------------------------------------------
def _catalogue_model(lib):
    ids = lib.Input((6,), dtype="int32")
    emb = lib.layers.ReversibleEmbedding(12, 6, tie_weights=False, name="emb")
    h = emb(ids)
    h = lib.layers.RMSNormalization(name="rms")(h)
    h = lib.layers.Pipeline([lib.layers.Dense(6, name="p1"), lib.layers.Dense(6, name="p2")],
                            name="pipe")(h)
    h = lib.layers.GroupQueryAttention(3, 4, 2, name="gqa")(h, h)
    logits = emb(h, reverse=True)
    out = lib.layers.AdaptiveMaxPooling1D(4, name="pool")(logits)
    return lib.Model(ids, out)


def test_catalogue_keras_files_both_ways(keras, tmp_path):
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 12, size=(2, 6)).astype("int32")
    km = _catalogue_model(keras)
    km.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3 for w in km.get_weights()])
    ref = np.asarray(km(ids))
    km.save(tmp_path / "k.keras")
    mm = kerax.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(np.asarray(mm(ids)), ref, atol=1e-4)
    mm.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(back(ids)), ref, atol=1e-4)
    again = kerax.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(ids)), ref, atol=1e-4)
