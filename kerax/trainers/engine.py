"""The compiled step programs of fit/evaluate/predict.

A step (`model.train_step(data)`, overridable in the stateful Keras style) is
turned into one XLA program that runs `k` steps with `lax.scan`, threading
every Variable the step reads or assigns through the scan carry — with the same
bridge as everything else (`StateScope`). The set of variables is found once
per input signature by tracing the step abstractly (`jax.eval_shape` under a
discovering scope), which is also when layers, optimizer slots and metrics
create their variables. State buffers are donated.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax.variables import StateScope, pure

__all__ = ["StepEngine"]


def _spec_key(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(l.shape), str(l.dtype)) for l in leaves)


class _Program:
    def __init__(self, fn, variables, k):
        self.fn = fn
        self.variables = variables
        self.k = k


class StepEngine:
    """Compiles and runs `step_fn` over blocks of batches."""

    def __init__(self, step_fn, collect_outputs=False, name="train"):
        self.step_fn = step_fn
        self.collect = collect_outputs
        self.name = name
        self._programs = {}
        self._variables = {}
        self._data_keys = {}

    # ---- discovery -------------------------------------------------------------------
    def _discover(self, batch_struct):
        """The variables one step touches. A step that creates trainable
        weights while it runs (a model built on its first call) may have read
        its variable lists before they existed: probe again until stable."""
        previous = None
        for _ in range(4):
            found, created_trainable = self._probe(batch_struct)
            ids = [id(v) for v in found]
            if not created_trainable or ids == previous:
                return found
            previous = ids
        return found

    def _probe(self, batch_struct):
        found = {}
        created = []

        def probe(batch):
            scope = StateScope(discover=True)
            with scope:
                out = self.step_fn(batch)
            for var, _ in scope.discovered.values():
                found.setdefault(id(var), var)
            for var, _ in scope.assigned.values():
                found.setdefault(id(var), var)
            created.extend(scope.created)
            return out

        jax.eval_shape(probe, batch_struct)
        return list(found.values()), any(v.trainable for v in created)

    def _body(self, variables):
        var_ids = {id(v) for v in variables}
        step = pure(self.step_fn, variables)
        name = self.name

        def body(carry, batch):
            out, new = step(carry, batch)
            stray = [v.path for k, (v, _) in step.last_scope.assigned.items() if k not in var_ids]
            if stray:
                raise ValueError(
                    f"The {name} step assigned Variables {stray} that it did not touch when "
                    "it was first traced; a step must touch the same variables every call.")
            return new, out

        return body

    def _build(self, key, batch_struct, k, gather):
        skey = _spec_key(batch_struct)
        variables = self._variables.get(skey)
        if variables is None:
            variables = self._discover(batch_struct)
            self._variables[skey] = variables
        body = self._body(variables)
        collect = self.collect

        def run_scan(carry, batches):
            if k == 1:
                # one step: no loop in the program (compiles faster)
                carry, outs = body(carry, jax.tree_util.tree_map(lambda a: a[0], batches))
                if collect:
                    outs = jax.tree_util.tree_map(lambda o: o[None], outs)
                return carry, outs
            carry, outs = jax.lax.scan(body, carry, batches)
            if not collect:
                outs = jax.tree_util.tree_map(lambda o: o[-1], outs)
            return carry, outs

        if gather:
            def program(carry, data, idx):
                # gather each step's batch inside the loop (no k-batch copy)
                def gbody(carry, idx_row):
                    batch = jax.tree_util.tree_map(lambda a: jnp.take(a, idx_row, axis=0), data)
                    return body(carry, batch)

                if k == 1:
                    carry, outs = gbody(carry, idx[0])
                    if collect:
                        outs = jax.tree_util.tree_map(lambda o: o[None], outs)
                    return carry, outs
                carry, outs = jax.lax.scan(gbody, carry, idx)
                if not collect:
                    outs = jax.tree_util.tree_map(lambda o: o[-1], outs)
                return carry, outs
        else:
            def program(carry, batches):
                return run_scan(carry, batches)

        prog = _Program(jax.jit(program, donate_argnums=(0,)), variables, k)
        self._programs[key] = prog
        return prog

    # ---- running ---------------------------------------------------------------------------
    def _carry(self, variables):
        vals = [v._value for v in variables]
        seen = set()
        for i, val in enumerate(vals):
            if id(val) in seen:
                vals[i] = jnp.array(val, copy=True)
                variables[i]._value = vals[i]
            seen.add(id(val))
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
        new_vals, out = prog.fn(self._carry(prog.variables), data, idx)
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
        new_vals, out = prog.fn(self._carry(prog.variables), batches)
        self._finish(prog, new_vals)
        return out

    def run_eager(self, batch):
        return self.step_fn(jax.tree_util.tree_map(jnp.asarray, batch))


def stack_batches(batches):
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *batches)
