"""Compiled stateful functions and gradients, built on the state bridge.

- `kerax.function` (the analogue of `tf.function`): compiles a Python function
  that reads and assigns Variables into one XLA program. The Python body runs
  once per new input signature: the trace records every Variable it reads
  (`StateScope(discover=True)`), and the recorded program is compiled with those
  variables' values as inputs and the assigned ones as outputs.
- `kerax.grad` / `kerax.value_and_grad` (the analogue of `GradientTape`):
  gradients with respect to Variables (or positional arguments).

Under a `kerax.distribution` distribution, `kerax.function` splits its array
inputs along the batch axis of the mesh (`distribution.distribute_data`) and
compiles with each state variable's sharding as the sharding of its new
value, so a custom training loop runs data- or model-parallel as written;
XLA inserts the collectives (the gradient all-reduce).
"""
import functools
import inspect
import weakref

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import array as _jax_array  # ArrayImpl: no public name

from kerax.core import tracking
from kerax.core.gc_pause import PausedFirstCall
from kerax.core.scope import StateScope, current_scope, is_tracer
from kerax.core.scope import scopes as _stack
from kerax.core.trace import trace as core_trace
from kerax.core.variable import Variable, get_placement

__all__ = ["function", "grad", "value_and_grad", "KeraxFunction"]


def _is_var(x):
    return isinstance(x, Variable)


def _is_arraylike(x):
    return isinstance(x, (jax.Array, np.ndarray, np.generic)) or is_tracer(x)


class KeraxFunction:
    """A compiled stateful function. See `kerax.function`."""

    def __init__(self, fn, jit_compile=True, static_argnames=None, donate_variables=False):
        if not callable(fn):
            raise TypeError(f"kerax.function expects a callable, got {fn!r}.")
        self._fn = fn
        self.jit_compile = jit_compile
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        self._static_argnames = tuple(static_argnames or ())
        self._donate = donate_variables
        self._traces = {}
        self._fast = {}
        self._instances = weakref.WeakKeyDictionary()
        self.trace_count = 0
        functools.update_wrapper(self, fn)
        try:
            self._sig = inspect.signature(fn)
        except (TypeError, ValueError):
            self._sig = None

    # Methods: one KeraxFunction (and one cache) per instance.
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        try:
            bound = self._instances.get(instance)
        except TypeError:
            bound = None
        if bound is None:
            bound = KeraxFunction(self._fn.__get__(instance, owner), self.jit_compile,
                                  self._static_argnames, self._donate)
            try:
                self._instances[instance] = bound
            except TypeError:
                pass
        return bound

    @property
    def python_function(self):
        return self._fn

    # ---- signature ---------------------------------------------------------
    def _split(self, args, kwargs):
        """Flatten args into (key, dynamic array leaves, rebuild)."""
        static_kw = {k: kwargs[k] for k in self._static_argnames if k in kwargs}
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_kw}
        if self._static_argnames and self._sig is not None:
            # static arguments given positionally
            params = list(self._sig.parameters)
            for i, a in enumerate(args):
                if i < len(params) and params[i] in self._static_argnames:
                    static_kw[params[i]] = a
        leaves, treedef = jax.tree_util.tree_flatten((args, dyn_kwargs), is_leaf=_is_var)
        dyn, spec = [], []
        for leaf in leaves:
            if _is_arraylike(leaf):
                arr = leaf
                dyn.append(arr)
                spec.append(("a", tuple(np.shape(arr)), str(arr.dtype),
                             bool(getattr(arr, "weak_type", False))))
            elif _is_var(leaf):
                spec.append(("v", id(leaf)))
                dyn.append(None)
            else:
                try:
                    hash(leaf)
                    spec.append(("p", type(leaf), leaf))
                except TypeError:
                    spec.append(("o", id(leaf)))
                dyn.append(None)
        try:
            static_key = tuple(sorted((k, v) for k, v in static_kw.items()))
            hash(static_key)
        except TypeError as e:
            raise TypeError(f"kerax.function: static arguments must be hashable: {e}") from None
        key = (treedef, tuple(spec), static_key)
        return key, leaves, treedef, dyn

    # ---- calling -------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        policy = get_placement()
        if policy is not None and self.jit_compile and not _stack() and not _any_tracer(
                args, kwargs):
            args, kwargs = self._distribute(policy, args, kwargs)
            program, arrays = self._trace_for(args, kwargs, policy)
            return self._run(program, arrays)
        if not kwargs and self.jit_compile:
            # Fast path: positional concrete arrays only (the hot loop of a
            # custom training step) -- a cheap signature, no pytree walk.
            try:
                key = tuple((a.shape, a.dtype, a.weak_type) if type(a) is _ArrayImpl
                            else _NOT_FAST for a in args)
            except AttributeError:
                key = None
            if key is not None and _NOT_FAST not in key and not _stack():
                trace = self._fast.get(key)
                if trace is None:
                    slow_key, leaves, treedef, dyn = self._split(args, kwargs)
                    trace = self._traces.get(slow_key) or self._trace(slow_key, leaves, treedef, dyn)
                    self._fast[key] = trace
                return self._run(trace, args)
        if not self.jit_compile or _stack() or _any_tracer(args, kwargs):
            # Eager mode, or already inside a kerax transform or a JAX trace:
            # run the Python body inline; the enclosing transform compiles it.
            return self._fn(*args, **kwargs)
        key, leaves, treedef, dyn = self._split(args, kwargs)
        trace = self._traces.get(key)
        if trace is None:
            trace = self._trace(key, leaves, treedef, dyn)
        return self._run(trace, dyn)

    def _run(self, program, dyn):
        arrays = [d for d in dyn if d is not None]
        if len(arrays) == len(dyn):
            arrays = list(dyn)
        out, new_values, losses = program.jitted(program.values(), program.consts, arrays)
        program.write_back(new_values)
        if program.loss_owners:
            _store_losses(program.loss_owners, losses)
        return program.unflatten(out)

    def _trace(self, key, leaves, treedef, dyn, policy=None):
        static_kw = dict(key[2])

        def flat_fn(*arrays):
            it = iter(arrays)
            full = [next(it) if d is not None and not _is_var(leaf) else leaf
                    for leaf, d in zip(leaves, dyn)]
            args, kwargs = jax.tree_util.tree_unflatten(treedef, full)
            return self._fn(*args, **kwargs, **static_kw)

        arrays = [d for d, leaf in zip(dyn, leaves) if d is not None and not _is_var(leaf)]
        program = core_trace(flat_fn, arrays, allow_create=not self._traces,
                             name=getattr(self._fn, "__name__", None))
        self.trace_count += 1
        out_shardings = None
        if policy is not None:
            # new state keeps each variable's layout; outputs as XLA propagates
            shardings = policy.state_shardings(program.variables)
            out_shardings = (None, [shardings[i] for i in program.assigned], None)
        program.jitted = PausedFirstCall(
            jax.jit(program.run, donate_argnums=(0,) if self._donate else (),
                    out_shardings=out_shardings),
            lambda fn: setattr(program, "jitted", fn))
        self._traces[key] = program
        return program

    # ---- inspection ------------------------------------------------------------
    def _distribute(self, policy, args, kwargs):
        """The array arguments as global arrays split along the batch axis of
        the active distribution (`policy`); in a multi-process run each
        process passes its own rows."""
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_var)
        fname = getattr(self._fn, "__name__", "function")
        out = [policy.distribute_data(
                   leaf, name=f"kerax.function {fname!r}: array input #{i} "
                              f"(shape {tuple(np.shape(leaf))})")
               if _is_arraylike(leaf) else leaf for i, leaf in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(treedef, out)

    def _trace_for(self, args, kwargs, policy=None):
        """The program for these arguments (traced if new) and its array inputs."""
        key, leaves, treedef, dyn = self._split(args, kwargs)
        if policy is not None:
            key = key + (policy,)
        trace = self._traces.get(key)
        if trace is None:
            trace = self._trace(key, leaves, treedef, dyn, policy)
        return trace, dyn

    def get_jaxpr(self, *args, **kwargs):
        """The traced program (a ClosedJaxpr) for these arguments; traces if new."""
        return self._inspect(args, kwargs)[0].jaxpr

    def lower(self, *args, **kwargs):
        """The `jax.stages.Lowered` program for these arguments (under a
        distribution, with its shardings: `.compile().as_text()` shows the
        collectives)."""
        program, dyn = self._inspect(args, kwargs)
        return program.jitted.lower(program.values(), program.consts,
                                    [d for d in dyn if d is not None])

    def get_stablehlo(self, *args, **kwargs):
        """The lowered StableHLO text, the analogue of a concrete function's graph."""
        return self.lower(*args, **kwargs).as_text()

    def get_variables(self, *args, **kwargs):
        """The Variables the traced program reads for these arguments."""
        return list(self._inspect(args, kwargs)[0].read_variables)

    def _inspect(self, args, kwargs):
        policy = get_placement()
        if policy is not None:
            args, kwargs = self._distribute(policy, args, kwargs)
        return self._trace_for(args, kwargs, policy)

    def __repr__(self):
        return f"<kerax.function {getattr(self._fn, '__name__', self._fn)!r} traces={self.trace_count}>"


# the concrete array type (not made from an array: importing kerax starts no
# JAX backend, so `kerax.distribution.initialize` can still run)
_ArrayImpl = _jax_array.ArrayImpl
_NOT_FAST = object()


def _any_tracer(args, kwargs):
    for leaf in jax.tree_util.tree_leaves((args, kwargs), is_leaf=_is_var):
        if is_tracer(leaf):
            return True
    return False


def _store_losses(owners, values):
    per_owner = {}
    for owner, val in zip(owners, values):
        if owner is not None:
            per_owner.setdefault(id(owner), (owner, []))[1].append(val)
    for owner, vals in per_owner.values():
        if hasattr(owner, "_set_call_losses"):
            owner._set_call_losses(vals)


def function(fn=None, *, jit_compile=True, static_argnames=None, reduce_retracing=False,
             donate_variables=False):
    """Compile a stateful Python function (the analogue of `tf.function`).

    The function may read and assign kerax Variables; assigns persist exactly
    as if it ran eagerly. It is traced once per new input signature (array
    shapes/dtypes, the values of Python arguments, the structure of nested
    arguments and the values of `static_argnames`); a `print` inside runs once
    per trace. Variables may be created on the first call only; a first call
    that creates variables (a model built on its first call, optimizer slots)
    runs the Python body a second time once they exist (`trace_count` counts
    input signatures), so the compiled program sees every variable.

    `reduce_retracing=True` (tf.function's shape relaxation) is not available:
    XLA compiles static shapes; pad inputs to a few fixed sizes instead.

    Works as `@kerax.function`, `@kerax.function(jit_compile=False)`, and on
    methods (one cache per instance). `f.trace_count`, `f.get_jaxpr(*args)`,
    `f.lower(*args)` and `f.get_stablehlo(*args)` expose the compiled program.
    """
    if reduce_retracing:
        raise NotImplementedError(
            "kerax.function(reduce_retracing=True): XLA compiles one program per input "
            "shape, so shapes cannot be relaxed as in tf.function. Pad or bucket the "
            "inputs to a few fixed shapes, or mark Python arguments `static_argnames`.")

    def wrap(f):
        return KeraxFunction(f, jit_compile=jit_compile, static_argnames=static_argnames,
                             donate_variables=donate_variables)
    if fn is None:
        return wrap
    return wrap(fn)


# ---- gradients ----------------------------------------------------------------
def _check_float_output(out, name):
    dtype = getattr(out, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"kerax.{name}: the function must return a floating-point value to "
            f"differentiate, got dtype {dtype}. Cast with kerax.ops.cast(x, 'float32') "
            "or return a float loss.")


def _flatten_wrt(wrt, name):
    leaves, tree = jax.tree_util.tree_flatten(wrt, is_leaf=_is_var)
    for leaf in leaves:
        if not _is_var(leaf):
            raise TypeError(
                f"kerax.{name}: `wrt` must hold kerax Variables, got "
                f"{type(leaf).__name__}. To differentiate with respect to "
                "arrays, pass them as arguments and use `argnums`.")
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            raise TypeError(
                f"kerax.{name}: cannot differentiate with respect to Variable "
                f"{leaf.path!r} of dtype {leaf.dtype}; only float variables have "
                "gradients.")
    return leaves, tree


def value_and_grad(fn, wrt=None, *, argnums=0, has_aux=False):
    """Return `g(*args, **kwargs) -> (value, grads)` (or `((value, aux), grads)`
    with `has_aux`), the analogue of recording `fn` on a GradientTape.

    wrt: a Variable or any nested structure of Variables; gradients come back in
      the same structure. When None, gradients are taken with respect to the
      positional arguments selected by `argnums`, as in `jax.value_and_grad`.
    A non-scalar value is summed first (as TF's tape does). Assigns made inside
    `fn` (e.g. BatchNormalization statistics, RNG state) persist. Works eagerly,
    inside kerax.function and nested (grad of grad).
    """
    name = "value_and_grad"

    def prepare(out):
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise ValueError(
                    f"kerax.{name}(has_aux=True): the function must return a pair "
                    f"(value, aux), got {type(out).__name__}.")
            val, aux = out
        else:
            val, aux = out, None
        if isinstance(val, Variable):
            val = val.value
        val = jnp.asarray(val)
        _check_float_output(val, name)
        if val.ndim:
            val = jnp.sum(val)
        return val, aux

    def scoped(pairs, record, call):
        """Run `call()` (the user's fn) in a scope substituting `pairs`; the
        differentiable value, and as aux what the scope recorded."""
        scope = StateScope(pairs)
        with scope:
            out = call()
        val, aux = prepare(out)
        assigned = scope.assigned_items()
        record.update(vars=[v for v, _ in assigned], owners=[o for o, _ in scope.losses],
                      created=bool(scope.created))
        return val, (aux, [a for _, a in assigned], [l for _, l in scope.losses])

    if wrt is not None:
        _flatten_wrt(wrt, name)

        def g(*args, **kwargs):
            current = wrt
            while True:
                wrt_leaves, wrt_tree = _flatten_wrt(current, name)
                record = {}
                (val, (aux, new_vals, losses)), grads = jax.value_and_grad(
                    lambda values: scoped(zip(wrt_leaves, values), record,
                                          lambda: fn(*args, **kwargs)),
                    has_aux=True)([v.value for v in wrt_leaves])
                fresh = tracking.refresh(current) if record["created"] else None
                if fresh is None or len(jax.tree_util.tree_leaves(
                        fresh, is_leaf=_is_var)) == len(wrt_leaves):
                    break
                # `fn` built layers whose variables `wrt` was read too early to
                # hold (model.trainable_variables of an unbuilt model): again,
                # with the variables that now exist.
                current = fresh
            _propagate(record, new_vals, losses)
            grads = jax.tree_util.tree_unflatten(wrt_tree, grads)
            return ((val, aux) if has_aux else val), grads

        return g

    def g(*args, **kwargs):
        record = {}
        (val, (aux, new_vals, losses)), grads = jax.value_and_grad(
            lambda *a, **k: scoped((), record, lambda: fn(*a, **k)),
            argnums=argnums, has_aux=True)(*args, **kwargs)
        _propagate(record, new_vals, losses)
        return ((val, aux) if has_aux else val), grads

    return g


def _propagate(record, new_vals, losses):
    for var, val in zip(record.get("vars", ()), new_vals):
        var.assign(val)
    owners = record.get("owners", ())
    if owners:
        scope = current_scope()
        if scope is not None:
            for owner, val in zip(owners, losses):
                scope.add_loss(owner, val)
        else:
            _store_losses(owners, losses)


def grad(fn, wrt=None, *, argnums=0, has_aux=False):
    """Like `value_and_grad` but returns only the gradients (and aux with
    `has_aux`: `(grads, aux)`, as jax.grad)."""
    vg = value_and_grad(fn, wrt, argnums=argnums, has_aux=has_aux)

    def g(*args, **kwargs):
        val, grads = vg(*args, **kwargs)
        if has_aux:
            return grads, val[1]
        return grads

    return g
