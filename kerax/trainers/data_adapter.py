"""Turning what `fit`/`evaluate`/`predict` accept into blocks of steps.

Two sources:
- `ArrayData`: NumPy/JAX arrays (and nested lists/dicts of them). In fit, put
  on the device once per call (and dropped when it ends); each epoch's
  (shuffled) batch indices are sent as a small int array and the full batches
  are gathered inside the compiled program. evaluate and predict stream
  host slices instead (see the rule below).
- `IterableData`: Python generators and iterables of `(x, y)` /
  `(x, y, sample_weight)` batches, `kerax.utils.PyDataset`, and any object that
  yields NumPy-convertible batches (tf.data, a PyTorch DataLoader, grain) —
  without importing those libraries.

One `EpochIterator` turns either into the epoch's `Block`s: `steps`
consecutive steps that run in one dispatch (`steps_per_execution` of them when
they can share one compiled program, single steps otherwise, one batch at a
time in eager mode).

How many programs (the rule): fit's device copy of the arrays is padded with
zero rows to `padded_rows(n, batch_size)` (whole batches, rounded up to one of
8 lengths per octave, so at most 12.5 % more rows), and its gather program is
compiled per padded length, never per dataset length. evaluate and predict
make one ordered pass, so they keep no device copy: each dispatch sends its
batches, sliced on the host (views of the arrays), and their programs depend
on the batch shape only. A partial last batch runs as its own batch, sliced
on the host (one program per distinct last-batch size, as Keras 3; predict
too: padding it would change what models that mix samples across the batch
return). Shuffling
draws from the generator the caller passes per epoch (fit derives it from the
seed and the optimizer's step count, see `Trainer.fit`).
"""
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from kerax.core import config as core_config
from kerax.trainers.engine import DeviceArrays

__all__ = ["unpack_x_y_sample_weight", "pack_x_y_sample_weight", "ArrayData",
           "IterableData", "make_data", "is_array_like", "Block", "EpochIterator",
           "stack_batches", "padded_rows"]


def unpack_x_y_sample_weight(data):
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` -> the three (None where absent)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(
        "Data should be (x,), (x, y) or (x, y, sample_weight); got a tuple of "
        f"length {len(data)}.")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def is_array_like(x):
    return isinstance(x, (np.ndarray, jax.Array)) or (
        hasattr(x, "__array__") and hasattr(x, "shape") and hasattr(x, "dtype")
        and not hasattr(x, "__next__"))


def _is_array_structure(x):
    if x is None:
        return True
    if isinstance(x, (list, tuple)):
        return all(_is_array_structure(e) for e in x) and len(x) > 0
    if isinstance(x, dict):
        return all(_is_array_structure(e) for e in x.values())
    return is_array_like(x)


def _to_numpy_tree(x):
    def conv(a):
        if a is None:
            return None
        if isinstance(a, jax.Array):
            return a
        arr = np.asarray(a)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        elif arr.dtype == np.int64 and not jax.config.jax_enable_x64:
            arr = arr.astype(np.int32)
        return arr
    return jax.tree_util.tree_map(conv, x)


def _lengths(tree):
    return [int(a.shape[0]) for a in jax.tree_util.tree_leaves(tree)]


def _describe(tree):
    return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


def padded_rows(n, batch_size):
    """The rows the device copy of `n` samples is padded to: whole batches,
    the batch count rounded up to 4 significant bits (1..15 batches exactly,
    then 16, 18, 20, ..., 30, 32, 36, ...), so a program compiled for one length
    serves every dataset up to 12.5 % shorter.

    >>> [padded_rows(n, 32) for n in (1, 32, 33, 64, 500, 529, 600)]
    [32, 32, 64, 64, 512, 576, 640]
    """
    batches = -(-int(n) // int(batch_size))
    shift = max(0, batches.bit_length() - 4)
    batches = -(-batches >> shift) << shift
    return batches * int(batch_size)


def _pad_rows(a, rows):
    """`a` on the device with zero rows appended up to `rows`."""
    n = a.shape[0]
    if isinstance(a, jax.Array):
        if n == rows:
            return a
        return jnp.concatenate([a, jnp.zeros((rows - n,) + tuple(a.shape[1:]), a.dtype)])
    a = np.asarray(a)
    if n == rows:
        return jax.device_put(a)
    host = np.zeros((rows,) + a.shape[1:], a.dtype)
    host[:n] = a
    return jax.device_put(host)


def _take_rows(host, device, idx):
    """Rows `idx` of one leaf: sliced on the host, or on the device for a
    `jax.Array` input (from its padded device copy)."""
    if isinstance(host, jax.Array):
        return jnp.take(device, jnp.asarray(idx, jnp.int32), axis=0)
    return np.asarray(host)[idx]


class ArrayData:
    """In-memory arrays, batched by index inside compiled programs."""

    kind = "arrays"

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False,
                 steps=None, class_weight=None, name="x"):
        x, y, sample_weight = _to_numpy_tree(x), _to_numpy_tree(y), _to_numpy_tree(sample_weight)
        lens = {"x": _lengths(x), "y": _lengths(y) if y is not None else [],
                "sample_weight": _lengths(sample_weight) if sample_weight is not None else []}
        all_lens = {n for v in lens.values() for n in v}
        if not lens["x"]:
            raise ValueError("`x` holds no arrays.")
        if len(all_lens) != 1:
            raise ValueError(
                "Data cardinality is ambiguous: x and y (and sample_weight) must "
                "have the same number of samples, got "
                f"x sizes {lens['x']}, y sizes {lens['y']}, sample_weight sizes "
                f"{lens['sample_weight']} (x shapes: {_describe(x)}, y shapes: "
                f"{_describe(y) if y is not None else None}).")
        self.num_samples = all_lens.pop()
        if self.num_samples == 0:
            raise ValueError("Expected a non-empty dataset: `x` has 0 samples.")
        if class_weight is not None:
            if y is None:
                raise ValueError("`class_weight` needs targets `y`.")
            sample_weight = _class_weights_to_sample_weight(y, class_weight, sample_weight)
        self.batch_size = int(batch_size or 32)
        if self.batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer, got {batch_size}.")
        self.shuffle = shuffle
        self.data = pack_x_y_sample_weight(x, y, sample_weight)
        self.device_data = None
        self.stream = False  # evaluate/predict: one ordered pass, batches sliced on the host
        full = self.num_samples // self.batch_size
        rem = self.num_samples - full * self.batch_size
        self.steps = full + (1 if rem else 0)
        if steps is not None:
            self.steps = int(steps)
        self._rem = rem

    def on_device(self):
        """The arrays on the device, padded to `padded_rows` rows, as a
        `DeviceArrays` (made once, kept until `release`). In one ordered pass
        (evaluate, predict) over arrays already on the device (`jax.Array`s)
        they are read in place, unpadded: no copy, at the price of a program
        per array length."""
        if self.device_data is None:
            leaves = jax.tree_util.tree_leaves(self.data)
            if self.stream and leaves and all(isinstance(a, jax.Array) for a in leaves):
                self.device_data = DeviceArrays(self.data)
            else:
                rows = padded_rows(self.num_samples, self.batch_size)
                self.device_data = DeviceArrays(
                    jax.tree_util.tree_map(lambda a: _pad_rows(a, rows), self.data))
        return self.device_data

    def release(self):
        """Drop the device copy (the end of the fit/evaluate/predict call)."""
        self.device_data = None

    def streams(self):
        """Whether batches are sliced on the host and sent per dispatch (one
        ordered pass over NumPy arrays: evaluate, predict) rather than
        gathered from a device copy (fit's epochs; `jax.Array` inputs)."""
        return self.stream and not self.shuffle and not any(
            isinstance(a, jax.Array) for a in jax.tree_util.tree_leaves(self.data))

    def host_rows(self, index):
        """The batches of samples `index` (steps, batch) stacked on a leading
        step axis: a view of the arrays when they are consecutive rows."""
        first = int(index[0, 0])
        if np.array_equal(index.reshape(-1), np.arange(first, first + index.size)):
            return jax.tree_util.tree_map(
                lambda a: np.asarray(a)[first:first + index.size].reshape(
                    index.shape + np.shape(a)[1:]), self.data)
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[index], self.data)

    def host_slice(self, first, steps):
        """Rows `first` to `first + steps * batch_size - 1`, as `steps`
        batches stacked on a leading step axis (views, no copy)."""
        rows = steps * self.batch_size
        return jax.tree_util.tree_map(
            lambda a: np.asarray(a)[first:first + rows].reshape(
                (steps, self.batch_size) + np.shape(a)[1:]), self.data)

    def host_batch(self, idx):
        """The samples `idx` as one batch with a leading step axis of 1."""
        dev = self.device_data
        if dev is None:
            return jax.tree_util.tree_map(lambda a: np.asarray(a)[idx][None], self.data)
        return jax.tree_util.tree_map(lambda a, d: _take_rows(a, d, idx)[None],
                                      self.data, dev.arrays)

    def epoch_indices(self, rng):
        n = self.num_samples
        if self.shuffle == "batch":
            order = np.arange(n)
            nb = self.steps
            perm = rng.permutation(nb)
            chunks = [order[i * self.batch_size:(i + 1) * self.batch_size] for i in perm]
            return chunks
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        chunks = [order[i * self.batch_size:(i + 1) * self.batch_size]
                  for i in range(math.ceil(n / self.batch_size))]
        return chunks

    def first_batch(self):
        b = min(self.batch_size, self.num_samples)
        return jax.tree_util.tree_map(lambda a: a[:b], self.data)

    def first_batch_spec(self):
        """The first batch's structure, shapes and dtypes
        (`jax.ShapeDtypeStruct`s), without slicing the arrays (a slice of a
        `jax.Array` is a device operation)."""
        b = min(self.batch_size, self.num_samples)
        return jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((b,) + tuple(np.shape(a))[1:], a.dtype if hasattr(
                a, "dtype") else np.asarray(a).dtype),
            self.data)

    def split(self, validation_split):
        """Keras' validation_split: the last fraction of the samples, before shuffling."""
        if not 0 < validation_split < 1:
            raise ValueError(
                f"`validation_split` must be in (0, 1), got {validation_split}.")
        # Keras 3 splits at floor(n * (1 - split)), so the validation part rounds
        # up: n=10, split=0.25 trains on 7 samples and validates on 3
        n_train = int(math.floor(self.num_samples * (1.0 - validation_split)))
        n_val = self.num_samples - n_train
        if n_train == 0 or n_val == 0:
            raise ValueError(
                f"Training data contains {self.num_samples} samples, which is not "
                "sufficient to split it into a validation and training set as specified "
                f"by `validation_split={validation_split}`. Either provide more data, or a "
                "different value for the `validation_split` argument.")
        head = jax.tree_util.tree_map(lambda a: a[:n_train], self.data)
        tail = jax.tree_util.tree_map(lambda a: a[n_train:], self.data)
        return head, tail


def _class_weights_to_sample_weight(y, class_weight, sample_weight):
    leaves = jax.tree_util.tree_leaves(y)
    if len(leaves) != 1:
        raise ValueError("`class_weight` is only supported for models with a single output.")
    yv = np.asarray(leaves[0])
    if yv.ndim > 1 and yv.shape[-1] > 1:
        cls = np.argmax(yv, axis=-1)
    elif yv.ndim > 1:
        cls = (np.round(yv[..., 0])).astype(np.int64)
    else:
        cls = np.round(yv).astype(np.int64)
    cls = cls.reshape(yv.shape[0], -1)[:, 0] if cls.ndim > 1 else cls
    max_cls = int(max(class_weight)) if class_weight else 0
    table = np.ones(max(max_cls, int(cls.max()) if cls.size else 0) + 1, np.float32)
    for k, w in class_weight.items():
        table[int(k)] = w
    sw = table[cls]
    if sample_weight is not None:
        sw = sw * np.asarray(sample_weight, np.float32).reshape(sw.shape)
    return sw


class IterableData:
    """Batches from a Python iterable (generator, PyDataset, DataLoader, ...)."""

    kind = "iterable"

    def __init__(self, source, steps=None, class_weight=None):
        self.source = source
        self.steps = steps
        self.class_weight = class_weight
        self._structure = None
        self._first = None
        self._pending = None
        if steps is None:
            try:
                self.steps = len(source)
            except TypeError:
                self.steps = None

    def _iter_source(self):
        src = self.source
        if hasattr(src, "__getitem__") and hasattr(src, "__len__") and hasattr(src, "on_epoch_end"):
            return (src[i] for i in range(len(src)))
        return iter(src)

    def peek(self):
        """The first batch (kept and replayed on the first epoch) for building."""
        if self._first is None:
            self._pending = self._iter_source()
            try:
                self._first = self._standardize(next(self._pending))
            except StopIteration:
                raise ValueError(
                    "The dataset is empty: the iterator yielded no batches.") from None
        return self._first

    def _standardize(self, batch):
        batch = batch if isinstance(batch, tuple) else (tuple(batch) if isinstance(batch, list)
                                                        and 1 <= len(batch) <= 3 else batch)
        x, y, sw = unpack_x_y_sample_weight(batch)
        x, y, sw = _to_numpy_tree(x), _to_numpy_tree(y), _to_numpy_tree(sw)
        if self.class_weight is not None and y is not None:
            sw = _class_weights_to_sample_weight(y, self.class_weight, sw)
        packed = pack_x_y_sample_weight(x, y, sw)
        structure = jax.tree_util.tree_structure(packed)
        if self._structure is None:
            self._structure = structure
        elif structure != self._structure:
            raise ValueError(
                "The data generator yielded batches of varying structure: the first "
                f"batch was {self._structure}, a later one is {structure}. Every batch "
                "must have the same (x, y[, sample_weight]) structure.")
        lens = set(_lengths(packed))
        if len(lens) > 1:
            raise ValueError(
                f"A batch has inconsistent sizes: x/y/sample_weight lengths {sorted(lens)} "
                f"(shapes {_describe(packed)}).")
        return packed

    def epoch_batches(self):
        """Yield standardized batches for one epoch (at most `steps`)."""
        if self._pending is not None:
            it, first = self._pending, self._first
            self._pending = None
            yield first
            count = 1
        else:
            it = self._iter_source()
            count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(it)
            except StopIteration:
                break
            yield self._standardize(batch)
            count += 1
        if hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()

    def first_batch(self):
        return self.peek()

    def first_batch_spec(self):
        return jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype
                                           if not hasattr(a, "dtype") else a.dtype),
            self.peek())


def make_data(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None,
              class_weight=None):
    cap = core_config.max_steps_per_epoch()  # kerax.config.set_max_steps_per_epoch
    if cap is not None:
        steps = cap if steps is None else min(steps, cap)
    if _is_array_structure(x) and not isinstance(x, (list, tuple)) or (
            isinstance(x, (list, tuple, dict)) and _is_array_structure(x)):
        return ArrayData(x, y, sample_weight, batch_size, shuffle, steps, class_weight)
    if x is None:
        raise ValueError("`x` is required (got None).")
    if y is not None:
        raise ValueError(
            "`y` must not be given when `x` is a dataset, generator or PyDataset "
            "(which yields (x, y) batches); got both.")
    if sample_weight is not None:
        raise ValueError(
            "`sample_weight` must not be given when `x` is a dataset or generator; "
            "yield (x, y, sample_weight) batches instead.")
    if hasattr(x, "__iter__") or hasattr(x, "__next__") or hasattr(x, "__getitem__"):
        return IterableData(x, steps=steps, class_weight=class_weight)
    raise ValueError(
        f"Unrecognized data type for `x`: {type(x).__name__}. Expected NumPy/JAX arrays "
        "(or lists/dicts of them), a generator or iterable of (x, y) batches, or a "
        "kerax.utils.PyDataset.")


def stack_batches(batches):
    """Host batches of one structure and shape -> one tree with a leading step axis."""
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *batches)


def _batch_spec(batch):
    return jax.tree_util.tree_structure(batch), tuple(
        (tuple(np.shape(l)), str(np.asarray(l).dtype)) for l in jax.tree_util.tree_leaves(batch))


@dataclasses.dataclass
class Block:
    """`steps` consecutive steps to run in one dispatch.

    kind "indexed": `data` is the device data (`DeviceArrays`), `index` the (steps, batch) sample
    indices (`StepEngine.run_indexed(data, index)`); "stacked": `data` holds
    `steps` host batches stacked on a leading axis (`run_batches(data)`);
    "eager": `data` is one host batch (`run_eager(data)`, steps == 1).
    `n`: for a grouped block (`EpochIterator(size=...)`), the number of valid
    steps (`steps`) in a `data`/`index` padded to the group size; else None.
    """
    kind: str
    data: object
    steps: int
    index: np.ndarray = None
    n: int = None
    start: int = 0  # grouped: the first valid entry (the valid ones are start..start+n-1)
    first: int = None  # "indexed": entry i's batch is rows first + i * batch... (consecutive)


def _pad_leading(tree, size):
    """Arrays with their leading axis padded (with copies of the last entry)
    to `size` entries; the padding is never run."""
    def pad(a):
        a = np.asarray(a)
        if a.shape[0] == size:
            return a
        return np.concatenate([a, np.repeat(a[-1:], size - a.shape[0], axis=0)])
    return jax.tree_util.tree_map(pad, tree)


class EpochIterator:
    """One pass over `ArrayData` or `IterableData` as `Block`s, in data order.

    Two ways to group consecutive full batches of one shape into one dispatch:

    - `steps_per_execution=k` (fixed): groups of exactly `k` (a `lax.scan` of
      length k); a batch that cannot join a full group (the partial last
      batch, a batch of another shape, the leftover batches at the end of an
      epoch) runs as a single step.
    - `size=G` (grouped): groups of up to `group` (<= G) batches, padded to `G`
      with `Block.n` the valid count (one program runs any count up to G), so
      the leftover group of an epoch is one dispatch; only a batch of another
      shape (the partial last batch) runs alone. `group` may be changed between
      blocks (the timed probe sizes it for slow steps).

    Either way every step sees exactly the batch it would see one step at a
    time. `steps` caps the number of batches.
    """

    def __init__(self, data, steps_per_execution=1, eager=False, steps=None, rng=None,
                 size=None):
        self.data = data
        self.steps_per_execution = max(1, int(steps_per_execution))
        self.size = None if size is None else max(1, int(size))
        self.group = self.size
        self.eager = eager
        cap = core_config.max_steps_per_epoch()
        self.steps = cap if steps is None else steps if cap is None else min(steps, cap)
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def _target(self):
        return min(self.group, self.size) if self.size else self.steps_per_execution

    def __iter__(self):
        if self.data.kind == "arrays":
            return self._array_blocks()
        return self._iterable_blocks()

    def _stream_blocks(self, dev=None):
        """A grouped ordered pass (evaluate, predict) found by arithmetic, not
        per batch: over host arrays, each block a view of `size` consecutive
        batches (starting with its group, or ending with it at the end of the
        pass); over arrays read in place on the device (`dev`), each block
        the group's first row (the program computes the rows); the partial
        last batch alone."""
        data, size, b = self.data, self.size, self.data.batch_size
        total = data.num_samples
        steps = -(-total // b)
        if self.steps is not None:
            steps = min(steps, self.steps)
        full = min(steps, total // b)
        i = 0
        while i < full:
            n = min(self._target(), full - i)
            if dev is not None:
                index = np.arange(i * b, (i + size) * b).reshape(size, b)  # its shape
                yield Block("indexed", dev, n, index, n, 0, first=i * b)
                i += n
                continue
            first, start = i, 0
            if first + size > total // b:  # no `size` batches from here: end with it
                first, start = i + n - size, size - n
            if first < 0:  # fewer than `size` full batches in all: a padded copy
                index = np.arange(i * b, (i + n) * b).reshape(n, b)
                yield Block("stacked", _pad_leading(data.host_rows(index), size), n,
                            _pad_leading(index, size), n)
            else:
                yield Block("stacked", data.host_slice(first * b, size), n, None, n, start)
            i += n
        if steps > full:
            c = np.arange(full * b, total)
            if dev is not None:  # its rows read in the program (no eager gather)
                yield Block("indexed", dev, 1, c[None], first=full * b)
            else:
                yield Block("stacked", data.host_batch(c), 1, c[None])

    def _array_blocks(self):
        data = self.data
        if self.size and not self.eager and data.stream and not data.shuffle:
            if data.streams():
                yield from self._stream_blocks()
                return
            dev = data.on_device()
            if dev.arrays is data.data:  # jax.Arrays, read in place
                yield from self._stream_blocks(dev)
                return
        chunks = data.epoch_indices(self.rng)
        if self.steps is not None:
            chunks = chunks[:self.steps]
        if self.eager:
            for c in chunks:
                yield Block("eager", jax.tree_util.tree_map(lambda a: np.asarray(a)[c],
                                                            data.data), 1)
            return
        stream = data.streams()
        dev = None if stream or not any(
            len(c) == data.batch_size for c in chunks) else data.on_device()

        def block(group):
            index = np.stack(group)
            if self.size:  # (a grouped ordered host pass took _stream_blocks)
                n = len(group)
                return Block("indexed", dev, n, _pad_leading(index, self.size), n,
                             first=consecutive(index))
            if stream:
                return Block("stacked", data.host_rows(index), len(group), index)
            return Block("indexed", dev, len(group), index, first=consecutive(index))

        def consecutive(index):
            # the first row when the block's batches are consecutive rows (an
            # ordered pass): the program then computes its row indices
            if data.shuffle:
                return None
            first = int(index[0, 0])
            return first if int(index[-1, -1]) == first + index.size - 1 else None

        def flush(group):
            if self.size:
                return [block(group)] if group else []
            return [block([g]) for g in group]

        group = []
        for c in chunks:
            if len(c) != data.batch_size:
                yield from flush(group)
                group = []
                # one program per last-batch size, not per dataset length (as Keras 3)
                yield Block("stacked", data.host_batch(c), 1, c[None])
                continue
            group.append(c)
            if len(group) >= self._target():
                yield block(group)
                group = []
        yield from flush(group)

    def _iterable_blocks(self):
        main = []  # grouped: the first batch's signature; batches of another run alone

        def block(group):
            if self.size and _batch_spec(group[0]) == main[0]:
                return Block("stacked", _pad_leading(stack_batches(group), self.size),
                             len(group), None, len(group))
            return Block("stacked", stack_batches(group), len(group))

        def flush(group):
            if self.size and group and _batch_spec(group[0]) == main[0]:
                return [block(group)]
            return [Block("stacked", stack_batches([b]), 1) for b in group]

        group = []
        for count, batch in enumerate(self.data.epoch_batches(), 1):
            if self.eager:
                yield Block("eager", batch, 1)
            else:
                if not main:
                    main.append(_batch_spec(batch))
                if group and _batch_spec(group[0]) != _batch_spec(batch):
                    yield from flush(group)
                    group = []
                group.append(batch)
                if len(group) >= (self._target() if _batch_spec(batch) == main[0]
                                  else self.steps_per_execution):
                    yield block(group)
                    group = []
            if self.steps is not None and count >= self.steps:
                break
        yield from flush(group)
