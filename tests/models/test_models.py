"""Layer base, Sequential, functional and subclassed models: the chapter's
examples, summary counts and outputs against Keras 3, stateless_call."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import ops
from kerax.layers import Dense


# ---- the chapter's custom layers and models (tf.keras -> kerax, tf.* -> ops) ------
class MyDense(kerax.layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = kerax.activations.get(activation)

    def build(self, batch_input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[batch_input_shape[-1], self.units],
                                      initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros")
        super().build(batch_input_shape)

    def call(self, X):
        return self.activation(X @ self.kernel + self.bias)

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "units": self.units,
                "activation": kerax.activations.serialize(self.activation)}


class MyMultiLayer(kerax.layers.Layer):
    def call(self, X):
        X1, X2 = X
        return X1 + X2, X1 * X2


class MyGaussianNoise(kerax.layers.Layer):
    def __init__(self, stddev, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev

    def call(self, X, training=None):
        if training:
            noise = kerax.random.normal(ops.shape(X), stddev=self.stddev)
            return X + noise
        return X


class ResidualBlock(kerax.layers.Layer):
    def __init__(self, n_layers, n_neurons, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [Dense(n_neurons, activation="elu", kernel_initializer="he_normal")
                       for _ in range(n_layers)]

    def call(self, inputs):
        Z = inputs
        for layer in self.hidden:
            Z = layer(Z)
        return inputs + Z


class ResidualRegressor(kerax.Model):
    def __init__(self, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = Dense(30, activation="elu", kernel_initializer="he_normal")
        self.block1 = ResidualBlock(2, 30)
        self.block2 = ResidualBlock(2, 30)
        self.out = Dense(output_dim)

    def call(self, inputs):
        Z = self.hidden1(inputs)
        for _ in range(1 + 3):
            Z = self.block1(Z)
        Z = self.block2(Z)
        return self.out(Z)


class ReconstructingRegressor(kerax.Model):
    def __init__(self, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [Dense(30, activation="selu", kernel_initializer="lecun_normal")
                       for _ in range(5)]
        self.out = Dense(output_dim)
        self.reconstruction_mean = kerax.metrics.Mean(name="reconstruction_error")

    def build(self, batch_input_shape):
        n_inputs = batch_input_shape[-1]
        self.reconstruct = Dense(n_inputs)
        super().build(batch_input_shape)

    def call(self, inputs, training=None):
        Z = inputs
        for layer in self.hidden:
            Z = layer(Z)
        reconstruction = self.reconstruct(Z)
        recon_loss = ops.mean(ops.square(reconstruction - inputs))
        self.add_loss(0.05 * recon_loss)
        if training:
            result = self.reconstruction_mean(recon_loss)
            self.add_metric(result)
        return self.out(Z)


# ---- tests --------------------------------------------------------------------------
def test_seed_examples_build_and_run():
    X = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    layer = MyDense(3, activation="relu")
    y = layer(X)
    np.testing.assert_allclose(
        y, np.maximum(X @ layer.kernel.numpy() + layer.bias.numpy(), 0), rtol=1e-5, atol=1e-6)
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    cfg = layer.get_config()
    clone = MyDense.from_config(cfg)
    assert clone.units == 3 and clone.activation is kerax.activations.relu

    in1, in2 = kerax.Input(shape=[2]), kerax.Input(shape=[2])
    o1, o2 = MyMultiLayer()((in1, in2))
    assert o1.shape == (None, 2) and o2.shape == (None, 2)
    a, b = np.ones((3, 2), np.float32) * 2, np.ones((3, 2), np.float32) * 3
    r1, r2 = MyMultiLayer()((a, b))
    np.testing.assert_allclose(r1, a + b)
    np.testing.assert_allclose(r2, a * b)

    noise = MyGaussianNoise(1.0)
    np.testing.assert_array_equal(noise(X), X)
    assert not np.allclose(noise(X, training=True), X)

    model = ResidualRegressor(1)
    assert model(X).shape == (4, 1)
    # one block reused four times: its weights are counted once
    assert model.count_params() == 8 * 30 + 30 + 2 * 2 * (30 * 30 + 30) + 31

    seq = kerax.Sequential([Dense(30, activation="elu", input_shape=(8,))]
                           + [ResidualBlock(2, 30)] * 0)
    block = ResidualBlock(2, 30)
    seq = kerax.Sequential([Dense(30, input_shape=(8,)), block, block, block, block, Dense(1)])
    assert seq(X).shape == (4, 1)
    assert len(seq.layers) == 6
    assert seq.count_params() == 270 + 2 * 930 + 31


def test_reconstructing_regressor_losses_and_metric():
    X = np.random.default_rng(1).normal(size=(6, 8)).astype(np.float32)
    model = ReconstructingRegressor(1)
    y = model(X)
    assert y.shape == (6, 1)
    assert model.reconstruct.kernel.shape == (30, 8)
    assert len(model.losses) == 1 and float(model.losses[0]) > 0
    model(X, training=True)
    assert float(model.reconstruction_mean.result()) > 0
    assert model.reconstruction_mean in model.metrics


def test_legacy_add_variable_and_linear():
    class MyDenseLayer(kerax.layers.Layer):
        def __init__(self, num_outputs):
            super(MyDenseLayer, self).__init__()
            self.num_outputs = num_outputs

        def build(self, input_shape):
            self.kernel = self.add_variable("kernel", shape=[int(input_shape[-1]), self.num_outputs])

        def call(self, input):
            return ops.matmul(input, self.kernel)

    layer = MyDenseLayer(10)
    x = np.ones((2, 5), np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.kernel.numpy(), rtol=1e-6)
    assert layer.kernel.name == "kernel"

    class Linear(kerax.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    lin = Linear(4)
    y = lin(ops.ones((2, 2)))
    np.testing.assert_allclose(y, np.ones((2, 2)) @ lin.w.numpy() + lin.b.numpy(), rtol=1e-6)
    assert len(lin.trainable_weights) == 2


def test_unique_names_tracking_and_trainable():
    kerax.backend.clear_session()
    a, b = Dense(2), Dense(2)
    assert (a.name, b.name) == ("dense", "dense_1")

    class Holder(kerax.layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = {"x": [Dense(3), Dense(3)]}
            self.extra = kerax.Variable(np.zeros(2, np.float32), trainable=False)
            self.gen = kerax.random.SeedGenerator(1)

        def call(self, x):
            return self.blocks["x"][1](self.blocks["x"][0](x))

    h = Holder()
    h(np.ones((1, 4), np.float32))
    assert len(h.trainable_weights) == 4
    assert len(h.non_trainable_weights) == 1  # RNG state is a variable, not a weight
    assert len(h.variables) == 6
    h.trainable = False
    assert h.trainable_weights == [] and not h.blocks["x"][0].trainable
    assert len(h.non_trainable_weights) == 5


def test_training_flag_propagates_to_nested_layers():
    seen = []

    class Probe(kerax.layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Outer(kerax.layers.Layer):
        def __init__(self):
            super().__init__()
            self.p = Probe()

        def call(self, x):
            return self.p(x)

    o = Outer()
    o(np.ones(2), training=True)
    o(np.ones(2), training=False)
    o(np.ones(2))
    assert seen == [True, False, None]


def _same_weights(kx_model, k_model):
    kx_model.set_weights(k_model.get_weights())


def test_sequential_and_functional_match_keras(keras):
    X = np.random.default_rng(2).normal(size=(5, 8)).astype(np.float32)
    k = keras.Sequential([keras.Input((8,)), keras.layers.Dense(30, activation="relu"),
                          keras.layers.Dense(1)])
    kx = kerax.Sequential([kerax.Input((8,)), Dense(30, activation="relu"), Dense(1)])
    _same_weights(kx, k)
    np.testing.assert_allclose(kx(X), k(X), atol=1e-5)
    np.testing.assert_allclose(kx.predict(X, verbose=0), k.predict(X, verbose=0), atol=1e-5)
    assert kx.count_params() == k.count_params() == 301

    # Wide & Deep with two inputs
    def wide_deep(lib, L):
        input_A = lib.Input(shape=[5], name="wide_input")
        input_B = lib.Input(shape=[6], name="deep_input")
        hidden1 = L.Dense(30, activation="relu")(input_B)
        hidden2 = L.Dense(30, activation="relu")(hidden1)
        concat = L.concatenate([input_A, hidden2])
        output = L.Dense(1, name="output")(concat)
        return lib.Model(inputs=[input_A, input_B], outputs=[output])

    k = wide_deep(keras, keras.layers)
    kx = wide_deep(kerax, kerax.layers)
    _same_weights(kx, k)
    xa = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
    xb = np.random.default_rng(4).normal(size=(4, 6)).astype(np.float32)
    out_k = k([xa, xb])
    out_kx = kx([xa, xb])
    assert type(out_kx) is type(out_k)  # outputs=[output] comes back unwrapped, as in Keras
    np.testing.assert_allclose(np.asarray(out_kx), np.asarray(out_k), atol=1e-5)
    assert kx.count_params() == k.count_params()
    assert [type(l).__name__ for l in kx.layers] == [type(l).__name__ for l in k.layers]
    assert [l.name for l in kx.layers][:2] == ["deep_input", kx.layers[1].name]
    assert kx.get_layer("output").units == 1
    assert kx.get_layer(index=-1).name == "output"


def _summary_totals(model):
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)

    def grab(label):
        import re
        m = re.search(label + r" params: ([\d,]+)", text)
        return int(m.group(1).replace(",", ""))

    return grab("Total"), grab("Trainable"), grab("Non-trainable"), text


def test_summary_counts_equal_keras(keras):
    def mlp(lib, L):
        return lib.Sequential([lib.Input((784,)), L.Dense(128, activation="relu"),
                               L.Dense(10, activation="softmax")])

    def bn(lib, L):
        return lib.Sequential([lib.Input((20,)), L.Dense(64), L.BatchNormalization(),
                               L.Activation("relu"), L.Dense(3)])

    def wide_deep(lib, L):
        a = lib.Input(shape=[5])
        b = lib.Input(shape=[6])
        h = L.Dense(30, activation="relu")(b)
        h = L.Dense(30, activation="relu")(h)
        return lib.Model([a, b], L.Dense(1)(L.concatenate([a, h])))

    for make in (mlp, bn, wide_deep):
        k = make(keras, keras.layers)
        kx = make(kerax, kerax.layers)
        total, trainable, non_trainable, text = _summary_totals(kx)
        k_tr = int(sum(np.prod(v.shape) for v in k.trainable_weights))
        k_ntr = int(sum(np.prod(v.shape) for v in k.non_trainable_weights))
        assert (total, trainable, non_trainable) == (k.count_params(), k_tr, k_ntr), make.__name__
        assert "Layer (type)" in text and "Output Shape" in text


def test_functional_shared_layer_nested_model_and_dict_io():
    shared = Dense(4, name="shared")
    a, b = kerax.Input((3,), name="a"), kerax.Input((3,), name="b")
    inner_in = kerax.Input((4,))
    inner = kerax.Model(inner_in, Dense(2)(inner_in), name="inner")
    out = inner(kerax.layers.add([shared(a), shared(b)]))
    model = kerax.Model({"a": a, "b": b}, {"y": out})
    xa = np.ones((2, 3), np.float32)
    xb = np.full((2, 3), 2.0, np.float32)
    got = model({"a": xa, "b": xb})["y"]
    k, bias = shared.kernel.numpy(), shared.bias.numpy()
    h = (xa @ k + bias) + (xb @ k + bias)
    l = inner.layers[-1]
    np.testing.assert_allclose(got, h @ l.kernel.numpy() + l.bias.numpy(), rtol=1e-5)
    assert len(model.weights) == 4


def test_stateless_call_under_jit_and_grad():
    model = kerax.Sequential([kerax.Input((4,)), Dense(8, activation="tanh"),
                              kerax.layers.BatchNormalization(), Dense(1)])
    x = np.random.default_rng(5).normal(size=(6, 4)).astype(np.float32)
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    eager = model(x)
    out, new_ntv = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x))(tv, ntv, x)
    np.testing.assert_allclose(out, eager, rtol=1e-6)

    def loss(tv, ntv, x):
        y, _ = model.stateless_call(tv, ntv, x, training=True)
        return jnp.mean(y ** 2)

    g = jax.grad(loss)(tv, ntv, x)
    g2 = kerax.grad(lambda: jnp.mean(model(x, training=True) ** 2), model.trainable_variables)()
    for a, b in zip(g, g2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # training mode updates the moving statistics in the returned values only
    before = [v.numpy() for v in model.non_trainable_variables]
    _, new_ntv = model.stateless_call(tv, ntv, x, training=True)
    assert not np.allclose(new_ntv[0], ntv[0])
    for v, b in zip(model.non_trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_bad_inputs_have_clear_errors():
    d = Dense(3)
    d(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"dense.*4.*\(2, 5\)"):
        d(np.ones((2, 5), np.float32))
    a = kerax.Input((3,), name="first")
    b = kerax.Input((3,), name="second")
    out = Dense(1)(kerax.layers.add([a, b]))
    with pytest.raises(ValueError, match="second"):
        kerax.Model(a, out)
    with pytest.raises(ValueError, match="Unknown activation.*relu"):
        Dense(2, activation="relux")
    with pytest.raises(ValueError, match="Unknown initializer"):
        Dense(2, kernel_initializer="glorot_unifrom")
    with pytest.raises(ValueError, match=r"kernel.*\(4, 3\).*\(5, 3\)"):
        d.set_weights([np.ones((5, 3)), np.ones(3)])
    with pytest.raises(ValueError, match="expected 2"):
        d.set_weights([np.ones((4, 3))])
    with pytest.raises(ValueError, match="units"):
        Dense(-1)
