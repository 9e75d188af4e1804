"""The compiled step programs of fit/evaluate/predict.

A step (`model.train_step(data)`, overridable in the stateful Keras style) is
turned into one XLA program that runs `k` steps with `lax.scan`, threading
every Variable the step reads or assigns through the scan carry, with the same
bridge as everything else (`StateScope`, as in `kerax.function`): the Python
step is traced once per batch shape under a discovering scope, which records
the variables it reads (they become carry inputs) and assigns (carry outputs);
layers, optimizer slots and metrics create their variables during that trace.
The recorded program is then replayed inside the scan. State buffers are
donated.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax.variables import StateScope

__all__ = ["StepEngine"]


def _spec_key(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(l.shape), str(l.dtype)) for l in leaves)


class _Program:
    def __init__(self, fn, variables, k, extra):
        self.fn = fn
        self.variables = variables
        self.k = k
        self.extra = extra


class _TracedStep:
    """One step, traced: `body(carry, batch, extra) -> (new_carry, outputs)`."""

    def __init__(self, closed, out_tree, n_out, assigned, discovered):
        by_const = {id(c): var for var, c in discovered}
        variables, index = [], {}

        def slot(var):
            if id(var) not in index:
                index[id(var)] = len(variables)
                variables.append(var)
            return index[id(var)]

        layout, extra = [], []
        for c in closed.consts:
            var = by_const.get(id(c))
            if var is not None:
                layout.append((True, slot(var)))
            else:
                layout.append((False, len(extra)))
                extra.append(c)
        out_slots = [slot(v) for v in assigned]
        self.variables = variables
        self.extra = extra
        jaxpr = closed.jaxpr

        def body(carry, batch, extra_consts):
            consts = [carry[i] if is_var else extra_consts[i] for is_var, i in layout]
            outs = jax.core.eval_jaxpr(jaxpr, consts, *jax.tree_util.tree_leaves(batch))
            new = list(carry)
            for i, val in zip(out_slots, outs[n_out:]):
                new[i] = val
            return new, jax.tree_util.tree_unflatten(out_tree, outs[:n_out])

        self.body = body


class StepEngine:
    """Compiles and runs `step_fn` over blocks of batches."""

    def __init__(self, step_fn, collect_outputs=False, name="train"):
        self.step_fn = step_fn
        self.collect = collect_outputs
        self.name = name
        self._programs = {}
        self._steps = {}
        self._data_keys = {}

    # ---- tracing ---------------------------------------------------------------------
    def _trace(self, batch_struct):
        """Trace the Python step once for this batch signature. A step that
        creates trainable weights while it runs (a model built on its first
        call) may have read its variable lists before they existed: then it is
        traced again."""
        key = _spec_key(batch_struct)
        step = self._steps.get(key)
        if step is not None:
            return step
        for _ in range(4):
            info = {}

            def traced(batch):
                scope = StateScope(discover=True)
                with scope:
                    out = self.step_fn(batch)
                leaves, tree = jax.tree_util.tree_flatten(out)
                assigned = scope.assigned_items()
                info.update(tree=tree, n=len(leaves), assigned=[v for v, _ in assigned],
                            discovered=list(scope.discovered.values()),
                            created=list(scope.created))
                return leaves + [val for _, val in assigned]

            closed = jax.make_jaxpr(traced)(batch_struct)
            if not any(v.trainable for v in info["created"]):
                break
        step = _TracedStep(closed, info["tree"], info["n"], info["assigned"], info["discovered"])
        self._steps[key] = step
        return step

    def _build(self, key, batch_struct, k, gather):
        step = self._trace(batch_struct)
        body = step.body
        collect = self.collect

        def loop(carry, xs, extra, get_batch):
            def one(carry, x):
                return body(carry, get_batch(x), extra)

            if k == 1:
                # one step: no loop in the program (compiles faster)
                carry, outs = one(carry, jax.tree_util.tree_map(lambda a: a[0], xs))
                if collect:
                    outs = jax.tree_util.tree_map(lambda o: o[None], outs)
                return carry, outs
            carry, outs = jax.lax.scan(one, carry, xs)
            if not collect:
                outs = jax.tree_util.tree_map(lambda o: o[-1], outs)
            return carry, outs

        if gather:
            def program(carry, extra, data, idx):
                # gather each step's batch inside the loop (no k-batch copy)
                return loop(carry, idx, extra, lambda row: jax.tree_util.tree_map(
                    lambda a: jnp.take(a, row, axis=0), data))
        else:
            def program(carry, extra, batches):
                return loop(carry, batches, extra, lambda b: b)

        prog = _Program(jax.jit(program, donate_argnums=(0,)), step.variables, k, step.extra)
        self._programs[key] = prog
        return prog

    # ---- running ---------------------------------------------------------------------------
    def _carry(self, variables):
        """The state values to pass (and donate): buffers the caller may also
        hold, or that two variables share, are copied first."""
        vals = []
        seen = set()
        for var in variables:
            val = var._value
            if var._shared or id(val) in seen:
                val = var._value = jnp.array(val, copy=True)
                var._shared = False
            seen.add(id(val))
            vals.append(val)
        return vals

    def _finish(self, prog, new_vals):
        for var, val in zip(prog.variables, new_vals):
            var._value = val

    def run_indexed(self, data, idx):
        """Run `idx.shape[0]` steps on batches `data[idx[i]]` (data on device)."""
        k, b = idx.shape
        dkey = self._data_keys.get(id(data))
        if dkey is None or dkey[0] is not data:
            leaves, treedef = jax.tree_util.tree_flatten(data)
            dkey = self._data_keys[id(data)] = (data, treedef, tuple(
                (tuple(l.shape[1:]), str(l.dtype)) for l in leaves))
        key = ("gather", k, b, dkey[1], dkey[2])
        prog = self._programs.get(key)
        if prog is None:
            batch_struct = jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct((b,) + tuple(a.shape[1:]), a.dtype), data)
            prog = self._build(key, batch_struct, k, gather=True)
        if idx.dtype != np.int32:
            idx = idx.astype(np.int32)
        new_vals, out = prog.fn(self._carry(prog.variables), prog.extra, data, idx)
        self._finish(prog, new_vals)
        return out

    def run_batches(self, batches):
        """Run one step per leading-axis entry of `batches` (stacked host batches)."""
        leaves = jax.tree_util.tree_leaves(batches)
        k = int(leaves[0].shape[0])
        batch_struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype), batches)
        key = ("direct", k) + _spec_key(batch_struct)
        prog = self._programs.get(key)
        if prog is None:
            prog = self._build(key, batch_struct, k, gather=False)
        new_vals, out = prog.fn(self._carry(prog.variables), prog.extra, batches)
        self._finish(prog, new_vals)
        return out

    def run_eager(self, batch):
        return self.step_fn(jax.tree_util.tree_map(jnp.asarray, batch))


def stack_batches(batches):
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *batches)
