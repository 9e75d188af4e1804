"""`DeviceMesh`, `TensorLayout` and `LayoutMap`: Keras 3's names over
`jax.sharding.Mesh`, `NamedSharding`/`PartitionSpec` and regex keys on
variable paths."""
import collections.abc
import math
import re

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from kerax.distribution.devices import list_devices, to_jax_device

__all__ = ["DeviceMesh", "TensorLayout", "LayoutMap", "to_sharding", "check_sharding"]


class DeviceMesh:
    """A named grid of devices: Keras' `DeviceMesh`, a `jax.sharding.Mesh`.

    Args:
      shape: the grid's shape, e.g. `(8,)` (data parallel) or `(2, 4)`.
      axis_names: one name per axis, e.g. `("batch", "model")`; layouts
        refer to these names.
      devices: the devices (`"cpu:0"` strings or `jax.Device`s), as many as
        the grid holds. Default: `list_devices()`.

    >>> mesh = DeviceMesh((1,), ["batch"], devices=["cpu:0"])
    >>> mesh.shape, mesh.axis_names, mesh.backend_mesh.axis_names
    ((1,), ['batch'], ('batch',))
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(
                f"DeviceMesh: `shape` and `axis_names` cannot be empty. Received: "
                f"shape={shape}, axis_names={axis_names}")
        if isinstance(axis_names, str):
            raise ValueError(
                f"DeviceMesh: `axis_names` must be a list of names, got the string "
                f"{axis_names!r}; write [{axis_names!r}].")
        if len(shape) != len(axis_names):
            raise ValueError(
                "DeviceMesh: `shape` and `axis_names` should have the same length. "
                f"Received: shape={shape}, axis_names={axis_names}")
        if any(not isinstance(n, str) for n in axis_names) or len(set(axis_names)) != len(
                axis_names):
            raise ValueError(
                f"DeviceMesh: `axis_names` must be distinct strings, got {axis_names}.")
        try:
            dims = [int(d) for d in shape]
        except (TypeError, ValueError):
            raise ValueError(f"DeviceMesh: `shape` must hold ints, got {shape}.") from None
        if any(d < 1 for d in dims):
            raise ValueError(f"DeviceMesh: `shape` must hold positive ints, got {shape}.")
        if devices is None:
            devices = list_devices()
        devices = np.array(devices, dtype=object)
        if math.prod(dims) != devices.size:
            raise ValueError(
                f"DeviceMesh: shape {tuple(shape)} holds {math.prod(dims)} devices, but "
                f"{devices.size} devices were given (devices.shape={devices.shape}).")
        self._shape = shape
        self._axis_names = axis_names
        self._devices = np.reshape(devices, dims)
        self._backend_mesh = None

    @property
    def shape(self):
        return self._shape

    @property
    def axis_names(self):
        return self._axis_names

    @property
    def devices(self):
        return self._devices

    @property
    def backend_mesh(self):
        """The `jax.sharding.Mesh`."""
        if self._backend_mesh is None:
            flat = [to_jax_device(d) for d in self._devices.flat]
            if len(set(flat)) != len(flat):
                raise ValueError(f"{self!r}: a device appears twice in `devices`.")
            grid = np.empty(len(flat), dtype=object)
            grid[:] = flat
            self._backend_mesh = Mesh(grid.reshape(self._devices.shape),
                                      tuple(self._axis_names))
        return self._backend_mesh

    def axis_size(self, name):
        """The number of devices along axis `name`.

        >>> DeviceMesh((1,), ["batch"], ["cpu:0"]).axis_size("batch")
        1
        """
        return int(self._devices.shape[list(self._axis_names).index(name)])

    def __repr__(self):
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"

    __str__ = __repr__


class TensorLayout:
    """How a tensor is split over a `DeviceMesh`: Keras' `TensorLayout`, a
    `jax.sharding.NamedSharding`.

    Args:
      axes: one entry per tensor dimension: a mesh axis name to split that
        dimension over, or None to keep it whole (a tuple of names splits
        over several axes). Fewer entries than dimensions leave the rest
        whole.
      device_mesh: the mesh; a `LayoutMap` fills it in when it is None.

    >>> mesh = DeviceMesh((1,), ["model"], ["cpu:0"])
    >>> tuple(TensorLayout((None, "model"), mesh).backend_layout.spec)
    (None, 'model')
    """

    def __init__(self, axes, device_mesh=None):
        if isinstance(axes, str):
            axes = (axes,)
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._backend_layout = None
        self._validate_axes()

    @property
    def axes(self):
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh):
        if self._device_mesh is not None:
            raise ValueError(
                f"TensorLayout: cannot override the device mesh; it is already "
                f"{self._device_mesh}.")
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def backend_layout(self):
        """The `jax.sharding.NamedSharding`."""
        if self._device_mesh is None:
            raise ValueError(
                f"{self!r}: cannot create a sharding when the device mesh is not set. "
                "Pass `device_mesh=`, or put the layout in a LayoutMap.")
        if self._backend_layout is None:
            self._backend_layout = NamedSharding(self._device_mesh.backend_mesh,
                                                 PartitionSpec(*self._axes))
        return self._backend_layout

    def _validate_axes(self):
        used = []
        for entry in self._axes:
            names = entry if isinstance(entry, (tuple, list)) else (entry,)
            for n in names:
                if n is not None and not isinstance(n, str):
                    raise ValueError(
                        f"TensorLayout: each axis must be a mesh axis name or None, got "
                        f"{n!r} in axes={self._axes}.")
                if n is not None:
                    used.append(n)
        if len(set(used)) != len(used):
            raise ValueError(
                f"TensorLayout: a mesh axis may split only one dimension, got axes={self._axes}.")
        if self._device_mesh is not None:
            unknown = set(used) - set(self._device_mesh.axis_names)
            if unknown:
                raise ValueError(
                    f"TensorLayout: invalid axis names {sorted(unknown)}; the mesh's axis "
                    f"names are {list(self._device_mesh.axis_names)}.")

    def __repr__(self):
        return f"<TensorLayout axes={self.axes}, device_mesh={self.device_mesh}>"

    __str__ = __repr__


class LayoutMap(collections.abc.MutableMapping):
    """Variable paths (regular expressions) -> `TensorLayout`: Keras' `LayoutMap`.

    A key looks up its exact entry first, then every key is tried as a regex
    that must match the whole path (`re.fullmatch`). A path matched by two
    keys is an error naming both; no match gives None (the variable is
    replicated). A tuple or list of axis names stands for a `TensorLayout` on
    the map's mesh. Keys that never matched a variable are listed by
    `unmatched_keys()` (and a warning names them when a compiled function
    first runs under the distribution).

    >>> mesh = DeviceMesh((1, 1), ["batch", "model"], ["cpu:0"])
    >>> layout_map = LayoutMap(mesh)
    >>> layout_map[".*dense.*kernel"] = (None, "model")
    >>> layout_map["dense_1/kernel"].axes, layout_map["dense_1/bias"]
    ((None, 'model'), None)
    """

    def __init__(self, device_mesh):
        if device_mesh is not None and not isinstance(device_mesh, DeviceMesh):
            raise ValueError(
                f"LayoutMap: `device_mesh` must be a DeviceMesh, got {device_mesh!r}.")
        self._layout_map = collections.OrderedDict()
        self._device_mesh = device_mesh
        self._matched = set()

    def lookup(self, key):
        """`(matching key, layout)` for a path, or `(None, None)`.

        >>> m = LayoutMap(DeviceMesh((1,), ["model"], ["cpu:0"]))
        >>> m["d.*/kernel"] = ("model",)
        >>> m.lookup("dense/kernel")[0]
        'd.*/kernel'
        """
        if key in self._layout_map:
            self._matched.add(key)
            return key, self._layout_map[key]
        matching = [pattern for pattern in self._layout_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ValueError(
                f"Path {key!r} matches several LayoutMap keys: {matching}. Make sure each "
                "variable path matches at most one key (anchor or narrow the patterns).")
        if matching:
            self._matched.add(matching[0])
            return matching[0], self._layout_map[matching[0]]
        return None, None

    def __getitem__(self, key):
        return self.lookup(key)[1]

    def __setitem__(self, key, layout):
        if not isinstance(key, str):
            raise ValueError(f"LayoutMap keys are path regexes (strings), got {key!r}.")
        if key in self._layout_map:
            raise ValueError(
                f"LayoutMap: key {key!r} already exists with value {self._layout_map[key]}; "
                "keys may not be repeated.")
        try:
            re.compile(key)
        except re.error as e:
            raise ValueError(f"LayoutMap: key {key!r} is not a valid regular expression: "
                             f"{e}.") from None
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(axes=tuple(layout), device_mesh=None)
        if not isinstance(layout, TensorLayout):
            raise ValueError(
                f"LayoutMap[{key!r}]: the value should be a TensorLayout or a tuple of mesh "
                f"axis names, got {type(layout).__name__}: {layout!r}.")
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layout_map[key] = layout

    def __delitem__(self, key):
        self._matched.discard(key)
        return self._layout_map.pop(key)

    def __len__(self):
        return len(self._layout_map)

    def __iter__(self):
        return iter(self._layout_map)

    def unmatched_keys(self):
        """The keys that have not matched any variable path yet.

        >>> m = LayoutMap(DeviceMesh((1,), ["model"], ["cpu:0"]))
        >>> m["conv.*kernel"] = ("model",)
        >>> m.unmatched_keys()
        ['conv.*kernel']
        """
        return [k for k in self._layout_map if k not in self._matched]

    @property
    def device_mesh(self):
        return self._device_mesh


def to_sharding(layout, mesh=None):
    """A `jax.sharding.Sharding` from a `TensorLayout` (one without a mesh
    takes `mesh`, a `DeviceMesh`) or a JAX sharding.

    >>> m = DeviceMesh((1,), ["batch"], ["cpu:0"])
    >>> tuple(to_sharding(TensorLayout(["batch"]), m).spec)
    ('batch',)
    """
    if isinstance(layout, jax.sharding.Sharding):
        return layout
    if isinstance(layout, TensorLayout):
        if layout.device_mesh is None:
            if mesh is None:
                raise ValueError(
                    f"{layout!r} has no device mesh and no distribution is active to take "
                    "one from; pass `device_mesh=` to TensorLayout.")
            layout = TensorLayout(layout.axes, mesh)
        return layout.backend_layout
    raise ValueError(
        f"Expected a kerax.distribution.TensorLayout or a jax.sharding.Sharding, got "
        f"{type(layout).__name__}: {layout!r}.")


def check_sharding(sharding, shape, what):
    """Raise a clear error when `sharding` cannot split an array of `shape`
    (too many axes, or a dimension its mesh axes do not divide).

    >>> m = DeviceMesh((1,), ["model"], ["cpu:0"])
    >>> check_sharding(to_sharding(TensorLayout([None, "model"]), m), (3, 4), "x")
    """
    if not isinstance(sharding, NamedSharding):
        return
    spec = tuple(sharding.spec)
    if len(spec) > len(shape):
        raise ValueError(
            f"{what}: the layout {spec} has {len(spec)} axes but the value has shape "
            f"{tuple(shape)} ({len(shape)} dimensions).")
    sizes = dict(zip(sharding.mesh.axis_names, sharding.mesh.devices.shape))
    for dim, entry in enumerate(spec):
        names = entry if isinstance(entry, (tuple, list)) else (entry,)
        parts = math.prod(sizes[n] for n in names if n is not None)
        if shape[dim] % parts:
            raise ValueError(
                f"{what}: dimension {dim} of shape {tuple(shape)} has size {shape[dim]}, which "
                f"the layout {spec} splits over {parts} devices (mesh axes {list(names)}); "
                "it must be divisible. Choose another layout or mesh shape for it.")
