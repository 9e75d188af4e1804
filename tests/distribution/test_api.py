"""kerax.distribution's API against Keras 3's `keras.distribution`, on this
process's single device (the 8-device behaviour is in test_8_devices.py)."""
import jax
import numpy as np
import pytest

import kerax
from kerax import distribution as kd


@pytest.fixture(autouse=True)
def no_distribution_left():
    yield
    assert kd.distribution() is None
    kd.set_distribution(None)


def test_devices_as_keras(keras):
    assert kd.list_devices() == keras.distribution.list_devices()
    assert kd.list_devices("CPU") == keras.distribution.list_devices("CPU")
    assert kd.get_device_count() == keras.distribution.get_device_count()
    assert kd.get_device_count("cpu") == keras.distribution.get_device_count("cpu")


def test_device_mesh_and_layout_as_keras(keras):
    for lib in (kd, keras.distribution):
        mesh = lib.DeviceMesh((1, 1), ["batch", "model"], devices=["cpu:0"])
        assert mesh.shape == (1, 1) and mesh.axis_names == ["batch", "model"]
        assert mesh.devices.shape == (1, 1)
        assert mesh.backend_mesh.axis_names == ("batch", "model")
        layout = lib.TensorLayout((None, "model"), mesh)
        assert layout.axes == (None, "model")
        assert layout.backend_layout == jax.sharding.NamedSharding(
            mesh.backend_mesh, jax.sharding.PartitionSpec(None, "model"))
        for bad in (lambda: lib.DeviceMesh((2,), ["batch"], devices=["cpu:0"]),
                    lambda: lib.DeviceMesh((1,), ["batch", "model"], devices=["cpu:0"]),
                    lambda: lib.DeviceMesh((), [], devices=["cpu:0"]),
                    lambda: lib.TensorLayout(("data",), mesh)):
            with pytest.raises(ValueError):
                bad()
        unset = lib.TensorLayout(("model",))
        unset.device_mesh = mesh
        with pytest.raises(ValueError):
            unset.device_mesh = mesh  # cannot be overridden


def test_device_mesh_errors_name_the_problem():
    with pytest.raises(ValueError, match="holds 2 devices, but 1 devices were given"):
        kd.DeviceMesh((2,), ["batch"], devices=["cpu:0"])
    with pytest.raises(ValueError, match="cpu:99.*not found"):
        kd.DeviceMesh((1,), ["batch"], devices=["cpu:99"]).backend_mesh
    with pytest.raises(ValueError, match=r"write \['batch'\]"):
        kd.DeviceMesh((1,), "batch")


def test_layout_map_lookup_as_keras(keras):
    paths = ["dense/kernel", "dense_1/kernel", "dense/bias", "outer/dense_2/kernel",
             "conv2d/kernel", "conv2d_1/kernel", "mha/query/kernel", "exact"]
    maps = []
    for lib in (kd, keras.distribution):
        mesh = lib.DeviceMesh((1, 1), ["batch", "model"], devices=["cpu:0"])
        layout_map = lib.LayoutMap(mesh)
        layout_map[".*dense.*kernel"] = (None, "model")
        layout_map["conv2d.*kernel"] = (None, None, None, "model")
        layout_map["exact"] = ("model",)
        layout_map["mha/.*"] = lib.TensorLayout((None, "model", None))
        with pytest.raises(ValueError):
            layout_map["exact"] = ("model",)  # a repeated key
        maps.append([None if layout_map[p] is None else layout_map[p].axes for p in paths])
        assert len(layout_map) == 4 and list(layout_map)[0] == ".*dense.*kernel"
        del layout_map["exact"]
        assert "exact" not in list(layout_map)
        layout_map[".*kernel"] = ("model",)
        with pytest.raises(ValueError, match="dense/kernel"):
            layout_map["dense/kernel"]  # matched by two keys
    assert maps[0] == maps[1]


def test_layout_map_reports_keys_and_bad_values():
    mesh = kd.DeviceMesh((1,), ["model"], devices=["cpu:0"])
    layout_map = kd.LayoutMap(mesh)
    layout_map["a.*"] = ["model"]  # a list works like a tuple
    layout_map["b.*"] = ("model",)
    assert layout_map["abc"].axes == ("model",)
    assert layout_map.unmatched_keys() == ["b.*"]
    with pytest.raises(ValueError, match="TensorLayout or a tuple"):
        layout_map["c"] = "model"
    with pytest.raises(ValueError, match="not a valid regular expression"):
        layout_map["(unclosed"] = ("model",)
    layout_map[".*x"] = ("model",)
    with pytest.raises(ValueError, match=r"'ax' matches several LayoutMap keys: \['a\.\*', "
                                         r"'\.\*x'\]"):
        layout_map["ax"]


def test_data_and_model_parallel_as_keras(keras):
    got = []
    for lib in (kd, keras.distribution):
        dp = lib.DataParallel(devices=["cpu:0"])
        mesh = lib.DeviceMesh((1, 1), ["data", "model"], devices=["cpu:0"])
        layout_map = lib.LayoutMap(mesh)
        mp = lib.ModelParallel(layout_map=layout_map)
        mp2 = lib.ModelParallel(layout_map=layout_map, batch_dim_name="model")
        dp_mesh = lib.DataParallel(device_mesh=lib.DeviceMesh((1,), ["rows"], ["cpu:0"]))
        got.append((dp.batch_dim_name, dp.num_model_replicas, dp.device_mesh.axis_names,
                    dp.get_data_layout((4, 3)).axes, dp.num_processes, dp.data_shard_id,
                    dp.auto_shard_dataset, mp.batch_dim_name, mp.num_model_replicas,
                    mp.get_data_layout((4, 3, 2)).axes, mp2.batch_dim_name,
                    dp_mesh.batch_dim_name, mp.get_tensor_layout("nothing")))
        with pytest.raises(ValueError):
            lib.ModelParallel()
        with pytest.raises(ValueError):
            lib.ModelParallel(layout_map={"a": ("model",)})
    assert got[0] == got[1]


def test_distribution_errors():
    mesh = kd.DeviceMesh((1, 1), ["data", "model"], devices=["cpu:0"])
    with pytest.raises(ValueError, match="not both"):
        kd.DataParallel(device_mesh=mesh, devices=["cpu:0"])
    with pytest.raises(ValueError, match="batch_dim_name='rows' is not an axis"):
        kd.ModelParallel(layout_map=kd.LayoutMap(mesh), batch_dim_name="rows")
    with pytest.raises(TypeError, match="unexpected keyword"):
        kd.ModelParallel(layout_map=kd.LayoutMap(mesh), devices=["cpu:0"])
    with pytest.raises(ValueError, match="differs from the LayoutMap's mesh"):
        kd.ModelParallel(layout_map=kd.LayoutMap(mesh),
                         device_mesh=kd.DeviceMesh((1,), ["x"], ["cpu:0"]))
    with pytest.raises(ValueError, match="expected a kerax.distribution.Distribution"):
        kd.set_distribution("data_parallel")
    with pytest.warns(UserWarning, match="expects a 1D mesh"):
        kd.DataParallel(device_mesh=mesh)


def test_scope_and_set_distribution_as_keras(keras):
    for lib in (kd, keras.distribution):
        first, second = lib.DataParallel(devices=["cpu:0"]), lib.DataParallel(devices=["cpu:0"])
        assert lib.distribution() is None
        with first.scope():
            assert lib.distribution() is first
            with second.scope():
                assert lib.distribution() is second
            assert lib.distribution() is first
        assert lib.distribution() is None
        lib.set_distribution(first)
        assert lib.distribution() is first
        lib.set_distribution(None)


def test_initialize_reads_keras_environment_variables(monkeypatch, keras):
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: calls.append(kw))
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "10.0.0.1:1234,10.0.0.2:2345")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    kd.initialize()
    keras.distribution.initialize()
    kd.initialize("10.0.0.9:1", num_processes=1, process_id=0)  # arguments win
    keras.distribution.initialize("10.0.0.9:1", num_processes=1, process_id=0)
    assert calls[0] == calls[1] == {"coordinator_address": "10.0.0.1:1234",
                                    "num_processes": 2, "process_id": 1}
    assert calls[2] == calls[3]
    for lib in (kd, keras.distribution):
        with pytest.raises(ValueError):
            lib.initialize("a:1,b:2,c:3", num_processes=2, process_id=0)
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="KERAS_DISTRIBUTION_NUM_PROCESSES='two'"):
        kd.initialize()


def test_variable_layout_argument_without_a_distribution():
    mesh = kd.DeviceMesh((1,), ["model"], devices=["cpu:0"])
    v = kerax.Variable(np.ones((2, 3), "float32"), layout=kd.TensorLayout((None, "model"), mesh))
    assert v.value.sharding.spec == jax.sharding.PartitionSpec(None, "model")
    v.assign(np.zeros((2, 3)))  # keeps its layout
    assert v.value.sharding.spec == jax.sharding.PartitionSpec(None, "model")
    with pytest.raises(ValueError, match="has no device mesh|device mesh is not set"):
        kerax.Variable(np.ones(2, "float32"), layout=kd.TensorLayout(("model",)))


def test_one_device_data_parallel_training_and_saving(tmp_path):
    """The whole path on a 1-device mesh, in this process: placement, a
    compiled custom loop, metric state, saving and loading elsewhere."""
    x = np.random.RandomState(0).randn(8, 3).astype("float32")
    y = np.random.RandomState(1).randn(8, 2).astype("float32")

    def train(dist):
        kerax.utils.set_random_seed(0)
        model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(2)])
        opt = kerax.optimizers.Adam(0.01)
        metric = kerax.metrics.Mean()

        @kerax.function
        def step(x, y):
            loss, grads = kerax.value_and_grad(
                lambda: kerax.ops.mean((model(x) - y) ** 2), model.trainable_variables)()
            opt.apply_gradients(zip(grads, model.trainable_variables))
            metric.update_state(loss)
            return loss

        return model, opt, metric, [float(step(x, y)) for _ in range(2)]

    ref = train(None)
    with kd.DataParallel(devices=["cpu:0"]).scope():
        model, opt, metric, losses = train(kd.distribution())
        for v in model.variables + opt.variables + metric.variables:
            assert isinstance(v.value.sharding, jax.sharding.NamedSharding), v.path
        model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(losses, ref[3], rtol=1e-6)
    loaded = kerax.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_distribute_tensor_and_data_input():
    mesh = kd.DeviceMesh((1,), ["batch"], devices=["cpu:0"])
    out = kd.distribute_tensor(np.ones((2, 3), "float32"), kd.TensorLayout(["batch", None], mesh))
    assert out.sharding.spec == jax.sharding.PartitionSpec("batch", None)
    assert kd.distribute_tensor(out, out.sharding) is out  # already laid out
    with pytest.raises(ValueError, match="has no device mesh"):
        kd.distribute_tensor(np.ones(2), kd.TensorLayout(["batch"]))
    with pytest.raises(ValueError, match="3 axes but the value has shape"):
        kd.distribute_tensor(np.ones(2), kd.TensorLayout(["batch", None, None], mesh))
    kt = kerax.Input((3,))
    assert kd.distribute_tensor(kt, kd.TensorLayout(["batch", None], mesh)) is kt
    arr = kd.distribute_data_input(np.ones((4, 2)), kd.TensorLayout(["batch", None], mesh))
    assert arr.shape == (4, 2) and arr.sharding.spec == jax.sharding.PartitionSpec("batch", None)


@pytest.mark.parametrize("module", ["kerax.distribution", "kerax.distribution.devices",
                                    "kerax.distribution.layouts",
                                    "kerax.distribution.distributions"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_kerax_function_distributes_nested_inputs():
    """Dict/tuple arguments (as users pass them) are placed leaf by leaf;
    scalars are replicated; Python values stay static."""
    seen = []

    @kerax.function
    def f(batch, scale, shift):
        seen.append(shift)
        return {"y": batch["x"] * scale + batch["pair"][0] + shift}

    x = np.arange(6, dtype="float32").reshape(3, 2)
    ref = f({"x": x, "pair": (x, x)}, np.float32(2.0), 1.0)["y"]
    with kd.DataParallel(devices=["cpu:0"]).scope():
        out = f({"x": x, "pair": (x, x)}, np.float32(2.0), 1.0)["y"]
        again = f({"x": x, "pair": (x, x)}, np.float32(2.0), 1.0)["y"]
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref))
    np.testing.assert_allclose(np.asarray(again), np.asarray(ref))
    assert isinstance(out.sharding, jax.sharding.NamedSharding)
    assert seen == [1.0, 1.0]  # traced once without and once under the distribution
