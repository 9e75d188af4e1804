"""JaxLayer and FlaxLayer: Flax (linen and nnx) and plain-JAX models as kerax
layers. Checked against the wrapped functions called directly, a pure
Flax + optax training loop, and Keras 3's own FlaxLayer weight layout."""
import numpy as np
import pytest

import jax
import jax.numpy as jnp

flax = pytest.importorskip("flax")
optax = pytest.importorskip("optax")
import flax.linen as nn  # noqa: E402
from flax import nnx  # noqa: E402

import kerax  # noqa: E402
from kerax.layers.jax_layer import FlaxLayer, JaxLayer  # noqa: E402


# ---- models --------------------------------------------------------------------------------
class LinenMLP(nn.Module):
    hidden: int = 8
    out: int = 1
    dropout: float = 0.2

    @nn.compact
    def __call__(self, x, training=False):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not training, momentum=0.9)(x)
        x = nn.relu(x)
        if self.dropout:
            x = nn.Dropout(self.dropout, deterministic=not training)(x)
        return nn.Dense(self.out)(x)


class NnxMLP(nnx.Module):
    def __init__(self, din, hidden=8, dout=1, *, rngs):
        self.din, self.hidden, self.dout = din, hidden, dout
        self.l1 = nnx.Linear(din, hidden, rngs=rngs)
        self.bn = nnx.BatchNorm(hidden, momentum=0.9, rngs=rngs)
        self.drop = nnx.Dropout(0.2, rngs=rngs)
        self.l2 = nnx.Linear(hidden, dout, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(nnx.relu(self.bn(self.l1(x)))))

    def get_config(self):
        return {"din": self.din, "hidden": self.hidden, "dout": self.dout}


def dense_init(rng, inputs):
    k1, _ = jax.random.split(rng)
    return {"w": jax.random.normal(k1, (inputs.shape[-1], 3)) * 0.5, "b": jnp.zeros((3,))}


def dense_call(params, inputs):
    return inputs @ params["w"] + params["b"]


def noisy_init(rng, inputs, training):
    params = {"w": jax.random.normal(rng, (inputs.shape[-1], 3))}
    state = {"count": jnp.zeros((), jnp.int32), "mean": jnp.zeros((3,))}
    return params, state


def noisy_call(params, state, rng, inputs, training):
    y = inputs @ params["w"]
    if training:
        y = y + 0.1 * jax.random.normal(rng, y.shape)
        state = {"count": state["count"] + 1,
                 "mean": 0.9 * state["mean"] + 0.1 * jnp.mean(y, axis=0)}
    return y, state


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(0)
    x = r.normal(size=(64, 4)).astype("float32")
    y = (x @ r.normal(size=(4, 1)) + 0.5).astype("float32")
    return x, y


def values(layer):
    return [np.asarray(v.numpy()) for v in layer.weights]


# ---- (a) Flax models train with compile/fit ------------------------------------------------
def test_linen_mlp_trains_with_fit(data):
    x, y = data
    kerax.utils.set_random_seed(1)
    inp = kerax.Input((4,))
    layer = FlaxLayer(LinenMLP(), seed=3)
    model = kerax.Model(inp, layer(inp))
    names = [v.name for v in layer.weights]
    assert names[:2] == ["params.BatchNorm_0.bias", "params.BatchNorm_0.scale"]
    assert [v.trainable for v in layer.weights] == [True] * 6 + [False] * 2
    assert len(model.trainable_weights) == 6
    stats_before = values(layer)[6:]
    model.compile(kerax.optimizers.Adam(0.02), "mse")
    before = model.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < 0.5 * before
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # batch statistics were updated through the compiled step
    assert not np.allclose(values(layer)[6], stats_before[0])
    # inference is deterministic (no dropout, running statistics)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_nnx_mlp_trains_with_fit(data):
    x, y = data
    layer = FlaxLayer(NnxMLP(4, rngs=nnx.Rngs(0)))
    by_name = {v.name: v for v in layer.weights}
    assert {"l1.kernel", "l1.bias", "bn.mean", "bn.var", "drop.rngs.count",
            "drop.rngs.key"} <= set(by_name)
    assert by_name["l1.kernel"].trainable and not by_name["bn.mean"].trainable
    model = kerax.Sequential([kerax.Input((4,)), layer])
    model.compile(kerax.optimizers.Adam(0.02), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    # the RNG stream of nnx.Dropout advanced once per training step, the
    # BatchNorm statistics moved
    assert int(by_name["drop.rngs.count"].numpy()) == 6 * 4
    assert not np.allclose(by_name["bn.var"].numpy(), 1.0)
    # the trained module comes back as an nnx module, matching the layer
    trained = layer.to_nnx_module()
    trained.eval()
    np.testing.assert_allclose(np.asarray(trained(x)), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


# ---- (b) same result as pure Flax + optax --------------------------------------------------
def test_linen_fit_matches_pure_flax_optax(data):
    x, y = data
    module = LinenMLP(dropout=0.0)
    variables = module.init(jax.random.key(0), x[:1], training=False)
    lr, batch, epochs = 0.05, 16, 3

    # pure Flax + optax
    tx = optax.sgd(lr)
    params, stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)

    @jax.jit
    def step(params, stats, opt_state, xb, yb):
        def loss_fn(p):
            out, upd = module.apply({"params": p, "batch_stats": stats}, xb, training=True,
                                    mutable=["batch_stats"])
            return jnp.mean((out - yb) ** 2), upd["batch_stats"]
        (_, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state

    for _ in range(epochs):
        for i in range(0, len(x), batch):
            params, stats, opt_state = step(params, stats, opt_state, x[i:i + batch],
                                            y[i:i + batch])

    # kerax fit with the same initial variables and batches
    layer = FlaxLayer(module, variables=variables)
    model = kerax.Sequential([kerax.Input((4,)), layer])
    model.compile(kerax.optimizers.SGD(lr), "mse")
    model.fit(x, y, epochs=epochs, batch_size=batch, shuffle=False, verbose=0)

    expected = jax.tree_util.tree_leaves(params) + jax.tree_util.tree_leaves(stats)
    got = jax.tree_util.tree_leaves(layer.params) + jax.tree_util.tree_leaves(layer.state)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), atol=1e-5)


# ---- (c) JaxLayer matches the functions called directly -----------------------------------
def test_jax_layer_stateless_matches_direct_call(data):
    x, _ = data
    layer = JaxLayer(dense_call, dense_init)
    out = layer(x)
    params = jax.tree_util.tree_map(np.asarray, layer.params)
    assert set(params) == {"w", "b"} and params["w"].shape == (4, 3)
    np.testing.assert_allclose(np.asarray(out), np.asarray(dense_call(params, x)),
                               rtol=1e-6, atol=1e-6)
    assert layer.seed_generator is None  # call_fn takes no rng
    # params given directly (no init_fn)
    given = {"w": np.ones((4, 3), "float32"), "b": np.arange(3, dtype="float32")}
    layer2 = JaxLayer(dense_call, params=given)
    assert layer2.built and len(layer2.trainable_weights) == 2
    np.testing.assert_allclose(np.asarray(layer2(x)), x @ given["w"] + given["b"], rtol=1e-6,
                               atol=1e-6)


def test_jax_layer_with_state_and_rng_matches_direct_call(data):
    x, _ = data
    seen = []

    def recording_call(params, state, rng, inputs, training):
        seen.append(rng)
        return noisy_call(params, state, rng, inputs, training)

    layer = JaxLayer(recording_call, noisy_init, seed=7)
    layer(x[:2])  # build (inference: rng is None, state unchanged)
    assert seen[-1] is None
    assert [v.trainable for v in layer.weights] == [True, False, False]
    params = jax.tree_util.tree_map(np.asarray, layer.params)
    state = jax.tree_util.tree_map(np.asarray, layer.state)
    out = layer(x, training=True)
    rng = seen[-1]
    assert rng is not None
    exp_out, exp_state = noisy_call(params, state, rng, x, True)
    np.testing.assert_allclose(np.asarray(out), np.asarray(exp_out), rtol=1e-6, atol=1e-6)
    assert int(layer.state["count"].numpy()) == 1
    np.testing.assert_allclose(layer.state["mean"].numpy(), np.asarray(exp_state["mean"]),
                               rtol=1e-6, atol=1e-7)
    # a fresh key every training call; the state is threaded through kerax.function
    layer(x, training=True)
    assert not np.array_equal(np.asarray(seen[-1]), np.asarray(rng))
    step = kerax.function(lambda a: layer(a, training=True))
    step(x)
    step(x)
    assert int(layer.state["count"].numpy()) == 4


def test_jax_layer_bad_arguments():
    with pytest.raises(ValueError, match="unsupported argument in `call_fn`: `x`"):
        JaxLayer(lambda params, inputs, x: x, dense_init)
    with pytest.raises(ValueError, match="missing required argument in `call_fn`: `inputs`"):
        JaxLayer(lambda params: params, dense_init)
    with pytest.raises(ValueError, match="cannot all be None"):
        JaxLayer(dense_call)
    with pytest.raises(TypeError, match="flax.linen.Module or a flax.nnx.Module"):
        FlaxLayer(dense_call)
    layer = JaxLayer(lambda params, state, inputs: (inputs, {"other": 1.0}),
                     init_fn=lambda inputs: ({}, {"count": jnp.zeros(())}))
    with pytest.raises(ValueError, match="structure mismatch"):
        layer(np.ones((2, 3), "float32"))


# ---- (d) weights save and load with the model ----------------------------------------------
def test_linen_and_jax_layers_save_and_load(tmp_path, data):
    x, y = data
    inp = kerax.Input((4,))
    flax_layer = FlaxLayer(LinenMLP(hidden=6, dropout=0.0))
    jax_layer = JaxLayer(noisy_call, noisy_init, seed=2)
    out = kerax.layers.Concatenate()([flax_layer(inp), jax_layer(inp)])
    model = kerax.Model(inp, out)
    model.compile(kerax.optimizers.SGD(0.05), "mse")
    model.fit(x, np.concatenate([y] * 4, axis=1), epochs=1, batch_size=32, verbose=0)
    pred = model.predict(x, verbose=0)
    custom = {"LinenMLP": LinenMLP, "noisy_call": noisy_call, "noisy_init": noisy_init}

    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(Exception, match="LinenMLP"):
        kerax.models.load_model(path)  # the module class is needed
    loaded = kerax.models.load_model(path, custom_objects=custom)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), pred)
    assert loaded.layers[1].module.hidden == 6
    # it keeps training from the loaded state
    loaded.fit(x, np.concatenate([y] * 4, axis=1), epochs=1, batch_size=32, verbose=0)

    # weights only, into a model built from fresh (different) initial values
    wpath = str(tmp_path / "m.weights.h5")
    model.save_weights(wpath)
    inp2 = kerax.Input((4,))
    fresh = kerax.Model(inp2, kerax.layers.Concatenate()(
        [FlaxLayer(LinenMLP(hidden=6, dropout=0.0))(inp2),
         JaxLayer(noisy_call, noisy_init)(inp2)]))
    assert not np.allclose(fresh.predict(x, verbose=0), pred)
    fresh.load_weights(wpath)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), pred)


def test_nnx_layer_save_and_load(tmp_path, data):
    x, y = data
    layer = FlaxLayer(NnxMLP(4, hidden=5, rngs=nnx.Rngs(1)))
    model = kerax.Sequential([kerax.Input((4,)), layer])
    model.compile(kerax.optimizers.SGD(0.05), "mse")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    pred = model.predict(x, verbose=0)

    path = str(tmp_path / "n.keras")
    model.save(path)
    loaded = kerax.models.load_model(path, custom_objects={"NnxMLP": NnxMLP})
    assert [v.name for v in loaded.weights] == [v.name for v in model.weights]
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), pred)

    wpath = str(tmp_path / "n.weights.h5")
    model.save_weights(wpath)
    fresh = kerax.Sequential([kerax.Input((4,)), FlaxLayer(NnxMLP(4, hidden=5,
                                                                  rngs=nnx.Rngs(9)))])
    fresh.load_weights(wpath)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), pred)


def test_weights_file_loads_in_keras_flax_layer(tmp_path, keras, data):
    """kerax writes a FlaxLayer's weights in Keras 3's layout: Keras' own
    FlaxLayer loads them and predicts the same."""
    x, _ = data
    module = LinenMLP(hidden=6, dropout=0.0)
    model = kerax.Sequential([kerax.Input((4,)), FlaxLayer(module)])
    model.layers[0].state["batch_stats"]["BatchNorm_0"]["mean"].assign(np.full(6, 0.3))
    path = str(tmp_path / "k.weights.h5")
    model.save_weights(path)
    # Keras' FlaxLayer starts from other values (its own build needs TensorFlow
    # in Keras 3.15, so it gets variables); the file then sets them.
    other = module.init(jax.random.key(5), x[:1], training=False)
    kmodel = keras.Sequential([keras.Input((4,)),
                               keras.layers.FlaxLayer(module, variables=other)])
    assert not np.allclose(np.asarray(kmodel.predict(x, verbose=0)),
                           model.predict(x, verbose=0), atol=1e-3)
    kmodel.load_weights(path)
    np.testing.assert_allclose(np.asarray(kmodel.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


# ---- (e) symbolic build --------------------------------------------------------------------
def test_symbolic_output_shapes():
    inp = kerax.Input((5,))
    assert JaxLayer(dense_call, dense_init)(inp).shape == (None, 3)
    assert FlaxLayer(LinenMLP(out=2))(inp).shape == (None, 2)
    assert FlaxLayer(NnxMLP(5, dout=4, rngs=nnx.Rngs(0)))(inp).shape == (None, 4)
    # a method other than __call__, and an integer input (the example input
    # used for init keeps the input's dtype)
    emb = FlaxLayer(nn.Embed(10, 3), method="__call__")
    ids = kerax.Input((7,), dtype="int32")
    assert emb(ids).shape == (None, 7, 3)
    layer = JaxLayer(dense_call, dense_init)
    assert layer.compute_output_shape((None, 2, 5)) == (None, 2, 3)


def test_config_roundtrip():
    layer = FlaxLayer(LinenMLP(hidden=4), seed=5, name="flx")
    config = layer.get_config()
    assert config["module"]["class_name"] == "LinenMLP"
    assert config["module"]["config"] == {"hidden": 4, "out": 1, "dropout": 0.2}
    with kerax.saving.custom_object_scope({"LinenMLP": LinenMLP}):
        clone = FlaxLayer.from_config(config)
    assert clone.module == LinenMLP(hidden=4) and clone.seed == 5 and clone.name == "flx"
    jl = JaxLayer(dense_call, dense_init)
    cfg = jl.get_config()
    assert cfg["call_fn"]["config"] == "dense_call"
    with pytest.raises(ValueError, match="custom_objects"):
        JaxLayer.from_config(cfg)
    clone = kerax.saving.deserialize_keras_object(
        kerax.saving.serialize_keras_object(jl),
        custom_objects={"dense_call": dense_call, "dense_init": dense_init})
    assert clone.call_fn is dense_call and clone.init_fn is dense_init
