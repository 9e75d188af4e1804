"""Every layer saves and loads with its model (config + weights), and a few
layers computed under mixed_bfloat16 agree with Keras 3 under the same policy."""
import numpy as np
import pytest

import kerax
from kerax import layers as L

rng = np.random.default_rng(0)


def _x(shape, kind="float"):
    if kind == "int":
        return rng.integers(1, 9, size=shape).astype(np.int32)
    return rng.normal(size=shape).astype(np.float32)


# (id, input shape without batch, input kind, layer factory)
SINGLE = [
    ("Dense", (6,), "float", lambda L: L.Dense(3, activation="relu")),
    ("EinsumDense", (6,), "float", lambda L: L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c")),
    ("Activation", (6,), "float", lambda L: L.Activation("tanh")),
    ("Flatten", (3, 4), "float", lambda L: L.Flatten()),
    ("Reshape", (3, 4), "float", lambda L: L.Reshape((4, 3))),
    ("Permute", (3, 4), "float", lambda L: L.Permute((2, 1))),
    ("RepeatVector", (4,), "float", lambda L: L.RepeatVector(3)),
    ("Dropout", (6,), "float", lambda L: L.Dropout(0.3, seed=1)),
    ("GaussianNoise", (6,), "float", lambda L: L.GaussianNoise(0.1, seed=1)),
    ("GaussianDropout", (6,), "float", lambda L: L.GaussianDropout(0.1, seed=1)),
    ("AlphaDropout", (6,), "float", lambda L: L.AlphaDropout(0.1, seed=1)),
    ("ActivityRegularization", (6,), "float", lambda L: L.ActivityRegularization(l1=0.1)),
    ("Embedding", (5,), "int", lambda L: L.Embedding(10, 4)),
    ("BatchNormalization", (6,), "float", lambda L: L.BatchNormalization()),
    ("LayerNormalization", (6,), "float", lambda L: L.LayerNormalization()),
    ("UnitNormalization", (6,), "float", lambda L: L.UnitNormalization()),
    ("GroupNormalization", (8,), "float", lambda L: L.GroupNormalization(groups=2)),
    ("Normalization", (6,), "float", lambda L: L.Normalization(mean=0.5, variance=2.0)),
    ("Rescaling", (6,), "float", lambda L: L.Rescaling(0.5, offset=1.0)),
    ("Conv1D", (8, 3), "float", lambda L: L.Conv1D(4, 3, padding="causal")),
    ("Conv2D", (8, 8, 3), "float", lambda L: L.Conv2D(4, 3, strides=2, padding="same")),
    ("Conv3D", (6, 6, 6, 2), "float", lambda L: L.Conv3D(3, 2)),
    ("Conv1DTranspose", (8, 3), "float", lambda L: L.Conv1DTranspose(4, 3, strides=2)),
    ("Conv2DTranspose", (6, 6, 3), "float", lambda L: L.Conv2DTranspose(4, 3, strides=2)),
    ("Conv3DTranspose", (4, 4, 4, 2), "float", lambda L: L.Conv3DTranspose(3, 2)),
    ("DepthwiseConv1D", (8, 3), "float", lambda L: L.DepthwiseConv1D(3, depth_multiplier=2)),
    ("DepthwiseConv2D", (8, 8, 3), "float", lambda L: L.DepthwiseConv2D(3)),
    ("SeparableConv1D", (8, 3), "float", lambda L: L.SeparableConv1D(4, 3)),
    ("SeparableConv2D", (8, 8, 3), "float", lambda L: L.SeparableConv2D(4, 3)),
    ("MaxPooling1D", (8, 3), "float", lambda L: L.MaxPooling1D(2)),
    ("MaxPooling2D", (8, 8, 3), "float", lambda L: L.MaxPooling2D(2)),
    ("MaxPooling3D", (4, 4, 4, 2), "float", lambda L: L.MaxPooling3D(2)),
    ("AveragePooling1D", (8, 3), "float", lambda L: L.AveragePooling1D(2)),
    ("AveragePooling2D", (8, 8, 3), "float", lambda L: L.AveragePooling2D(2)),
    ("AveragePooling3D", (4, 4, 4, 2), "float", lambda L: L.AveragePooling3D(2)),
    ("GlobalMaxPooling1D", (8, 3), "float", lambda L: L.GlobalMaxPooling1D()),
    ("GlobalAveragePooling2D", (8, 8, 3), "float", lambda L: L.GlobalAveragePooling2D(keepdims=True)),
    ("GlobalMaxPooling3D", (4, 4, 4, 2), "float", lambda L: L.GlobalMaxPooling3D()),
    ("UpSampling1D", (4, 3), "float", lambda L: L.UpSampling1D(2)),
    ("UpSampling2D", (4, 4, 3), "float", lambda L: L.UpSampling2D(2)),
    ("UpSampling3D", (2, 2, 2, 3), "float", lambda L: L.UpSampling3D(2)),
    ("ZeroPadding1D", (4, 3), "float", lambda L: L.ZeroPadding1D(1)),
    ("ZeroPadding2D", (4, 4, 3), "float", lambda L: L.ZeroPadding2D(1)),
    ("ZeroPadding3D", (2, 2, 2, 3), "float", lambda L: L.ZeroPadding3D(1)),
    ("Cropping1D", (6, 3), "float", lambda L: L.Cropping1D(1)),
    ("Cropping2D", (6, 6, 3), "float", lambda L: L.Cropping2D(1)),
    ("Cropping3D", (4, 4, 4, 3), "float", lambda L: L.Cropping3D(1)),
    ("Resizing", (8, 8, 3), "float", lambda L: L.Resizing(4, 4)),
    ("CenterCrop", (8, 8, 3), "float", lambda L: L.CenterCrop(4, 4)),
    ("RandomFlip", (8, 8, 3), "float", lambda L: L.RandomFlip(seed=1)),
    ("RandomRotation", (8, 8, 3), "float", lambda L: L.RandomRotation(0.1, seed=1)),
    ("RandomZoom", (8, 8, 3), "float", lambda L: L.RandomZoom(0.1, seed=1)),
    ("RandomTranslation", (8, 8, 3), "float", lambda L: L.RandomTranslation(0.1, 0.1, seed=1)),
    ("RandomContrast", (8, 8, 3), "float", lambda L: L.RandomContrast(0.2, seed=1)),
    ("Discretization", (6,), "float", lambda L: L.Discretization(bin_boundaries=[-1.0, 0.0, 1.0])),
    ("CategoryEncoding", (3,), "int", lambda L: L.CategoryEncoding(num_tokens=10, output_mode="multi_hot")),
    ("IntegerLookup", (3,), "int", lambda L: L.IntegerLookup(vocabulary=[1, 2, 3, 4])),
    ("SimpleRNN", (5, 3), "float", lambda L: L.SimpleRNN(4, return_sequences=True)),
    ("LSTM", (5, 3), "float", lambda L: L.LSTM(4, go_backwards=True)),
    ("GRU", (5, 3), "float", lambda L: L.GRU(4, return_sequences=True)),
    ("RNN", (5, 3), "float", lambda L: L.RNN([L.LSTMCell(4), L.GRUCell(3)])),
    ("Bidirectional", (5, 3), "float", lambda L: L.Bidirectional(L.LSTM(4))),
    ("TimeDistributed", (5, 3), "float", lambda L: L.TimeDistributed(L.Dense(2))),
    ("Masking", (5, 3), "float", lambda L: L.Masking(0.0)),
    ("SpatialDropout1D", (5, 3), "float", lambda L: L.SpatialDropout1D(0.2, seed=1)),
    ("SpatialDropout2D", (4, 4, 3), "float", lambda L: L.SpatialDropout2D(0.2, seed=1)),
    ("SpatialDropout3D", (2, 2, 2, 3), "float", lambda L: L.SpatialDropout3D(0.2, seed=1)),
    ("SpectralNormalization", (6,), "float", lambda L: L.SpectralNormalization(L.Dense(3))),
    ("Identity", (6,), "float", lambda L: L.Identity()),
]

MERGE = [("Add", lambda L: L.Add()), ("Subtract", lambda L: L.Subtract()),
         ("Multiply", lambda L: L.Multiply()), ("Average", lambda L: L.Average()),
         ("Maximum", lambda L: L.Maximum()), ("Minimum", lambda L: L.Minimum()),
         ("Concatenate", lambda L: L.Concatenate()), ("Dot", lambda L: L.Dot(axes=1))]

ATTENTION = [("MultiHeadAttention", lambda q, v: L.MultiHeadAttention(2, 4)(q, v)),
             ("Attention", lambda q, v: L.Attention()([q, v])),
             ("AdditiveAttention", lambda q, v: L.AdditiveAttention()([q, v]))]


def _roundtrip(model, inputs, tmp_path):
    before = model.predict(inputs, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = kerax.models.load_model(path)
    after = loaded.predict(inputs, verbose=0)
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    return loaded


@pytest.mark.parametrize("shape,kind,make", [s[1:] for s in SINGLE], ids=[s[0] for s in SINGLE])
def test_every_layer_saves_and_loads(shape, kind, make, tmp_path):
    inp = kerax.Input(shape, dtype="int32" if kind == "int" else "float32")
    model = kerax.Model(inp, make(L)(inp))
    x = _x((3,) + shape, kind)
    if any(isinstance(l, L.BatchNormalization) for l in model.layers):
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, model.predict(x, verbose=0) + 1.0, verbose=0)  # move the statistics
    _roundtrip(model, x, tmp_path)


@pytest.mark.parametrize("make", [m[1] for m in MERGE], ids=[m[0] for m in MERGE])
def test_merge_layers_save_and_load(make, tmp_path):
    a, b = kerax.Input((4,)), kerax.Input((4,))
    model = kerax.Model([a, b], L.Dense(2)(make(L)([a, b])))
    _roundtrip(model, [_x((3, 4)), _x((3, 4))], tmp_path)


@pytest.mark.parametrize("make", [m[1] for m in ATTENTION], ids=[m[0] for m in ATTENTION])
def test_attention_layers_save_and_load(make, tmp_path):
    q, v = kerax.Input((5, 4)), kerax.Input((6, 4))
    model = kerax.Model([q, v], make(q, v))
    _roundtrip(model, [_x((2, 5, 4)), _x((2, 6, 4))], tmp_path)


BF16 = [
    ("Dense", (6,), lambda lib: lib.layers.Dense(8, dtype="mixed_bfloat16")),
    ("Conv2D", (8, 8, 3), lambda lib: lib.layers.Conv2D(4, 3, dtype="mixed_bfloat16")),
    ("LSTM", (5, 3), lambda lib: lib.layers.LSTM(4, dtype="mixed_bfloat16")),
    ("LayerNormalization", (6,), lambda lib: lib.layers.LayerNormalization(dtype="mixed_bfloat16")),
]


@pytest.mark.parametrize("shape,make", [b[1:] for b in BF16], ids=[b[0] for b in BF16])
def test_mixed_bfloat16_layers_agree_with_keras(keras, shape, make):
    """Same weights, both computing in bfloat16: outputs agree within 2e-2
    (bfloat16 keeps 8 bits of mantissa; the two may round intermediates
    differently), variables stay float32 in both."""
    x = _x((4,) + shape)
    k_layer, kx_layer = make(keras), make(kerax)
    k_raw = k_layer(x)
    k_out = np.asarray(k_raw, np.float32)
    kx_layer(x)
    kx_layer.set_weights(k_layer.get_weights())
    kx_out = kx_layer(x)
    assert str(kx_out.dtype) == str(k_raw.dtype) == "bfloat16"
    assert all(str(v.dtype) == "float32" for v in kx_layer.weights)
    np.testing.assert_allclose(np.asarray(kx_out, np.float32), k_out, rtol=2e-2, atol=2e-2)


KERAS_LESS = {"IntegerLookup", "Discretization", "CategoryEncoding", "Identity"}


@pytest.mark.parametrize("shape,kind,make", [s[1:] for s in SINGLE if s[0] not in KERAS_LESS],
                         ids=[s[0] for s in SINGLE if s[0] not in KERAS_LESS])
def test_keras_saved_weights_load_into_every_layer(keras, shape, kind, make, tmp_path):
    """A weights file written by Keras 3 for a model holding the layer loads into
    the same kerax model, which then predicts what Keras predicts."""
    dtype = "int32" if kind == "int" else "float32"
    k_in = keras.Input(shape, dtype=dtype)
    k_model = keras.Model(k_in, make(keras.layers)(k_in))
    x = _x((3,) + shape, kind)
    # give every weight a non-default value so a mix-up would show
    k_model.set_weights([w + rng.normal(size=w.shape).astype(w.dtype) * 0.1
                         if np.issubdtype(w.dtype, np.floating) else w
                         for w in k_model.get_weights()])
    path = tmp_path / "k.weights.h5"
    k_model.save_weights(path)
    kx_in = kerax.Input(shape, dtype=dtype)
    kx_model = kerax.Model(kx_in, make(L)(kx_in))
    kx_model.load_weights(path)
    for a, b in zip(kx_model.get_weights(), k_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.asarray(kx_model.predict(x, verbose=0), np.float32),
                               np.asarray(k_model.predict(x, verbose=0), np.float32),
                               rtol=1e-5, atol=1e-5)
