"""evaluate/predict over NumPy arrays: misaligned host batches are read in
place through shifted views (or, where a view would reach into another
memory page, copied through reused aligned buffers; XLA's CPU client reads
only aligned arrays in place), with results equal to a NumPy forward pass
whatever the alignment, however many times the buffers are reused; metric
resets share zero buffers that a later training step's donation does not
destroy."""
import numpy as np
from jax.tree_util import tree_leaves as jax_leaves
import pytest

import kerax
from kerax.metrics.metric import zeros_of
from kerax.trainers import engine as engine_mod
from kerax.trainers import trainer as trainer_mod

N, BATCH, D = 1000, 16, 40


def aligned(a, offset):
    """A copy of `a` whose data starts `offset` bytes past a 64-byte boundary."""
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset
    return out


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, D)).astype(np.float32)
    y = rng.integers(0, 3, N).astype(np.int32)
    kerax.utils.set_random_seed(1)
    model = kerax.Sequential([kerax.Input((D,)), kerax.layers.Dense(8, activation="relu"),
                              kerax.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, x, y


def numpy_forward(model, x):
    w1, b1, w2, b2 = model.get_weights()
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_scores(model, x, y):
    p = numpy_forward(model, x)
    q = np.clip(p, 1e-7, 1 - 1e-7)
    loss = float(np.mean(-np.log(q[np.arange(len(y)), y])))
    return loss, float(np.mean(p.argmax(-1) == y))


@pytest.mark.parametrize("offset", [0, 16])
def test_predict_and_evaluate_equal_numpy_whatever_the_alignment(setup, monkeypatch, offset):
    model, x, y = setup
    # small groups: the three staging buffers are reused many times in one call
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 8 * BATCH * D * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    xs, ys = aligned(x, offset), aligned(y, offset)
    copied, shifted = [], []
    real = engine_mod.Staging.stage

    def stage(self, batches, start=0):
        out = real(self, batches, start)
        pairs = zip(jax_leaves(out[0]), jax_leaves(batches))
        copied.append(any(o is not i and not in_memory_of(o, i) for o, i in pairs))
        shifted.append(out[1] is not None)
        return out
    monkeypatch.setattr(engine_mod.Staging, "stage", stage)
    for _ in range(2):  # the second call reuses the first call's warm buffers
        np.testing.assert_allclose(model.predict(xs, batch_size=BATCH, verbose=0),
                                   numpy_forward(model, x), rtol=1e-5, atol=1e-6)
        loss, acc = model.evaluate(xs, ys, batch_size=BATCH, verbose=0)
        want = numpy_scores(model, x, y)
        np.testing.assert_allclose([loss, acc], want, rtol=1e-5)
    # every group is read in place: misaligned ones through shifted views (a
    # view reaching into another page is copied: rare)
    assert sum(copied) <= len(copied) // 4
    if offset:
        assert sum(shifted) >= len(shifted) * 3 // 4
    np.testing.assert_array_equal(xs, x)  # the caller's array is untouched


def in_memory_of(view, a):
    """Whether `view`'s data lies within 64 bytes of `a`'s (no copy)."""
    lo, hi = a.ctypes.data, a.ctypes.data + a.nbytes
    return lo - 64 < view.ctypes.data and view.ctypes.data + view.nbytes <= hi + 64


def test_misaligned_batches_are_shifted_views_not_copies(setup):
    model, x, _ = setup
    eng = model._engine("predict")
    st = eng.staging()
    src = aligned(x, 16)
    a = src[:512].reshape(32, BATCH, D)
    (out, shifted) = st.stage({"x": a})
    view, off = out["x"], int(shifted.offsets[0])
    assert shifted.mask == (True,)
    assert view.ctypes.data % 64 == 0 and view.ndim == 1 and off * 4 == 16
    assert in_memory_of(view, src)  # the caller's memory, read in place
    np.testing.assert_array_equal(view[off:off + a.size], a.ravel())
    assert view.base.owner is a  # the view keeps the array it reads alive
    # the window of a pass's last group: entries before `start` are not read,
    # the offset still counts from entry 0
    (out2, shifted2) = st.stage({"x": src[256:768].reshape(32, BATCH, D)}, start=10)
    assert int(shifted2.offsets[0]) * 4 == (src[256:].ctypes.data % 64)
    st.dispatched(([], []))
    eng.release_staging(st)


def _placed(nbytes, before_page_end):
    """A float32 (3, 7, 781) array (65,604 bytes) ending `before_page_end`
    bytes before a page boundary."""
    shape = (3, 7, 781)
    size = int(np.prod(shape)) * 4
    pages = size // 4096 + 2
    raw = np.zeros((pages + 1) * 4096, np.uint8)
    end = (-raw.ctypes.data) % 4096 + pages * 4096 - before_page_end
    a = raw[end - size:end].view(np.float32).reshape(shape)
    a[...] = np.arange(a.size, dtype=np.float32).reshape(shape)
    return a, raw


def test_a_view_that_would_reach_into_another_page_is_copied(setup):
    """The view runs 64 bytes past the 64-byte boundary before the data plus
    its size: for data ending 4 bytes before a page boundary and starting 56
    bytes past a 64-byte one, that crosses into the next page, so the group
    is copied (offset 0)."""
    model, _, _ = setup
    st = model._engine("predict").staging()
    a, raw = _placed(65604, 4)
    assert a.ctypes.data % 64 == 56 and a.nbytes >= engine_mod.STAGE_MIN_BYTES
    (out, shifted) = st.stage({"x": a})
    view = out["x"]
    assert shifted.mask == (True,) and int(shifted.offsets[0]) == 0
    assert not in_memory_of(view, raw) and view.ctypes.data % 64 == 0
    np.testing.assert_array_equal(view[:a.size], a.ravel())
    st.done()


def test_an_aligned_group_of_a_shifted_leaf_reads_64_bytes_early(setup):
    """In a pass whose first group was misaligned, an aligned group ending
    right at a page boundary starts its view 64 bytes before its data (on
    the same page)."""
    model, _, _ = setup
    st = model._engine("predict").staging()
    shape = (32, BATCH, 41)
    size = int(np.prod(shape)) * 4  # 83,968 bytes: 20.5 pages
    src = np.arange(size // 4, dtype=np.float32).reshape(shape)
    st.stage({"x": aligned(src, 16)})  # shifted mode for this pass
    raw = np.zeros(size + 2 * 4096, np.uint8)
    end = (-raw.ctypes.data) % 4096 + 21 * 4096  # ends on a page boundary
    a = raw[end - size:end].view(np.float32).reshape(shape)
    a[...] = src
    assert a.ctypes.data % 64 == 0 and a.ctypes.data % 4096 >= 64
    (out, shifted) = st.stage({"x": a})
    view, off = out["x"], int(shifted.offsets[0])
    assert off * 4 == 64 and in_memory_of(view, raw)
    np.testing.assert_array_equal(view[off:off + a.size], a.ravel())
    st.done()


def test_copy_buffers_are_aligned_and_reused(setup, monkeypatch):
    """Leaves that cannot be shifted (not contiguous) are copied into aligned
    buffers, kept warm between passes and shared by every model's engines."""
    model, x, y = setup
    monkeypatch.setattr(engine_mod, "_STAGING_POOL", [])  # no idle sets from other tests
    eng = model._engine("predict")
    st = eng.staging()
    wide = np.repeat(x[:512], 2, axis=1)  # (512, 2 D)
    a = wide.reshape(32, BATCH, 2 * D)[:, :, ::2]  # every other column: a strided view
    assert not a.flags.c_contiguous and a.nbytes >= engine_mod.STAGE_MIN_BYTES
    bufs = []
    for _ in range(len(st.slots)):  # one group per slot
        (out, shifted) = st.stage({"x": a})
        bufs.append(out["x"])
        assert shifted is None and bufs[-1].ctypes.data % 64 == 0
        np.testing.assert_array_equal(bufs[-1], a)
        st.dispatched(([], []))
    eng.release_staging(st)
    again = eng.staging()
    assert again is st  # warm buffers kept between passes
    (out, _) = again.stage({"x": a})
    assert any(out["x"] is b for b in bufs)  # one of them, refilled
    again.dispatched(([], []))
    eng.release_staging(again)
    other = model._engine("test").staging()
    assert other is st  # and shared by the engines of every model
    eng.release_staging(other)


def test_shared_zero_buffers_survive_training(setup):
    model, x, y = setup
    model.evaluate(x, y, batch_size=BATCH, verbose=0)  # metrics reset to shared zeros
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # donates the metric state
    assert float(np.asarray(zeros_of((), "float32"))) == 0.0
    loss, acc = model.evaluate(x, y, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)


def test_device_arrays_are_read_in_place(setup, monkeypatch):
    """jax.Array inputs to evaluate/predict are read where they are (no
    padded device copy); the results equal NumPy's."""
    import jax.numpy as jnp
    from kerax.trainers import data_adapter as da
    model, x, y = setup
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    xd, yd = jnp.asarray(x), jnp.asarray(y)
    seen = []
    real = da.ArrayData.on_device

    def on_device(self):
        out = real(self)
        seen.append(out.arrays)
        return out
    monkeypatch.setattr(da.ArrayData, "on_device", on_device)
    np.testing.assert_allclose(model.predict(xd, batch_size=BATCH, verbose=0),
                               numpy_forward(model, x), rtol=1e-5, atol=1e-6)
    assert seen and jax_leaves(seen[-1])[0] is xd
    loss, acc = model.evaluate(xd, yd, batch_size=BATCH, verbose=0)
    assert jax_leaves(seen[-1])[0] is xd and jax_leaves(seen[-1])[1] is yd
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)
    # an ordered pass: the programs compute their row indices (no index array)
    for mode in ("predict", "test"):
        kinds = {key[0] for key in model._engine(mode)._compiled}
        assert "rows" in kinds and "gather" not in kinds, kinds


def test_unshuffled_fit_reads_consecutive_rows(monkeypatch):
    """fit(shuffle=False) gathers consecutive rows with computed indices;
    the weights equal one step per dispatch over the same batches."""
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(200, D)).astype(np.float32)
    y = rng.normal(size=(200, 1)).astype(np.float32)

    def trained(spe):
        kerax.utils.set_random_seed(10)
        model = kerax.Sequential([kerax.Input((D,)), kerax.layers.Dense(4, activation="relu"),
                                  kerax.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", steps_per_execution=spe)
        model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
        return model
    grouped, single = trained(None), trained(1)
    assert any(key[0] == "rows" for key in grouped._engine("train")._compiled)
    for a, b in zip(grouped.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_staging_leaves_non_numeric_arrays_alone(setup):
    model, _, _ = setup
    st = model._engine("predict").staging()
    strings = np.array(["a"] * 40000, dtype=object).reshape(4, 10000)
    src = aligned(np.arange(40000, dtype=np.int32), 16)
    ints = src.reshape(4, 10000)
    (out, shifted) = st.stage({"s": strings, "i": ints})
    assert out["s"] is strings  # object arrays are not raw memory to read
    assert shifted.mask == (True, False)  # leaves in key order: "i", "s"
    view, off = out["i"], int(shifted.offsets[0])
    assert view.ctypes.data % 64 == 0 and in_memory_of(view, src)
    np.testing.assert_array_equal(view[off:off + ints.size], ints.ravel())
    st.done()


def test_one_program_per_pass_whatever_each_group_alignment(monkeypatch):
    """Batches of 5 rows of 40 bytes, groups of 3 (600 bytes): the groups of
    one pass start at every alignment (some on a 64-byte boundary); the pass
    still runs one grouped program, and its results equal NumPy's."""
    batch = 5
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 3 * batch * 10 * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    rng = np.random.default_rng(7)
    x = aligned(rng.normal(size=(N, 10)).astype(np.float32), 16)
    kerax.utils.set_random_seed(8)
    model = kerax.Sequential([kerax.Input((10,)), kerax.layers.Dense(2)])
    model.compile(loss="mse")
    w, b = model.get_weights()
    seen = []
    real = engine_mod.Staging.stage

    def stage(self, batches, start=0):
        out = real(self, batches, start)
        seen.append((jax_leaves(batches)[0].ctypes.data % 64, out[1] is not None))
        return out
    monkeypatch.setattr(engine_mod.Staging, "stage", stage)
    got = model.predict(x, batch_size=batch, verbose=0)
    np.testing.assert_allclose(got, x @ w + b, rtol=1e-5, atol=1e-5)
    groups = seen
    assert {a for a, _ in groups} >= {0, 16}  # groups at several alignments
    assert all(shifted for _, shifted in groups), groups  # all through the one shifted program
    eng = model._engine("predict")
    grouped = [k for k in eng._compiled if k[0] == "stacked" and k[1] > 1]
    assert len(grouped) == 1, grouped


def test_grouped_fit_on_a_dataset_of_staged_batches(monkeypatch):
    """fit over a PyDataset: host batches go through the staging buffers while
    the state is donated from dispatch to dispatch; the staging waits on the
    logs, never on donated buffers, and training equals one step at a time."""
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 4 * BATCH * D * 4)
    rng = np.random.default_rng(3)
    x = aligned(rng.normal(size=(320, D)).astype(np.float32), 16)
    y = rng.normal(size=(320, 1)).astype(np.float32)

    class Batches(kerax.utils.PyDataset):
        def __len__(self):
            return 320 // BATCH

        def __getitem__(self, i):
            return x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    def trained(spe):
        kerax.utils.set_random_seed(4)
        model = kerax.Sequential([kerax.Input((D,)), kerax.layers.Dense(4, activation="relu"),
                                  kerax.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", steps_per_execution=spe)
        model.fit(Batches(), epochs=3, verbose=0)
        return model.get_weights()

    for a, b in zip(trained("auto"), trained(1)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dict_inputs_of_misaligned_arrays(monkeypatch):
    """A two-input model fed a dict of misaligned arrays (each staged on its
    own), twice in one process: predict and evaluate equal NumPy's."""
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 8 * BATCH * D * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    rng = np.random.default_rng(5)
    a = aligned(rng.normal(size=(N, D)).astype(np.float32), 16)
    b = aligned(rng.normal(size=(N, 3)).astype(np.float32), 48)
    y = rng.normal(size=(N, 1)).astype(np.float32)
    kerax.utils.set_random_seed(6)
    ia, ib = kerax.Input((D,), name="a"), kerax.Input((3,), name="b")
    out = kerax.layers.Dense(1)(kerax.layers.Concatenate()([ia, ib]))
    model = kerax.Model({"a": ia, "b": ib}, out)
    model.compile(optimizer="sgd", loss="mse")
    w, bias = model.get_weights()
    want = np.concatenate([a, b], axis=1) @ w + bias
    for _ in range(2):
        got = model.predict({"a": a, "b": b}, batch_size=BATCH, verbose=0)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        loss = model.evaluate({"a": a, "b": b}, y, batch_size=BATCH, verbose=0)
        np.testing.assert_allclose(loss, np.mean((want - y) ** 2), rtol=1e-5)


def test_read_only_memory_mapped_data(setup, tmp_path, monkeypatch):
    """A dataset memory-mapped read-only from a file (16 bytes into it, so
    misaligned): evaluate and predict read it in place (shifted views) and
    equal NumPy."""
    model, x, y = setup
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 8 * BATCH * D * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    shifted = []
    real = engine_mod.Staging.stage

    def stage(self, batches, start=0):
        out = real(self, batches, start)
        shifted.append(out[1] is not None)
        return out
    monkeypatch.setattr(engine_mod.Staging, "stage", stage)
    path = tmp_path / "x.bin"
    with open(path, "wb") as f:
        f.write(b"\0" * 16)
        f.write(x.tobytes())
    xm = np.memmap(path, dtype=np.float32, mode="r", offset=16, shape=x.shape)
    assert not xm.flags.writeable and xm.ctypes.data % 64 != 0
    np.testing.assert_allclose(model.predict(xm, batch_size=BATCH, verbose=0),
                               numpy_forward(model, x), rtol=1e-5, atol=1e-6)
    loss, acc = model.evaluate(xm, y, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)
    assert sum(shifted) >= len(shifted) * 3 // 4
    del xm


def test_no_device_slicing_before_the_first_dispatch(setup, monkeypatch):
    """evaluate/predict on a built model over jax.Arrays read shapes only
    before dispatching (no eager slice of the arrays: each would be a device
    operation), and the partial last batch is read by the program."""
    import jax.numpy as jnp
    from kerax.trainers import data_adapter as da
    model, x, y = setup
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    model.evaluate(x, y, batch_size=BATCH, verbose=0)  # built, compiled
    calls = []
    for name in ("first_batch", "host_batch"):
        real = getattr(da.ArrayData, name)
        monkeypatch.setattr(da.ArrayData, name,
                            lambda self, *a, _r=real, _n=name: calls.append(_n) or _r(self, *a))
    xd, yd = jnp.asarray(x), jnp.asarray(y)
    loss, acc = model.evaluate(xd, yd, batch_size=BATCH, verbose=0)
    got = model.predict(xd, batch_size=BATCH, verbose=0)
    assert calls == []
    assert N % BATCH  # a partial last batch was part of both passes
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)
    np.testing.assert_allclose(got, numpy_forward(model, x), rtol=1e-5, atol=1e-6)


def test_blocks_too_large_for_int32_offsets_are_sliced(setup, monkeypatch):
    """Item offsets are computed in int32: a block with more items than that
    is not shifted and its steps are slices of the stack (here the bound is
    lowered to a few items); the results equal NumPy's."""
    model, x, y = setup
    monkeypatch.setattr(engine_mod, "_INT32_ITEMS", 100)
    monkeypatch.setattr(trainer_mod, "GROUP_BYTES", 8 * BATCH * D * 4)
    monkeypatch.setattr(engine_mod, "STAGE_MIN_BYTES", 1)
    monkeypatch.setattr(trainer_mod, "MIN_GROUPED_STEPS", 1)
    eng = model._engine("predict")
    eng._compiled.clear()
    xs = aligned(x, 16)
    np.testing.assert_allclose(model.predict(xs, batch_size=BATCH, verbose=0),
                               numpy_forward(model, x), rtol=1e-5, atol=1e-6)
    assert all(key[-1] is None for key in eng._compiled if key[0] == "stacked")  # not shifted
    eng._compiled.clear()  # programs traced under the lowered bound
    model._engine("test")._compiled.clear()
    loss, acc = model.evaluate(xs, y, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose([loss, acc], numpy_scores(model, x, y), rtol=1e-5)
    model._engine("test")._compiled.clear()
