"""The compiled step programs of fit/evaluate/predict: `jit(lax.scan(program.body))`.

A step (`model.train_step(data)`, overridable in the stateful Keras style) is
traced once per batch signature by the one trace-and-replay of kerax
(`kerax.core.trace`, as `kerax.function`): the Variables it reads and assigns
become the scan carry, and the recorded program is replayed `k` times per
dispatch with the state buffers donated.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax.core.trace import trace

__all__ = ["StepEngine"]


def _spec_key(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(l.shape), str(l.dtype)) for l in leaves)


class _Compiled:
    def __init__(self, fn, program):
        self.fn = fn
        self.program = program


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
        """The step's Program for this batch signature (traced once)."""
        key = _spec_key(batch_struct)
        program = self._steps.get(key)
        if program is None:
            leaves, treedef = jax.tree_util.tree_flatten(batch_struct)
            step_fn = self.step_fn

            def flat_step(*arrays):
                return step_fn(jax.tree_util.tree_unflatten(treedef, list(arrays)))

            program = trace(flat_step, leaves, allow_create=not self._steps,
                            name=f"{self.name}_step")
            self._steps[key] = program
        return program

    def _build(self, key, batch_struct, k, gather):
        program = self._trace(batch_struct)
        collect = self.collect

        def loop(carry, xs, consts, get_batch):
            def one(carry, x):
                return program.body(carry, jax.tree_util.tree_leaves(get_batch(x)), consts)

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
            def run(carry, consts, data, idx):
                # gather each step's batch inside the loop (no k-batch copy)
                return loop(carry, idx, consts, lambda row: jax.tree_util.tree_map(
                    lambda a: jnp.take(a, row, axis=0), data))
        else:
            def run(carry, consts, batches):
                return loop(carry, batches, consts, lambda b: b)

        compiled = _Compiled(jax.jit(run, donate_argnums=(0,)), program)
        self._programs[key] = compiled
        return compiled

    # ---- running ---------------------------------------------------------------------------
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
        new_vals, out = prog.fn(prog.program.donatable_values(), prog.program.consts,
                                data, idx)
        prog.program.store(new_vals)
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
        new_vals, out = prog.fn(prog.program.donatable_values(), prog.program.consts,
                                batches)
        prog.program.store(new_vals)
        return out

    def run_eager(self, batch):
        return self.step_fn(jax.tree_util.tree_map(jnp.asarray, batch))


def stack_batches(batches):
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *batches)
