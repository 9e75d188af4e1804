"""The checks of tests/distribution/test_8_devices.py, run in ONE subprocess on
8 simulated CPU devices (`XLA_FLAGS=--xla_force_host_platform_device_count=8`,
set by the test before this process starts; the pytest process keeps one
device).

    python worker_8dev.py WORKDIR

Each check records what it measured under its name in WORKDIR/results.json
(or the traceback when it failed); the test functions assert on them. The
"one device" runs are the same programs with no distribution active: their
variables and computations stay on device 0.
"""
import contextlib
import json
import os
import re
import sys
import time
import traceback
import warnings

import jax._src.xla_bridge as _xla_bridge  # noqa: E402  (before kerax: the import check)

import kerax  # noqa: E402

IMPORT_STARTED_BACKEND = bool(_xla_bridge._backends)

import jax  # noqa: E402
import numpy as np  # noqa: E402

from kerax import distribution as kd  # noqa: E402

RESULTS = {}
SECONDS = {}
WORKDIR = sys.argv[1]


def check(fn):
    start = time.perf_counter()
    try:
        RESULTS[fn.__name__] = fn()
    except Exception:  # noqa: BLE001 - reported to the test, which fails on it
        RESULTS[fn.__name__] = {"error": traceback.format_exc()}
    SECONDS[fn.__name__] = round(time.perf_counter() - start, 2)  # reported, never asserted
    return fn


def maxdiff(a, b):
    return max(float(np.max(np.abs(np.asarray(p, "float64") - np.asarray(q, "float64"))))
               for p, q in zip(a, b))


def spec_of(var):
    s = var.value.sharding
    return [list(e) if isinstance(e, tuple) else e for e in s.spec] if hasattr(s, "spec") else None


def mesh_of(var):
    s = var.value.sharding
    return dict(zip(s.mesh.axis_names, map(int, s.mesh.devices.shape))) if hasattr(s, "mesh") else None


# ---- models ---------------------------------------------------------------------------
def transformer_block():
    kerax.utils.set_random_seed(7)
    inp = kerax.Input((4, 16))
    att = kerax.layers.MultiHeadAttention(num_heads=4, key_dim=8, name="mha")(inp, inp)
    h = kerax.layers.LayerNormalization(name="ln1")(inp + att)
    f = kerax.layers.Dense(32, activation="relu", name="ff1")(h)
    f = kerax.layers.Dense(16, name="ff2")(f)
    return kerax.Model(inp, kerax.layers.LayerNormalization(name="ln2")(h + f))


def mlp():
    kerax.utils.set_random_seed(3)
    return kerax.Sequential([kerax.Input((6,)), kerax.layers.Dense(16, activation="relu"),
                             kerax.layers.Dense(4)])


def model_parallel():
    mesh = kd.DeviceMesh((2, 4), ["batch", "model"], devices=kd.list_devices())
    layout_map = kd.LayoutMap(mesh)
    # paths read `mha/query/kernel` (Keras' nesting) or `query/kernel`: match both
    layout_map[r"(.*/)?(query|key|value)/kernel"] = (None, "model", None)
    layout_map[r"(.*/)?(query|key|value)/bias"] = ("model", None)
    layout_map[r"(.*/)?attention_output/kernel"] = ("model", None, None)
    layout_map[r"(.*/)?ff1/kernel"] = (None, "model")
    layout_map[r"(.*/)?ff1/bias"] = ("model",)
    layout_map[r"(.*/)?ff2/kernel"] = ("model", None)
    return kd.ModelParallel(layout_map=layout_map, batch_dim_name="batch")


EXPECTED = {  # path suffix -> requested axes
    "query/kernel": [None, "model", None], "key/kernel": [None, "model", None],
    "value/kernel": [None, "model", None], "query/bias": ["model", None],
    "key/bias": ["model", None], "value/bias": ["model", None],
    "attention_output/kernel": ["model", None, None], "ff1/kernel": [None, "model"],
    "ff1/bias": ["model"], "ff2/kernel": ["model", None],
}


def requested(path):
    for suffix, axes in EXPECTED.items():
        if path.endswith(suffix):
            return axes
    return None


def custom_loop(model, x, y, steps, optimizer):
    """A guide-style custom training loop: kerax.function step with
    value_and_grad, apply_gradients and a Mean metric."""
    loss_metric = kerax.metrics.Mean(name="loss_mean")

    @kerax.function
    def train_step(x, y):
        def loss_fn():
            return kerax.ops.mean((model(x, training=True) - y) ** 2)
        loss, grads = kerax.value_and_grad(loss_fn, model.trainable_variables)()
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        loss_metric.update_state(loss)
        return loss

    losses = [float(train_step(x, y)) for _ in range(steps)]
    return losses, train_step, loss_metric


def scope(dist):
    return dist.scope() if dist is not None else contextlib.nullcontext()


# ---- checks ---------------------------------------------------------------------------
@check
def import_is_backend_free():
    return {"started": IMPORT_STARTED_BACKEND}


@check
def model_parallel_transformer():
    rs = np.random.RandomState(0)
    x = rs.randn(8, 4, 16).astype("float32")
    y = rs.randn(8, 4, 16).astype("float32")
    out = {}
    for label, dist in (("one", None), ("mp", model_parallel())):
        with scope(dist):
            model = transformer_block()
            forward = np.asarray(kerax.function(lambda x: model(x))(x))
            opt = kerax.optimizers.Adam(learning_rate=1e-3, use_ema=True)
            losses, _, metric = custom_loop(model, x, y, 3, opt)
            out[label] = dict(forward=forward, losses=losses,
                              weights=[v.numpy() for v in model.variables],
                              paths=[v.path for v in model.variables],
                              specs=[spec_of(v) for v in model.variables],
                              meshes=[mesh_of(v) for v in model.variables],
                              slots=[(v.path, spec_of(v)) for v in opt.variables],
                              metric=[spec_of(v) for v in metric.variables],
                              metric_value=float(metric.result()))
            if dist is not None:
                # the requested layout itself, compared as shardings
                same = [v.value.sharding.is_equivalent_to(
                    dist.get_variable_layout(v).backend_layout, v.ndim) for v in model.variables]
                out["mp"]["equivalent"] = all(same)
    one, mp = out["one"], out["mp"]
    return {
        "forward_diff": float(np.max(np.abs(one["forward"] - mp["forward"]))),
        "loss_one": one["losses"], "loss_mp": mp["losses"],
        "weights_diff": maxdiff(one["weights"], mp["weights"]),
        "paths": mp["paths"], "specs": mp["specs"], "meshes": mp["meshes"],
        "requested": [requested(p) for p in mp["paths"]],
        "equivalent": mp["equivalent"],
        "slots": mp["slots"], "metric_specs": mp["metric"],
        "metric_diff": abs(one["metric_value"] - mp["metric_value"]),
    }


@check
def sharded_initializer_is_compiled():
    """A variable with a split layout is initialized by a compiled program
    with out_shardings (the initializer sees tracers), never whole first."""
    seen = []

    def init(shape, dtype=None):
        value = jax.random.normal(jax.random.key(1), shape, dtype or "float32")
        seen.append(isinstance(value, jax.core.Tracer))
        return value

    mesh = kd.DeviceMesh((2, 4), ["batch", "model"])
    layout_map = kd.LayoutMap(mesh)
    layout_map["big/kernel"] = (None, "model")
    with kd.ModelParallel(layout_map=layout_map).scope():
        layer = kerax.layers.Dense(8, kernel_initializer=init, bias_initializer=init, name="big")
        layer.build((None, 4))
    expected = np.asarray(jax.random.normal(jax.random.key(1), (4, 8)))
    return {"kernel_traced": seen[0], "bias_traced": seen[1],
            "kernel_spec": spec_of(layer.kernel),
            "shard_shapes": sorted({tuple(s.data.shape) for s in
                                    layer.kernel.value.addressable_shards}),
            "value_diff": float(np.max(np.abs(layer.kernel.numpy() - expected)))}


@check
def data_parallel_custom_loop():
    rs = np.random.RandomState(1)
    x = rs.randn(16, 6).astype("float32")
    y = rs.randn(16, 4).astype("float32")
    out = {}
    for label, dist in (("one", None), ("dp", kd.DataParallel())):
        with scope(dist):
            model = mlp()
            opt = kerax.optimizers.SGD(learning_rate=0.1, momentum=0.9)
            losses, step, _ = custom_loop(model, x, y, 4, opt)
            out[label] = dict(losses=losses, weights=[v.numpy() for v in model.variables],
                              specs=[spec_of(v) for v in model.variables + opt.variables])
            if dist is not None:
                hlo = step.lower(x, y).compile().as_text()
                out["hlo"] = hlo
                out["input_spec"] = list(dist.distribute_data(x).sharding.spec)
                try:
                    step(x[:12], y[:12])
                    out["odd_batch_error"] = None
                except ValueError as e:
                    out["odd_batch_error"] = str(e)
    hlo = out["hlo"]
    lines = [ln for ln in hlo.splitlines() if " all-reduce(" in ln or "all-reduce-start(" in ln]
    return {"loss_one": out["one"]["losses"], "loss_dp": out["dp"]["losses"],
            "weights_diff": maxdiff(out["one"]["weights"], out["dp"]["weights"]),
            "dp_specs": out["dp"]["specs"], "input_spec": out["input_spec"],
            "all_reduce_lines": lines,
            "all_gather": hlo.count("all-gather"), "param_sizes": [
                int(np.prod(w.shape)) for w in out["one"]["weights"]],
            "odd_batch_error": out["odd_batch_error"]}


def split_mlp():
    """An MLP whose kernels `model_parallel()` splits (paths ff1/..., ff2/...)."""
    kerax.utils.set_random_seed(5)
    return kerax.Sequential([kerax.Input((4, 16)),
                             kerax.layers.Dense(32, activation="relu", name="ff1"),
                             kerax.layers.Dense(16, name="ff2")])


@check
def eager_value_and_grad_model_parallel():
    rs = np.random.RandomState(2)
    x = rs.randn(8, 4, 16).astype("float32")
    grads = {}
    for label, dist in (("one", None), ("mp", model_parallel())):
        with scope(dist):
            model = split_mlp()
            _, g = kerax.value_and_grad(lambda: kerax.ops.mean(model(x) ** 2),
                                        model.trainable_variables)()
            grads[label] = [np.asarray(a) for a in g]
            if dist is not None:
                specs = [spec_of(v) for v in model.trainable_variables]
    return {"grads_diff": maxdiff(grads["one"], grads["mp"]), "specs": specs}


@check
def distribute_tensor_inside_and_outside():
    mesh = kd.DeviceMesh((8,), ["batch"])
    layout = kd.TensorLayout(["batch", None], mesh)
    eager = kd.distribute_tensor(np.ones((8, 2), "float32"), layout)

    @kerax.function
    def f(x):
        return kd.distribute_tensor(x * 2, layout)

    inside = f(np.ones((8, 2), "float32"))
    return {"eager": list(eager.sharding.spec), "inside": list(inside.sharding.spec),
            "inside_value": float(np.asarray(inside).sum())}


@check
def variables_made_before_the_distribution():
    """A model built on one device, then trained under DataParallel: its
    variables are moved to their layout on the first compiled call."""
    rs = np.random.RandomState(3)
    x, y = rs.randn(8, 6).astype("float32"), rs.randn(8, 4).astype("float32")
    model = mlp()
    ref = mlp()
    opt, ref_opt = kerax.optimizers.SGD(0.1), kerax.optimizers.SGD(0.1)
    ref_losses, _, _ = custom_loop(ref, x, y, 2, ref_opt)
    with kd.DataParallel().scope():
        losses, _, _ = custom_loop(model, x, y, 2, opt)
    return {"losses": losses, "ref": ref_losses,
            "weights_diff": maxdiff([v.numpy() for v in model.variables],
                                    [v.numpy() for v in ref.variables]),
            "devices": sorted({len(v.value.sharding.device_set) for v in model.variables})}


@check
def layout_map_errors():
    mesh = kd.DeviceMesh((2, 4), ["batch", "model"])
    out = {}
    two = kd.LayoutMap(mesh)
    two[".*kernel"] = (None, "model")
    two["dense_two/.*"] = ("model", None)
    with kd.ModelParallel(layout_map=two).scope():
        try:
            kerax.layers.Dense(8, name="dense_two").build((None, 4))
            out["two_keys"] = None
        except ValueError as e:
            out["two_keys"] = str(e)
    bad = kd.LayoutMap(mesh)
    bad["odd/kernel"] = (None, "model")
    with kd.ModelParallel(layout_map=bad).scope():
        try:
            kerax.layers.Dense(6, name="odd").build((None, 4))
            out["indivisible"] = None
        except ValueError as e:
            out["indivisible"] = str(e)
    unused = kd.LayoutMap(mesh)
    unused["used/kernel"] = (None, "model")
    unused["convolution.*kernel"] = (None, None, None, "model")
    with kd.ModelParallel(layout_map=unused).scope():
        layer = kerax.layers.Dense(8, name="used")
        layer.build((None, 4))

        @kerax.function
        def f(x):
            return layer(x)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f(np.ones((2, 4), "float32"))
    out["unmatched_warnings"] = [str(w.message) for w in caught]
    return out


@check
def save_sharded_load_anywhere():
    """Save a ModelParallel model here (8 devices) for the parent to load on
    one device; load the parent's one-device model into ModelParallel."""
    x = np.load(os.path.join(WORKDIR, "x.npy"))
    dist = model_parallel()
    with dist.scope():
        model = transformer_block()
        model.save(os.path.join(WORKDIR, "sharded.keras"))
        model.save_weights(os.path.join(WORKDIR, "sharded.weights.h5"))
        np.save(os.path.join(WORKDIR, "sharded_pred.npy"), np.asarray(model(x)))
        loaded = kerax.saving.load_model(os.path.join(WORKDIR, "one_device.keras"))
        pred = np.asarray(loaded(x))
        fresh = transformer_block()
        fresh.load_weights(os.path.join(WORKDIR, "one_device.weights.h5"))
        pred_weights = np.asarray(fresh(x))
    ref = np.load(os.path.join(WORKDIR, "one_device_pred.npy"))
    return {"load_model_diff": float(np.max(np.abs(pred - ref))),
            "load_weights_diff": float(np.max(np.abs(pred_weights - ref))),
            "loaded_specs": [spec_of(v) for v in loaded.variables],
            "loaded_requested": [requested(v.path) for v in loaded.variables],
            "weights_specs": [spec_of(v) for v in fresh.variables],
            "weights_requested": [requested(v.path) for v in fresh.variables]}


@check
def backup_and_restore():
    """fit with BackupAndRestore under ModelParallel, interrupted after one
    epoch and resumed by a fresh model, ends where an uninterrupted run ends;
    the restored variables keep their layout."""
    rs = np.random.RandomState(4)
    x, y = rs.randn(16, 4, 16).astype("float32"), rs.randn(16, 4, 16).astype("float32")
    backup = os.path.join(WORKDIR, "backup")

    class Interrupt(kerax.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise RuntimeError("interrupted")

    dist = model_parallel()
    with dist.scope():
        full = split_mlp()
        full.compile(optimizer=kerax.optimizers.SGD(0.05, momentum=0.9), loss="mse")
        full.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        first = split_mlp()
        first.compile(optimizer=kerax.optimizers.SGD(0.05, momentum=0.9), loss="mse")
        try:
            first.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                      callbacks=[kerax.callbacks.BackupAndRestore(backup), Interrupt()])
        except RuntimeError:
            pass
        resumed = split_mlp()
        resumed.compile(optimizer=kerax.optimizers.SGD(0.05, momentum=0.9), loss="mse")
        history = resumed.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                              callbacks=[kerax.callbacks.BackupAndRestore(backup)])
    return {"epochs_run": len(history.history["loss"]),
            "weights_diff": maxdiff([v.numpy() for v in full.variables],
                                    [v.numpy() for v in resumed.variables]),
            "specs": [spec_of(v) for v in resumed.variables + resumed.optimizer.variables],
            "requested": [requested(v.path) for v in resumed.variables],
            "slot_paths": [v.path for v in resumed.optimizer.variables]}


COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")


def collectives(hlo):
    """{op: count} of the collective ops in an optimized HLO text."""
    return {op: len(re.findall(rf"\b{op}(?:-start)?\(", hlo)) for op in COLLECTIVES}


def small_cnn():
    kerax.utils.set_random_seed(9)
    return kerax.Sequential([kerax.Input((6, 6, 1)),
                             kerax.layers.Conv2D(4, 3, activation="relu"),
                             kerax.layers.Flatten(), kerax.layers.Dense(3)])


def fit_run(build, dist, x, y, spe, epochs=2, optimizer=None):
    """fit (shuffled, with validation) + evaluate + predict of a fresh model;
    evaluate's last batch (12 rows) is one the 8 devices cannot split."""
    with scope(dist):
        model = build()
        model.compile(optimizer=optimizer or kerax.optimizers.Adam(0.01), loss="mse",
                      metrics=["mae"], steps_per_execution=spe)
        history = model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.25,
                            verbose=0)
        ev = model.evaluate(x[:60], y[:60], batch_size=16, verbose=0)
        pred = model.predict(x, batch_size=16, verbose=0)
    return model, {"weights": [v.numpy() for v in model.variables],
                   "opt": [v.numpy() for v in model.optimizer.variables],
                   "history": history.history, "eval": ev, "pred": pred}


def compare(a, b):
    return {"weights": maxdiff(a["weights"] + a["opt"], b["weights"] + b["opt"]),
            "history": max(float(np.max(np.abs(np.subtract(a["history"][k], b["history"][k]))))
                           for k in a["history"]),
            "history_keys": sorted(a["history"]) == sorted(b["history"]),
            "eval": float(np.max(np.abs(np.subtract(a["eval"], b["eval"])))),
            "pred": float(np.max(np.abs(a["pred"] - b["pred"])))}


@check
def data_parallel_fit():
    """DataParallel fit/evaluate/predict of an MLP and a small CNN vs one
    device, with and without steps_per_execution; the train program's
    collectives; the batch_size error."""
    rs = np.random.RandomState(6)
    # 64 rows: fit on 48 (3 batches of 16: one steps_per_execution=3 block), validate on 16
    data = {"mlp": (mlp, rs.randn(64, 6).astype("float32"), rs.randn(64, 4).astype("float32")),
            "cnn": (small_cnn, rs.randn(64, 6, 6, 1).astype("float32"),
                    rs.randn(64, 3).astype("float32"))}
    out = {}
    for name, (build, x, y) in data.items():
        for spe in (1, 3):
            _, one = fit_run(build, None, x, y, spe)
            dp = kd.DataParallel()
            model, eight = fit_run(build, dp, x, y, spe)
            r = compare(one, eight)
            r["specs"] = [spec_of(v) for v in model.variables + model.optimizer.variables]
            r["meshes"] = [mesh_of(v) for v in model.variables]
            if name == "mlp":
                with dp.scope():
                    idx = np.arange(16 * spe, dtype=np.int32).reshape(spe, 16)
                    lowered = model._engine("train").lower_indexed((x, y), idx)
                r["collectives"] = collectives(lowered.compile().as_text())
            out[f"{name}_spe{spe}"] = r
    with kd.DataParallel().scope():
        model = mlp()
        model.compile(optimizer="sgd", loss="mse")
        try:
            model.fit(data["mlp"][1], data["mlp"][2], batch_size=12, epochs=1, verbose=0)
            out["batch_size_error"] = None
        except ValueError as e:
            out["batch_size_error"] = str(e)
    return out


@check
def model_parallel_fit():
    """ModelParallel (2x4) fit/evaluate/predict of the transformer block vs one device."""
    rs = np.random.RandomState(8)
    x, y = rs.randn(32, 4, 16).astype("float32"), rs.randn(32, 4, 16).astype("float32")
    def sgd():
        return kerax.optimizers.SGD(0.05, momentum=0.9)

    x, y = np.concatenate([x, x]), np.concatenate([y, y])  # 64 rows
    _, one = fit_run(transformer_block, None, x, y, spe=3, optimizer=sgd())
    model, mp = fit_run(transformer_block, model_parallel(), x, y, spe=3, optimizer=sgd())
    r = compare(one, mp)
    r["specs"] = [spec_of(v) for v in model.variables]
    r["requested"] = [requested(v.path) for v in model.variables]
    return r


@check
def orbax_checkpoint():
    """OrbaxCheckpoint during a ModelParallel (2x4) fit: keeps 2 checkpoints;
    the latest restores into an 8x1 mesh (and, in the parent, onto 1 device)."""
    try:
        import orbax.checkpoint  # noqa: F401
    except ImportError:
        return {"skipped": "orbax-checkpoint is not installed"}
    from kerax.callbacks.orbax_checkpoint import restore_checkpoint
    rs = np.random.RandomState(12)
    x, y = rs.randn(32, 4, 16).astype("float32"), rs.randn(32, 4, 16).astype("float32")
    directory = os.path.join(WORKDIR, "orbax")

    def build():
        model = split_mlp()
        model.compile(optimizer=kerax.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        return model

    with model_parallel().scope():
        model = build()
        cb = kerax.callbacks.OrbaxCheckpoint(directory, max_to_keep=2)
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
        saved = [v.numpy() for v in model.variables + model.optimizer.variables]
        metric_state = [v.numpy() for m in model.metrics for v in m.variables]
        steps = cb.all_steps()
        saved_specs = [spec_of(v) for v in model.variables]
    np.savez(os.path.join(WORKDIR, "orbax_saved.npz"), *saved)
    mesh = kd.DeviceMesh((8, 1), ["batch", "model"], devices=kd.list_devices())
    layout_map = kd.LayoutMap(mesh)
    layout_map[r"(.*/)?ff1/kernel"] = (None, "model")
    layout_map[r"(.*/)?ff2/kernel"] = ("model", None)
    with kd.ModelParallel(layout_map=layout_map, batch_dim_name="batch").scope():
        target = build()
        target.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)  # other values first
        meta = restore_checkpoint(target, directory)
        restored = [v.numpy() for v in target.variables + target.optimizer.variables]
        restored_metrics = [v.numpy() for m in target.metrics for v in m.variables]
        specs = [mesh_of(v) for v in target.variables]
    return {"steps": steps, "dirs": sorted(os.listdir(directory)), "epoch": meta["epoch"],
            "diff": maxdiff(saved, restored), "metrics_diff": maxdiff(metric_state,
                                                                     restored_metrics),
            "saved_specs": saved_specs, "restored_meshes": specs}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    return obj


with open(os.path.join(WORKDIR, "results.json"), "w") as f:
    json.dump(_jsonable(dict(RESULTS, seconds=SECONDS)), f)
