"""The compiled step programs of fit/evaluate/predict: `jit(lax.scan(program.body))`
for a fixed `steps_per_execution=k`, and, for compile()'s default grouping, a
`jit` of a `fori_loop` whose bounds are arguments (`run_indexed(..., n,
start)` / `run_batches(..., n, start)`): one program runs any number of steps
up to its group size.

A step (`model.train_step(data)`, overridable in the stateful Keras style, or
in Keras' JAX style `train_step(state, data)`, which the trainer wraps into a
stateful step that reads and assigns the Variables) is traced once per batch
signature by the one trace-and-replay of kerax
(`kerax.core.trace`, as `kerax.function`): the Variables it assigns become the
scan carry, the ones it only reads are loop constants, and the recorded
program is replayed `k` times per dispatch.

Buffers and threads:

- Only the training engine donates, and only the buffers of the Variables
  its step assigns (weights, optimizer slots, metrics). evaluate and predict
  never donate: several threads may run them on one model at once.
- Every dispatch reads the Variables' buffers, launches the program and stores
  the new buffers as one step under a process-wide readers/writer lock:
  donating (training) dispatches are exclusive, the others share it. So a
  `predict` in one thread sees whole weights (before or after a training
  step) while another thread trains, even a model that shares layers with it.
- The engine keeps no reference to the data it ran on: the caller owns the
  device copy of its arrays and drops it when its call ends. A gather program
  is compiled per padded data length (see `data_adapter.padded_rows`), not per
  dataset length.

Under a distribution (`kerax.distribution.distribution()`), each program is
compiled for it: the state carry keeps every variable's sharding
(`state_shardings`, jit's out_shardings; donation unchanged), and each batch is
split along the mesh's batch axis, so XLA inserts the gradient all-reduce of
data parallelism and the collectives of sharded weights. The data path:

- gathered batches (fit's in-memory arrays): the padded device copy is
  replicated on the mesh once per call and the (steps, batch) index array is
  split along the batch axis, so each device gathers its own rows, with no
  communication; a `batch_size` the data axis does not divide is an error.
- stacked host batches (evaluate/predict streams, generators, partial last
  batches) are placed split as `P(None, batch_axis)`; a partial batch the data
  axis does not divide runs whole on every device (same result, not split).
- in a multi-process run each process gathers its own rows on the host and
  the global batch is assembled from every process's part
  (`jax.make_array_from_process_local_data`): a global batch is
  `process_count` local batches.
"""
import functools
import math
import operator
import threading

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from kerax.core.gc_pause import PausedFirstCall
from kerax.core.trace import trace
from kerax.distribution import distribution

__all__ = ["StepEngine", "DeviceArrays", "Staging"]


def _signature(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(a.shape), str(a.dtype)) for a in leaves)


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers.
    Uncontended, a dispatch pays one mutex round trip each way."""

    def __init__(self):
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0
        self._sleepers = 0

    def _wait_while(self, busy):
        self._sleepers += 1
        try:
            while busy():
                self._cond.wait()
        finally:
            self._sleepers -= 1

    def acquire(self, write):
        with self._mutex:
            if write:
                if self._writer or self._readers:
                    self._waiting_writers += 1
                    try:
                        self._wait_while(lambda: self._writer or self._readers)
                    finally:
                        self._waiting_writers -= 1
                self._writer = True
            else:
                if self._writer or self._waiting_writers:
                    self._wait_while(lambda: self._writer or self._waiting_writers)
                self._readers += 1

    def release(self, write):
        with self._mutex:
            if write:
                self._writer = False
            else:
                self._readers -= 1
            if self._sleepers:
                self._cond.notify_all()


_DISPATCH = _ReadWriteLock()  # process-wide: Variables may be shared by models


class DeviceArrays:
    """Arrays on the device for `StepEngine.run_indexed`, with their
    signature computed once (not on every dispatch).

    >>> import jax.numpy as jnp
    >>> d = DeviceArrays((jnp.zeros((64, 3)), jnp.zeros((64,), "int32")))
    >>> [shape for shape, dtype in d.signature[1]]
    [(3,), ()]
    """

    __slots__ = ("arrays", "signature", "_placed")

    def __init__(self, arrays):
        self.arrays = arrays
        leaves, treedef = jax.tree_util.tree_flatten(arrays)
        self.signature = (treedef, tuple((tuple(a.shape[1:]), a.dtype) for a in leaves))
        self._placed = None

    def replicated_on(self, mesh):
        """The arrays replicated on every device of `mesh` (made once per mesh;
        the single-device copy is dropped)."""
        if self._placed is None or self._placed[0] is not mesh:
            self.arrays = jax.device_put(self.arrays, NamedSharding(mesh, PartitionSpec()))
            self._placed = (mesh, self.arrays)
        return self._placed[1]


ALIGN = 64  # bytes: XLA's CPU client uses a NumPy buffer this aligned without a copy
STAGE_MIN_BYTES = 64 << 10  # smaller batches are copied by the transfer itself, cheaply


PAGE = 4096  # bytes: the smallest memory page of the platforms XLA runs on


def _memory_at(address, count, dtype, owner):
    """`count` items of `dtype` at `address`, as a NumPy array that keeps
    `owner` (the object the memory belongs to) alive; no copy."""
    import ctypes
    raw = (ctypes.c_char * (count * np.dtype(dtype).itemsize)).from_address(address)
    raw.owner = owner  # the view -> raw -> owner: alive as long as the view is
    return np.frombuffer(raw, dtype=dtype, count=count)


class Shifted:
    """Which staged leaves are `Staging.stage`'s shifted views, and where
    each one's data starts in it (items): the program reads its batches
    out of the view at those offsets."""

    __slots__ = ("mask", "offsets")

    def __init__(self, mask, offsets):
        self.mask = mask
        self.offsets = offsets


class Staging:
    """Host batches made readable in place by XLA's CPU client, over one pass.

    XLA's CPU client reads a 64-byte-aligned NumPy array in place and copies
    any other one into freshly allocated memory on every dispatch; NumPy's
    large arrays usually start 16 bytes past a 64-byte boundary, so every
    group of batches paid an allocation, page faults and a copy (measured: a
    31 MB array 14 ms misaligned against 8 us aligned).

    A large misaligned NumPy leaf (C-contiguous, its items aligned) is passed
    *shifted*: the dispatch gets a flat view of the same memory that starts
    at the 64-byte boundary at or before the data and runs 64 bytes past
    that boundary plus the data's size (an aligned group's view may instead
    start 64 bytes early), and the offset of the data in it; the program
    reads each step's batch at that offset. No byte is copied. The view
    only reaches into memory pages the data itself lies on (where it would
    reach into another page, that group is copied into an aligned buffer
    instead, offset 0), and nothing outside the data is ever used. The view
    keeps the array it reads alive, and XLA keeps the view until the
    dispatch is done.

    Whether a leaf is shifted is decided on its first group of the pass (one
    program per pass); the other large misaligned leaves (not contiguous,
    or a leaf first seen aligned) are copied into one of `slots` reused
    aligned buffers. A buffer is reused only after the dispatch that read it
    has finished (its outputs are ready), so a running program never sees its
    input change.

    >>> import numpy as np
    >>> st = Staging()
    >>> a = np.arange(40000, dtype=np.float32)[1:].reshape(3, 13333)  # 4 bytes off
    >>> out, shifted = st.stage({"x": a})
    >>> view, off = out["x"], int(shifted.offsets[0])
    >>> view.ctypes.data % 64, bool((view[off:off + a.size] == a.ravel()).all())
    (0, True)
    """

    def __init__(self, slots=3):
        # per slot: {leaf position: aligned buffer}, the outputs of the
        # dispatch that last read it
        self.slots = [[{}, None] for _ in range(max(2, slots))]
        self.turn = 0
        self._current = None
        self._shift = {}  # leaf position -> shifted? (decided once per pass)

    @staticmethod
    def _large(a):
        return (isinstance(a, np.ndarray) and a.dtype.kind in "biufc"
                and a.nbytes >= STAGE_MIN_BYTES)

    @classmethod
    def _misaligned(cls, a):
        return cls._large(a) and (a.ctypes.data % ALIGN or not a.flags.c_contiguous)

    @staticmethod
    def _shiftable(a):
        size = a.dtype.itemsize
        return (a.ndim >= 1 and a.shape[0] >= 1 and a.flags.c_contiguous
                and ALIGN % size == 0 and a.ctypes.data % size == 0
                and a.size < _INT32_ITEMS)

    def stage(self, batches, start=0):
        """(`batches` as the dispatch reads them, `Shifted` or None). Large
        misaligned NumPy leaves are shifted views of their memory (see the
        class doc) or aligned copies in the next slot (waiting for that
        slot's last dispatch). Only entries `start:` of the leading (step)
        axis are copied: the dispatch reads no earlier one (the last group
        of a pass is a window whose first entries belong to the group
        before)."""
        leaves, treedef = jax.tree_util.tree_flatten(batches)
        if not self._shift:  # the pass's first group decides
            self._shift = {i: self._misaligned(a) and self._shiftable(a)
                           for i, a in enumerate(leaves)}
        shift = [self._shift.get(i, False) for i in range(len(leaves))]
        self._current = None
        if not any(shift) and not any(self._misaligned(a) for a in leaves):
            return batches, None
        out, offsets = [], []
        for i, a in enumerate(leaves):
            off = 0
            if shift[i]:
                view = self._view(a)
                if view is None:
                    a = self._copy(i, np.ravel(a), a.nbytes + ALIGN, start * (
                        a.size // a.shape[0] if a.shape[0] else 0))
                else:
                    a, off = view
            elif self._misaligned(a):
                a = self._copy(i, a, None, start)
            out.append(a)
            offsets.append(off)
        staged = jax.tree_util.tree_unflatten(treedef, out)
        if not any(shift):
            return staged, None
        return staged, Shifted(tuple(shift), np.asarray(offsets, np.int32))

    def _view(self, a):
        """(flat view of `a`'s memory from the 64-byte boundary at or before
        it to 64 bytes past that boundary plus `a.nbytes` -- or, for an
        aligned `a`, from 64 bytes before it to its end -- and the offset of
        `a` in it, in items), or None where the view would reach into a page
        `a` does not touch, or `a` does not fit the rule."""
        if not (self._large(a) and self._shiftable(a)):
            return None
        size = a.dtype.itemsize
        count = (a.nbytes + ALIGN) // size
        first = a.ctypes.data
        base = first - first % ALIGN  # on the page of `first`
        if (base + count * size - 1) // PAGE != (first + a.nbytes - 1) // PAGE:
            if first % ALIGN or (first - ALIGN) // PAGE != first // PAGE:
                return None
            base = first - ALIGN
        return _memory_at(base, count, a.dtype, a), (first - base) // size

    def _copy(self, i, a, flat_bytes, start):
        """`a` copied into leaf `i`'s aligned buffer in this dispatch's slot
        (entries `start:` of its leading axis); with `flat_bytes`, `a` is
        flat and the buffer a flat one of that many bytes."""
        slot = self._current
        if slot is None:
            slot = self._current = self.slots[self.turn % len(self.slots)]
            self.turn += 1
            if slot[1] is not None:
                jax.block_until_ready(slot[1])  # the dispatch that read this slot is done
                slot[1] = None
        shape = a.shape if flat_bytes is None else (flat_bytes // a.dtype.itemsize,)
        buf = slot[0].get(i)
        if buf is None or buf.shape != shape or buf.dtype != a.dtype:
            buf = slot[0][i] = _aligned_empty(shape, a.dtype)
        if flat_bytes is None:
            np.copyto(buf[start:], a[start:])
        else:
            np.copyto(buf[start:a.size], a[start:])
        return buf

    def dispatched(self, outputs):
        """Record the outputs of the dispatch that read the staged buffers."""
        if self._current is not None:
            self._current[1] = outputs
            self._current = None

    def done(self):
        """The pass is over: wait for the dispatches still reading buffers
        (so the next pass may reuse them) and forget their outputs."""
        for slot in self.slots:
            if slot[1] is not None:
                jax.block_until_ready(slot[1])
                slot[1] = None
        self._current = None
        self._shift = {}


def _aligned_empty(shape, dtype):
    """An uninitialised array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    return raw[off:off + nbytes].view(dtype).reshape(shape)


_STAGING_POOL = []  # idle Staging sets, warm, shared by all engines
_STAGING_LOCK = threading.Lock()
_STAGING_IDLE = 2


def _batch_axis_size(dist):
    return dist.device_mesh.axis_size(dist.batch_dim_name)


def _stacked_sharding(dist, ndim):
    """(steps, batch, ...) split along the batch axis."""
    return NamedSharding(dist.mesh, PartitionSpec(None, dist.batch_dim_name, *[None] * (ndim - 2)))


def _place_stacked(dist, batches):
    """Host (or device) batches stacked as (steps, batch, ...) -> arrays split
    along the mesh's batch axis (in a multi-process run, `batches` are this
    process's rows of every global batch)."""
    parts = _batch_axis_size(dist)
    multi = jax.process_count() > 1

    def place(a):
        if a.ndim < 2:
            return jax.device_put(a, NamedSharding(dist.mesh, PartitionSpec()))
        if multi:
            return jax.make_array_from_process_local_data(_stacked_sharding(dist, a.ndim),
                                                          np.asarray(a))
        if a.shape[1] % parts:  # a partial batch: whole on every device
            return jax.device_put(a, NamedSharding(dist.mesh, PartitionSpec()))
        return jax.device_put(a, _stacked_sharding(dist, a.ndim))
    return jax.tree_util.tree_map(place, batches)


def _check_batch_size(dist, b):
    parts = _batch_axis_size(dist)
    if b % parts:
        raise ValueError(
            f"batch_size={b} cannot be split over the {parts} devices of the mesh's batch axis "
            f"{dist.batch_dim_name!r} ({dist!r}): use a batch_size that is a multiple of "
            f"{parts}.")


def _constrain_batch(dist, batch):
    """A gathered batch laid out split along the batch axis."""
    parts = _batch_axis_size(dist)

    def one(a):
        if a.ndim == 0 or a.shape[0] % parts:
            return a
        spec = PartitionSpec(dist.batch_dim_name, *[None] * (a.ndim - 1))
        return jax.lax.with_sharding_constraint(a, NamedSharding(dist.mesh, spec))
    return jax.tree_util.tree_map(one, batch)


def _picker(positions):
    """`values -> [values[i] for i in positions]`, at C speed."""
    if len(positions) >= 2:
        get = operator.itemgetter(*positions)
        return lambda values: list(get(values))
    if positions:
        i = positions[0]
        return lambda values: [values[i]]
    return lambda values: []


_INT32_ITEMS = 2 ** 31 - 2 * ALIGN  # item offsets computed in int32 stay below this


def _take_rows(a, rows):
    """`a[rows]` (rows: int indices, all in range) as one gather with no
    out-of-range handling (`jnp.take`'s default masks each row)."""
    dims = jax.lax.GatherDimensionNumbers(offset_dims=tuple(range(1, a.ndim)),
                                          collapsed_slice_dims=(0,), start_index_map=(0,))
    return jax.lax.gather(a, rows[:, None], dims, (1,) + tuple(a.shape[1:]),
                          mode="promise_in_bounds")


def _step_rows(a, i, shape, offset=None):
    """Step `i`'s batch (`shape`: rows first) out of `a`: stacked batches
    (steps, *shape), or, with `offset`, a flat view holding them from item
    `offset` on -- as a gather of the batch's rows."""
    if offset is None and (not shape or a.size >= _INT32_ITEMS):
        # a scalar per step, or too many items for int32 offsets: a slice
        return jax.lax.dynamic_index_in_dim(a, i, 0, False)
    if not shape:
        return jax.lax.dynamic_index_in_dim(a, offset + i, 0, False)
    rows, row = shape[0], math.prod(shape[1:])
    if offset is None:
        offset, a = 0, a.reshape(-1)
    starts = offset + (i * rows + jnp.arange(rows, dtype=jnp.int32)) * row
    dims = jax.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(),
                                          start_index_map=(0,))
    out = jax.lax.gather(a, starts[:, None], dims, (row,), mode="promise_in_bounds")
    return out.reshape(shape)


class StepEngine:
    """Compiles and runs `step_fn` over blocks of `k` batches.

    donate: whether dispatches donate the assigned Variables' buffers (True
    for training; evaluate/predict keep them so concurrent calls are safe).
    lock: guards tracing and compiling (one per model, shared by its engines).
    """

    def __init__(self, step_fn, collect_outputs=False, name="train", donate=None, lock=None):
        self.step_fn = step_fn
        self.collect = collect_outputs  # predict: every step's outputs; else the last
        self.name = name
        self.donate = (name == "train") if donate is None else bool(donate)
        self._lock = lock if lock is not None else threading.RLock()
        self._steps = {}     # batch signature -> Program
        self._compiled = {}  # (kind, k, signature) -> (jitted run, Program)

    @staticmethod
    def staging():
        """A `Staging` for one pass: a warm one from earlier passes when one
        is idle (fresh memory costs a page fault on every first touch); give
        it back with `release_staging`. The idle ones are shared by every
        model of the process, at most `_STAGING_IDLE` of them (each holds at
        most its slots x a group's bytes)."""
        with _STAGING_LOCK:
            return _STAGING_POOL.pop() if _STAGING_POOL else Staging()

    @staticmethod
    def release_staging(staging):
        staging.done()
        with _STAGING_LOCK:
            if len(_STAGING_POOL) < _STAGING_IDLE:
                _STAGING_POOL.append(staging)

    def _program(self, batch_struct):
        """The step's Program for this batch signature (traced once)."""
        key = _signature(batch_struct)
        if key not in self._steps:
            leaves, treedef = jax.tree_util.tree_flatten(batch_struct)

            def flat_step(*arrays):
                return self.step_fn(jax.tree_util.tree_unflatten(treedef, list(arrays)))

            self._steps[key] = trace(flat_step, leaves, allow_create=not self._steps,
                                     name=f"{self.name}_step")
        return self._steps[key]

    def _get(self, key, batch_struct, k, gather, dist=None, shift=None):
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is None:
                compiled = self._compile(key, batch_struct(), k, gather, dist, shift)
        return compiled

    def _compile(self, key, batch_struct, k, gather, dist=None, shift=None):
        program = self._program(batch_struct)
        assigned = list(program.assigned)  # the carry; every other variable is read-only
        held = [i for i in range(len(program.variables)) if i not in set(assigned)]
        out_shardings = None
        constrain = None
        if dist is not None:
            # the carry keeps each variable's layout; a gathered batch is split
            # along the batch axis (each device gathers its own rows)
            shardings = dist.state_shardings(program.variables)
            out_shardings = ([shardings[i] for i in assigned], None)
            constrain = functools.partial(_constrain_batch, dist)

        def loop(carry, frozen, consts, xs, get_batch, n=None):
            def one(carry, x):
                values = [None] * len(program.variables)
                for i, v in zip(assigned, carry):
                    values[i] = v
                for i, v in zip(held, frozen):
                    values[i] = v
                values, out = program.body(values, jax.tree_util.tree_leaves(get_batch(x)),
                                           consts)
                return [values[i] for i in assigned], out

            if n is not None:
                return self._dynamic_loop(one, program, carry, xs, n, k)
            if k == 1:  # one step: no loop in the program (compiles faster)
                carry, outs = one(carry, jax.tree_util.tree_map(lambda a: a[0], xs))
                return carry, (jax.tree_util.tree_map(lambda o: o[None], outs)
                               if self.collect else outs)
            carry, outs = jax.lax.scan(one, carry, xs)
            return carry, outs if self.collect else jax.tree_util.tree_map(lambda o: o[-1], outs)

        if gather == "rows":
            b = jax.tree_util.tree_leaves(batch_struct)[0].shape[0]

            def run(carry, frozen, consts, data, first, n=None):
                # entry i's batch: rows first + i * b ... (an ordered pass)
                def get(i):  # row indices (int32 counts rows, not items)
                    rows = first + i * b + jnp.arange(b, dtype=jnp.int32)
                    return jax.tree_util.tree_map(lambda a: _take_rows(a, rows), data)
                return loop(carry, frozen, consts, jnp.arange(k, dtype=jnp.int32), get, n)
        elif gather:
            def get(data, row):
                batch = jax.tree_util.tree_map(lambda a: _take_rows(a, row), data)
                return batch if constrain is None else constrain(batch)

            def run(carry, frozen, consts, data, idx, n=None):
                # each step's batch is gathered inside the loop (no k-batch copy)
                return loop(carry, frozen, consts, idx, lambda row: get(data, row), n)
        elif dist is not None:  # batches split along the mesh's batch axis: sliced
            def run(carry, frozen, consts, batches, n=None):
                return loop(carry, frozen, consts, batches, lambda b: b, n)
        else:
            steps, treedef = jax.tree_util.tree_flatten(batch_struct)
            shift = shift or (False,) * len(steps)

            def run(carry, frozen, consts, batches, *rest):
                # step i's batch: its rows gathered from the stacked batches
                # (or, for a shifted leaf, from the flat view, `offsets[j]`
                # items in; Staging): on XLA's CPU backend a row gather feeds
                # the step ~20% faster than a slice of the stack
                offsets = rest[0] if any(shift) else None
                n = rest[-1] if len(rest) > any(shift) else None
                leaves = jax.tree_util.tree_leaves(batches)

                def get(i):
                    return jax.tree_util.tree_unflatten(treedef, [
                        _step_rows(a, i, spec.shape, offsets[j] if shift[j] else None)
                        for j, (a, spec) in enumerate(zip(leaves, steps))])
                return loop(carry, frozen, consts, jnp.arange(k, dtype=jnp.int32), get, n)

        jitted = jax.jit(run, donate_argnums=(0,) if self.donate else (),
                         out_shardings=out_shardings)

        def swap(fn):  # after the first call: the jitted function itself
            entry = self._compiled.get(key)
            if entry is not None and entry[0] is first:
                self._compiled[key] = (fn,) + entry[1:]

        first = PausedFirstCall(jitted, swap)
        self._compiled[key] = (first, program, _picker(assigned), _picker(held))
        return self._compiled[key]

    def _dynamic_loop(self, one, program, carry, xs, span, size):
        """Run entries `span[0]` to `span[1] - 1` (traced bounds within
        `size`) of the `size` entries of `xs` in a while loop: one program
        serves every group size up to `size`, so the groups of an epoch (and
        its leftover group) share one compile. Returns what a scan over those
        entries returns: the last step's outputs, or (predict) every step's in
        a `size`-row buffer whose rows `span[0]:span[1]` are valid."""
        avals = program.jaxpr.out_avals[:program.n_out]
        if self.collect:
            outs = [jnp.zeros((size,) + tuple(a.shape), a.dtype) for a in avals]
        else:
            outs = [jnp.zeros(a.shape, a.dtype) for a in avals]

        def body(i, state):
            carry, outs = state
            x = jax.tree_util.tree_map(lambda a: jax.lax.dynamic_index_in_dim(a, i, 0, False), xs)
            carry, out = one(carry, x)
            leaves = [jax.lax.convert_element_type(v, o.dtype)
                      for o, v in zip(outs, jax.tree_util.tree_leaves(out))]
            if self.collect:
                leaves = [jax.lax.dynamic_update_index_in_dim(o, v, i, 0)
                          for o, v in zip(outs, leaves)]
            return carry, leaves

        carry, outs = jax.lax.fori_loop(span[0], span[1], body, (carry, outs))
        return carry, program.unflatten(outs)

    def _run(self, compiled, *data, written=None):
        """Dispatch; `written`, a list, receives the new state buffers too."""
        run, program, pick_assigned, pick_held = compiled
        _DISPATCH.acquire(self.donate)
        try:
            values = program.donatable_values() if self.donate else program.values()
            new_values, out = run(pick_assigned(values), pick_held(values),
                                  program.consts, *data)
            program.write_back(new_values)
            if written is not None:
                written.append(new_values)
        finally:
            _DISPATCH.release(self.donate)
        return out

    def run_indexed(self, data, idx, n=None, start=0, first=None):
        """Run `idx.shape[0]` steps on batches `data[idx[i]]`: `data` a
        `DeviceArrays` (or a tree of arrays), on the device. With `n`, run
        only rows `start` to `start + n - 1` of `idx` (one program for every
        `n`).

        The program is specialised on the arrays' shapes, so callers pass data
        padded to a few lengths (`data_adapter.padded_rows`)."""
        if not isinstance(data, DeviceArrays):
            data = DeviceArrays(data)
        dist = distribution()
        k, b = idx.shape
        if dist is not None:
            _check_batch_size(dist, b * jax.process_count())
            if jax.process_count() > 1:  # each process gathers its own rows on the host
                return self.run_batches(jax.tree_util.tree_map(
                    lambda a: np.asarray(a)[np.asarray(idx)], data.arrays), n, start)
        arrays = data.arrays
        rows = first is not None and dist is None  # consecutive rows: indices computed
        key = ("rows" if rows else "gather", k, b, n is not None) + data.signature + (dist,)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._get(key, lambda: jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct((b,) + tuple(a.shape[1:]), a.dtype), arrays),
                k, gather="rows" if rows else True, dist=dist)
        if rows:
            idx = np.int32(first)
        elif idx.dtype != np.int32:
            idx = idx.astype(np.int32)
        if dist is not None:
            arrays = data.replicated_on(dist.mesh)
            idx = jax.device_put(idx, _stacked_sharding(dist, 2))
        if n is None:
            return self._run(compiled, arrays, idx)
        return self._run(compiled, arrays, idx, np.array([start, start + n], np.int32))

    def lower_indexed(self, data, idx):
        """The `jax.stages.Lowered` program `run_indexed(data, idx)` runs
        (compiled if new, not run): `.compile().as_text()` shows the
        optimized HLO, with the collectives of a distribution."""
        if not isinstance(data, DeviceArrays):
            data = DeviceArrays(data)
        dist = distribution()
        k, b = idx.shape
        key = ("gather", k, b, False) + data.signature + (dist,)
        compiled = self._get(key, lambda: jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((b,) + tuple(a.shape[1:]), a.dtype), data.arrays),
            k, gather=True, dist=dist)
        run, program, pick_assigned, pick_held = compiled
        arrays, idx = data.arrays, np.asarray(idx, np.int32)
        if dist is not None:
            arrays = data.replicated_on(dist.mesh)
            idx = jax.device_put(idx, _stacked_sharding(dist, 2))
        values = program.values()
        return run.lower(pick_assigned(values), pick_held(values), program.consts, arrays, idx)

    def run_batches(self, batches, n=None, start=0, staging=None):
        """Run one step per leading-axis entry of `batches` (stacked batches);
        with `n`, only entries `start` to `start + n - 1` (one program for
        every `n`). `staging`: a `Staging` that large misaligned NumPy
        batches are copied through (the caller's, for one pass)."""
        dist = distribution()
        if dist is not None:
            batches = _place_stacked(dist, batches)
        elif staging is not None:  # one pass's, used by one thread
            staged, shifted = staging.stage(batches, start if n is not None else 0)
            written = []
            out = self._run_stacked(batches, n, start, dist, written, staged, shifted)
            if not self.donate:
                staging.dispatched((out, written))
            elif jax.tree_util.tree_leaves(out):
                # the new state is donated to the next dispatch: wait on the logs
                staging.dispatched(out)
            else:  # nothing that outlives the next dispatch: wait now
                jax.block_until_ready(written)
                staging.dispatched(None)
            return out
        return self._run_stacked(batches, n, start, dist)

    def _run_stacked(self, batches, n, start, dist, written=None, staged=None, shifted=None):
        """`batches` (k, batch, ...) as read by the program: `staged` (the
        same tree, with `shifted`'s leaves flat views of their memory) when
        given."""
        k = int(jax.tree_util.tree_leaves(batches)[0].shape[0])
        struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype), batches)
        mask = None if shifted is None else shifted.mask
        key = ("stacked", k, n is not None) + _signature(struct) + (dist, mask)
        compiled = self._compiled.get(key) or self._get(key, lambda: struct, k, gather=False,
                                                        dist=dist, shift=mask)
        args = (batches if staged is None else staged,)
        if mask is not None:
            args += (shifted.offsets,)
        if n is not None:
            args += (np.array([start, start + n], np.int32),)
        return self._run(compiled, *args, written=written)

    def run_eager(self, batch):
        """One step, eagerly (`run_eagerly=True`)."""
        return self.step_fn(jax.tree_util.tree_map(jnp.asarray, batch))
