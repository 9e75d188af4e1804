"""The training state a checkpoint of a run holds (`BackupAndRestore`),
keyed by structure, never by auto-generated names.

A key is the object's position in the walk the weights file uses
(`weights_store.iter_saveables`: attribute names and the snake_case class
names of list items, as Keras 3's `model.weights.h5`), then the variable's
index among the object's own variables:

- `vars/0`, `layers/dense/vars/1`, `encoder/layers/dense_1/vars/0`: layer
  weights, trainable or not, in Keras' order;
- `optimizer/vars/<i>`: every optimizer variable (`optimizer.variables`,
  iteration counter first);
- `rng/<path>/<i>`: seed-generator states of layers (dropout, noise);
  `rng/global`: the global seed generator behind `seed=None`.

So the same program resumes from its backup in a new process, or in the same
process after the model was built again (a re-run notebook cell, a retry
loop: the auto names `dense_7`, `adam_4` differ, the keys do not), and two
layers sharing an explicit name keep separate entries.

>>> import kerax
>>> model = kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)])
>>> sorted(backup(model))
['layers/dense/vars/0', 'layers/dense/vars/1', 'rng/global']
"""
import numpy as np

from kerax.layers.layer import Layer
from kerax.optimizers.base import Optimizer
from kerax.random import global_seed_generator
from kerax.saving.weights_store import iter_saveables, own_variables

__all__ = ["state_variables", "backup", "restore"]

GLOBAL_RNG_KEY = "rng/global"


def _join(*parts):
    return "/".join(p for p in parts if p)


def _describe(obj, var):
    owner = getattr(obj, "name", type(obj).__name__)
    return f"{type(obj).__name__} {owner!r}: {var.name} {tuple(var.shape)}"


def state_variables(model):
    """`{key: (Variable, description)}` of everything needed to resume
    training `model`, in a deterministic order."""
    out = {}
    seen = set()

    def add(key, var, obj):
        if id(var) not in seen:
            seen.add(id(var))
            out[key] = (var, _describe(obj, var))

    for path, obj in iter_saveables(model):
        if isinstance(obj, Optimizer):
            for i, var in enumerate(obj.variables):
                add(_join(path, "vars", str(i)), var, obj)
        elif isinstance(obj, Layer):
            for i, var in enumerate(own_variables(obj)):
                add(_join(path, "vars", str(i)), var, obj)
            for i, var in enumerate(obj._direct_variables()[1]):
                add(_join("rng", path, str(i)), var, obj)
    # Variables the walk does not reach (held outside the tracked attributes)
    # are keyed by their position in `model.variables`, itself structural.
    for i, var in enumerate(model.variables):
        if id(var) not in seen:
            add(_join("unreached", str(i)), var, model)
    gen = global_seed_generator()
    add(GLOBAL_RNG_KEY, gen.state, gen)
    return out


def _build_optimizer(model):
    opt = getattr(model, "optimizer", None) if model.__dict__.get("_compiled") else None
    if opt is not None and not opt.built and model.trainable_variables:
        opt.build(model.trainable_variables)


def backup(model):
    """`{key: numpy array}`: the values of `state_variables(model)`."""
    return {key: np.asarray(var.numpy()) for key, (var, _) in state_variables(model).items()}


def restore(model, state, where="the backup"):
    """Assign a `backup(...)` dict to `model` (building its optimizer first if
    needed). Everything is checked before the first assignment: a key the
    backup lacks or a shape that differs is a `ValueError` naming the key,
    the object and both shapes."""
    _build_optimizer(model)
    variables = state_variables(model)
    missing = [f"{key} ({desc})" for key, (_, desc) in variables.items() if key not in state]
    extra = [key for key in state if key not in variables]
    if missing or extra:
        raise ValueError(
            f"{where} does not match this model: it holds no state for {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''} and state this model does not have: "
            f"{extra[:5]}{' ...' if len(extra) > 5 else ''}. Resume with the same model "
            "and optimizer that made the backup, or delete it to start from scratch.")
    mismatched = [f"{key} ({desc}; backup: {tuple(np.shape(state[key]))})"
                  for key, (var, desc) in variables.items()
                  if tuple(np.shape(state[key])) != tuple(var.shape)]
    if mismatched:
        raise ValueError(
            f"{where} does not match this model: shapes differ for {mismatched[:5]}. "
            "Resume with the same model that made the backup, or delete it to start "
            "from scratch.")
    for key, (var, _) in variables.items():
        var.assign(np.asarray(state[key]).astype(var.dtype, copy=False))
