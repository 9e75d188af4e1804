"""kerax.distribution on 8 simulated CPU devices, against the same programs on
one device.

All the 8-device work runs in ONE subprocess (worker_8dev.py, with
XLA_FLAGS=--xla_force_host_platform_device_count=8; this pytest process
keeps its single device); the tests below assert on what it measured. The
save/load checks cross the two: a model saved here on one device is loaded
there sharded, and the model it saves sharded is loaded here.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import kerax
from kerax.callbacks.orbax_checkpoint import restore_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-5


def _transformer_block():
    kerax.utils.set_random_seed(11)
    inp = kerax.Input((4, 16))
    att = kerax.layers.MultiHeadAttention(num_heads=4, key_dim=8, name="mha")(inp, inp)
    h = kerax.layers.LayerNormalization(name="ln1")(inp + att)
    f = kerax.layers.Dense(32, activation="relu", name="ff1")(h)
    f = kerax.layers.Dense(16, name="ff2")(f)
    return kerax.Model(inp, kerax.layers.LayerNormalization(name="ln2")(h + f))


def run_worker(script, workdir, devices=8, timeout=900):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, os.path.join(HERE, script), str(workdir)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    with open(os.path.join(workdir, "results.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("dist8")


@pytest.fixture(scope="module")
def one_device_model(workdir):
    """A model saved on this process's one device, for the worker to load."""
    x = np.random.RandomState(5).randn(4, 4, 16).astype("float32")
    np.save(workdir / "x.npy", x)
    model = _transformer_block()
    # distinct weights from the worker's own (seed 11, not 7)
    model.save(workdir / "one_device.keras")
    model.save_weights(workdir / "one_device.weights.h5")
    np.save(workdir / "one_device_pred.npy", np.asarray(model(x)))
    return x


@pytest.fixture(scope="module")
def results(workdir, one_device_model):
    return run_worker("worker_8dev.py", workdir)


def strip(spec):
    """A PartitionSpec as a list without trailing Nones (JAX may drop them)."""
    spec = list(spec or [])
    while spec and spec[-1] is None:
        spec.pop()
    return spec


def result(results, name):
    r = results[name]
    if isinstance(r, dict) and "error" in r:
        pytest.fail(f"{name} failed in the 8-device worker:\n{r['error']}")
    return r


def test_importing_kerax_starts_no_backend(results):
    # so that `import kerax; kerax.distribution.initialize(...)` works
    assert result(results, "import_is_backend_free") == {"started": False}


def test_model_parallel_transformer_block_equals_one_device(results):
    r = result(results, "model_parallel_transformer")
    assert r["forward_diff"] < TOL
    np.testing.assert_allclose(r["loss_mp"], r["loss_one"], rtol=TOL, atol=TOL)
    assert r["weights_diff"] < TOL
    assert r["metric_diff"] < TOL


def test_model_parallel_variables_have_the_requested_layout(results):
    r = result(results, "model_parallel_transformer")
    assert r["equivalent"]
    split = 0
    for path, spec, req, mesh in zip(r["paths"], r["specs"], r["requested"], r["meshes"]):
        assert mesh == {"batch": 2, "model": 4}, path
        if req is None:  # layer norms, attention_output bias, ff2 bias: replicated
            assert strip(spec) == [], (path, spec)
        else:
            split += 1
            assert strip(spec) == strip(req), (path, spec, req)
    assert split == 10


def test_optimizer_slots_and_ema_follow_their_variable_metrics_replicated(results):
    r = result(results, "model_parallel_transformer")
    by_path = {p.replace("/", "_"): req for p, req in zip(r["paths"], r["requested"])}
    followed = 0
    for path, spec in r["slots"]:
        owner = next((k for k in by_path if path.split("/", 1)[1].startswith(k + "_")), None)
        if owner is None:  # iteration, learning_rate, count: replicated scalars
            assert all(a is None for a in spec), (path, spec)
            continue
        req = by_path[owner]
        if req is None:
            assert strip(spec) == [], (path, spec)
        else:
            followed += 1
            assert strip(spec) == strip(req), (path, spec, req)
    # 10 split variables x (Adam momentum + velocity + EMA average)
    assert followed == 30
    assert all(all(a is None for a in spec) for spec in r["metric_specs"])


def test_split_weights_are_initialized_already_split(results):
    r = result(results, "sharded_initializer_is_compiled")
    assert r["kernel_traced"] is True       # compiled with out_shardings
    assert r["bias_traced"] is False        # replicated: computed, then placed
    assert r["kernel_spec"] == [None, "model"]
    assert r["shard_shapes"] == [[4, 2]]    # each device holds a quarter of (4, 8)
    assert r["value_diff"] < 1e-6           # the same numbers as unsplit


def test_data_parallel_custom_loop_equals_one_device(results):
    r = result(results, "data_parallel_custom_loop")
    np.testing.assert_allclose(r["loss_dp"], r["loss_one"], rtol=TOL, atol=TOL)
    assert r["weights_diff"] < TOL
    assert strip(r["input_spec"]) == ["batch"]
    assert all(all(a is None for a in spec) for spec in r["dp_specs"])  # replicated


def test_data_parallel_step_hlo_reduces_gradients_and_gathers_no_parameters(results):
    r = result(results, "data_parallel_custom_loop")
    assert r["all_gather"] == 0
    lines = r["all_reduce_lines"]
    # XLA may combine the per-parameter reductions; whatever the grouping, the
    # all-reduces carry every gradient once (plus the scalar loss), no more.
    assert 1 <= len(lines) <= len(r["param_sizes"]) + 1, lines
    sizes = []
    for line in lines:
        lhs = line.split(" all-reduce", 1)[0]
        for dims in re.findall(r"f32\[([\d,]*)\]", lhs):
            sizes.append(int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1)
    assert sorted(s for s in sizes if s > 1) == sorted(s for s in r["param_sizes"] if s > 1)
    assert sum(sizes) <= sum(r["param_sizes"]) + 1


def test_batch_not_divisible_by_the_data_axis_is_a_clear_error(results):
    msg = result(results, "data_parallel_custom_loop")["odd_batch_error"]
    assert msg is not None
    assert "12 rows" in msg and "'batch'" in msg and "multiple of 8" in msg
    assert "array input #0" in msg and "train_step" in msg


def test_eager_value_and_grad_under_model_parallel(results):
    r = result(results, "eager_value_and_grad_model_parallel")
    assert r["grads_diff"] < TOL
    assert [strip(s) for s in r["specs"]] == [[None, "model"], ["model"], ["model"], []]


def test_distribute_tensor_eager_and_inside_kerax_function(results):
    r = result(results, "distribute_tensor_inside_and_outside")
    assert strip(r["eager"]) == ["batch"]
    assert strip(r["inside"]) == ["batch"]
    assert r["inside_value"] == 32.0


def test_variables_created_before_the_distribution_are_moved(results):
    r = result(results, "variables_made_before_the_distribution")
    np.testing.assert_allclose(r["losses"], r["ref"], rtol=TOL, atol=TOL)
    assert r["weights_diff"] < TOL
    assert r["devices"] == [8]


def test_layout_map_errors_name_the_variable_and_keys(results):
    r = result(results, "layout_map_errors")
    assert "dense_two/kernel" in r["two_keys"] and "'.*kernel'" in r["two_keys"] \
        and "'dense_two/.*'" in r["two_keys"]
    assert "odd/kernel" in r["indivisible"] and "size 6" in r["indivisible"] \
        and "4 devices" in r["indivisible"] and "'odd/kernel'" in r["indivisible"]
    warned = [w for w in r["unmatched_warnings"] if "matched no variable" in w]
    assert len(warned) == 1 and "convolution.*kernel" in warned[0] and "used/kernel" not in \
        warned[0]


def test_one_device_model_loads_into_model_parallel(results):
    r = result(results, "save_sharded_load_anywhere")
    assert r["load_model_diff"] < TOL
    assert r["load_weights_diff"] < TOL
    for specs, reqs in ((r["loaded_specs"], r["loaded_requested"]),
                        (r["weights_specs"], r["weights_requested"])):
        assert sum(q is not None for q in reqs) == 10
        for spec, req in zip(specs, reqs):
            assert strip(spec) == strip(req)


def test_sharded_model_loads_on_one_device(results, workdir, one_device_model):
    result(results, "save_sharded_load_anywhere")
    x = one_device_model
    expected = np.load(workdir / "sharded_pred.npy")
    loaded = kerax.saving.load_model(workdir / "sharded.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, rtol=TOL, atol=TOL)
    model = _transformer_block()
    model.load_weights(workdir / "sharded.weights.h5")
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=TOL, atol=TOL)
    assert all(len(v.value.sharding.device_set) == 1 for v in loaded.variables)


def test_sharded_save_is_keras_format(results, workdir, one_device_model, keras):
    """The file written on 8 devices holds full arrays that Keras 3 reads."""
    result(results, "save_sharded_load_anywhere")
    model = keras.saving.load_model(str(workdir / "sharded.keras"))
    np.testing.assert_allclose(np.asarray(model(one_device_model)),
                               np.load(workdir / "sharded_pred.npy"), rtol=1e-4, atol=1e-4)


def test_backup_and_restore_under_model_parallel(results):
    r = result(results, "backup_and_restore")
    assert r["epochs_run"] == 1            # resumed after the first epoch
    assert r["weights_diff"] < TOL
    n = len(r["requested"])
    assert [strip(s) for s in r["specs"][:n]] == [strip(q) for q in r["requested"]]
    assert strip(r["requested"][0]) == [None, "model"]
    # the restored momentum slots keep their variable's layout too
    momentum = dict(zip(r["slot_paths"], r["specs"][n:]))
    assert strip(next(s for p, s in momentum.items() if "ff1_kernel" in p)) == [None, "model"]


# ---- fit / evaluate / predict under a distribution ----------------------------------------
@pytest.mark.parametrize("case", ["mlp_spe1", "mlp_spe3", "cnn_spe1", "cnn_spe3"])
def test_data_parallel_fit_evaluate_predict_equal_one_device(results, case):
    r = result(results, "data_parallel_fit")[case]
    assert r["weights"] < TOL       # weights and Adam slots after 2 shuffled epochs
    assert r["history_keys"] and r["history"] < TOL   # loss, mae, val_loss, val_mae
    assert r["eval"] < TOL and r["pred"] < TOL
    assert all(all(a is None for a in spec) for spec in r["specs"])  # replicated
    assert all(m == {"batch": 8} for m in r["meshes"])


@pytest.mark.parametrize("case", ["mlp_spe1", "mlp_spe3"])
def test_data_parallel_fit_step_has_one_all_reduce_and_no_all_gather(results, case):
    """The compiled train program (a scan of 3 steps for spe3): one gradient
    all-reduce (XLA combines the gradients, loss and metric sums into one),
    no parameter all-gather, and the batch gather needs no communication."""
    ops = result(results, "data_parallel_fit")[case]["collectives"]
    assert ops == {"all-reduce": 1, "all-gather": 0, "reduce-scatter": 0, "all-to-all": 0,
                   "collective-permute": 0}


def test_fit_batch_size_not_divisible_by_the_data_axis_is_a_clear_error(results):
    msg = result(results, "data_parallel_fit")["batch_size_error"]
    assert msg is not None
    assert "batch_size=12" in msg and "'batch'" in msg and "multiple of 8" in msg


def test_model_parallel_fit_of_transformer_block_equals_one_device(results):
    r = result(results, "model_parallel_fit")
    assert r["weights"] < TOL and r["history"] < TOL
    assert r["eval"] < TOL and r["pred"] < TOL
    assert [strip(s) for s in r["specs"]] == [strip(q) for q in r["requested"]]


# ---- OrbaxCheckpoint -----------------------------------------------------------------------
def _orbax(results):
    r = result(results, "orbax_checkpoint")
    if "skipped" in r:
        pytest.skip(r["skipped"])
    return r


def test_orbax_checkpoint_keeps_n_and_restores_into_another_mesh(results):
    r = _orbax(results)
    assert r["steps"] == [1, 2] and r["dirs"] == ["1", "2"]   # max_to_keep=2 of 3 epochs
    assert r["epoch"] == 2
    assert r["diff"] == 0.0 and r["metrics_diff"] == 0.0       # 2x4 -> 8x1, exact
    assert strip(r["saved_specs"][0]) == [None, "model"]
    assert all(m == {"batch": 8, "model": 1} for m in r["restored_meshes"])


def test_orbax_checkpoint_saved_on_8_devices_restores_on_one(results, workdir):
    _orbax(results)
    kerax.utils.set_random_seed(5)
    model = kerax.Sequential([kerax.Input((4, 16)),
                              kerax.layers.Dense(32, activation="relu", name="ff1"),
                              kerax.layers.Dense(16, name="ff2")])
    model.compile(optimizer=kerax.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    meta = restore_checkpoint(model, workdir / "orbax")
    assert meta["step"] == 2
    saved = np.load(workdir / "orbax_saved.npz")
    values = [v.numpy() for v in model.variables + model.optimizer.variables]
    assert len(values) == len(saved.files)
    for i, v in enumerate(values):
        np.testing.assert_array_equal(v, saved[f"arr_{i}"])
    assert all(len(v.value.sharding.device_set) == 1 for v in model.variables)
