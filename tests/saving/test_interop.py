"""`.keras` and `.weights.h5` files move both ways between kerax and Keras 3.

Keras-written fixtures (tests/saving/fixtures, made by make_keras_fixtures.py)
run without Keras installed; the tests taking the `keras` fixture check
kerax-written files in Keras 3 itself."""
import io
import os
import sys
import zipfile

import h5py
import numpy as np
import pytest

import kerax
from kerax import layers as L

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
REF = "/work/shared/reference/keras-3.15.1"
sys.path.insert(0, HERE)
from custom_defs import define  # noqa: E402

C = define(kerax)
E = np.load(os.path.join(FIX, "expected.npz"))
OPTIMIZERS = ["sgd", "rmsprop", "adam", "adamw", "nadam", "adagrad", "adamax", "adadelta",
              "lion"]


@pytest.fixture(scope="module")
def keras_custom(keras):
    return define(keras)


def _max_err(a, b):
    if isinstance(b, (list, tuple)):
        return max(_max_err(x, y) for x, y in zip(a, b))
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def run(model, x):
    """The model's inference output (a direct call: cheaper than predict)."""
    out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return np.asarray(out)


def h5_tree(data, with_names=False):
    """[(path, shape, dtype)] of every dataset (and group names if asked)."""
    out = []
    with h5py.File(io.BytesIO(data), "r") as f:
        def visit(name, obj):
            if name.startswith("__kerax__"):
                return  # kerax's extra RNG states (Keras ignores them)
            if isinstance(obj, h5py.Dataset):
                out.append((name, tuple(obj.shape), str(obj.dtype)))
            elif with_names:
                out.append((name, dict(obj.attrs)))
        f.visititems(visit)
    return out


def weights_member(path):
    with zipfile.ZipFile(path) as zf:
        return zf.read("model.weights.h5")


FIXTURE_CASES = {
    "mlp.keras": (lambda: E["mlp_x"], lambda: E["mlp_y"], True),
    "wide_deep_bn.keras": (lambda: [E["wd_xw"], E["wd_xd"]], lambda: E["wd_y"], True),
    "multi_io.keras": (lambda: [E["mio_xa"], E["mio_xb"]],
                       lambda: [E["mio_y1"], E["mio_y2"]], True),
    "custom.keras": (lambda: E["custom_x"], lambda: E["custom_y"], True),
    "subclassed.keras": (lambda: [E["sub_xw"], E["sub_xd"]], lambda: E["sub_y"], True),
    "lambda.keras": (lambda: E["lam_x"], lambda: E["lam_y"], False),
    "zoo_cnn.keras": (lambda: E["zoo_cnn_x"], lambda: E["zoo_cnn_y"], True),
    "zoo_rnn.keras": (lambda: E["zoo_rnn_x"], lambda: E["zoo_rnn_y"], True),
    "zoo_attention.keras": (lambda: E["zoo_attention_x"], lambda: E["zoo_attention_y"], True),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_keras_files_load_and_predict_like_keras(name, tmp_path):
    x, y, safe = FIXTURE_CASES[name]
    model = kerax.models.load_model(os.path.join(FIX, name), safe_mode=safe)
    assert _max_err(run(model, x()), y()) < 1e-5
    # Re-saved by kerax: the same weight paths, shapes and dtypes as Keras wrote.
    model.save(tmp_path / "again.keras")
    assert h5_tree(weights_member(tmp_path / "again.keras")) == \
        h5_tree(weights_member(os.path.join(FIX, name)))


def test_keras_file_compile_config_restored():
    model = kerax.models.load_model(os.path.join(FIX, "wide_deep_bn.keras"))
    assert isinstance(model.optimizer, kerax.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert abs(float(model.optimizer.learning_rate.numpy()) - 0.01) < 1e-8
    assert int(model.optimizer.iterations.numpy()) == 8  # 2 epochs x 4 batches
    assert model.loss == "mse"
    metrics = model.get_compile_config()["metrics"]
    assert [type(m).__name__ for m in metrics] == ["RootMeanSquaredError"]
    sub = kerax.models.load_model(os.path.join(FIX, "subclassed.keras"))
    assert isinstance(sub, C.WideDeepSub) and sub.units == 8
    assert isinstance(sub.optimizer, kerax.optimizers.AdamW)
    assert isinstance(sub.optimizer._learning_rate,
                      kerax.optimizers.schedules.ExponentialDecay)
    # compile=False: no optimizer, no compile state
    plain = kerax.models.load_model(os.path.join(FIX, "mlp.keras"), compile=False)
    assert not plain.compiled


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_keras_optimizer_state_loads_exactly(name):
    """3 steps in Keras, saved; one more step in kerax == one more in Keras."""
    model = kerax.models.load_model(os.path.join(FIX, f"opt_{name}.keras"))
    assert int(model.optimizer.iterations.numpy()) == 3
    model.train_on_batch(E["opt_x"], E["opt_y"])
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, E[f"opt_{name}_w{i}"], atol=1e-6, rtol=1e-5)


def test_loaded_keras_model_keeps_training():
    model = kerax.models.load_model(os.path.join(FIX, "wide_deep_bn.keras"))
    x = [E["wd_xw"], E["wd_xd"]]
    y = np.random.default_rng(3).normal(size=(32, 1)).astype("float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert np.isfinite(after[0]) and after[0] < before[0]


def test_keras_weights_file_loads(tmp_path):
    model = kerax.Sequential([kerax.Input((8,)), L.Dense(16, activation="relu"),
                              L.Dropout(0.1), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.load_weights(os.path.join(FIX, "mlp.weights.h5"))
    assert _max_err(run(model, E["mlp_x"]), E["mlp_y"]) < 1e-6
    assert int(model.optimizer.iterations.numpy()) == 4  # optimizer state loaded too
    model.save_weights(tmp_path / "m.weights.h5")
    assert h5_tree((tmp_path / "m.weights.h5").read_bytes()) == \
        h5_tree(open(os.path.join(FIX, "mlp.weights.h5"), "rb").read())
    # load_weights also reads the weights of a .keras file
    fresh = kerax.Sequential([kerax.Input((8,)), L.Dense(16, activation="relu"),
                              L.Dropout(0.1), L.Dense(1)])
    fresh.load_weights(os.path.join(FIX, "mlp.keras"))
    assert _max_err(run(fresh, E["mlp_x"]), E["mlp_y"]) < 1e-6


def test_weight_shape_mismatch_names_layer_weight_and_shapes(tmp_path):
    src = kerax.Sequential([kerax.Input((8,)), L.Dense(16, name="hidden"), L.Dense(1)])
    src.save_weights(tmp_path / "a.weights.h5")
    dst = kerax.Sequential([kerax.Input((8,)), L.Dense(12, name="hidden"), L.Dense(1)])
    before = dst.get_weights()
    with pytest.raises(ValueError) as info:
        dst.load_weights(tmp_path / "a.weights.h5")
    msg = str(info.value)
    assert "'hidden'" in msg and "'kernel'" in msg and "(8, 12)" in msg and "(8, 16)" in msg
    # nothing was assigned
    for a, b in zip(before, dst.get_weights()):
        np.testing.assert_array_equal(a, b)
    # skip_mismatch: the mismatched layer is skipped with a warning, others load
    dst2 = kerax.Sequential([kerax.Input((8,)), L.Dense(16), L.Dense(2)])
    with pytest.warns(UserWarning, match="Skipping"):
        dst2.load_weights(tmp_path / "a.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(dst2.layers[0].kernel.numpy(), src.layers[0].kernel.numpy())
    # a missing weight count names the layer and the weights it expects
    dst3 = kerax.Sequential([kerax.Input((8,)), L.Dense(16, use_bias=False, name="hidden"),
                             L.Dense(1)])
    with pytest.raises(ValueError, match=r"'hidden'.*expects 1 weight.*file has 2"):
        dst3.load_weights(tmp_path / "a.weights.h5")


def test_get_set_weights_roundtrip():
    a = kerax.Sequential([kerax.Input((3,)), L.Dense(4), L.BatchNormalization(), L.Dense(1)])
    b = kerax.Sequential([kerax.Input((3,)), L.Dense(4), L.BatchNormalization(), L.Dense(1)])
    b.set_weights(a.get_weights())
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(run(a, x), run(b, x))


# ---- the shared reference files made by Keras 3.15.1 ------------------------------
@pytest.mark.skipif(not os.path.isdir(REF), reason="shared reference files not present")
@pytest.mark.parametrize("name,safe", [("sequential", True), ("functional_wide_deep", True),
                                       ("lambda", False)])
def test_reference_files_predict_like_keras(keras, name, safe):
    path = os.path.join(REF, f"{name}.keras")
    model = kerax.models.load_model(path, safe_mode=safe)
    kmodel = keras.models.load_model(path, safe_mode=safe)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(4,) + tuple(t.shape[1:])).astype("float32")
              for t in kmodel.inputs]
    x = inputs[0] if len(inputs) == 1 else inputs
    assert _max_err(run(model, x), run(kmodel, x)) < 1e-5
    if model.compiled:
        assert model.optimizer.built and int(model.optimizer.iterations.numpy()) > 0


# ---- kerax-written files in Keras 3 ---------------------------------------------------
def _fake_training(model, rng, steps=3):
    """Give the optimizer non-trivial state without compiling a train step."""
    opt = model.optimizer
    opt.build(model.trainable_variables)
    for v in opt.variables:
        if v is opt.iterations:
            v.assign(steps)
        elif v.path.endswith("learning_rate"):
            continue
        else:
            v.assign(np.abs(rng.normal(size=v.shape)).astype(v.dtype))


def _kerax_models():
    rng = np.random.default_rng(0)
    out = {}
    mlp = kerax.Sequential([kerax.Input((8,)), L.Dense(16, activation="relu"), L.Dropout(0.2),
                            L.BatchNormalization(), L.Dense(1)], name="mlp")
    mlp.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = rng.normal(size=(16, 8)).astype("float32")
    _fake_training(mlp, rng)
    out["mlp"] = (mlp, x)

    a, b = kerax.Input((4,), name="a"), kerax.Input((4,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    inner = kerax.Sequential([kerax.Input((4,)), L.Dense(3, name="inner_dense")],
                             name="inner")
    ha, hb = shared(a), shared(b)
    o1 = L.Dense(1, name="sum_head")(L.Add()([ha, hb]))
    o2 = inner(shared(ha))
    mio = kerax.Model([a, b], [o1, o2], name="multi_io")
    mio.compile(optimizer=kerax.optimizers.SGD(0.01, momentum=0.9), loss=["mse", "mae"],
                loss_weights=[1.0, 0.5])
    xs = [rng.normal(size=(8, 4)).astype("float32") for _ in range(2)]
    _fake_training(mio, rng)
    out["multi_io"] = (mio, xs)

    inp = kerax.Input((6,), name="x")
    h = C.Scale(name="scale")(C.Block(5, name="blk")(inp))
    cm = kerax.Model(inp, L.Dense(2, activation=C.scaled_tanh, name="head")(h), name="custom")
    cm.compile(optimizer="adam", loss=C.half_mse)
    xc = rng.normal(size=(8, 6)).astype("float32")
    _fake_training(cm, rng)
    out["custom"] = (cm, xc)

    i = kerax.Input((4,))
    inner_f = kerax.Model(i, L.Dense(3)(i), name="inner_functional")
    nested = kerax.Sequential([kerax.Input((4,)), kerax.Sequential(
        [kerax.Input((4,)), L.Dense(4)], name="inner_seq"), inner_f, L.Dense(1)], name="nested")
    nested.compile(optimizer="adagrad", loss="mse")
    _fake_training(nested, rng)
    out["nested"] = (nested, rng.normal(size=(4, 4)).astype("float32"))

    sub = C.WideDeepSub(units=8, name="sub")
    sub.compile(optimizer=kerax.optimizers.AdamW(kerax.optimizers.schedules.ExponentialDecay(
        1e-3, decay_steps=100, decay_rate=0.9)), loss="mse")
    xsub = [rng.normal(size=(8, 5)).astype("float32"), rng.normal(size=(8, 6)).astype("float32")]
    sub(xsub)
    _fake_training(sub, rng)
    out["subclassed"] = (sub, xsub)
    return out


def test_kerax_files_load_in_keras(keras, keras_custom, tmp_path):
    for name, (model, x) in _kerax_models().items():
        path = tmp_path / f"{name}.keras"
        model.save(path)
        kmodel = keras.models.load_model(path)
        assert _max_err(run(kmodel, x), run(model, x)) < 1e-5, name
        assert int(kmodel.optimizer.iterations) == 3
        from kerax.saving.optimizer_layout import keras_layout
        ours = [np.asarray(v.numpy()) * sign for v, sign in keras_layout(model.optimizer)]
        theirs = [np.asarray(v) for v in kmodel.optimizer.variables]
        assert len(ours) == len(theirs), name
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_kerax_weights_file_loads_in_keras(keras, tmp_path):
    model = kerax.Sequential([kerax.Input((8,)), L.Dense(16, activation="relu"),
                              L.BatchNormalization(), L.Dense(1)])
    x = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    model.layers[1].moving_mean.assign(np.full((16,), 0.3, "float32"))
    model.save_weights(tmp_path / "w.weights.h5")
    kmodel = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                               keras.layers.BatchNormalization(), keras.layers.Dense(1)])
    kmodel.load_weights(tmp_path / "w.weights.h5")
    assert _max_err(run(kmodel, x), run(model, x)) < 1e-5


@pytest.mark.parametrize("name", ["rmsprop", "adam", "nadam"])
def test_keras_continues_kerax_optimizer_state(keras, name, tmp_path):
    """kerax trains 3 steps and saves; Keras loads; one more step in each agrees.
    (The layouts are the same both ways; every optimizer is checked in the
    Keras -> kerax direction by test_keras_optimizer_state_loads_exactly.)"""
    make = {
        "sgd": lambda m: m.SGD(0.05, momentum=0.9, nesterov=True),
        "rmsprop": lambda m: m.RMSprop(0.01, momentum=0.5, centered=True),
        "adam": lambda m: m.Adam(0.01, amsgrad=True),
        "adamw": lambda m: m.AdamW(0.01),
        "nadam": lambda m: m.Nadam(0.01),
        "adagrad": lambda m: m.Adagrad(0.1),
        "adamax": lambda m: m.Adamax(0.01),
        "adadelta": lambda m: m.Adadelta(1.0),
        "lion": lambda m: m.Lion(0.01),
    }[name]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model = kerax.Sequential([kerax.Input((3,)), L.Dense(2)])
    model.compile(optimizer=make(kerax.optimizers), loss="mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    kmodel = keras.models.load_model(tmp_path / "m.keras")
    kmodel.train_on_batch(x, y)
    model.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-5)


def test_keras_and_kerax_continue_training_alike(keras, tmp_path):
    """A Keras file with BatchNormalization trains on in kerax as in Keras."""
    path = os.path.join(FIX, "wide_deep_bn.keras")
    x = [E["wd_xw"], E["wd_xd"]]
    y = np.random.default_rng(5).normal(size=(32, 1)).astype("float32")
    ours = kerax.models.load_model(path)
    theirs = keras.models.load_model(path)
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
