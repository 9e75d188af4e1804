"""`OrbaxCheckpoint`: asynchronous, sharded checkpoints of the training state
with orbax-checkpoint (the optional extra `kerax[orbax]`).

Each checkpoint is a step folder `<directory>/<step>` written by
`orbax.checkpoint.CheckpointManager`: the arrays of the model, the optimizer
and the metrics (each device writes its own shards; no host gathers a whole
array) and a small JSON item (epoch, step, shuffle seed, the model's config).
Arrays are keyed by structure (`kerax.saving.training_state`: attribute names,
never auto-generated names), so a fresh process with the model built again
restores them, under any mesh: `restore_checkpoint` reads each array straight
into the layout of the variable it lands in (8 devices into 1, a 2x4 mesh
into 8x1, ...).
"""
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from kerax.callbacks._save_freq import should_save_on_batch
from kerax.callbacks.monitor_callback import MonitorCallback, _to_float
from kerax.io import io_utils
from kerax.saving import serialize_keras_object, training_state

__all__ = ["OrbaxCheckpoint", "restore_checkpoint", "checkpoint_state"]

_FORMAT = 1


def _ocp():
    try:
        import orbax.checkpoint as ocp  # optional dependency
    except ImportError:
        raise ImportError(
            "OrbaxCheckpoint needs orbax-checkpoint: `pip install kerax[orbax]` (or "
            "`pip install orbax-checkpoint`).") from None
    return ocp


def checkpoint_state(model, weights_only=False):
    """`{key: Variable}` of what a checkpoint of `model` holds: its weights
    and seed-generator states (`kerax.saving.training_state` keys), plus, unless
    `weights_only`, the optimizer's variables and the metrics' state
    (`metrics/<i>/<j>`: variable j of `model.metrics[i]`).

    >>> import kerax
    >>> m = kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)])
    >>> sorted(checkpoint_state(m, weights_only=True))
    ['layers/dense/vars/0', 'layers/dense/vars/1']
    """
    model_vars = {id(v) for v in model.variables}
    out = {}
    for key, (var, _) in training_state.state_variables(model).items():
        if weights_only and id(var) not in model_vars:
            continue
        out[key] = var
    if not weights_only:
        seen = {id(v) for v in out.values()}
        for i, metric in enumerate(getattr(model, "metrics", None) or []):
            for j, var in enumerate(metric.variables):
                if id(var) not in seen:
                    seen.add(id(var))
                    out[f"metrics/{i}/{j}"] = var
    return out


def _nest(flat):
    """`{"a/b/0": x}` -> `{"a": {"b": {"0": x}}}` (orbax keeps nested dicts as folders)."""
    tree = {}
    for key, value in flat.items():
        node = tree
        parts = key.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"OrbaxCheckpoint: state key {key!r} clashes with a shorter key.")
        if parts[-1] in node:
            raise ValueError(f"OrbaxCheckpoint: state key {key!r} clashes with a longer key.")
        node[parts[-1]] = value
    return tree


def _flatten(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _model_config(model):
    try:
        return json.dumps(serialize_keras_object(model))
    except (NotImplementedError, TypeError, ValueError) as e:
        warnings.warn(
            f"OrbaxCheckpoint: the model's config cannot be serialized ({e}); the checkpoint "
            "holds its state only (restore it into a model built by your code).", stacklevel=3)
        return None


def _manager(directory, max_to_keep=None, asynchronous=True):
    ocp = _ocp()
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           enable_async_checkpointing=asynchronous)
    return ocp.CheckpointManager(str(directory), options=options)


def restore_checkpoint(model, directory, step=None, weights_only=None):
    """Restore a checkpoint `OrbaxCheckpoint` wrote into `model` (built, and
    compiled when the checkpoint holds optimizer state). Each array is read
    straight into the layout of the variable it replaces, so the mesh may
    differ from the one that saved it. `step`: which checkpoint (default: the
    latest). Returns the checkpoint's metadata dict (`epoch`, `step`, ...).

    Example::

        cb = kerax.callbacks.OrbaxCheckpoint("/tmp/ckpt")
        model.fit(x, y, epochs=3, callbacks=[cb])
        # later, maybe in another process or under another distribution:
        restore_checkpoint(model, "/tmp/ckpt")
    """
    ocp = _ocp()
    mngr = _manager(directory, asynchronous=False)
    try:
        if step is None:
            step = mngr.latest_step()
            if step is None:
                raise FileNotFoundError(
                    f"restore_checkpoint: no checkpoint in {str(directory)!r}.")
        elif step not in mngr.all_steps():
            raise FileNotFoundError(
                f"restore_checkpoint: no checkpoint for step {step} in {str(directory)!r}; "
                f"the steps there are {list(mngr.all_steps())}.")
        meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        if meta.get("format") != _FORMAT:
            raise ValueError(f"restore_checkpoint: {directory}/{step} has unknown format "
                             f"{meta.get('format')!r}.")
        saved_weights_only = bool(meta.get("weights_only"))
        if weights_only is None:
            weights_only = saved_weights_only
        if weights_only is False and saved_weights_only:
            raise ValueError(
                f"restore_checkpoint: {directory}/{step} was saved with "
                "save_weights_only=True; it holds no optimizer or metric state.")
        training_state._build_optimizer(model)
        variables = checkpoint_state(model, weights_only=weights_only)
        shapes, dtypes = meta.get("shapes", {}), meta.get("dtypes", {})
        missing = [k for k in variables if k not in shapes]
        # a weights-only restore skips the rest; metrics not built yet (before the
        # first fit/evaluate) start fresh, as fit's every epoch does
        extra = [k for k in shapes if k not in variables
                 and not weights_only and not k.startswith("metrics/")]
        if missing or extra:
            raise ValueError(
                f"restore_checkpoint: {directory}/{step} does not match this model: it holds "
                f"no state for {missing[:5]} and state this model does not have: {extra[:5]}. "
                "Restore into the same model (and optimizer) that saved it.")
        bad = [f"{k} (checkpoint {tuple(shapes[k])}, model {tuple(v.shape)})"
               for k, v in variables.items() if tuple(shapes[k]) != tuple(v.shape)]
        if bad:
            raise ValueError(
                f"restore_checkpoint: {directory}/{step}: shapes differ for {bad[:5]}.")
        here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = {}
        for k, shape in shapes.items():  # each array read into its variable's layout
            var = variables.get(k)
            abstract[k] = (jax.ShapeDtypeStruct(tuple(shape), jnp.dtype(dtypes[k]), sharding=here)
                           if var is None else jax.ShapeDtypeStruct(
                               tuple(var.shape), var.value.dtype, sharding=var.value.sharding))
        state = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(_nest(abstract)))).state
    finally:
        mngr.close()
    flat = _flatten(state)
    for key, var in variables.items():
        var.assign(flat[key])
    if "shuffle_seed" in meta and meta["shuffle_seed"] is not None:
        model._shuffle_seed = int(meta["shuffle_seed"])
    return meta


class OrbaxCheckpoint(MonitorCallback):
    """Save the training state with orbax-checkpoint, asynchronously and sharded.

    Keras 3's `keras.callbacks.OrbaxCheckpoint` arguments:

    Args:
        directory: the folder of the checkpoints (one sub-folder per step).
        monitor: the quantity compared when `save_best_only=True`.
        verbose: 1 prints a message for each save.
        save_best_only: save only when `monitor` improves.
        mode: `"auto"`, `"min"` or `"max"`, for `save_best_only`.
        save_freq: `"epoch"` (the step is the 0-based epoch) or an int `n`:
            every `n` batches (the step is the number of batches seen).
        initial_value_threshold: the initial "best" value for `save_best_only`.
        max_to_keep: how many of the latest checkpoints to keep (None: all).
        save_on_background: write asynchronously (training continues while
            the arrays, already copied off the devices, go to disk).
        save_weights_only: save the model's weights only (no optimizer or
            metric state, no config).

    Each device writes its own shards (nothing is gathered on one host). Read
    a checkpoint back with `kerax.callbacks.orbax_checkpoint.restore_checkpoint(model,
    directory)`, or the callback's `restore()`; the target mesh may differ.

    >>> import tempfile, numpy as np, kerax
    >>> model = kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> ckpt_dir = tempfile.mkdtemp()
    >>> cb = OrbaxCheckpoint(ckpt_dir, max_to_keep=2)
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=3, verbose=0, callbacks=[cb])
    >>> cb.all_steps()
    [1, 2]
    """

    @property
    def accepts_grouped_batches(self):
        """Saving once per epoch needs no batch hook; saving every `n` batches
        needs each batch (the weights saved are those after batch `n`)."""
        return self.save_freq == "epoch"

    def __init__(self, directory, monitor="val_loss", verbose=0, save_best_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None, max_to_keep=1,
                 save_on_background=True, save_weights_only=False):
        _ocp()
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or a positive integer (a number of batches).")
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep < 1):
            raise ValueError(f"OrbaxCheckpoint: `max_to_keep` must be a positive int or None, "
                             f"got {max_to_keep!r}.")
        self.directory = str(directory)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_freq = save_freq
        self.max_to_keep = max_to_keep
        self.save_on_background = save_on_background
        self.save_weights_only = save_weights_only
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._total_batches_seen = 0
        self._current_epoch = 0
        self._manager = None

    def _checkpointer(self):
        if self._manager is None:
            self._manager = _manager(self.directory, self.max_to_keep, self.save_on_background)
        return self._manager

    def set_model(self, model):
        super().set_model(model)
        opt = getattr(model, "optimizer", None)
        if opt is not None and getattr(opt, "built", False):
            self._total_batches_seen = int(np.asarray(opt.iterations.value))

    def is_multihost_enabled(self):
        """Whether this is a multi-process run (every process saves its shards)."""
        return jax.process_count() > 1

    def is_primary_host(self):
        """Whether this process is process 0 (always True in one process)."""
        return jax.process_index() == 0

    def all_steps(self):
        """The steps of the checkpoints on disk, oldest first (after pending
        asynchronous saves have finished)."""
        mngr = self._checkpointer()
        mngr.wait_until_finished()
        mngr.reload()
        return sorted(int(s) for s in mngr.all_steps())

    def wait_until_finished(self):
        """Block until pending asynchronous saves are on disk."""
        if self._manager is not None:
            self._manager.wait_until_finished()

    def restore(self, step=None, model=None):
        """Restore checkpoint `step` (default: the latest) into `model`
        (default: the callback's model); see `restore_checkpoint`."""
        self.wait_until_finished()
        target = model if model is not None else self.model
        if target is None:
            raise ValueError("OrbaxCheckpoint.restore: no model; pass `model=`.")
        return restore_checkpoint(target, self.directory, step)

    # ---- saving --------------------------------------------------------------------
    def _improved(self, logs, when):
        if not self.save_best_only:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        current = _to_float((logs or {}).get(self.monitor))
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, "
                          f"skipping save at {when}.", stacklevel=3)
            return False
        if not self._is_improvement(current, self.best):
            return False
        self.best = current
        return True

    def _save(self, step, epoch):
        ocp = _ocp()
        variables = checkpoint_state(self.model, weights_only=self.save_weights_only)
        seed_of = getattr(self.model, "_current_shuffle_seed", None)
        meta = {"format": _FORMAT, "epoch": int(epoch), "step": int(step),
                "weights_only": bool(self.save_weights_only),
                "shapes": {k: list(v.shape) for k, v in variables.items()},
                "dtypes": {k: str(v.value.dtype) for k, v in variables.items()},
                "shuffle_seed": int(seed_of()) if seed_of is not None else None}
        if not self.save_weights_only:
            meta["config"] = _model_config(self.model)
        state = _nest({k: v.value for k, v in variables.items()})
        if self.verbose > 0:
            io_utils.print_msg(f"\nOrbaxCheckpoint: saving step {step} to {self.directory}")
        mngr = self._checkpointer()
        # orbax copies the arrays off the devices before save() returns, so the
        # next training step may donate their buffers
        mngr.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                     meta=ocp.args.JsonSave(meta)), force=True)
        if not self.save_on_background:
            mngr.wait_until_finished()

    _should_save_on_batch = should_save_on_batch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        last = self._last_batch_seen
        if self.save_freq == "epoch":
            return
        due = self._should_save_on_batch(batch)
        self._total_batches_seen += batch + 1 if last is None or batch <= last else batch - last
        if due and self._improved(logs, f"batch {batch}"):
            self._save(self._total_batches_seen, self._current_epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch" and self._improved(logs, f"epoch {epoch}"):
            self._save(epoch, epoch)

    def on_train_end(self, logs=None):
        if self._manager is not None:
            self._manager.wait_until_finished()
            self._manager.close()
            self._manager = None
