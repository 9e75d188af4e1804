"""keras-io guides/making_new_layers_and_models_via_subclassing.py, "Putting it
all together: an end-to-end example": a VAE as nested subclassed Layers
(Sampling with keras.random.SeedGenerator + keras.random.normal, Encoder,
Decoder) inside a subclassed Model that adds its KL term with self.add_loss,
trained with fit(x, x) and a MeanSquaredError loss."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras):
    layers, ops = keras.layers, keras.ops
    keras.utils.set_random_seed(0)

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class Encoder(layers.Layer):
        def __init__(self, latent_dim=4, intermediate_dim=16, name="encoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            h = self.dense_proj(inputs)
            z_mean, z_log_var = self.dense_mean(h), self.dense_log_var(h)
            return z_mean, z_log_var, self.sampling((z_mean, z_log_var))

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=16, name="decoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs):
            return self.dense_output(self.dense_proj(inputs))

    class VariationalAutoEncoder(keras.Model):
        def __init__(self, original_dim, intermediate_dim=16, latent_dim=4,
                     name="autoencoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    original_dim = 36
    x_train = np.random.default_rng(0).random((64, original_dim)).astype("float32")
    vae = VariationalAutoEncoder(original_dim, 16, 4)
    vae.compile(keras.optimizers.Adam(learning_rate=1e-3),
                loss=keras.losses.MeanSquaredError())
    history = vae.fit(x_train, x_train, epochs=1, batch_size=16, verbose=0)
    return history.history["loss"][-1]


def test_vae_subclassing(keras):
    check_loss(build_and_train(kerax), build_and_train(keras))
