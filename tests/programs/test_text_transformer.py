"""keras-io examples/nlp/text_classification_with_transformer.py: a
TransformerBlock Layer (MultiHeadAttention, Sequential FFN, LayerNormalization,
Dropout), TokenAndPositionEmbedding (two Embeddings, ops.arange over
ops.shape), GlobalAveragePooling1D, sparse_categorical_crossentropy,
validation_data."""
import numpy as np

import kerax

from ._compare import check_loss


def build_and_train(keras):
    layers, ops = keras.layers, keras.ops
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    vocab_size, maxlen, embed_dim, num_heads, ff_dim = 50, 12, 8, 2, 16
    x = rng.integers(0, vocab_size, (64, maxlen))
    y = rng.integers(0, 2, (64,))
    x = keras.utils.pad_sequences(list(x[:, :10]), maxlen=maxlen)

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"),
                                         layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.dropout1(self.att(inputs, inputs))
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.dropout2(self.ffn(out1))
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = self.pos_emb(ops.arange(start=0, stop=maxlen, step=1))
            return self.token_emb(x) + positions

    inputs = layers.Input(shape=(maxlen,))
    h = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    h = TransformerBlock(embed_dim, num_heads, ff_dim)(h)
    h = layers.GlobalAveragePooling1D()(h)
    h = layers.Dropout(0.1)(h)
    h = layers.Dense(20, activation="relu")(h)
    h = layers.Dropout(0.1)(h)
    outputs = layers.Dense(2, activation="softmax")(h)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x[:48], y[:48], batch_size=16, epochs=1,
                        validation_data=(x[48:], y[48:]), verbose=0)
    return history.history["loss"][-1]


def test_text_transformer(keras):
    check_loss(build_and_train(kerax), build_and_train(keras))
