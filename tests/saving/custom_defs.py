"""Custom layers/models/functions written once against the Keras 3 API and
defined for either library: `define(keras)` (used by make_keras_fixtures.py)
or `define(kerax)` (used by the tests). Both register them under the package
"kerax_tests", so a file written by one loads in the other."""
import types


def define(lib):
    ops = lib.ops
    layers = lib.layers
    register = lib.saving.register_keras_serializable

    @register(package="kerax_tests")
    def scaled_tanh(x):
        return 2.0 * ops.tanh(x)

    @register(package="kerax_tests")
    def half_mse(y_true, y_pred):
        return 0.5 * ops.mean(ops.square(y_true - y_pred), axis=-1)

    @register(package="kerax_tests")
    class Scale(layers.Layer):
        """A trainable scale and a non-trainable int32 call counter."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         name="scale")
            self.calls = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                         trainable=False, name="calls")

        def call(self, x):
            return x * self.scale

    @register(package="kerax_tests")
    class Block(layers.Layer):
        """Sublayers as attributes, in a list and in a private attribute."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.proj = layers.Dense(units)
            self.norm = layers.LayerNormalization()
            self.extra = [layers.Dense(units, use_bias=False)]
            self._private = layers.Dense(units, activation=scaled_tanh)

        def build(self, input_shape):
            self.gate = self.add_weight(shape=(self.units,), initializer="ones", name="gate")
            self.proj.build(input_shape)
            self.norm.build((None, self.units))
            self.extra[0].build((None, self.units))
            self._private.build((None, self.units))

        def call(self, x):
            h = self.norm(self.proj(x)) * self.gate
            return h + self.extra[0](h) + self._private(h)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register(package="kerax_tests")
    class WideDeepSub(lib.Model):
        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden1 = layers.Dense(units, activation="relu")
            self.hidden2 = Scale()
            self.blocks = [layers.Dense(units, activation="relu"), layers.Dense(units)]
            self.out = layers.Dense(1)

        def call(self, inputs):
            wide, deep = inputs
            h = self.hidden2(self.hidden1(deep))
            for block in self.blocks:
                h = block(h)
            return self.out(layers.concatenate([wide, h]))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return types.SimpleNamespace(scaled_tanh=scaled_tanh, half_mse=half_mse, Scale=Scale,
                                 Block=Block, WideDeepSub=WideDeepSub)
