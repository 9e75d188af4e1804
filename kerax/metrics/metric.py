"""`Metric`: the base of every metric.

A metric keeps its state in non-trainable Variables (created with
`add_variable` / `add_weight`, in creation order), accumulates it in
`update_state` with `var.assign(...)` only, and computes its value in
`result()`. Because all state goes through Variables, a metric runs unchanged
eagerly, inside `kerax.function` and inside `fit`'s compiled step. The
stateless API (`stateless_update_state`, `stateless_result`,
`stateless_reset_state`) is the same code run through the state bridge
(`kerax.variables.pure`), so it works under a plain `jax.jit`.

Subclassing, as in Keras::

    class BinaryTruePositives(kerax.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(
                shape=(), initializer="zeros", name="true_positives")

        def update_state(self, y_true, y_pred, sample_weight=None):
            values = jnp.logical_and(jnp.asarray(y_true, bool), jnp.asarray(y_pred, bool))
            values = values.astype(self.dtype)
            if sample_weight is not None:
                values = values * jnp.asarray(sample_weight, self.dtype)
            self.true_positives.assign(self.true_positives + jnp.sum(values))

        def result(self):
            return self.true_positives.value

Inside `update_state`/`result` use only `var.value`, `var.assign*` and
jax.numpy: no Python `if` on array values and no `float(...)`, so the
methods can be compiled.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax import initializers
from kerax.core import tracking
from kerax.core.dtypes import standardize_dtype
from kerax.core.naming import auto_name, to_snake_case
from kerax.variables import Variable, pure

_ZEROS = {}  # (shape, dtype) -> a zeros array on the device, for small metric states
_ZEROS_MAX = 4096  # elements: larger states are made afresh


def zeros_of(shape, dtype):
    """Zeros of `shape` and `dtype`, for a metric's reset: one shared,
    immutable device array per small (shape, dtype), so resetting a model's
    metrics before each evaluate dispatches nothing. (A Variable given an
    array it did not make copies it before a training step donates it.)

    >>> import numpy as np
    >>> z = zeros_of((2,), "float32")
    >>> z is zeros_of((2,), "float32"), np.asarray(z).tolist()
    (True, [0.0, 0.0])
    """
    shape = tuple(int(d) for d in shape)
    key = (shape, str(dtype))
    found = _ZEROS.get(key)
    if found is None:
        found = jnp.zeros(shape, dtype)
        if found.size <= _ZEROS_MAX:
            _ZEROS[key] = found
    return found

# auto_name, to_snake_case and standardize_dtype are kerax.core's, re-exported
# for the modules that import them from here.
__all__ = ["Metric", "auto_name", "to_snake_case", "standardize_dtype"]


def _make_initializer(initializer):
    if initializer is None or (isinstance(initializer, str) and initializer.lower() == "zeros"):
        return lambda shape, dtype: jnp.zeros(shape, dtype)
    if isinstance(initializer, str) and initializer.lower() == "ones":
        return lambda shape, dtype: jnp.ones(shape, dtype)
    if isinstance(initializer, (str, dict)):
        return initializers.get(initializer)
    if callable(initializer):
        return initializer
    # A concrete array-like initial value.
    value = initializer
    return lambda shape, dtype: jnp.broadcast_to(jnp.asarray(value, dtype), shape)


class Metric:
    """Encapsulates metric logic and state (Keras 3's `keras.metrics.Metric`).

    Args:
      dtype: dtype of the metric's computations and result (default
        `kerax.config.floatx()`).
      name: the metric's name (default: snake_case of the class name, made
        unique: "auc", "auc_1", ...).

    Subclasses create their state in `__init__` with `self.add_variable(...)`
    (or `add_weight`), accumulate it in `update_state(...)` with
    `var.assign(...)`, and return the value in `result()`.
    """

    def __init__(self, dtype=None, name=None):
        if name is not None and not isinstance(name, str):
            raise ValueError(
                f"{type(self).__name__}: `name` must be a string or None, got {name!r}.")
        self.name = name or auto_name(type(self).__name__)
        self._dtype = standardize_dtype(dtype)
        # __dict__ directly: subclasses may set attributes before calling us.
        self.__dict__.setdefault("_variables", [])
        self.__dict__.setdefault("_initial_values", {})

    # ---- tracking (kerax.core.tracking: attributes at any nesting depth) ----------
    _kerax_untracked = ("_variables", "_initial_values")

    def _tracked(self):
        """Own variables (add_variable order), then Variables and metrics held as
        attributes (in lists/tuples/dicts too), in attribute order."""
        found = tracking.collect(self, lambda v: isinstance(v, (Variable, Metric)) and v is not self)
        own = self.__dict__.get("_variables", [])
        ids = {id(v) for v in own}
        return (list(own) + [v for v in found if isinstance(v, Variable) and id(v) not in ids],
                [m for m in found if isinstance(m, Metric)])

    def _check_super_called(self):
        if "name" not in self.__dict__ or "_dtype" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: you forgot to call `super().__init__()` in "
                "the `__init__()` method of your metric. Go add it!")

    # ---- state --------------------------------------------------------------
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        """Create a non-trainable state Variable, tracked in creation order.

        `initializer`: "zeros", "ones", any `kerax.initializers` identifier, or a
        callable `(shape, dtype) -> array`. `dtype` defaults to floatx.
        """
        self._check_super_called()
        if isinstance(shape, str):
            # tf.keras style: add_weight("total", initializer="zeros").
            if name is not None:
                raise ValueError(
                    f"Metric {self.name!r}: add_variable got a string shape {shape!r} "
                    f"and name={name!r}; pass `shape` as a tuple.")
            shape, name = (), shape
        if shape is None:
            shape = ()
        try:
            shape = tuple(int(s) for s in (shape if isinstance(shape, (list, tuple)) else (shape,)))
        except (TypeError, ValueError):
            raise ValueError(
                f"Metric {self.name!r}: `shape` must be a tuple of ints, got {shape!r}.") from None
        var_name = name or "variable"
        dtype = standardize_dtype(dtype)
        init = _make_initializer(initializer)
        with jax.ensure_compile_time_eval():  # concrete, also inside a trace
            initial = np.asarray(init(shape, jnp.dtype(dtype)))
        var = Variable(initial, shape=shape, dtype=dtype, trainable=False, autocast=False,
                       aggregation=aggregation, synchronization="on_read", name=var_name)
        var._path = f"{self.name.replace('/', '>')}/{var_name}"
        self.__dict__.setdefault("_variables", []).append(var)
        # a host copy: state buffers get donated
        self.__dict__.setdefault("_initial_values", {})[id(var)] = initial
        return var

    def add_weight(self, shape=(), initializer="zeros", dtype=None, name=None,
                   aggregation="sum", **kwargs):
        """Alias of `add_variable` (also accepts tf.keras' `add_weight(name, ...)`)."""
        if isinstance(shape, str):
            shape, name = kwargs.pop("shape", ()), shape
        unknown = set(kwargs) - {"trainable", "synchronization", "regularizer",
                                 "constraint", "autocast"}
        if unknown:
            raise TypeError(
                f"Metric {self.name!r}: add_weight got unexpected arguments {sorted(unknown)}.")
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype,
                                 aggregation=aggregation, name=name)

    @property
    def variables(self):
        """All state Variables: this metric's (in creation order), then those of
        the metrics it holds as attributes."""
        self._check_super_called()
        out, metrics = self._tracked()
        for m in metrics:
            for v in m.variables:
                if not any(v is o for o in out):
                    out.append(v)
        return out

    @property
    def weights(self):
        return self.variables

    @property
    def non_trainable_variables(self):
        return self.variables

    @property
    def trainable_variables(self):
        return []

    @property
    def dtype(self):
        return self._dtype

    # ---- the API to implement ---------------------------------------------------
    def update_state(self, *args, **kwargs):
        """Accumulate statistics for the metric."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement update_state().")

    def result(self):
        """The current value of the metric (a scalar, an array, or a dict)."""
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self):
        """Assign every state variable its initial value (zeros for Variables
        not made by `add_variable`, as Keras) and reset held metrics."""
        init = self.__dict__.get("_initial_values", {})
        own, metrics = self._tracked()
        for v in own:
            initial = init.get(id(v))
            if initial is None:
                initial = zeros_of(v.shape, v.dtype)
            v.assign(initial)
        for m in metrics:
            m.reset_state()

    def reset_states(self):  # tf.keras 2 spelling
        return self.reset_state()

    def __call__(self, *args, **kwargs):
        """`update_state(*args, **kwargs)`, then return `result()`."""
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    # ---- stateless API (through the state bridge) ----------------------------------
    def _check_values(self, metric_variables, what):
        variables = self.variables
        if metric_variables is None or len(metric_variables) != len(variables):
            n = None if metric_variables is None else len(metric_variables)
            raise ValueError(
                f"{type(self).__name__}.{what}: `metric_variables` must be a list of "
                f"arrays matching {type(self).__name__}().variables one to one "
                f"({len(variables)} variables), got {n}.")
        return variables

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        """`update_state` as a pure function: returns the new variable values."""
        variables = self._check_values(metric_variables, "stateless_update_state")
        _, new_values = pure(self.update_state, variables)(list(metric_variables),
                                                           *args, **kwargs)
        return new_values

    def stateless_result(self, metric_variables):
        """`result()` computed from the given variable values."""
        variables = self._check_values(metric_variables, "stateless_result")
        out, _ = pure(self.result, variables)(list(metric_variables))
        return out

    def stateless_reset_state(self):
        """The variable values `reset_state()` would assign."""
        variables = self.variables
        _, new_values = pure(self.reset_state, variables)([v.value for v in variables])
        return new_values

    # ---- config ----------------------------------------------------------------------
    def get_config(self):
        """The serializable config of the metric."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    def __str__(self):
        return self.__repr__()


