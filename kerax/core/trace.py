"""The ONE trace-and-replay of kerax: a stateful Python function becomes a
`Program`, a pure function of the Variables it touches.

`trace(fn, specs)` runs `fn(*arrays)` once under a discovering `StateScope`
inside `jax.make_jaxpr`: every Variable it reads becomes an input of the
program, every Variable it assigns an output, every `add_loss` term an extra
output. `kerax.function` runs the program with `Program.run`; fit's engine
scans `Program.body` over batches.

One rule for Variables created while tracing (a model built on its first
call, optimizer slots made by the first `apply_gradients`): they are created
eagerly from concrete values, and the function is traced again now that they
exist, because the first pass may have read variable lists before they were
complete (`model.trainable_variables` of an unbuilt model is empty). A trace
that is not allowed to create variables raises (tf.function's rule).
"""
import jax
import jax.numpy  # noqa: F401  (jax.numpy.array)

from kerax.core.gc_pause import gc_paused
from kerax.core.scope import StateScope
from kerax.core.variable import Variable

__all__ = ["trace", "Program"]

MAX_ROUNDS = 3


def _is_var(x):
    return isinstance(x, Variable)


class Program:
    """A traced stateful function.

    variables: the state it reads or writes (program inputs and carry);
    assigned: positions in `variables` that it writes, in order;
    consts: other captured constants; jaxpr: the `ClosedJaxpr`;
    loss_owners: the layers whose `add_loss` terms it returns.

    >>> import jax.numpy as jnp
    >>> from kerax.core.variable import Variable
    >>> v = Variable(1.0)
    >>> def step(x):
    ...     v.assign(v.value + x)
    ...     return v.value * 2
    >>> p = trace(step, [jnp.float32(0)])
    >>> out, new, losses = p.run(p.values(), p.consts, [jnp.float32(3.0)])
    >>> float(p.unflatten(out)), float(new[0]), float(v.value)
    (8.0, 4.0, 1.0)
    >>> carry, y = jax.lax.scan(lambda c, x: p.body(c, [x], p.consts), p.values(), jnp.ones(3))
    >>> [float(a) for a in y], float(carry[0])
    ([4.0, 6.0, 8.0], 4.0)
    """

    def __init__(self, closed, scope, out_tree, n_out):
        self.jaxpr = closed
        self._call = None  # the recorded program as one call equation (_call_params)
        self.out_tree = out_tree
        self.n_out = n_out
        by_buffer = {id(buf): var for var, buf in scope.discovered.values()}
        self.variables, index = [], {}

        def slot(var):
            if id(var) not in index:
                index[id(var)] = len(self.variables)
                self.variables.append(var)
            return index[id(var)]

        self._layout, self.consts = [], []
        for c in closed.consts:
            var = by_buffer.get(id(c))
            if var is not None:
                self._layout.append((True, slot(var)))
            else:
                self._layout.append((False, len(self.consts)))
                self.consts.append(c)
        self.n_read = len(self.variables)
        self.assigned = [slot(var) for var, _ in scope.assigned_items()]
        self.loss_owners = [owner for owner, _ in scope.losses]

    @property
    def read_variables(self):
        """The Variables whose values the program reads."""
        return self.variables[:self.n_read]

    def values(self):
        """The variables' current (concrete) buffers, in `variables` order."""
        return [v._value for v in self.variables]

    def run(self, values, consts, arrays):
        """Pure: `(values, consts, arrays) -> (output leaves, assigned values, losses)`."""
        ins = [values[i] if is_var else consts[i] for is_var, i in self._layout]
        args = ins + list(arrays)
        params = self._call_params(args)
        if params is None:
            outs = jax.core.eval_jaxpr(self.jaxpr.jaxpr, ins, *arrays)
        else:
            outs = _JIT_P[0].bind(*args, **params)
        n, k = self.n_out, len(self.assigned)
        return outs[:n], outs[n:n + k], outs[n + k:]

    def _call_params(self, args):
        """Inside a trace, the recorded program enters the caller's program as
        ONE call equation (jit's own primitive), not replayed op by op: a
        100-layer step costs a bind, not another trace of its ~20k
        operations. None where that is not possible (concrete arguments: the
        ops run one by one as before; a JAX whose call primitive differs)."""
        if not any(isinstance(a, jax.core.Tracer) for a in args):
            return None
        if self._call is None:
            self._call = _call_template(self.jaxpr, len(args))
        if self._call is False:
            return None
        return self._call

    def body(self, carry, arrays, consts):
        """One step for `lax.scan`: `(carry, arrays) -> (new carry, outputs)`."""
        out, new, _ = self.run(carry, consts, arrays)
        carry = list(carry)
        for i, val in zip(self.assigned, new):
            carry[i] = val
        return carry, self.unflatten(out)

    def unflatten(self, out_leaves):
        return jax.tree_util.tree_unflatten(self.out_tree, list(out_leaves))

    def donatable_values(self):
        """The current buffers, safe to donate: a buffer the caller may also
        hold (an array given to `Variable(...)` as is) or that two variables
        share is copied first, once."""
        vals, seen = [], set()
        for var in self.variables:
            val = var._value
            if var._shared or id(val) in seen:
                val = var._value = jax.numpy.array(val, copy=True)
                var._shared = False
            seen.add(id(val))
            vals.append(val)
        return vals

    def store(self, values):
        """Store a full carry (aligned with `variables`) into the Variables."""
        for var, val in zip(self.variables, values):
            var._value = val

    def write_back(self, new_values):
        """Store the assigned values returned by `run` into the Variables."""
        for i, val in zip(self.assigned, new_values):
            self.variables[i]._value = val


_JIT_P = []  # jit's primitive, found on first use (False: not available)


def _jit_primitive():
    if not _JIT_P:
        try:
            from jax._src.pjit import jit_p  # what jax.extend.core.primitives exports
        except ImportError:
            try:
                from jax._src.pjit import pjit_p as jit_p  # older JAX
            except ImportError:
                jit_p = False
        _JIT_P.append(jit_p)
    return _JIT_P[0]


def _call_template(closed, n_in):
    """The parameters that bind `closed` (its constants lifted to leading
    inputs) as one jit call equation, taken from a real jit equation of this
    JAX so they match its version; False if that cannot be done."""
    jit_p = _jit_primitive()
    if not jit_p:
        return False
    try:
        eqns = jax.make_jaxpr(jax.jit(lambda a: a))(jax.numpy.float32(0)).jaxpr.eqns
        if len(eqns) != 1 or eqns[0].primitive is not jit_p:
            return False
        params = dict(eqns[0].params)
        jaxpr = closed.jaxpr
        lifted = jaxpr.replace(constvars=[], invars=list(jaxpr.constvars) + list(jaxpr.invars))
        n_out = len(jaxpr.outvars)
        if n_in != len(lifted.invars):
            return False
        params.update(
            jaxpr=type(closed)(lifted, []), name="kerax_step",
            in_shardings=(params["in_shardings"][0],) * n_in,
            out_shardings=(params["out_shardings"][0],) * n_out,
            in_layouts=(None,) * n_in, out_layouts=(None,) * n_out,
            donated_invars=(False,) * n_in)
        return params
    except Exception:  # noqa: BLE001  (any mismatch: replay op by op instead)
        return False


def _trace_once(fn, specs):
    record = {}

    def body(*arrays):
        scope = StateScope(discover=True)
        with scope:
            out = fn(*arrays)
        leaves, tree = jax.tree_util.tree_flatten(out, is_leaf=_is_var)
        leaves = [x.value if _is_var(x) else x for x in leaves]
        record.update(scope=scope, tree=tree, n=len(leaves))
        return (leaves + [val for _, val in scope.assigned_items()]
                + [val for _, val in scope.losses])

    closed = jax.make_jaxpr(body)(*specs)
    return closed, record


def trace(fn, specs, *, allow_create=True, name=None):
    """Trace `fn(*arrays)` (arrays shaped like `specs`: arrays or
    `jax.ShapeDtypeStruct`s) into a `Program`, with the one creation rule.

    >>> import numpy as np, jax.numpy as jnp
    >>> from kerax.core.variable import Variable
    >>> made = []
    >>> def f(x):
    ...     if not made:
    ...         made.append(Variable(np.ones(2, "float32")))
    ...     return x + sum(v.value for v in made)
    >>> p = trace(f, [jnp.zeros(2)])
    >>> len(p.variables), p.n_read
    (1, 1)
    """
    name = name or getattr(fn, "__name__", "function")
    for _ in range(MAX_ROUNDS):
        with gc_paused():
            closed, record = _trace_once(fn, specs)
        created = record["scope"].created
        if not created:
            return Program(closed, record["scope"], record["tree"], record["n"])
        if not allow_create:
            names = ", ".join(repr(v.path) for v in created[:5])
            raise ValueError(
                f"{name!r} created new Variables ({names}) on a trace that is not its "
                "first. As with tf.function, variables may only be created on the "
                "first call: create them in __init__/build, or build the layers "
                "before calling the compiled function with a new input signature.")
    names = ", ".join(repr(v.path) for v in created[:5])
    raise ValueError(
        f"{name!r} creates new Variables ({names}) every time it runs, so it cannot "
        "be compiled. As with tf.function, variables may only be created on the "
        "first call: create them once (in __init__ or build), not in call().")
