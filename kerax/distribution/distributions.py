"""`DataParallel`, `ModelParallel` and the active distribution.

A distribution decides three things, all as `jax.sharding` shardings on one
mesh: where each Variable lives (`variable_sharding`, asked once when the
variable is created: the core's placement hook), how a batch is split
(`data_sharding`: along the batch axis of the mesh) and how a host batch
becomes one global array (`distribute_data`: each process passes its own
rows). `kerax.function` and the training engine compile with those
shardings; XLA inserts the collectives (the gradient all-reduce of data
parallelism, the all-gathers of a sharded matmul).

What a compiled training engine asks the active distribution
(`distribution()`, None when there is none):

- `state_shardings(variables)`: the sharding of each state variable (model,
  optimizer, metrics, RNG), for `jax.jit`'s in/out shardings of the state
  carry; variables made before the distribution are moved to theirs first.
- `data_sharding(shape)`: the sharding of a global batch (first dimension on
  `batch_dim_name`); for a stack of `steps_per_execution` batches use
  `NamedSharding(mesh, PartitionSpec(None, batch_dim_name))`.
- `distribute_data(batch, name)`: a host batch (this process's rows) as
  global arrays, with the divisibility error.
"""
import contextlib
import warnings

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from kerax.core import variable as _core_variable
from kerax.core.scope import is_tracer
from kerax.core.variable import Variable
from kerax.distribution.devices import list_devices
from kerax.distribution.layouts import (DeviceMesh, LayoutMap, TensorLayout, check_sharding,
                                        to_sharding)

__all__ = ["Distribution", "DataParallel", "ModelParallel", "distribution", "set_distribution",
           "distribute_tensor", "distribute_data_input"]

DEFAULT_BATCH_DIM_NAME = "batch"


class Distribution:
    """Base class of distributions (Keras' `Distribution`).

    Args:
      device_mesh: the `DeviceMesh`.
      batch_dim_name: the mesh axis that splits the batch.
      auto_shard_dataset: in a multi-process run, whether `fit` shards a
        global dataset per process (False: each process already reads its
        own part).

    Subclasses define `get_data_layout`, `get_variable_layout` and
    `get_tensor_layout` (Keras' API, returning `TensorLayout`s); the
    kerax-side methods below turn them into JAX shardings.
    """

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        if not isinstance(device_mesh, DeviceMesh):
            raise ValueError(
                f"{type(self).__name__}: expected a DeviceMesh, got {device_mesh!r}.")
        if batch_dim_name is not None and batch_dim_name not in device_mesh.axis_names:
            raise ValueError(
                f"{type(self).__name__}: batch_dim_name={batch_dim_name!r} is not an axis of "
                f"the mesh, whose axes are {list(device_mesh.axis_names)}.")
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes = jax.process_count()
        self._process_id = jax.process_index()
        self._is_multi_process = self._num_processes > 1

    # ---- Keras' API -----------------------------------------------------------------
    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self):
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value):
        self._auto_shard_dataset = value

    @property
    def num_processes(self):
        """The number of processes of the run."""
        return self._num_processes

    @property
    def num_model_replicas(self):
        raise NotImplementedError

    @property
    def data_shard_id(self):
        """Which shard of the data this process feeds."""
        replicas = self.num_model_replicas
        if replicas >= self.num_processes:
            return self._process_id
        return self._process_id // (self.num_processes // replicas)

    def get_data_layout(self, data_shape):
        """The `TensorLayout` of a batch of `data_shape`: the first dimension
        split along `batch_dim_name`, the others whole."""
        spec = [None] * len(data_shape)
        if spec:
            spec[0] = self._batch_dim_name
        return TensorLayout(spec, self._device_mesh)

    def get_variable_layout(self, variable):
        raise NotImplementedError

    def get_tensor_layout(self, path):
        raise NotImplementedError

    @contextlib.contextmanager
    def scope(self):
        """Make this the active distribution inside a `with` block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def distribute_dataset(self, dataset):
        """The dataset this process should read. In one process, or with
        `auto_shard_dataset=False`, the dataset itself."""
        if not self._is_multi_process or not self._auto_shard_dataset:
            return dataset
        raise ValueError(
            f"{type(self).__name__}: kerax cannot shard a {type(dataset).__name__} across "
            f"{self.num_processes} processes. Give each process its own part of the data "
            "(rows `process_id::num_processes` of each global batch, or a file shard) and set "
            "`distribution.auto_shard_dataset = False`.")

    def __repr__(self):
        return f"<{type(self).__name__} device_mesh={self._device_mesh}>"

    __str__ = __repr__

    # ---- what kerax.function, optimizers and the engine ask -------------------------
    @property
    def mesh(self):
        """The `jax.sharding.Mesh`."""
        return self._device_mesh.backend_mesh

    def replicated_sharding(self):
        """The sharding that keeps a value whole on every device of the mesh."""
        return NamedSharding(self.mesh, PartitionSpec())

    def variable_sharding(self, variable):
        """The `jax.sharding.Sharding` of `variable` (its layout, checked
        against its shape): the hook the core calls when a variable is created.
        Metric state (`synchronization="on_read"`) is replicated."""
        if variable.synchronization == "on_read":
            layout = TensorLayout([None] * len(variable.shape), self._device_mesh)
        else:
            layout = self.get_variable_layout(variable)
        if layout is None:
            layout = TensorLayout([None] * len(variable.shape), self._device_mesh)
        sharding = to_sharding(layout, self._device_mesh)
        check_sharding(sharding, variable.shape, f"Variable {variable.path!r}")
        variable._layout = layout
        return sharding

    def state_shardings(self, variables):
        """The sharding of each variable, for a compiled program's state; a
        variable created before this distribution was active is moved to its
        layout first."""
        self._report_unmatched()
        out = []
        for var in variables:
            placed = var._placed
            if placed is None or not _on_mesh(placed, self.mesh):
                _core_variable.place(var, self.variable_sharding(var))
                placed = var._placed
            out.append(placed)
        return out

    def _report_unmatched(self):
        pass

    def data_sharding(self, data_shape):
        """The `jax.sharding.Sharding` of a global batch of `data_shape`."""
        return to_sharding(self.get_data_layout(tuple(data_shape)), self._device_mesh)

    def distribute_data(self, data, name="data"):
        """Turn a host batch (a nested structure of arrays; in a multi-process
        run, this process's rows) into global `jax.Array`s split along the
        batch axis. Scalars are replicated; an array already placed on this
        mesh is kept as is. A batch the data axis does not divide is an error
        naming `name`.

        >>> mesh = DeviceMesh((1,), ["batch"], ["cpu:0"])
        >>> tuple(DataParallel(mesh).distribute_data(np.ones((4, 2))).sharding.spec)
        ('batch', None)
        """
        leaves, tree = jax.tree_util.tree_flatten(data)
        out = [self._distribute_leaf(x, name if len(leaves) == 1 else f"{name} (leaf {i})")
               for i, x in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(tree, out)

    def _distribute_leaf(self, x, name):
        if is_tracer(x):
            return x
        if isinstance(x, Variable):
            x = x.value
        if isinstance(x, jax.Array) and _on_mesh(x.sharding, self.mesh):
            return x
        shape = np.shape(x)
        if not shape:
            sharding = self.replicated_sharding()
            if self._is_multi_process:
                return jax.make_array_from_process_local_data(sharding, np.asarray(x))
            return jax.device_put(x, sharding)
        sharding = self.data_sharding(shape)
        parts = _local_batch_parts(sharding) if self._is_multi_process else _batch_parts(sharding)
        if shape[0] % parts:
            total = self._device_mesh.axis_size(self._batch_dim_name)
            where = ("this process's batch" if self._is_multi_process else "the batch")
            raise ValueError(
                f"{name}: {where} has {shape[0]} rows (shape {tuple(shape)}), which the "
                f"{parts} device(s) of the data axis {self._batch_dim_name!r} "
                f"({total} in all, {self!r}) cannot split evenly. Use a global batch size "
                f"that is a multiple of {total} (drop or pad the last partial batch). An "
                "argument that is not a batch can be placed as a whole first: "
                "kerax.distribution.distribute_tensor(x, TensorLayout([None] * x.ndim, mesh)).")
        if self._is_multi_process:
            return jax.make_array_from_process_local_data(sharding, np.asarray(x))
        return jax.device_put(x, sharding)


def _on_mesh(sharding, mesh):
    return sharding.device_set == set(mesh.devices.flat)


def _batch_parts(sharding):
    spec = tuple(sharding.spec)
    entry = spec[0] if spec else None
    names = entry if isinstance(entry, (tuple, list)) else (entry,)
    sizes = dict(zip(sharding.mesh.axis_names, sharding.mesh.devices.shape))
    out = 1
    for n in names:
        if n is not None:
            out *= sizes[n]
    return out


def _local_batch_parts(sharding):
    """How many distinct row blocks this process's devices hold."""
    shape = (_batch_parts(sharding),) + (1,) * (len(sharding.spec) - 1)
    blocks = {sharding.devices_indices_map(shape)[d][0].start
              for d in sharding.addressable_devices}
    return len(blocks)


class DataParallel(Distribution):
    """Data parallelism: variables replicated on every device, batches split.

    Args:
      device_mesh: a 1D `DeviceMesh` (a mesh with more axes splits the batch
        along its first axis, with a warning).
      devices: the devices of a 1D mesh (instead of `device_mesh`).
      auto_shard_dataset: see `Distribution`.
    With neither, every device of `list_devices()` is used. Gradients are
    averaged by the all-reduce XLA inserts in the compiled step.

    >>> dp = DataParallel(devices=["cpu:0"])
    >>> dp.batch_dim_name, dp.num_model_replicas
    ('batch', 1)
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None and devices is not None:
            raise ValueError("DataParallel: pass `device_mesh` or `devices`, not both.")
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(
                    f"DataParallel: expected `device_mesh` to be a DeviceMesh, got "
                    f"{device_mesh!r} (of type {type(device_mesh).__name__}).")
            super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)
            if device_mesh.devices.ndim != 1:
                warnings.warn(
                    f"DataParallel expects a 1D mesh, got {device_mesh}; its first axis "
                    f"{device_mesh.axis_names[0]!r} splits the batch.", stacklevel=2)
            return
        devices = np.array(list_devices() if devices is None else devices, dtype=object)
        mesh = DeviceMesh(devices.shape, [DEFAULT_BATCH_DIM_NAME], devices)
        super().__init__(mesh, DEFAULT_BATCH_DIM_NAME, auto_shard_dataset)

    @property
    def num_model_replicas(self):
        return int(self._device_mesh.devices.size)

    def get_variable_layout(self, variable):
        """The variable's own `layout` when it was given one, else replicated."""
        if getattr(variable, "_layout", None) is not None:
            return variable._layout
        return TensorLayout([None] * len(variable.shape), self._device_mesh)

    def get_tensor_layout(self, path):
        return None


class ModelParallel(Distribution):
    """Model (and data) parallelism: variables split by a `LayoutMap`.

    Args:
      layout_map: a `LayoutMap` from variable-path regexes to layouts on its
        mesh. Variables no key matches are replicated.
      batch_dim_name: the mesh axis that splits the batch (default: the
        mesh's first axis).
      auto_shard_dataset: see `Distribution`.

    Example: an 8-device mesh, 2-way data and 4-way model parallel::

        mesh = DeviceMesh((2, 4), ["batch", "model"], devices=list_devices())
        layout_map = LayoutMap(mesh)
        layout_map[".*dense.*kernel"] = (None, "model")
        layout_map[".*dense.*bias"] = ("model",)
        with ModelParallel(layout_map=layout_map, batch_dim_name="batch").scope():
            model = make_model()   # weights created already split

    Print `[v.path for v in model.variables]` to write the keys.
    """

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True,
                 **kwargs):
        device_mesh = kwargs.pop("device_mesh", None)
        if kwargs:
            raise TypeError(f"ModelParallel: unexpected keyword arguments {sorted(kwargs)}.")
        if layout_map is None:
            raise ValueError("ModelParallel: you must specify a `layout_map` argument.")
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(
                f"ModelParallel: `layout_map` must be a LayoutMap instance, got {layout_map!r}.")
        if layout_map.device_mesh is None:
            raise ValueError("ModelParallel: the LayoutMap has no device mesh.")
        if device_mesh is not None and device_mesh is not layout_map.device_mesh:
            raise ValueError(
                "ModelParallel: `device_mesh` differs from the LayoutMap's mesh; the mesh is "
                "taken from the LayoutMap, so leave `device_mesh` out.")
        mesh = layout_map.device_mesh
        super().__init__(mesh, batch_dim_name or mesh.axis_names[0], auto_shard_dataset)
        self._layout_map = layout_map
        self._reported = set()
        if (self._is_multi_process and self.num_processes > self.num_model_replicas
                and self.num_processes % self.num_model_replicas):
            raise ValueError(
                "ModelParallel: when num_processes is greater than num_model_replicas it must "
                f"be a multiple of it; got num_processes={self.num_processes}, "
                f"num_model_replicas={self.num_model_replicas}.")

    @property
    def num_model_replicas(self):
        return self._device_mesh.axis_size(self._batch_dim_name)

    def get_variable_layout(self, variable):
        """The variable's own `layout`, else the LayoutMap's entry for its path,
        else replicated."""
        if getattr(variable, "_layout", None) is not None:
            return variable._layout
        _, layout = self._layout_map.lookup(variable.path)
        if layout is not None:
            return layout
        return TensorLayout([None] * len(variable.shape), self._device_mesh)

    def variable_sharding(self, variable):
        key = None
        if getattr(variable, "_layout", None) is None and variable.synchronization != "on_read":
            key, _ = self._layout_map.lookup(variable.path)
        try:
            return super().variable_sharding(variable)
        except ValueError as e:
            if key is None:
                raise
            raise ValueError(f"{e} (LayoutMap key {key!r})") from None

    def get_tensor_layout(self, path):
        return self._layout_map[path]

    def _report_unmatched(self):
        unmatched = [k for k in self._layout_map.unmatched_keys() if k not in self._reported]
        if unmatched:
            self._reported.update(unmatched)
            warnings.warn(
                f"ModelParallel: LayoutMap keys {unmatched} matched no variable path, so they "
                "split nothing. Keys must match whole paths (re.fullmatch); print "
                "[v.path for v in model.variables] to see the paths.", stacklevel=3)


# ---- the active distribution --------------------------------------------------------
def distribution():
    """The active distribution (set by `set_distribution` or `.scope()`), or None.

    >>> distribution() is None
    True
    """
    policy = _core_variable.get_placement()
    return policy if isinstance(policy, Distribution) else None


def set_distribution(value):
    """Make `value` (a `Distribution`, or None) the active distribution: the
    variables created from now on are placed by it, and `kerax.function`
    distributes its inputs with it.

    >>> set_distribution(DataParallel(devices=["cpu:0"])); distribution().batch_dim_name
    'batch'
    >>> set_distribution(None)
    """
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(
            f"set_distribution: expected a kerax.distribution.Distribution or None, got "
            f"{value!r}.")
    _core_variable.set_placement(value)


def distribute_tensor(tensor, layout):
    """Lay `tensor` out as `layout` (a `TensorLayout` or JAX sharding): inside
    a compiled function a sharding constraint, outside a device transfer
    (skipped when it already has that layout).

    >>> mesh = DeviceMesh((1,), ["batch"], ["cpu:0"])
    >>> distribute_tensor(np.ones((2, 3)), TensorLayout(["batch", None], mesh)).shape
    (2, 3)
    """
    if type(tensor).__name__ == "KerasTensor":
        return tensor  # symbolic: a functional model's graph has no placement
    active = distribution()
    sharding = to_sharding(layout, active.device_mesh if active is not None else None)
    if isinstance(tensor, Variable):
        tensor = tensor.value
    if is_tracer(tensor):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    check_sharding(sharding, np.shape(tensor), "distribute_tensor")
    if isinstance(tensor, jax.Array) and tensor.sharding.is_equivalent_to(
            sharding, tensor.ndim):
        return tensor
    return jax.device_put(tensor, sharding)


def distribute_data_input(per_process_batch, layout, batch_dim_name=None):
    """One global array from this process's part of a batch, laid out as
    `layout` (Keras' backend helper; `jax.make_array_from_process_local_data`).

    >>> mesh = DeviceMesh((1,), ["batch"], ["cpu:0"])
    >>> distribute_data_input(np.ones((4, 2)), TensorLayout(["batch", None], mesh)).shape
    (4, 2)
    """
    sharding = to_sharding(layout)
    return jax.make_array_from_process_local_data(sharding, np.asarray(per_process_batch))
