"""LoRA (`lora_rank`, `lora_alpha`, `enable_lora`) on Dense, EinsumDense, Embedding
and Conv1D/2D/3D, against Keras 3 itself: weight names, shapes, dtypes and
trainability, outputs with the same weights, the merged `kernel`, configs,
errors, training with fit, and the `.keras` files (merged weights, Keras'
layout) read by the other library."""
import warnings

import numpy as np
import pytest

import kerax
from kerax import layers as L

CF = {"data_format": "channels_first"}

# (layer, kwargs, input shape, input kind)
CASES = [
    ("Dense", dict(units=4, lora_rank=2), (2, 3), "float"),
    ("Dense", dict(units=3, lora_rank=1, use_bias=False), (2, 4, 5), "float"),
    ("Embedding", dict(input_dim=7, output_dim=4, lora_rank=2), (2, 3), "int"),
    ("EinsumDense", dict(equation="ab,bc->ac", output_shape=4, bias_axes="c",
                         lora_rank=2, lora_alpha=8), (2, 3), "float"),
    ("EinsumDense", dict(equation="abc,cde->abde", output_shape=(None, 4, 5),
                         bias_axes="de", lora_rank=3, lora_alpha=1.5), (2, 3, 6), "float"),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", lora_rank=2, lora_alpha=6),
     (2, 5, 3), "float"),
    ("Conv2D", dict(filters=4, kernel_size=2, groups=2, lora_rank=2), (2, 5, 5, 4), "float"),
    ("Conv3D", dict(filters=2, kernel_size=2, lora_rank=1, lora_alpha=3, **CF),
     (1, 3, 4, 4, 4), "float"),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _input(rng, shape, kind):
    if kind == "int":
        return rng.integers(0, 7, size=shape).astype("int32")
    return rng.normal(size=shape).astype("float32")


def _short(v):
    return v.path.split("/")[-1]


def _described(variables):
    return [(_short(v), tuple(v.shape), np.dtype(v.dtype).name) for v in variables]


def _weight_attr(name):
    return "embeddings" if name == "Embedding" else "kernel"


def _pair(keras, rng, name, kwargs, shape, kind):
    """The same LoRA layer in Keras and kerax, Keras' weights (all random, so the
    LoRA update is not zero) copied into kerax by name."""
    x = _input(rng, shape, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_layer = getattr(keras.layers, name)(**kwargs)
        k_layer(x)
        for v in k_layer.weights:
            v.assign(rng.normal(size=v.shape).astype("float32"))
    layer = getattr(L, name)(**kwargs)
    layer(x)
    by_name = {_short(v): np.asarray(v) for v in k_layer.weights}
    for v in layer.weights:
        v.assign(by_name[_short(v)])
    return layer, k_layer, x


@pytest.mark.parametrize("name,kwargs,shape,kind", CASES, ids=IDS)
def test_weights_outputs_and_config_match_keras(keras, rng, name, kwargs, shape, kind):
    layer, k_layer, x = _pair(keras, rng, name, kwargs, shape, kind)
    assert layer.lora_enabled and k_layer.lora_enabled
    # names, shapes, dtypes and trainability
    assert _described(layer.trainable_weights) == _described(k_layer.trainable_weights)
    assert _described(layer.non_trainable_weights) == _described(k_layer.non_trainable_weights)
    assert sorted(_described(layer.weights)) == sorted(_described(k_layer.weights))
    assert layer.count_params() == k_layer.count_params()
    w = _weight_attr(name)
    assert [_short(v) for v in layer.non_trainable_weights] == [w]
    assert not getattr(layer, "_" + w).trainable
    # the same weights give the same outputs, and the same merged kernel
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(k_layer(x)),
                               atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(getattr(layer, w)),
                               np.asarray(getattr(k_layer, w)), atol=1e-5, rtol=1e-5)
    # configs carry lora_rank / lora_alpha as Keras' do
    config, k_config = layer.get_config(), k_layer.get_config()
    assert set(config) == set(k_config)
    assert (config["lora_rank"], config["lora_alpha"]) == \
        (k_config["lora_rank"], k_config["lora_alpha"])
    fresh = type(layer).from_config(config)
    fresh(x)
    assert fresh.lora_enabled and fresh.lora_rank == layer.lora_rank
    assert _described(fresh.trainable_weights) == _described(layer.trainable_weights)


def test_get_weights_order_matches_keras(keras, rng):
    layer, k_layer, _ = _pair(keras, rng, "Dense", dict(units=4, lora_rank=2), (2, 3), "float")
    assert [_short(v) for v in layer.weights] == [_short(v) for v in k_layer.weights]


def test_factors_start_as_keras_does(keras):
    """lora_*_a is he_uniform, lora_*_b zeros: a fresh LoRA layer computes as the
    plain one, and the factors are float32 whatever the layer's dtype."""
    for name, kwargs, shape, kind in CASES:
        layer = getattr(L, name)(**dict(kwargs, dtype="bfloat16"))
        k_layer = getattr(keras.layers, name)(**dict(kwargs, dtype="bfloat16"))
        x = _input(np.random.default_rng(1), shape, kind)
        layer(x)
        k_layer(x)
        assert _described(layer.trainable_weights) == _described(k_layer.trainable_weights)
        assert _described(layer.non_trainable_weights) == \
            _described(k_layer.non_trainable_weights)
        a, b = layer._lora_factors()
        assert not np.any(np.asarray(b))
        limit = np.sqrt(6.0 / np.prod(a.shape[:-1]))  # he_uniform's fan_in
        values = np.asarray(a)
        assert np.any(values) and np.abs(values).max() <= limit + 1e-6
        w = _weight_attr(name)
        assert np.asarray(getattr(layer, w)).dtype == np.asarray(getattr(k_layer, w)).dtype


def test_enable_lora_on_a_built_layer(keras, rng):
    x = rng.normal(size=(3, 5)).astype("float32")
    layer = L.Dense(4)
    k_layer = keras.layers.Dense(4)
    before = np.asarray(layer(x))
    k_layer(x)
    kernel = np.asarray(layer.kernel.numpy())
    assert not layer.lora_enabled and "lora_rank" not in layer.get_config()
    layer.enable_lora(3, lora_alpha=6)
    k_layer.enable_lora(3, lora_alpha=6)
    assert layer.lora_enabled and (layer.lora_rank, layer.lora_alpha) == (3, 6)
    np.testing.assert_allclose(np.asarray(layer(x)), before, atol=1e-6)  # b starts at 0
    np.testing.assert_array_equal(np.asarray(layer.kernel), kernel)
    assert _described(layer.trainable_weights) == _described(k_layer.trainable_weights)
    assert _described(layer.non_trainable_weights) == _described(k_layer.non_trainable_weights)
    assert {k: v for k, v in layer.get_config().items() if k.startswith("lora")} == \
        {k: v for k, v in k_layer.get_config().items() if k.startswith("lora")}
    # alpha / rank scales the update: with b = 1 the delta is 2 * a @ 1
    layer.lora_kernel_b.assign(np.ones((3, 4), "float32"))
    a = np.asarray(layer.lora_kernel_a.numpy())
    np.testing.assert_allclose(np.asarray(layer.kernel), kernel + 2.0 * a @ np.ones((3, 4)),
                               rtol=1e-5, atol=1e-6)
    # custom initializers
    emb = L.Embedding(5, 3)
    emb.build()
    emb.enable_lora(2, a_initializer="ones", b_initializer="ones")
    np.testing.assert_allclose(np.asarray(emb.embeddings),
                               np.asarray(emb._embeddings.numpy()) + 2.0, rtol=1e-6)


def test_dense_and_embedding_honour_constructor_lora_alpha(keras, rng):
    """Keras 3.15's Dense/Embedding build calls enable_lora(rank) without the
    constructor's lora_alpha (so it silently becomes rank); kerax honours it as
    documented, which equals Keras' enable_lora(rank, lora_alpha=...)."""
    for name, kwargs, x in [
            ("Dense", dict(units=4), rng.normal(size=(2, 3)).astype("float32")),
            ("Embedding", dict(input_dim=6, output_dim=3),
             rng.integers(0, 6, size=(2, 4)).astype("int32"))]:
        layer = getattr(L, name)(**kwargs, lora_rank=2, lora_alpha=8)
        layer(x)
        assert layer.lora_alpha == 8 and layer.get_config()["lora_alpha"] == 8
        k_layer = getattr(keras.layers, name)(**kwargs)
        k_layer(x)
        k_layer.enable_lora(2, lora_alpha=8)
        for v in k_layer.weights:
            v.assign(rng.normal(size=v.shape).astype("float32"))
        by_name = {_short(v): np.asarray(v) for v in k_layer.weights}
        for v in layer.weights:
            v.assign(by_name[_short(v)])
        np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(k_layer(x)),
                                   atol=1e-5, rtol=1e-5)


def test_errors_as_keras(keras):
    x = np.ones((2, 3), "float32")
    for lib in (L, keras.layers):  # Keras raises the same errors
        with pytest.raises(ValueError, match="(?i)built"):
            lib.Dense(4).enable_lora(2)
        layer = lib.Dense(4, lora_rank=2)
        layer(x)
        with pytest.raises(ValueError, match="(?i)already enabled"):
            layer.enable_lora(2)
        with pytest.raises(ValueError, match="(?i)constraint"):
            lib.Dense(4, lora_rank=2, kernel_constraint="non_neg")(x)
        with pytest.raises(ValueError, match="(?i)constraint"):
            lib.Embedding(4, 2, lora_rank=2, embeddings_constraint="non_neg").build()
        # LoRA exists on Conv1D/2D/3D only, not on the other convolutions
        for cls in ("Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"):
            kwargs = {} if cls == "DepthwiseConv2D" else {"filters": 2}
            with pytest.raises((TypeError, ValueError), match="lora_rank"):
                getattr(lib, cls)(kernel_size=2, lora_rank=2, **kwargs)
    with pytest.raises(ValueError, match="lora_rank"):
        L.Dense(4, lora_rank=-1)
    with pytest.raises(ValueError, match="lora_alpha"):
        L.Conv2D(2, 2, lora_rank=2, lora_alpha="big")
    layer = L.Dense(4)
    layer(x)
    with pytest.raises(ValueError, match="rank"):
        layer.enable_lora(0)
    with pytest.raises(AttributeError, match="built"):
        L.Dense(4).kernel
    with pytest.raises(ValueError, match="quantization_config"):
        L.Dense(4, quantization_config={"mode": "int8"})
    # lora_rank=0 / None means no LoRA (as Keras): no factors, no config keys
    for rank in (0, None):
        plain = L.Dense(4, lora_rank=rank)
        plain(x)
        assert not plain.lora_enabled and len(plain.weights) == 2
        assert "lora_rank" not in plain.get_config()


def test_kernel_regularizer_also_regularizes_factors(keras, rng):
    layer, k_layer, x = _pair(keras, rng, "Dense",
                              dict(units=4, lora_rank=2, kernel_regularizer="l2"),
                              (2, 3), "float")
    layer(x)
    k_layer(x)
    a, b = (np.asarray(v.numpy()) for v in layer._lora_factors())
    expected = sorted([0.01 * float(np.sum(a ** 2)), 0.01 * float(np.sum(b ** 2))])
    np.testing.assert_allclose(sorted(float(v) for v in k_layer.losses), expected, rtol=1e-5)
    got = sorted(float(v) for v in layer.losses)
    np.testing.assert_allclose(got, expected, rtol=1e-5)  # the frozen kernel: no term


def _lora_model():
    return kerax.Sequential([
        kerax.Input((5,), dtype="int32"),
        L.Embedding(10, 6, lora_rank=2),
        L.Conv1D(4, 3, padding="same", lora_rank=2),
        L.EinsumDense("abc,cd->abd", output_shape=(5, 3), bias_axes="d", lora_rank=2),
        L.Flatten(),
        L.Dense(1, lora_rank=1, lora_alpha=2),
    ])


def test_fit_trains_only_the_lora_factors_and_biases(keras, rng):
    kerax.utils.set_random_seed(0)
    model = _lora_model()
    x = rng.integers(0, 10, size=(32, 5)).astype("int32")
    y = rng.normal(size=(32, 1)).astype("float32")
    names = [v.path for v in model.trainable_weights]
    assert all(n.endswith(("_a", "_b", "bias")) for n in names), names
    assert sorted(_short(v) for v in model.non_trainable_weights) == \
        ["embeddings", "kernel", "kernel", "kernel"]
    frozen = {v.path: np.asarray(v.numpy()) for v in model.non_trainable_weights}
    trained = {v.path: np.asarray(v.numpy()) for v in model.trainable_weights}
    model.compile(optimizer=kerax.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for v in model.non_trainable_weights:
        np.testing.assert_array_equal(np.asarray(v.numpy()), frozen[v.path])
    for v in model.trainable_weights:
        assert not np.array_equal(np.asarray(v.numpy()), trained[v.path]), v.path
    # Keras' same model has the same trainable / frozen split
    k_model = keras.Sequential([
        keras.Input((5,), dtype="int32"),
        keras.layers.Embedding(10, 6, lora_rank=2),
        keras.layers.Conv1D(4, 3, padding="same", lora_rank=2),
        keras.layers.EinsumDense("abc,cd->abd", output_shape=(5, 3), bias_axes="d",
                                 lora_rank=2),
        keras.layers.Flatten(),
        keras.layers.Dense(1, lora_rank=1),
    ])
    assert _described(model.trainable_weights) == _described(k_model.trainable_weights)
    assert _described(model.non_trainable_weights) == _described(k_model.non_trainable_weights)


@pytest.mark.parametrize("name,kwargs,shape,kind", CASES, ids=IDS)
def test_save_and_load_own_variables_as_keras(keras, rng, name, kwargs, shape, kind):
    """The per-layer store holds the merged weight in the plain layer's layout;
    loading it freezes that weight and restarts the factors at zero."""
    layer, k_layer, x = _pair(keras, rng, name, kwargs, shape, kind)
    store, k_store = {}, {}
    layer.save_own_variables(store)
    k_layer.save_own_variables(k_store)
    assert sorted(store) == sorted(k_store)
    for key in k_store:
        np.testing.assert_allclose(store[key], np.asarray(k_store[key]), atol=1e-5, rtol=1e-5)
    expected = np.asarray(k_layer(x))
    fresh = getattr(L, name)(**kwargs)
    fresh(x)
    fresh.load_own_variables(k_store)
    assert not any(np.any(np.asarray(f.numpy())) for f in fresh._lora_factors())
    np.testing.assert_allclose(np.asarray(fresh(x)), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="expects"):
        fresh.load_own_variables({"0": store["0"]} if len(store) > 1 else {})
    bad = dict(store, **{"0": np.zeros((1,) + store["0"].shape, "float32")})
    with pytest.raises(ValueError, match="shape"):
        fresh.load_own_variables(bad)


def _predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def test_keras_file_round_trips(keras, rng, tmp_path):
    model = _lora_model()
    x = rng.integers(0, 10, size=(4, 5)).astype("int32")
    for layer in model.layers:  # non-zero LoRA updates
        for f in getattr(layer, "_lora_factors", lambda: ())():
            f.assign(rng.normal(size=f.shape).astype("float32") * 0.3)
    expected = _predict(model, x)
    model.save(tmp_path / "kerax.keras")
    # kerax -> kerax: LoRA stays enabled, the update is merged, outputs agree
    again = kerax.models.load_model(tmp_path / "kerax.keras")
    assert all(layer.lora_enabled for layer in again.layers if hasattr(layer, "lora_enabled"))
    np.testing.assert_allclose(_predict(again, x), expected, atol=1e-5, rtol=1e-5)
    # kerax -> Keras
    k_model = keras.saving.load_model(tmp_path / "kerax.keras")
    assert k_model.layers[0].lora_enabled
    np.testing.assert_allclose(_predict(k_model, x), expected, atol=1e-5, rtol=1e-5)
    # Keras -> kerax
    k_model.save(tmp_path / "keras.keras")
    back = kerax.models.load_model(tmp_path / "keras.keras")
    assert back.layers[-1].lora_enabled
    np.testing.assert_allclose(_predict(back, x), expected, atol=1e-5, rtol=1e-5)


def test_weights_file_into_a_layer_with_lora_enabled_later(keras, rng, tmp_path):
    """A plain model's weights load into the same model after enable_lora (and a
    LoRA model's merged weights into a plain one), in both libraries' files."""
    x = rng.normal(size=(3, 4)).astype("float32")
    k_plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    k_plain.save_weights(tmp_path / "plain.weights.h5")
    model = kerax.Sequential([kerax.Input((4,)), L.Dense(3)])
    model.layers[0].enable_lora(2)
    model.load_weights(tmp_path / "plain.weights.h5")
    np.testing.assert_allclose(_predict(model, x), _predict(k_plain, x), atol=1e-5)
    model.layers[0].lora_kernel_b.assign(np.ones((2, 3), "float32"))
    model.save_weights(tmp_path / "lora.weights.h5")
    plain = kerax.Sequential([kerax.Input((4,)), L.Dense(3)])
    plain.load_weights(tmp_path / "lora.weights.h5")
    np.testing.assert_allclose(_predict(plain, x), _predict(model, x), atol=1e-5)
    k_plain.load_weights(tmp_path / "lora.weights.h5")
    np.testing.assert_allclose(_predict(k_plain, x), _predict(model, x), atol=1e-5)
