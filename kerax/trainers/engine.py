"""The compiled step programs of fit/evaluate/predict: `jit(lax.scan(program.body))`.

A step (`model.train_step(data)`, overridable in the stateful Keras style, or
in Keras' JAX style `train_step(state, data)`, which the trainer wraps into a
stateful step that reads and assigns the Variables) is traced once per batch
signature by the one trace-and-replay of kerax
(`kerax.core.trace`, as `kerax.function`): the Variables it reads and assigns
become the scan carry, and the recorded program is replayed `k` times per
dispatch with the state buffers donated.
"""
import jax
import jax.numpy as jnp
import numpy as np

from kerax.core.trace import trace

__all__ = ["StepEngine"]


def _signature(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(a.shape), str(a.dtype)) for a in leaves)


class StepEngine:
    """Compiles and runs `step_fn` over blocks of `k` batches."""

    def __init__(self, step_fn, collect_outputs=False, name="train"):
        self.step_fn = step_fn
        self.collect = collect_outputs  # predict: every step's outputs; else the last
        self.name = name
        self._steps = {}     # batch signature -> Program
        self._compiled = {}  # (kind, k, signature) -> (jitted run, Program)
        self._data_keys = {}

    def _program(self, batch_struct):
        """The step's Program for this batch signature (traced once)."""
        key = _signature(batch_struct)
        if key not in self._steps:
            leaves, treedef = jax.tree_util.tree_flatten(batch_struct)

            def flat_step(*arrays):
                return self.step_fn(jax.tree_util.tree_unflatten(treedef, list(arrays)))

            self._steps[key] = trace(flat_step, leaves, allow_create=not self._steps,
                                     name=f"{self.name}_step")
        return self._steps[key]

    def _compile(self, key, batch_struct, k, gather):
        program = self._program(batch_struct)

        def loop(carry, consts, xs, get_batch):
            def one(carry, x):
                return program.body(carry, jax.tree_util.tree_leaves(get_batch(x)), consts)

            if k == 1:  # one step: no loop in the program (compiles faster)
                carry, outs = one(carry, jax.tree_util.tree_map(lambda a: a[0], xs))
                return carry, (jax.tree_util.tree_map(lambda o: o[None], outs)
                               if self.collect else outs)
            carry, outs = jax.lax.scan(one, carry, xs)
            return carry, outs if self.collect else jax.tree_util.tree_map(lambda o: o[-1], outs)

        if gather:
            def run(carry, consts, data, idx):
                # each step's batch is gathered inside the loop (no k-batch copy)
                return loop(carry, consts, idx, lambda row: jax.tree_util.tree_map(
                    lambda a: jnp.take(a, row, axis=0), data))
        else:
            def run(carry, consts, batches):
                return loop(carry, consts, batches, lambda b: b)

        self._compiled[key] = (jax.jit(run, donate_argnums=(0,)), program)
        return self._compiled[key]

    def _run(self, compiled, *data):
        run, program = compiled
        new_values, out = run(program.donatable_values(), program.consts, *data)
        program.store(new_values)
        return out

    def run_indexed(self, data, idx):
        """Run `idx.shape[0]` steps on batches `data[idx[i]]` (data on device)."""
        k, b = idx.shape
        dkey = self._data_keys.get(id(data))
        if dkey is None or dkey[0] is not data:
            leaves, treedef = jax.tree_util.tree_flatten(data)
            dkey = self._data_keys[id(data)] = (data, treedef, tuple(
                (tuple(a.shape[1:]), str(a.dtype)) for a in leaves))
        key = ("gather", k, b, dkey[1], dkey[2])
        compiled = self._compiled.get(key)
        if compiled is None:
            batch_struct = jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct((b,) + tuple(a.shape[1:]), a.dtype), data)
            compiled = self._compile(key, batch_struct, k, gather=True)
        if idx.dtype != np.int32:
            idx = idx.astype(np.int32)
        return self._run(compiled, data, idx)

    def run_batches(self, batches):
        """Run one step per leading-axis entry of `batches` (stacked host batches)."""
        k = int(jax.tree_util.tree_leaves(batches)[0].shape[0])
        batch_struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype), batches)
        key = ("stacked", k) + _signature(batch_struct)
        compiled = self._compiled.get(key) or self._compile(key, batch_struct, k, gather=False)
        return self._run(compiled, batches)

    def run_eager(self, batch):
        """One step, eagerly (`run_eagerly=True`)."""
        return self.step_fn(jax.tree_util.tree_map(jnp.asarray, batch))
