"""Make the Keras-3-written fixtures under tests/saving/fixtures/.

Run with Keras 3 on JAX (`KERAS_BACKEND=jax python tests/saving/make_keras_fixtures.py`).
The files are committed, so the interop tests also run without Keras:
  *.keras / mlp.weights.h5   written by Keras 3 (`model.save` / `save_weights`)
  expected.npz               inputs and Keras' predictions for each file
  opt_<name>.keras           a tiny model trained 3 steps with each optimizer;
                             expected.npz holds the batch and the weights
                             Keras reaches after one *more* step, so a test can
                             check that the optimizer state loads exactly.
"""
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from custom_defs import define  # noqa: E402

OUT = os.path.join(HERE, "fixtures")
OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adam": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(keras.optimizers.schedules.ExponentialDecay(
        0.01, decay_steps=2, decay_rate=0.5)),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "adamax": lambda: keras.optimizers.Adamax(0.01),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "lion": lambda: keras.optimizers.Lion(0.01),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(0)
    c = define(keras)
    rng = np.random.default_rng(0)
    L = keras.layers
    out = {}

    def f32(*shape):
        return rng.normal(size=shape).astype("float32")

    # 1. Sequential MLP (Adam, trained so the optimizer state is non-trivial)
    x = f32(16, 8)
    y = f32(16, 1)
    mlp = keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"),
                            L.Dropout(0.1), L.Dense(1)], name="mlp")
    mlp.compile(optimizer="adam", loss="mse", metrics=["mae"])
    mlp.fit(x, y, batch_size=8, epochs=2, verbose=0)
    mlp.save(os.path.join(OUT, "mlp.keras"))
    mlp.save_weights(os.path.join(OUT, "mlp.weights.h5"))
    out["mlp_x"], out["mlp_y"] = x, mlp.predict(x, verbose=0)

    # 2. two-input Wide & Deep with BatchNormalization (SGD with momentum)
    wide, deep = keras.Input((5,), name="wide"), keras.Input((6,), name="deep")
    h = L.Dense(8, activation="relu")(deep)
    h = L.BatchNormalization()(h)
    h = L.Dense(8, activation="relu")(h)
    o = L.Dense(1, name="output")(L.Concatenate()([wide, h]))
    wd = keras.Model([wide, deep], o, name="wide_deep")
    wd.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse",
               metrics=[keras.metrics.RootMeanSquaredError()])
    xw, xd, yw = f32(32, 5), f32(32, 6), f32(32, 1)
    wd.fit([xw, xd], yw, batch_size=8, epochs=2, verbose=0)
    wd.save(os.path.join(OUT, "wide_deep_bn.keras"))
    out["wd_xw"], out["wd_xd"], out["wd_y"] = xw, xd, wd.predict([xw, xd], verbose=0)

    # 3. shared layer, nested Sequential, two outputs, loss weights
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    inner = keras.Sequential([keras.Input((4,)), L.Dense(3, name="inner_dense")], name="inner")
    ha, hb = shared(a), shared(b)
    o1 = L.Dense(1, name="sum_head")(L.Add()([ha, hb]))
    o2 = inner(shared(ha))
    mio = keras.Model([a, b], [o1, o2], name="multi_io")
    mio.compile(optimizer="rmsprop", loss=["mse", "mae"], loss_weights=[1.0, 0.5],
                metrics=[["mae"], ["mse"]])
    xa, xb = f32(16, 4), f32(16, 4)
    mio.fit([xa, xb], [f32(16, 1), f32(16, 3)], batch_size=8, epochs=1, verbose=0)
    mio.save(os.path.join(OUT, "multi_io.keras"))
    p1, p2 = mio.predict([xa, xb], verbose=0)
    out["mio_xa"], out["mio_xb"], out["mio_y1"], out["mio_y2"] = xa, xb, p1, p2

    # 4. functional model of registered custom layers, activation and loss
    inp = keras.Input((6,), name="x")
    h = c.Block(5, name="blk")(inp)
    h = c.Scale(name="scale")(h)
    o = L.Dense(2, activation=c.scaled_tanh, name="head")(h)
    cm = keras.Model(inp, o, name="custom")
    cm.compile(optimizer="adam", loss=c.half_mse)
    xc = f32(16, 6)
    cm.fit(xc, f32(16, 2), batch_size=8, epochs=1, verbose=0)
    cm.save(os.path.join(OUT, "custom.keras"))
    out["custom_x"], out["custom_y"] = xc, cm.predict(xc, verbose=0)

    # 5. subclassed model (AdamW with a learning-rate schedule)
    sub = c.WideDeepSub(units=8, name="sub")
    sub.compile(optimizer=keras.optimizers.AdamW(keras.optimizers.schedules.ExponentialDecay(
        1e-3, decay_steps=100, decay_rate=0.9)), loss="mse", metrics=["mae"])
    sw, sd = f32(16, 5), f32(16, 6)
    sub.fit([sw, sd], f32(16, 1), batch_size=8, epochs=1, verbose=0)
    sub.save(os.path.join(OUT, "subclassed.keras"))
    out["sub_xw"], out["sub_xd"], out["sub_y"] = sw, sd, sub.predict([sw, sd], verbose=0)

    # 6. Lambda layer (bytecode: loads only with safe_mode=False)
    lam = keras.Sequential([keras.Input((3,)), L.Lambda(lambda t: t * 2.0 + 1.0),
                            L.Dense(2)], name="lam")
    xl = f32(4, 3)
    lam.save(os.path.join(OUT, "lambda.keras"))
    out["lam_x"], out["lam_y"] = xl, lam.predict(xl, verbose=0)

    # 7. more layer families: weight paths of composite layers (cells,
    #    wrappers, attention projections) must match Keras' attribute names
    zoo = {
        "cnn": (lambda: keras.Sequential([
            keras.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
            L.BatchNormalization(), L.Flatten(), L.Dense(2)]), (2, 8, 8, 3)),
        "rnn": (lambda: keras.Sequential([
            keras.Input((5, 3)), L.LSTM(4, return_sequences=True),
            L.Bidirectional(L.GRU(3)), L.Dense(1)]), (2, 5, 3)),
        "attention": (lambda: (lambda i: keras.Model(i, L.GlobalAveragePooling1D()(
            L.MultiHeadAttention(2, 4)(i, i))))(keras.Input((5, 6))), (2, 5, 6)),
    }
    for name, (make, shape) in zoo.items():
        m = make()
        xz = f32(*shape)
        m.save(os.path.join(OUT, f"zoo_{name}.keras"))
        out[f"zoo_{name}_x"], out[f"zoo_{name}_y"] = xz, np.asarray(m(xz))

    # 8. optimizer state: 3 steps in Keras, saved; then one more step recorded
    xo, yo = f32(8, 3), f32(8, 2)
    for name, make in OPTIMIZERS.items():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((3,)), L.Dense(2)], name=f"opt_{name}")
        m.compile(optimizer=make(), loss="mse")
        for _ in range(3):
            m.train_on_batch(xo, yo)
        m.save(os.path.join(OUT, f"opt_{name}.keras"))
        m.train_on_batch(xo, yo)
        for i, w in enumerate(m.get_weights()):
            out[f"opt_{name}_w{i}"] = w
    out["opt_x"], out["opt_y"] = xo, yo

    np.savez(os.path.join(OUT, "expected.npz"), **out)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
