"""`Variable`: a small mutable box around a concrete `jax.Array`.

Reading or assigning a Variable consults the active state scopes first
(`kerax.core.scope`); with none active it reads and writes its own buffer
(eager mode) and refuses traced values. Raw buffers (`_value`) are touched
only inside kerax/core.

Placement (the hook `kerax.distribution` sets): with a placement policy
installed (`set_placement`), a new Variable asks it for its
`jax.sharding.Sharding` and is created with that sharding from the start (an
initializer runs compiled with `out_shardings`, so a sharded weight never
exists whole on one device); an eager `assign` keeps the variable's sharding.
The core knows no distribution: the policy is any object with a method
`variable_sharding(variable) -> Sharding | None`.
"""
import contextlib

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

try:  # no public switch: Variables are made under ensure_compile_time_eval, which
    # would fold a compiled initializer into a constant computed whole
    from jax._src.config import eager_constant_folding as _constant_folding
except ImportError:  # pragma: no cover - another JAX
    _constant_folding = None

from kerax.core import config
from kerax.core.memory import check_allocation
from kerax.core import scope as _scope
from kerax.core.dtypes import standardize_dtype
from kerax.core.naming import current_path
from kerax.core.scope import MISSING as _MISSING
from kerax.core.scope import current_scope, is_tracer, scopes

__all__ = ["Variable", "is_variable", "set_placement", "get_placement", "place"]

_PLACEMENT = [None]


def set_placement(policy):
    """Install the placement policy new Variables consult (None: none).

    `policy.variable_sharding(variable)` returns a `jax.sharding.Sharding` for
    the variable (its `path`, `shape`, `dtype`, `synchronization` and
    `_layout` are set when it is called) or None to leave it unplaced.
    `kerax.distribution.set_distribution` installs its distribution here.
    Returns the previous policy.

    >>> class OnFirstDevice:
    ...     def variable_sharding(self, variable):
    ...         return jax.sharding.SingleDeviceSharding(jax.devices()[0])
    >>> previous = set_placement(OnFirstDevice())
    >>> Variable([1.0, 2.0])._placed is not None
    True
    >>> _ = set_placement(previous)
    """
    previous = _PLACEMENT[0]
    _PLACEMENT[0] = policy
    return previous


def get_placement():
    """The installed placement policy, or None.

    >>> get_placement() is None
    True
    """
    return _PLACEMENT[0]


def place(variable, sharding):
    """Move `variable`'s buffer to `sharding` and keep it there (its eager
    assigns are placed the same way from then on).

    >>> v = Variable([1.0, 2.0])
    >>> place(v, jax.sharding.SingleDeviceSharding(jax.devices()[0])).value.sharding.is_fully_replicated
    True
    """
    val = variable._value
    if is_tracer(val):
        raise ValueError(f"Variable {variable.path!r}: cannot place a traced value.")
    if not _same_sharding(val, sharding):
        with jax.ensure_compile_time_eval():
            variable._value = jax.device_put(val, sharding)
        variable._shared = False
    variable._placed = sharding
    return variable


def _same_sharding(value, sharding):
    return getattr(value, "sharding", None) == sharding


class _ExplicitLayout:
    """The placement of a Variable given `layout=` while no distribution is
    active: that layout (a `jax.sharding.Sharding`, or an object with a
    `backend_layout` sharding, such as a `TensorLayout` with its mesh)."""

    def variable_sharding(self, variable):
        layout = variable._layout
        if isinstance(layout, jax.sharding.Sharding):
            return layout
        sharding = getattr(layout, "backend_layout", None)
        if not isinstance(sharding, jax.sharding.Sharding):
            raise ValueError(
                f"Variable {variable.path!r}: `layout` must be a "
                "kerax.distribution.TensorLayout or a jax.sharding.Sharding, got "
                f"{layout!r}.")
        return sharding


def _sharded_init(initializer, shape, dtype, sharding):
    """Run `initializer(shape, dtype)` compiled with `out_shardings`: each
    device computes only its own shard. Assigns the initializer makes (a
    `SeedGenerator` seed advancing its state) are returned by the compiled
    program and applied after it. None when the initializer cannot be traced
    (it converts its values with NumPy): the caller then computes the value
    eagerly and places it."""
    record = {}

    def init():
        scope = _scope.StateScope()
        folding = (_constant_folding(False) if _constant_folding is not None
                   else contextlib.nullcontext())
        with folding, scope:
            value = jnp.asarray(initializer(shape, dtype), dtype=dtype)
        record["vars"] = [var for var, _ in scope.assigned_items()]
        return value, [val for _, val in scope.assigned_items()]

    try:
        value, new = jax.jit(init, out_shardings=(sharding, None))()
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            jax.errors.TracerBoolConversionError, jax.errors.TracerIntegerConversionError):
        return None
    for var, val in zip(record["vars"], new):
        var.assign(val)
    return value


def _standardize_dtype(dtype):
    return None if dtype is None else jnp.dtype(standardize_dtype(dtype))


def host_to_device(array, dtype=None):
    """A NumPy array on the default device (with `dtype`, canonicalized as JAX
    would: float64 -> float32 without x64). `jax.device_put` compiles nothing,
    where `jnp.asarray` of a NumPy array compiles a small program per shape."""
    dt = jax.dtypes.canonicalize_dtype(array.dtype if dtype is None else dtype)
    if is_tracer(array):
        return jnp.asarray(array, dt)
    return jax.device_put(np.asarray(array, dt))


def _to_value(value, dtype, name):
    if isinstance(value, Variable):
        value = value.value
    if dtype is None:
        if isinstance(value, (float,)) or (
                isinstance(value, (list, tuple)) and _has_float(value)):
            dtype = jnp.dtype(config.floatx())
        elif isinstance(value, bool):
            dtype = jnp.dtype("bool")
        elif isinstance(value, int):
            dtype = jnp.dtype("int32")
        elif isinstance(value, np.ndarray) and value.dtype == np.float64 and \
                not jax.config.jax_enable_x64:
            dtype = jnp.dtype(config.floatx())
        else:
            dtype = jnp.asarray(value).dtype
    try:
        if isinstance(value, np.ndarray) and value.dtype != object:
            return host_to_device(value, dtype)
        return jnp.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"Variable {name!r}: cannot convert initial value of type "
            f"{type(value).__name__} to an array of dtype {dtype}: {e}") from None


def _has_float(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            if _has_float(x):
                return True
        elif isinstance(x, float):
            return True
    return False


class Variable:
    """A mutable, named array: the state of layers, metrics, optimizers and RNGs.

    Args:
      initial_value: an array-like, or a callable `(shape, dtype) -> array`
        (an initializer), in which case `shape` is required.
      shape, dtype: as in Keras 3. `dtype=None` infers it (Python floats give
        `kerax.config.floatx()`).
      trainable: whether optimizers and gradients see it.
      name: a readable name; `path` adds the owning layer's path.
      constraint: a callable applied to the value after each optimizer update.
      autocast: whether a layer running in a lower compute dtype (mixed
        precision) reads it in that dtype.
      aggregation, synchronization: stored for Keras compatibility
        (`synchronization="on_read"`, metric state, is replicated under a
        distribution).
      layout: the variable's `kerax.distribution.TensorLayout` (or a
        `jax.sharding.Sharding`) under a distribution; None lets the active
        distribution choose (see `kerax.distribution`).

    >>> v = Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
    >>> _ = v.assign(2 * v); _ = v[0, 1].assign(42.0)
    >>> v.numpy().tolist(), v.dtype, v.trainable
    ([[2.0, 42.0], [6.0, 8.0]], dtype('float32'), True)
    """

    # NumPy should defer to our reflected operators (np_array * v -> v.__rmul__).
    __array_priority__ = 100

    def __init__(self, initial_value=None, shape=None, dtype=None, trainable=True,
                 autocast=True, aggregation="none", synchronization="auto",
                 name=None, constraint=None, layout=None, **kwargs):
        if kwargs:
            raise TypeError(f"Variable: unexpected keyword arguments {sorted(kwargs)}.")
        if name is None:
            name = "variable"
        if not isinstance(name, str) or "/" in name:
            raise ValueError(
                f"Variable: `name` must be a string without '/', got {name!r}.")
        self._name = name
        scope_path = current_path()
        self._path = f"{scope_path}/{name}" if scope_path else name
        self._trainable = bool(trainable)
        # Keras orders a layer's weights by the flag they were created with.
        self.created_trainable = bool(trainable)
        self._autocast = autocast
        self._aggregation = aggregation
        self._synchronization = synchronization
        if constraint is not None and not callable(constraint):
            raise ValueError(f"Variable {name!r}: `constraint` must be callable, got {constraint!r}.")
        self._constraint = constraint
        if initial_value is None:
            raise ValueError(f"Variable {name!r}: `initial_value` is required.")
        self._layout = layout
        self._placed = None
        policy = _PLACEMENT[0]
        if policy is None and layout is not None:
            policy = _ExplicitLayout()  # a layout given with no distribution active
        sharding = None
        # Initial values are always computed outside any trace: a Variable holds
        # concrete values only.
        with jax.ensure_compile_time_eval():
            if callable(initial_value) and not hasattr(initial_value, "shape"):
                if shape is None:
                    raise ValueError(
                        f"Variable {name!r}: when `initial_value` is a callable "
                        "(initializer), `shape` is required.")
                dt = _standardize_dtype(dtype) or jnp.dtype(config.floatx())
                # before XLA is asked: a failed huge allocation can abort the process
                check_allocation(tuple(shape), dt, f"Variable {self._path!r}")
                value = None
                if policy is not None:
                    sharding = self._ask_placement(policy, tuple(shape), dt)
                    if sharding is not None and not sharding.is_fully_replicated:
                        value = _sharded_init(initial_value, tuple(shape), dt, sharding)
                if value is None:
                    value = initial_value(tuple(shape), dt)
            else:
                value = initial_value
            dt = _standardize_dtype(dtype)
            if is_tracer(value) or (isinstance(value, Variable) and is_tracer(value.value)):
                raise ValueError(
                    f"Variable {name!r} was created from a traced value. Create "
                    "variables eagerly (in __init__ or build) from concrete values; "
                    "inside kerax.function, variables may only be created on the "
                    "first call and from concrete initial values.")
            value = _to_value(value, dt, name)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"Variable {name!r}: initial value has shape {tuple(value.shape)}, "
                f"expected {tuple(shape)}.")
        if policy is not None:
            if sharding is None:
                sharding = self._ask_placement(policy, tuple(value.shape), value.dtype)
            if sharding is not None and not _same_sharding(value, sharding):
                with jax.ensure_compile_time_eval():
                    value = jax.device_put(value, sharding)
            self._placed = sharding
        self._value = value
        # True when the buffer may also be held by the caller (an array passed
        # in as is): fit copies such buffers once before donating them.
        self._shared = value is initial_value
        if current_scope() is not None:
            for s in scopes():
                s.created.append(self)

    def _ask_placement(self, policy, shape, dtype):
        """The policy's sharding for this variable, asked while its value does
        not exist yet (`shape`/`dtype` read from a ShapeDtypeStruct)."""
        self._value = jax.ShapeDtypeStruct(shape, dtype)
        try:
            return policy.variable_sharding(self)
        finally:
            del self._value

    # ---- identity -------------------------------------------------------
    __hash__ = object.__hash__

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return self._path

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def constraint(self):
        return self._constraint

    @constraint.setter
    def constraint(self, value):
        self._constraint = value

    @property
    def aggregation(self):
        return self._aggregation

    @property
    def synchronization(self):
        return self._synchronization

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def shape(self):
        return tuple(self._value.shape)

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def size(self):
        return int(self._value.size)

    # ---- reading ---------------------------------------------------------
    @property
    def value(self):
        val = self._value
        stack = scopes()
        if stack:
            for s in reversed(stack):
                hit = s.lookup(self)
                if hit is not _MISSING:
                    val = hit
                    break
        cast = _scope.autocast_dtype()
        if cast is not None and self._autocast and val.dtype != cast and \
                jnp.issubdtype(val.dtype, jnp.floating):
            # mixed precision: read in the layer's compute dtype
            val = val.astype(cast)
        return val

    def read_value(self):
        return self.value

    def numpy(self):
        val = self.value
        if is_tracer(val):
            raise ValueError(
                f"Variable {self.path!r}: .numpy() was called inside a traced "
                "function (kerax.function, fit's compiled step or jax.jit), where "
                "the value is symbolic. Return it from the function instead.")
        if not getattr(val, "is_fully_addressable", True) and not val.is_fully_replicated:
            # sharded over several hosts: every host gathers the full value
            # (a collective: all processes call it, as they all save).
            return np.asarray(multihost_utils.process_allgather(val, tiled=True))
        return np.asarray(val)

    def __jax_array__(self):
        return self.value

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr.astype(dtype) if dtype is not None else arr

    # ---- assigning -------------------------------------------------------
    def _check_value(self, value):
        if isinstance(value, Variable):
            value = value.value
        if self._placed is not None and not hasattr(value, "dtype"):
            value = np.asarray(value, dtype=self.dtype)  # placed from the host, below
        elif not hasattr(value, "shape") or not hasattr(value, "dtype"):
            value = jnp.asarray(value, dtype=self.dtype)
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"Variable {self.path!r}: cannot assign a value of shape "
                f"{tuple(value.shape)} to a variable of shape {self.shape}.")
        if value.dtype != self.dtype:
            if isinstance(value, np.ndarray):
                value = value.astype(self.dtype)  # moved to the device on assignment
            else:
                value = jnp.asarray(value, dtype=self.dtype)
        return value

    def assign(self, value):
        original = value
        value = self._check_value(value)
        stack = scopes()
        if stack:
            stack[-1].assign(self, value)
        else:
            if is_tracer(value):
                raise ValueError(
                    f"Variable {self.path!r}: cannot assign a traced value outside "
                    "a kerax transform (this happens under a plain jax.jit, "
                    "jax.grad or jax.vmap). Wrap the stateful function with "
                    "`kerax.function` (which threads Variable state through the "
                    "compiled program), or use `model.stateless_call` / "
                    "`kerax.variables.pure` to get a pure function of the values.")
            shared = value is original
            if self._placed is not None:
                if not _same_sharding(value, self._placed):
                    # placed by a distribution: the new value keeps the layout
                    # (from a device array its shards may alias the source's
                    # buffers, which other variables may hold too: shared)
                    shared = shared or isinstance(value, jax.Array)
                    value = jax.device_put(value, self._placed)
            elif isinstance(value, np.ndarray):
                value = host_to_device(value)
                shared = False
            self._shared = shared
            self._value = value
        return self

    def assign_add(self, delta):
        return self.assign(self.value + _unwrap(delta))

    def assign_sub(self, delta):
        return self.assign(self.value - _unwrap(delta))

    def scatter_nd_update(self, indices, updates):
        """TF's scatter_nd_update: `indices` is (N, k) of index tuples into the
        first k dimensions, `updates` has shape (N,) + shape[k:]."""
        indices = jnp.asarray(_unwrap(indices))
        if indices.ndim < 1 or indices.shape[-1] > self.ndim:
            raise ValueError(
                f"Variable {self.path!r}: scatter_nd_update indices must have shape "
                f"(..., k) with k <= {self.ndim}, got {tuple(indices.shape)}.")
        idx = tuple(indices[..., i] for i in range(indices.shape[-1]))
        updates = jnp.asarray(_unwrap(updates), dtype=self.dtype)
        return self.assign(self.value.at[idx].set(updates))

    def scatter_update(self, indices, updates):
        indices = jnp.asarray(_unwrap(indices))
        updates = jnp.asarray(_unwrap(updates), dtype=self.dtype)
        return self.assign(self.value.at[indices].set(updates))

    def __getitem__(self, key):
        return _SliceRef(self, key)

    def __setitem__(self, key, value):
        raise TypeError(
            f"Variable {self.path!r} does not support item assignment "
            f"(v[{key!r}] = ...). Use `v[{key!r}].assign(value)` or "
            "`v.assign(new_value)` instead.")

    # ---- display ----------------------------------------------------------
    def __repr__(self):
        val = self.value
        shown = "<traced>" if is_tracer(val) else np.array2string(
            np.asarray(val), separator=", ", threshold=20)
        return (f"<kerax.Variable path={self.path!r}, shape={self.shape}, "
                f"dtype={self.dtype}, value={shown}>")

    def __bool__(self):
        return bool(self.value)

    def __int__(self):
        return int(self.value)

    def __float__(self):
        return float(self.value)

    def __index__(self):
        return int(self.value)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d Variable")
        return self.shape[0]

    def __iter__(self):
        val = self.value
        return iter(val[i] for i in range(val.shape[0]))

    def astype(self, dtype):
        return self.value.astype(dtype)

    @property
    def T(self):
        return self.value.T

    def reshape(self, *shape):
        return self.value.reshape(*shape)


def _unwrap(x):
    return x.value if isinstance(x, Variable) else x


class _SliceRef:
    """What `v[key]` returns: reads like an array, and `.assign` writes the slice."""

    __array_priority__ = 100

    def __init__(self, var, key):
        self._var = var
        self._key = key

    @property
    def value(self):
        return self._var.value[self._key]

    def __jax_array__(self):
        return self.value

    def __array__(self, dtype=None, copy=None):
        arr = np.asarray(self.value)
        return arr.astype(dtype) if dtype is not None else arr

    def numpy(self):
        return np.asarray(self.value)

    def assign(self, value):
        value = jnp.asarray(_unwrap(value), dtype=self._var.dtype)
        return self._var.assign(self._var.value.at[self._key].set(value))

    def assign_add(self, delta):
        return self.assign(self.value + _unwrap(delta))

    def assign_sub(self, delta):
        return self.assign(self.value - _unwrap(delta))

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return self._var.dtype

    def __getitem__(self, key):
        return self.value[key]

    def __repr__(self):
        return repr(self.value)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __bool__(self):
        return bool(self.value)


def _binary(name, reflected=False):
    def op(self, other):
        other = _unwrap(other.value if isinstance(other, _SliceRef) else other)
        a = self.value
        return getattr(a, name)(other)
    op.__name__ = name
    return op


for _name in ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__",
              "__mod__", "__rmod__", "__pow__", "__rpow__", "__matmul__",
              "__rmatmul__", "__and__", "__rand__", "__or__", "__ror__",
              "__xor__", "__rxor__", "__lshift__", "__rlshift__", "__rshift__",
              "__rrshift__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__",
              "__ne__", "__divmod__", "__rdivmod__"]:
    setattr(Variable, _name, _binary(_name))
    setattr(_SliceRef, _name, _binary(_name))
for _name in ["__neg__", "__pos__", "__abs__", "__invert__"]:
    setattr(Variable, _name, (lambda n: lambda self: getattr(self.value, n)())(_name))
    setattr(_SliceRef, _name, (lambda n: lambda self: getattr(self.value, n)())(_name))
Variable.__hash__ = object.__hash__
_SliceRef.__hash__ = object.__hash__




class _Aux:
    """Pytree aux data: the Variable itself, compared by identity."""
    __slots__ = ("var",)

    def __init__(self, var):
        self.var = var

    def __eq__(self, other):
        return isinstance(other, _Aux) and other.var is self.var

    def __hash__(self):
        return id(self.var)


def _flatten(v):
    return (v.value,), _Aux(v)


def _unflatten(aux, children):
    # A round trip that leaves the value as it was gives the Variable back;
    # a new value (a transformed tree, a tracer inside jax.jit) is an array.
    (child,) = children
    var = aux.var
    if isinstance(var, _SliceRef):
        return child
    return var if child is var._value else child


# A Variable passed to a JAX function (jax.jit, jax.tree_util) is passed as its
# current value; tree_map(lambda t: t, tree) gives the Variable back.
jax.tree_util.register_pytree_node(Variable, _flatten, _unflatten)
jax.tree_util.register_pytree_node(_SliceRef, _flatten, _unflatten)


def is_variable(x):
    """>>> is_variable(Variable(1.0)), is_variable(1.0)
    (True, False)
    """
    return isinstance(x, Variable)
