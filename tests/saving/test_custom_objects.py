"""Every save/load flow of the custom-components chapter (Geron, ch. 12, in
kerax): custom losses, metrics, layers, models, activations, initializers,
regularizers and constraints round-trip through `.keras` files."""
import jax.numpy as jnp
import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax import ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 4)).astype("float32")
Y = (X[:, :1] * 3).astype("float32")


# ---- the chapter's components -------------------------------------------------------
def huber_fn(y_true, y_pred):
    error = y_true - y_pred
    is_small_error = jnp.abs(error) < 1
    return jnp.where(is_small_error, jnp.square(error) / 2, jnp.abs(error) - 0.5)


def create_huber(threshold=1.0):
    def huber_fn(y_true, y_pred):
        error = y_true - y_pred
        is_small_error = jnp.abs(error) < threshold
        squared_loss = jnp.square(error) / 2
        linear_loss = threshold * jnp.abs(error) - threshold ** 2 / 2
        return jnp.where(is_small_error, squared_loss, linear_loss)
    return huber_fn


class HuberLoss(kerax.losses.Loss):
    def __init__(self, threshold=1.0, **kwargs):
        self.threshold = threshold
        super().__init__(**kwargs)

    def call(self, y_true, y_pred):
        return create_huber(self.threshold)(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class HuberMetric(kerax.metrics.Metric):
    def __init__(self, threshold=1.0, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold
        self.huber_fn = create_huber(threshold)
        self.total = self.add_weight(name="total", initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(jnp.sum(self.huber_fn(y_true, y_pred)))
        self.count.assign_add(jnp.asarray(jnp.size(y_true), jnp.float32))

    def result(self):
        return self.total / self.count

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class HuberMeanMetric(kerax.metrics.Mean):  # the chapter's second version
    def __init__(self, threshold=1.0, name="HuberMetric", dtype=None):
        self.threshold = threshold
        self.huber_fn = create_huber(threshold)
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self.huber_fn(y_true, y_pred), sample_weight)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def my_softplus(z):
    return jnp.log(jnp.exp(z) + 1.0)


def my_glorot_initializer(shape, dtype=jnp.float32):
    stddev = np.sqrt(2.0 / (shape[0] + shape[1]))
    return kerax.random.normal(shape, stddev=stddev, dtype=dtype)


def my_l1_regularizer(weights):
    return jnp.sum(jnp.abs(0.01 * weights))


def my_positive_weights(weights):
    return jnp.where(weights < 0.0, jnp.zeros_like(weights), weights)


class MyL1Regularizer(kerax.regularizers.Regularizer):
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, weights):
        return jnp.sum(jnp.abs(self.factor * weights))

    def get_config(self):
        return {"factor": self.factor}


class MyDense(L.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = kerax.activations.get(activation)

    def build(self, batch_input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[batch_input_shape[-1], self.units],
                                      initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros")

    def call(self, X):
        return self.activation(X @ self.kernel + self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": kerax.activations.serialize(self.activation)}


class ResidualBlock(L.Layer):
    def __init__(self, n_layers, n_neurons, **kwargs):
        super().__init__(**kwargs)
        self.n_layers, self.n_neurons = n_layers, n_neurons
        self.hidden = [L.Dense(n_neurons, activation="elu", kernel_initializer="he_normal")
                       for _ in range(n_layers)]

    def call(self, inputs):
        Z = inputs
        for layer in self.hidden:
            Z = layer(Z)
        return inputs + Z

    def get_config(self):
        return {**super().get_config(), "n_layers": self.n_layers, "n_neurons": self.n_neurons}


class ResidualRegressor(kerax.Model):
    def __init__(self, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.hidden1 = L.Dense(30, activation="elu", kernel_initializer="he_normal")
        self.block1 = ResidualBlock(2, 30)
        self.block2 = ResidualBlock(2, 30)
        self.out = L.Dense(output_dim)

    def call(self, inputs):
        Z = self.hidden1(inputs)
        for _ in range(1 + 3):
            Z = self.block1(Z)
        Z = self.block2(Z)
        return self.out(Z)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim}


def _mlp(**dense_kwargs):
    return kerax.Sequential([kerax.Input((4,)), L.Dense(8, activation="relu"),
                             L.Dense(1, **dense_kwargs)])


def _out(model, x=X):
    return np.asarray(model(x, training=False))


# ---- tests -----------------------------------------------------------------------------
def test_huber_fn_loss(tmp_path):
    model = _mlp()
    model.compile(loss=huber_fn, optimizer="nadam")
    model.save(tmp_path / "m.keras")
    loaded = kerax.models.load_model(tmp_path / "m.keras",
                                     custom_objects={"huber_fn": huber_fn})
    assert loaded.loss is huber_fn
    np.testing.assert_allclose(_out(loaded), _out(model))
    np.testing.assert_allclose(loaded.evaluate(X, Y, verbose=0), model.evaluate(X, Y, verbose=0),
                               rtol=1e-6)


def test_create_huber_closure_loads_only_via_custom_objects(tmp_path):
    model = _mlp()
    model.compile(loss=create_huber(2.0), optimizer="nadam")
    model.save(tmp_path / "m.keras")
    # the closure is saved by its name only: its threshold is not in the file
    with pytest.raises(ValueError, match="huber_fn"):
        kerax.models.load_model(tmp_path / "m.keras")
    huber2 = create_huber(2.0)
    loaded = kerax.models.load_model(tmp_path / "m.keras", custom_objects={"huber_fn": huber2})
    assert loaded.loss is huber2
    ref = create_huber(2.0)(Y, np.asarray(model(X))).mean()
    np.testing.assert_allclose(loaded.evaluate(X, Y, verbose=0), ref, rtol=1e-5)


def test_huber_loss_class_keeps_threshold(tmp_path):
    model = _mlp()
    model.compile(loss=HuberLoss(2.0), optimizer="nadam")
    model.save(tmp_path / "m.keras")
    loaded = kerax.models.load_model(tmp_path / "m.keras",
                                     custom_objects={"HuberLoss": HuberLoss})
    assert isinstance(loaded.loss, HuberLoss) and loaded.loss.threshold == 2.0
    # loading keeps training
    loaded.fit(X, Y, epochs=1, verbose=0)


@pytest.mark.parametrize("cls", [HuberMetric, HuberMeanMetric])
def test_huber_metric_both_versions(tmp_path, cls):
    model = _mlp()
    model.compile(loss=HuberLoss(2.0), optimizer="nadam", metrics=[cls(2.0)])
    model.save(tmp_path / "m.keras")
    loaded = kerax.models.load_model(
        tmp_path / "m.keras", custom_objects={"HuberLoss": HuberLoss, cls.__name__: cls})
    metric = loaded.get_compile_config()["metrics"][0]
    assert type(metric) is cls and metric.threshold == 2.0
    logs = loaded.evaluate(X, Y, verbose=0, return_dict=True)
    ref = create_huber(2.0)(Y, np.asarray(model(X))).mean()
    np.testing.assert_allclose(logs[metric.name], ref, rtol=1e-5)


def test_custom_activation_initializer_regularizer_constraint_functions(tmp_path):
    model = _mlp(activation=my_softplus, kernel_initializer=my_glorot_initializer,
                 kernel_regularizer=my_l1_regularizer, kernel_constraint=my_positive_weights)
    model.compile(loss="mse", optimizer="nadam")
    model.save(tmp_path / "m.keras")
    objects = {"my_softplus": my_softplus, "my_glorot_initializer": my_glorot_initializer,
               "my_l1_regularizer": my_l1_regularizer,
               "my_positive_weights": my_positive_weights}
    loaded = kerax.models.load_model(tmp_path / "m.keras", custom_objects=objects)
    dense = loaded.layers[-1]
    assert dense.activation is my_softplus
    assert dense.kernel_initializer is my_glorot_initializer
    assert dense.kernel_regularizer is my_l1_regularizer
    assert dense.kernel_constraint is my_positive_weights
    np.testing.assert_allclose(_out(loaded), _out(model))
    # with a custom_object_scope instead of custom_objects
    with kerax.saving.custom_object_scope(objects):
        again = kerax.models.load_model(tmp_path / "m.keras")
    assert again.layers[-1].activation is my_softplus


def test_my_l1_regularizer_class(tmp_path):
    model = _mlp(kernel_regularizer=MyL1Regularizer(0.01))
    model.save(tmp_path / "m.keras")
    loaded = kerax.models.load_model(tmp_path / "m.keras",
                                     custom_objects={"MyL1Regularizer": MyL1Regularizer})
    reg = loaded.layers[-1].kernel_regularizer
    assert isinstance(reg, MyL1Regularizer) and reg.factor == 0.01
    np.testing.assert_allclose(float(loaded.losses[0]), float(model.losses[0]), rtol=1e-6)


def test_my_dense_layer(tmp_path):
    model = kerax.Sequential([kerax.Input((4,)), MyDense(8, activation="relu"), MyDense(1)])
    model.compile(loss="mse", optimizer="nadam")
    model.save(tmp_path / "m.keras")
    loaded = kerax.models.load_model(tmp_path / "m.keras", custom_objects={"MyDense": MyDense})
    assert isinstance(loaded.layers[0], MyDense) and loaded.layers[0].units == 8
    np.testing.assert_allclose(_out(loaded), _out(model))


def test_residual_regressor_subclassed_model(tmp_path):
    model = ResidualRegressor(1)
    model.compile(loss="mse", optimizer="nadam")
    model(X)
    model.save(tmp_path / "m.keras")
    objects = {"ResidualRegressor": ResidualRegressor, "ResidualBlock": ResidualBlock}
    loaded = kerax.models.load_model(tmp_path / "m.keras", custom_objects=objects)
    assert isinstance(loaded, ResidualRegressor) and loaded.output_dim == 1
    np.testing.assert_allclose(_out(loaded), _out(model), rtol=1e-5, atol=1e-6)


def test_subclassed_model_without_get_config_says_what_to_do(tmp_path):
    class NoConfig(kerax.Model):
        def __init__(self, units):
            super().__init__()
            self.dense = L.Dense(units)

        def call(self, x):
            return self.dense(x)

    model = NoConfig(2)
    model(X)
    with pytest.raises(NotImplementedError, match="get_config"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_missing_custom_object_error_shows_both_ways(tmp_path):
    model = kerax.Sequential([kerax.Input((4,)), MyDense(1)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError) as info:
        kerax.models.load_model(tmp_path / "m.keras")
    msg = str(info.value)
    assert "MyDense" in msg and "custom_objects" in msg and "register_keras_serializable" in msg


def test_registered_objects_need_no_custom_objects(tmp_path):
    @kerax.saving.register_keras_serializable(package="chapter", name="softplus2")
    def softplus2(z):
        return jnp.log(jnp.exp(z) + 1.0)

    @kerax.saving.register_keras_serializable(package="chapter")
    class Doubler(L.Layer):
        def call(self, x):
            return ops.multiply(x, 2.0)

    assert kerax.saving.get_registered_name(Doubler) == "chapter>Doubler"
    assert kerax.saving.get_registered_object("chapter>Doubler") is Doubler
    assert kerax.saving.get_registered_name(softplus2) == "chapter>softplus2"
    model = kerax.Sequential([kerax.Input((4,)), Doubler(), L.Dense(2, activation=softplus2)])
    config = kerax.saving.serialize_keras_object(model.layers[0])
    assert config["registered_name"] == "chapter>Doubler"
    model.save(tmp_path / "m.keras")
    loaded = kerax.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[0], Doubler) and loaded.layers[1].activation is softplus2
    np.testing.assert_allclose(_out(loaded), _out(model))
    back = kerax.saving.deserialize_keras_object(config)
    assert isinstance(back, Doubler)
