"""`MultiOptimizer` and `OptimizerMap` (Keras 3's `keras.optimizers`): each
trainable variable is updated by the optimizer its path maps to.

A `MultiOptimizer` owns only a step counter (and Keras' unused learning-rate
slot); every inner optimizer keeps its own variables, its own `iterations`
and its own optax chain. One step is ONE optax transformation
(`MultiOptimizer._chain`) that splits the gradients by inner optimizer and
runs each inner chain on its share, so it works eagerly, inside compiled
`fit`, under `stateless_apply` and wrapped in a `LossScaleOptimizer` like any
other optimizer. An inner optimizer whose variables all get no gradient in a
step is not run (its counter does not move), as in Keras.

`variables` (and so the `.keras` file's `optimizer/vars`) is Keras' list:
the MultiOptimizer's own `iteration` and `learning_rate`, then each inner
optimizer's variables in turn; the inner optimizers are also stored at
`optimizer/optimizers/<snake_case class name>`, as Keras writes them.
"""
import re
from collections.abc import MutableMapping

import jax.numpy as jnp
from kerax._lazy import optax  # imported on first use

from kerax.optimizers.base import Optimizer
from kerax.optimizers.loss_scale_optimizer import LossScaleOptimizer
from kerax.registry import deserialize_keras_object, register_builtin, serialize_keras_object

__all__ = ["MultiOptimizer", "OptimizerMap"]

_MODULE = "keras.optimizers"


def _check_inner(optimizer, what):
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{what} must be a kerax Optimizer instance. Received: {optimizer!r}")
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError(
            f"{what} cannot be a LossScaleOptimizer: a LossScaleOptimizer cannot be used inside "
            "a MultiOptimizer (wrap the MultiOptimizer in one instead).")
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError(f"{what} cannot be a MultiOptimizer: a MultiOptimizer cannot be used "
                         "inside a MultiOptimizer.")


@register_builtin(_MODULE)
class OptimizerMap(MutableMapping):
    """Maps variable paths (exact strings or regular expressions) to optimizers.

    `optimizer_map[path]` is the optimizer of the exact key `path`, else of
    the one key that `re.fullmatch`es it (more than one is a `ValueError`),
    else `default_optimizer`. Calling the map on a variable looks up its
    `variable.path` (e.g. `"sequential/dense/kernel"`), so `".*dense/.*"`
    selects every variable of the layer named `dense`.

    Args:
      default_optimizer: the optimizer of the variables no key matches.
      optimizer_map: an optional dict `{key: optimizer}`.

    >>> import kerax
    >>> opt_map = kerax.optimizers.OptimizerMap(default_optimizer=kerax.optimizers.RMSprop())
    >>> opt_map["encoder/layer_0/dense"] = kerax.optimizers.Adam()
    >>> opt_map["encoder/.*"] = kerax.optimizers.SGD()
    >>> type(opt_map["encoder/layer_0/dense"]).__name__, type(opt_map["encoder/attention"]).__name__
    ('Adam', 'SGD')
    >>> type(opt_map["decoder/dense"]).__name__
    'RMSprop'
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(
                "OptimizerMap: `default_optimizer` must be a kerax Optimizer instance. "
                f"Received: default_optimizer={default_optimizer!r}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(
                "OptimizerMap: `optimizer_map` must be a dict {path or regex: optimizer}. "
                f"Received: optimizer_map={optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = dict(optimizer_map or {})

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matches = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matches) > 1:
            raise ValueError(
                f"Multiple optimizers assigned to variable {key}: the keys {matches} of the "
                "OptimizerMap all match it. Make the patterns exclusive.")
        if matches:
            return self._optimizer_map[matches[0]]
        return self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(
                f"'{key}' already exists in the OptimizerMap with value "
                f"{self._optimizer_map[key]}. Please make sure to not use duplicated keys.")
        if not isinstance(key, str):
            raise ValueError(f"OptimizerMap: key must be a string. Received: {key!r}")
        if not isinstance(optimizer, Optimizer):
            raise ValueError(
                f"optimizer must be a kerax Optimizer instance. Received: {optimizer!r}")
        if isinstance(optimizer, LossScaleOptimizer):
            raise ValueError("optimizer cannot be LossScaleOptimizer.")
        if isinstance(optimizer, MultiOptimizer):
            raise ValueError("optimizer cannot be MultiOptimizer.")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[variable.path]

    def __repr__(self):
        return (f"<kerax.optimizers.OptimizerMap default={self._default_optimizer.name!r} "
                f"keys={list(self._optimizer_map)}>")

    def get_config(self):
        return {"default_optimizer": serialize_keras_object(self._default_optimizer),
                "optimizer_map": serialize_keras_object(self._optimizer_map)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        default = deserialize_keras_object(config["default_optimizer"],
                                           custom_objects=custom_objects, module=_MODULE)
        mapping = config.get("optimizer_map") or {}
        if not isinstance(mapping, dict):
            raise ValueError(
                f"OptimizerMap config: `optimizer_map` must be a dict, got {mapping!r}.")
        mapping = {k: deserialize_keras_object(v, custom_objects=custom_objects, module=_MODULE)
                   for k, v in mapping.items()}
        return cls(default, mapping)


@register_builtin(_MODULE)
class MultiOptimizer(Optimizer):
    """Updates each trainable variable with the optimizer chosen for it.

    Args:
      optimizer_map: an `OptimizerMap`, or a callable `fn(variable) ->
        Optimizer` (called once per variable when the optimizer is built).
      loss_scale_factor: replaces the inner optimizers' own
        `loss_scale_factor` (as in Keras): the loss is multiplied by it and
        each inner optimizer divides its gradients by it.
      name: the optimizer's name (default `"multi_optimizer"`).

    The inner optimizers are `optimizer.optimizers` (in the map's order,
    then the default, then any a callable returned first while building);
    each has its own `learning_rate`, `iterations` and options (EMA,
    clipping, gradient accumulation, ...). The MultiOptimizer itself has
    no `learning_rate` (reading or setting it is an `AttributeError`, as in
    Keras); learning-rate callbacks act on each inner optimizer.

    >>> import numpy as np, kerax
    >>> model = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(4, name="encoder"),
    ...                           kerax.layers.Dense(1, name="head")])
    >>> optimizer = kerax.optimizers.MultiOptimizer(kerax.optimizers.OptimizerMap(
    ...     default_optimizer=kerax.optimizers.SGD(0.1),
    ...     optimizer_map={".*encoder/.*": kerax.optimizers.Adam(1e-3)}))
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> history = model.fit(np.ones((8, 3)), np.ones((8, 1)), batch_size=4, verbose=0)
    >>> [type(o).__name__ for o in optimizer.optimizers], int(optimizer.iterations)
    (['Adam', 'SGD'], 2)
    >>> [int(o.iterations) for o in optimizer.optimizers]
    [2, 2]
    """

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not (isinstance(optimizer_map, OptimizerMap) or (
                callable(optimizer_map) and not isinstance(optimizer_map, Optimizer))):
            raise TypeError(
                "MultiOptimizer: `optimizer_map` must be an OptimizerMap or a callable "
                "fn(variable) -> Optimizer. To use one optimizer for every variable, pass "
                f"it directly. Received: optimizer_map={optimizer_map!r}")
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        self._inner_optimizers = []
        self._members = []     # per inner optimizer: the indices of its built variables
        if isinstance(optimizer_map, OptimizerMap):
            for opt in list(optimizer_map.values()) + [optimizer_map.default_optimizer]:
                self._add_inner(opt)

    def _add_inner(self, opt):
        """The index of `opt` in `optimizers` (added, with this optimizer's
        loss_scale_factor, when new)."""
        for i, known in enumerate(self._inner_optimizers):
            if known is opt:
                return i
        _check_inner(opt, f"MultiOptimizer {self.name!r}: each inner optimizer")
        opt.loss_scale_factor = self.loss_scale_factor
        self._inner_optimizers.append(opt)
        self._members.append([])
        return len(self._inner_optimizers) - 1

    # ---- what Keras exposes --------------------------------------------------------
    @property
    def optimizers(self):
        """The inner optimizers (a list; each keeps its own state)."""
        return self._inner_optimizers

    @property
    def variables(self):
        """The MultiOptimizer's `iteration` and `learning_rate`, then every
        inner optimizer's variables, inner optimizer by inner optimizer."""
        out = list(self._variables)
        for opt in self._inner_optimizers:
            out.extend(opt.variables)
        return out

    @property
    def learning_rate(self):
        raise AttributeError(
            "Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate "
            "on the individual sub-optimizers instead (`optimizer.optimizers`).")

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError(
            "Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the "
            "individual sub-optimizers instead (`optimizer.optimizers`).")

    @property
    def loss_scale_factor(self):
        return self.__dict__.get("_loss_scale_factor")

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        self._loss_scale_factor = value
        for opt in self.__dict__.get("_inner_optimizers", ()):
            opt.loss_scale_factor = value

    @property
    def use_ema(self):
        """True when an inner optimizer keeps moving averages (so `fit` ends
        by finalizing them, as Keras' does for every optimizer)."""
        return any(getattr(o, "use_ema", False) for o in self.__dict__.get("_inner_optimizers", ()))

    @use_ema.setter
    def use_ema(self, value):
        if value:
            raise ValueError("MultiOptimizer: set `use_ema` on the inner optimizers.")

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        raise ValueError(
            "MultiOptimizer has no weight decay of its own: call "
            "`exclude_from_weight_decay` on the inner optimizers (`optimizer.optimizers`).")

    # ---- building --------------------------------------------------------------------
    def build(self, var_list):
        """Assign each variable of `var_list` to its optimizer and build each
        inner optimizer on its variables (one without variables stays unbuilt)."""
        if self.built:
            return
        var_list = self._expect_variables(var_list)
        owners = []
        for var in var_list:
            opt = self._optimizer_map(var)
            if not isinstance(opt, Optimizer):
                raise ValueError(
                    f"Optimizer for variable {var.path!r} is not an Optimizer instance: the "
                    f"optimizer_map returned {opt!r}.")
            _check_inner(opt, f"The optimizer of variable {var.path!r}")
            owners.append(self._add_inner(opt))
        members = [[] for _ in self._inner_optimizers]
        for i, k in enumerate(owners):
            members[k].append(i)
        for opt, idx in zip(self._inner_optimizers, members):
            if not idx:
                continue
            mine = [var_list[i] for i in idx]
            if opt.built and [id(v) for v in opt._trainable_variables] != [id(v) for v in mine]:
                raise ValueError(
                    f"MultiOptimizer {self.name!r}: the inner optimizer {opt.name!r} was already "
                    "built on other variables. Give the MultiOptimizer fresh optimizers.")
            opt.build(mine)
        self._members = members
        super().build(var_list)

    # ---- one step: the inner chains side by side -------------------------------------
    def _groups(self, frozen):
        """[(k, inner optimizer, its variable indices, its frozen local
        indices)] of the inner optimizers that run this step."""
        frozen = set(frozen)
        out = []
        for k, (opt, idx) in enumerate(zip(self._inner_optimizers, self._members)):
            local = tuple(j for j, i in enumerate(idx) if i in frozen)
            if idx and len(local) < len(idx):
                out.append((k, opt, idx, local))
        return out

    def _read_state(self):
        return tuple(opt._read_state() if idx else None
                     for opt, idx in zip(self._inner_optimizers, self._members))

    def _chain(self, learning_rate, iteration, frozen=()):
        """One optax transformation over all the variables: each inner
        optimizer's own chain (its learning rate, step count, clipping, EMA,
        ...) on its share of the gradients. The state is the tuple of the
        inner optimizers' states. `learning_rate`/`iteration` (the
        MultiOptimizer's) are not used."""
        groups = self._groups(frozen)

        def init(params):
            return tuple(
                opt._chain(0.0, 0).init([params[i] for i in idx]) if idx else None
                for opt, idx in zip(self._inner_optimizers, self._members))

        def update(updates, state, params=None):
            new_updates, new_state = list(updates), list(state)
            for k, opt, idx, local in groups:
                tx = opt._chain(opt._get_current_learning_rate(), opt.iterations.value, local)
                sub_params = None if params is None else [params[i] for i in idx]
                sub, new_state[k] = tx.update([updates[i] for i in idx], state[k], sub_params)
                for i, u in zip(idx, sub):
                    new_updates[i] = u
            return new_updates, tuple(new_state)

        return optax.GradientTransformation(init, update)

    def _finish(self, updates, state, frozen, applied=True):
        for k, opt, idx, local in self._groups(frozen):
            opt._finish([updates[i] for i in idx], state[k], local, applied=applied)
        self._iterations.assign_add(1 if applied is True else jnp.asarray(applied, jnp.int32))

    # ---- EMA, file layout, config ----------------------------------------------------
    def finalize_variable_values(self, var_list=None):
        """Each inner optimizer with `use_ema` overwrites its variables with
        their moving averages."""
        if not self.built:
            return
        var_list = self._trainable_variables if var_list is None else list(var_list)
        for opt, idx in zip(self._inner_optimizers, self._members):
            if idx:
                mine = {id(self._trainable_variables[i]) for i in idx}
                opt.finalize_variable_values([v for v in var_list if id(v) in mine])

    def _keras_layout_parts(self):
        """(own variables, inner optimizers): Keras' file layout is the own
        variables, then each inner optimizer's layout (kerax.saving.optimizer_layout)."""
        return list(self._variables), list(self._inner_optimizers)

    def get_config(self):
        return {"optimizer_map": serialize_keras_object(self._optimizer_map),
                "loss_scale_factor": self.loss_scale_factor,
                "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer_map"] = deserialize_keras_object(
            config["optimizer_map"], custom_objects=custom_objects, module=_MODULE)
        return cls(**config)
