"""The `Optimizer` base class: Keras 3's optimizer API as Variables around
ONE optax chain.

An optimizer keeps all of its state in non-trainable kerax Variables: the
step counter (`iterations`), the learning rate (when it is a float) and one
Variable per leaf of the state of one `optax.GradientTransformation`,
`_chain(...)`: the optimizer's update rule inside the transforms for Keras'
base arguments (`kerax.optimizers.transforms`):

    chain(keras_loss_scale,                    # loss_scale_factor
          freeze(                              # variables without a gradient
              keras_accumulate(                # gradient_accumulation_steps
                  chain(clip,                  # clipnorm / global_clipnorm / clipvalue
                        keras_weight_decay(rule)))),
          keras_ema)                           # use_ema, ema_overwrite_frequency

`apply` reads the Variables, runs the chain's `update` as a pure function of
their values and assigns the results, so it works eagerly, inside
`kerax.function` and — via `stateless_apply` — under a plain `jax.jit`.

The update rule is `_transform(learning_rate)` (the built-in optimizers,
`OptaxOptimizer`) or, Keras-style, `update_step(gradient, variable,
learning_rate)` over the Variables a subclass creates in its `build` (after
`super().build`): those Variables are then the rule's state.

Under a `kerax.distribution` distribution each slot (and EMA average) is
created with the layout of the variable it belongs to, already split (the
chain's init is compiled with those output shardings); the step counter and
other shared leaves are replicated.
"""
import inspect
import re
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kerax._lazy import optax  # imported on first use
from kerax import config, initializers
from kerax.core.naming import auto_name
from kerax.distribution import distribution as _distribution
from kerax.optimizers import transforms
from kerax.optimizers.schedules import LearningRateSchedule
from kerax.registry import deserialize_keras_object, serialize_keras_object
from kerax.variables import Variable, is_tracer, pure

__all__ = ["Optimizer", "OptaxOptimizer"]


def _outside_traces():
    from jax._src import core as _core  # no public equivalent
    try:
        return _core.trace_state_clean()
    except Exception:  # pragma: no cover - older/newer JAX
        return False


def _concrete(var):
    """The concrete value of `var` (its stored one when read inside a trace)."""
    return var._value


def _owner_layout(owner, shape):
    """The layout of a slot shaped `shape` that belongs to Variable `owner`
    (under a distribution: the owner's, when the shapes agree)."""
    if _distribution() is None or tuple(shape) != tuple(owner.shape):
        return None
    return owner._layout if owner._layout is not None else owner._placed


def _slot_shardings(tx, params, var_list):
    """`out_shardings` for `jit(tx.init)`: each state leaf that belongs to
    a parameter of its shape gets that parameter's sharding (None: no
    distribution, or XLA's choice for the others)."""
    if _distribution() is None:
        return None
    abstract = jax.eval_shape(tx.init, params)
    owners = transforms.param_owners(tx, abstract, params)
    leaves, treedef = jax.tree_util.tree_flatten(abstract)
    out = []
    for leaf, owner in zip(leaves, owners):
        placed = None
        if owner >= 0 and tuple(leaf.shape) == var_list[owner].shape:
            placed = var_list[owner]._placed
        out.append(placed)
    return jax.tree_util.tree_unflatten(treedef, out)


def _is_schedule(x):
    return isinstance(x, LearningRateSchedule)


class _Slots(NamedTuple):
    """The state of a Keras-style `update_step` rule: its slot Variables' values."""
    slots: Any


def _positive_or_none(value, arg):
    if value is None:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or value < 0:
        raise ValueError(
            f"Argument `{arg}` must be a non-negative float or None. Received: {arg}={value!r}")
    return value


class Optimizer:
    """Base class of kerax optimizers (Keras 3's `keras.optimizers.Optimizer`).

    Args:
      learning_rate: a float, a `LearningRateSchedule`, or a callable of the
        step (`fn(iterations)`; zero-argument callables are called as `fn()`).
      weight_decay: if set, decoupled weight decay `var -= lr * wd * var`
        before each update (variables excluded with
        `exclude_from_weight_decay` are left alone).
      clipnorm / clipvalue / global_clipnorm: gradient clipping (one at most).
      use_ema, ema_momentum, ema_overwrite_frequency: an exponential moving
        average of the trained variables (see `finalize_variable_values`).
      loss_scale_factor: gradients are divided by it before the update.
      gradient_accumulation_steps: update only every N steps, with the mean
        of the N gradients.
      name: the optimizer's name (default: the snake_case class name).
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if name is None:
            name = auto_name(type(self).__name__)
        if not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name
        self.weight_decay = _positive_or_none(weight_decay, "weight_decay")
        self.clipnorm = _positive_or_none(clipnorm, "clipnorm")
        self.clipvalue = _positive_or_none(clipvalue, "clipvalue")
        self.global_clipnorm = _positive_or_none(global_clipnorm, "global_clipnorm")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}")
        self.use_ema = bool(use_ema)
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError(
                    f"`ema_momentum` must be in the range [0, 1]. Received: "
                    f"ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (
                    not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. "
                    f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        if gradient_accumulation_steps:
            if not (isinstance(gradient_accumulation_steps, (int, np.integer))
                    and gradient_accumulation_steps >= 2):
                raise ValueError(
                    "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                    f"gradient_accumulation_steps={gradient_accumulation_steps}")
        self.gradient_accumulation_steps = gradient_accumulation_steps

        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._index = {}
        self._slots = None        # (treedef, the Variable of each leaf of the chain's state)
        self._custom_slots = []   # the Variables a Keras-style `build` made
        self._averages = []       # EMA averages (a view into the slots)
        self._state_vars = []     # the update rule's slots (a view, for saving) ...
        self._state_owners = []   # ... and the index of the variable each belongs to
        self._exclude_ids = set()
        self._exclude_pattern = None
        self._wd_cache = {}

        self._iterations = self._make_variable(0, "iteration", dtype="int32")
        self._learning_rate = None
        self._set_learning_rate(learning_rate, initial=True)

    # ---- variables -----------------------------------------------------------
    def _make_variable(self, value, name, dtype=None, shape=None, track=True, layout=None):
        with jax.ensure_compile_time_eval():
            if isinstance(value, jax.Array) and value.ndim == 0:
                # Own buffer: an optax init may return the same scalar for several
                # leaves, and compiled steps donate variable buffers. (Other
                # leaves come from one jitted init, so they are distinct already;
                # a host round trip avoids compiling a copy per shape.)
                value = jax.device_put(np.array(value))
            var = Variable(value, shape=shape, dtype=dtype, trainable=False, name=name,
                           layout=layout)
        var._shared = False  # the optimizer made this buffer itself
        var._path = f"{self.name}/{name}"
        if track:
            self._variables.append(var)
        return var

    @property
    def variables(self):
        """All optimizer Variables, in Keras' order: iteration, learning_rate
        (if a float), EMA averages, gradient accumulators, then the update
        rule's slots (a Keras-style optimizer's own, or the optax state's leaves)."""
        if self.built:
            self._slot_variables()
        return list(self._variables)

    @property
    def iterations(self):
        """The step counter: an int32 Variable incremented by every `apply`."""
        return self._iterations

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     layout=None, name=None):
        """Create and track an optimizer Variable (Keras API). `layout`: its
        `kerax.distribution.TensorLayout` under a distribution."""
        dtype = dtype or config.floatx()
        shape = tuple(shape)
        if _distribution() is not None:
            # an initializer, not a value: the Variable is created already split
            init = initializer
            if isinstance(init, str):
                init = initializers.get(init)
            elif not callable(init):
                def init(shape, dtype, fill=initializer):
                    return jnp.full(shape, fill, dtype)
            return self._make_variable(init, name or "variable", dtype=dtype, shape=shape,
                                       layout=layout)
        with jax.ensure_compile_time_eval():
            if isinstance(initializer, str):
                if initializer == "zeros":  # host-built: no compile per shape
                    value = jnp.asarray(np.zeros(shape, jnp.dtype(dtype)))
                elif initializer == "ones":
                    value = jnp.asarray(np.ones(shape, jnp.dtype(dtype)))
                else:
                    value = initializers.get(initializer)(shape, dtype)
            elif callable(initializer):
                value = initializer(shape, dtype)
            else:
                value = jnp.full(shape, initializer, dtype)
        return self._make_variable(value, name or "variable", dtype=dtype, layout=layout)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A Variable shaped like `reference_variable`, named
        `{reference path with '_'}_{name}` (Keras API)."""
        name = f"{reference_variable.path.replace('/', '_')}_{name or 'var'}"
        return self.add_variable(reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.dtype, name=name,
                                 layout=_owner_layout(reference_variable,
                                                      reference_variable.shape))

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One Variable per trainable variable (per name when `name` is a list)."""
        names = [name] if isinstance(name, str) else list(name)
        out = tuple([] for _ in names)
        for var in trainable_variables:
            for i, n in enumerate(names):
                out[i].append(self.add_variable_from_reference(var, n, initializer))
        return out[0] if isinstance(name, str) else out

    def _var_key(self, variable):
        return id(variable)

    def _get_variable_index(self, variable):
        return self._index[id(variable)]

    # ---- learning rate ---------------------------------------------------------
    def _set_learning_rate(self, learning_rate, initial=False):
        current = self._learning_rate
        if _is_schedule(learning_rate) or callable(learning_rate):
            self._learning_rate = learning_rate
            if isinstance(current, Variable):
                self._variables = [v for v in self._variables if v is not current]
            return
        if isinstance(learning_rate, Variable) or is_tracer(learning_rate):
            learning_rate = learning_rate if is_tracer(learning_rate) else learning_rate.value
        elif isinstance(learning_rate, (bool, str)) or not isinstance(
                learning_rate, (int, float, np.integer, np.floating, np.ndarray, jax.Array)):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current "
                "iteration value and returns the corresponding learning rate value). "
                f"Received instead: learning_rate={learning_rate!r}")
        if initial:
            self._learning_rate = self._make_variable(
                float(learning_rate), "learning_rate", dtype=config.floatx())
        elif isinstance(current, Variable):
            current.assign(learning_rate)
        else:
            raise TypeError(
                f"This optimizer was created with a {'LearningRateSchedule' if _is_schedule(current) else 'callable'}"
                " as its `learning_rate`, hence its learning rate is not settable to a "
                "number. If you need the learning rate to be settable, instantiate the "
                "optimizer with a float `learning_rate`.")

    @property
    def learning_rate(self):
        """The current learning rate: the learning-rate Variable when it was a
        float, else the schedule's value at `iterations`. Assignable."""
        return self._get_current_learning_rate(as_variable=True)

    @learning_rate.setter
    def learning_rate(self, value):
        self._set_learning_rate(value)

    def _get_current_learning_rate(self, as_variable=False):
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return lr if as_variable else lr.value
        step = self._iterations.value
        if _is_schedule(lr):
            return lr(step)
        if _takes_argument(lr):
            return lr(step)
        return lr()

    # ---- weight decay ------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables (objects in `var_list`, or whose name contains any
        of `var_names`) from weight decay. Call it before the optimizer is built."""
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before the "
                "optimizer is built.")
        self._exclude_ids = set(id(v) for v in (var_list or ()))
        if var_names:
            if isinstance(var_names, str):
                var_names = [var_names]
            self._exclude_pattern = re.compile("|".join(sorted(set(var_names))))
        else:
            self._exclude_pattern = None
        self._wd_cache = {}

    def _use_weight_decay(self, variable):
        key = id(variable)
        if key not in self._wd_cache:
            use = key not in self._exclude_ids and not (
                self._exclude_pattern is not None
                and self._exclude_pattern.search(variable.name) is not None)
            self._wd_cache[key] = use
        return self._wd_cache[key]

    # ---- the chain -------------------------------------------------------------------
    _slot_names = {}
    """Keras' names of the update rule's slots, by optax state field."""
    _config_keys = ()
    """The subclass' own hyperparameters (attributes) in `get_config`."""

    def _transform(self, learning_rate):
        """The optax update rule of one step: its updates are what is *added*
        to the variables. None for Keras-style optimizers that use update_step."""
        return None

    def _rule(self, learning_rate, frozen=()):
        tx = self._transform(learning_rate)
        return tx if tx is not None else self._update_step_rule(learning_rate, frozen)

    def _clip(self):
        if self.clipnorm:
            return transforms.keras_clip_by_norm(self.clipnorm)
        if self.global_clipnorm:
            return transforms.keras_clip_by_global_norm(self.global_clipnorm)
        if self.clipvalue:
            return optax.clip(self.clipvalue)
        return None

    def _chain(self, learning_rate, iteration, frozen=()):
        """The optimizer's one optax transformation for the step at
        `iteration` (the raw call count): Keras' base arguments around the
        update rule (see the module docstring). `frozen`: indices of the
        built variables that get no update this step."""
        step = self._rule(learning_rate, frozen)
        if self.weight_decay is not None:
            mask = [self._use_weight_decay(v) for v in self._trainable_variables]
            step = transforms.keras_weight_decay(step, self.weight_decay, learning_rate, mask)
        clip = self._clip()
        if clip is not None:
            step = optax.chain(clip, step)
        accumulation = self.gradient_accumulation_steps
        if accumulation:
            step = transforms.keras_accumulate(step, accumulation, iteration)
        if frozen:
            step = transforms.freeze(step, frozen)
        parts = [step]
        if self.loss_scale_factor is not None:
            parts.insert(0, transforms.keras_loss_scale(self.loss_scale_factor))
        if self.use_ema:
            # Keras' EMA counts optimizer steps: calls // accumulation steps.
            ema_step = iteration // accumulation if accumulation else iteration
            parts.append(transforms.keras_ema(self.ema_momentum, self.ema_overwrite_frequency,
                                              ema_step))
        return optax.chain(*parts)

    def _update_step_rule(self, learning_rate, frozen=()):
        """A Keras-style optimizer's `update_step` as an optax rule whose state
        is the values of the Variables its `build` made."""
        variables = list(self._trainable_variables)
        slots = list(self._custom_slots)
        n = len(variables)

        def init(params):
            return _Slots(tuple(jnp.asarray(_concrete(s)) for s in slots))

        def update(updates, state, params=None):
            def run(grads):
                for i, (g, v) in enumerate(zip(grads, variables)):
                    if i not in frozen:
                        self.update_step(g, v, learning_rate)

            _, new = pure(run, variables + slots)(list(params) + list(state.slots), updates)
            return [a - p for a, p in zip(new[:n], params)], _Slots(tuple(new[n:]))

        return optax.GradientTransformation(init, update)

    # ---- building ------------------------------------------------------------------
    def build(self, var_list):
        """Create the optimizer's Variables for `var_list` (the trainable
        variables it will update). Runs on the first `apply` when not called."""
        if self.built:
            return
        var_list = self._expect_variables(var_list)
        self._trainable_variables = var_list
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self.built = True
        if self._transform(0.0) is not None:
            self._slot_variables()
        # else: a Keras-style subclass creates its slots after this returns;
        # the chain's Variables are made on first use.

    def _slot_variables(self):
        """`(treedef, Variables)`: the Variable of each leaf of the chain's state."""
        if self._slots is None:
            self._slots = self._make_slots()
        return self._slots

    def _make_slots(self):
        head = [v for v in (self._iterations, self._learning_rate) if isinstance(v, Variable)]
        self._custom_slots = [v for v in self._variables if not any(v is h for h in head)]
        var_list = self._trainable_variables
        params = [jnp.asarray(_concrete(v)) for v in var_list]
        tx = self._chain(0.0, 0)
        if _outside_traces():
            # one compiled init for all slots (not one small program per
            # shape), and every state leaf gets its own buffer; under a
            # distribution each leaf is made with its owner's sharding
            state = jax.jit(tx.init, out_shardings=_slot_shardings(tx, params, var_list))(
                params)
        else:  # built on the first call of a compiled step: stay concrete
            with jax.ensure_compile_time_eval():
                state = tx.init(params)
        owners = iter(transforms.param_owners(tx, state, params))
        made = {"average": [], "gradient_accumulator": [], None: []}
        leaves = []
        for path, node in jax.tree_util.tree_flatten_with_path(
                state, is_leaf=lambda x: isinstance(x, _Slots))[0]:
            if isinstance(node, _Slots):
                for _ in node.slots:
                    next(owners)
                leaves.extend(self._custom_slots)
                continue
            owner = next(owners)
            field = _path_name(path) or "state"
            group = field if field in made and owner >= 0 else None
            field = self._slot_names.get(field, field) if group is None else field
            name = field if owner < 0 else f"{var_list[owner].path.replace('/', '_')}_{field}"
            layout = None if owner < 0 else _owner_layout(var_list[owner], node.shape)
            var = self._make_variable(node, name, track=False, layout=layout)
            made[group].append((var, owner))
            leaves.append(var)
        rule = made[None]
        self._averages = [v for v, _ in made["average"]]
        self._state_vars = [v for v, _ in rule]
        self._state_owners = [o for _, o in rule]
        self._variables = (head + self._averages + [v for v, _ in made["gradient_accumulator"]]
                           + self._custom_slots + self._state_vars)
        return jax.tree.structure(state), leaves

    def _read_state(self):
        treedef, leaves = self._slot_variables()
        return jax.tree.unflatten(treedef, [v.value for v in leaves])

    def _expect_variables(self, variables):
        variables = list(variables)
        for v in variables:
            if not isinstance(v, Variable):
                raise TypeError(
                    f"{type(self).__name__}: expected kerax Variables to update, got "
                    f"{type(v).__name__}. Pass e.g. zip(grads, model.trainable_variables).")
        return variables

    def _check_variables_are_known(self, variables):
        for v in variables:
            if id(v) not in self._index:
                raise ValueError(
                    f"Unknown variable: {v.path!r}. This optimizer can only be called "
                    "for the variables it was originally built with. When working with "
                    "a new set of variables, you should recreate a new optimizer instance.")

    # ---- applying --------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Apply `(gradient, variable)` pairs. Returns `iterations`."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        for p in pairs:
            if not (isinstance(p, (tuple, list)) and len(p) == 2):
                raise ValueError(
                    "`apply_gradients` expects an iterable of (gradient, variable) "
                    f"pairs, e.g. zip(grads, model.trainable_variables); got {p!r}.")
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update `trainable_variables` (default: those the optimizer was built
        with) with `grads`; None gradients are skipped (their variables keep
        their values)."""
        prepared = self._prepare(grads, trainable_variables)
        if prepared is None:
            return
        grads, frozen = prepared
        state = self._read_state()
        tx = self._chain(self._get_current_learning_rate(), self._iterations.value, frozen)
        updates, state = tx.update(grads, state, self._params())
        self._finish(updates, state, frozen)

    def _params(self):
        return [v.value for v in self._trainable_variables]

    def _prepare(self, grads, trainable_variables):
        """Check the arguments (building on the first call); return the
        gradients aligned with the built variables (zeros where none was
        given) and the indices of the variables without one, or None for no
        gradients at all."""
        grads = list(grads)
        if not grads:
            return None
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must "
                    "already be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first.")
            if len(grads) != len(self._trainable_variables):
                raise ValueError(
                    "When passing `grads` as a list of gradient tensors, the gradients "
                    "must match the variables the optimizer was built with one-to-one. "
                    f"Received {len(grads)} gradients, but the optimizer is tracking "
                    f"{len(self._trainable_variables)} trainable variables.")
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = self._expect_variables(trainable_variables)
            if len(trainable_variables) != len(grads):
                raise ValueError(
                    f"Got {len(grads)} gradients for {len(trainable_variables)} variables.")
            if not self.built:
                self.build(trainable_variables)
            self._check_variables_are_known(trainable_variables)
        given, missing, overwritten = {}, [], False
        for g, v in zip(grads, trainable_variables):
            if g is None:
                missing.append(v.path)
                continue
            g = jnp.asarray(g.value if isinstance(g, Variable) else g)
            if tuple(g.shape) != v.shape:
                raise ValueError(
                    f"Gradient for variable {v.path!r} has shape {tuple(g.shape)}, "
                    f"expected {v.shape}.")
            if getattr(v, "overwrite_with_gradient", False):
                # Keras: the "gradient" is the variable's new value (float8 scales)
                v.assign(g.astype(v.dtype))
                overwritten = True
                continue
            given[id(v)] = g.astype(v.dtype)
        if not given and overwritten:
            return None
        if not given:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the "
                "loss. If using `model.compile()`, did you forget to provide a `loss` "
                "argument?", stacklevel=3)
        full = [given.get(id(v)) for v in self._trainable_variables]
        frozen = tuple(i for i, g in enumerate(full) if g is None)
        full = [jnp.zeros(v.shape, v.dtype) if g is None else g
                for g, v in zip(full, self._trainable_variables)]
        return full, frozen

    def _finish(self, updates, state, frozen, applied=True):
        """Add `updates` to the variables, store the chain's new `state`, apply
        the variables' constraints and count the step (where `applied`, a
        bool that may be traced)."""
        params = self._params()
        overwrite = self.use_ema and self.ema_overwrite_frequency
        for i, (v, p, u) in enumerate(zip(self._trainable_variables, params, updates)):
            if i not in frozen or overwrite:
                v.assign((p + u).astype(v.dtype))
        _, leaves = self._slot_variables()
        for var, value in zip(leaves, jax.tree.leaves(state)):
            var.assign(value)
        for i, v in enumerate(self._trainable_variables):
            if i not in frozen and v.constraint is not None:
                new = v.constraint(v.value)
                v.assign(new if applied is True else jnp.where(applied, new, v.value))
        self._iterations.assign_add(1 if applied is True else jnp.asarray(applied, jnp.int32))

    def update_step(self, gradient, variable, learning_rate):
        """Keras-style per-variable update; override it (with `build`) in a
        custom optimizer, or override `_transform` to return an optax transform."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `update_step(gradient, variable, "
            "learning_rate)` or `_transform(learning_rate)`.")

    def assign(self, variable, value):
        variable.assign(value)

    def assign_add(self, variable, value):
        variable.assign_add(value)

    def assign_sub(self, variable, value):
        variable.assign_sub(value)

    # ---- EMA -------------------------------------------------------------------------
    def finalize_variable_values(self, var_list=None):
        """With `use_ema`, overwrite the trained variables with their moving
        averages (fit does this after the last epoch)."""
        if not self.use_ema or not self.built:
            return
        self._slot_variables()
        var_list = self._trainable_variables if var_list is None else list(var_list)
        if len(var_list) != len(self._averages):
            raise ValueError(
                f"The length of model variables ({len(var_list)}) to override does not "
                f"match the length of model variables stored in the optimizer "
                f"({len(self._averages)}). Please check if the optimizer was called on your model.")
        for var, avg in zip(var_list, self._averages):
            var.assign(avg.value)

    # ---- pure form --------------------------------------------------------------------
    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Pure `apply`: `(optimizer_values, grads, trainable_values) ->
        (new_trainable_values, new_optimizer_values)`; jax.jit-able. The lists
        are aligned with `self.variables` and the built trainable variables."""
        if not self.built:
            raise ValueError(
                f"To call `stateless_apply`, {type(self).__name__} must be built (i.e. its "
                "variables must have been created). You can build it via "
                "`optimizer.build(trainable_variables)`.")
        optimizer_variables = list(optimizer_variables)
        trainable_variables = list(trainable_variables)
        own = self.variables
        if len(optimizer_variables) != len(own):
            raise ValueError(
                "Argument `optimizer_variables` must be a list of tensors corresponding "
                f"1:1 to {type(self).__name__}().variables. Received list with length "
                f"{len(optimizer_variables)}, but expected {len(own)} variables.")
        if len(trainable_variables) != len(self._trainable_variables):
            raise ValueError(
                "Argument `trainable_variables` must be a list of tensors corresponding "
                "1:1 to the trainable variables list that the optimizer was built "
                f"with. Received {len(trainable_variables)} whereas the optimizer was "
                f"built with {len(self._trainable_variables)} variables.")
        n = len(self._trainable_variables)
        g = pure(lambda gs: self.apply(gs), list(self._trainable_variables) + own)
        _, new = g(trainable_variables + optimizer_variables, list(grads))
        return new[:n], new[n:]

    def scale_loss(self, loss):
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    # ---- weights -----------------------------------------------------------------------
    def get_weights(self):
        return [np.asarray(v.numpy()) for v in self.variables]

    def set_weights(self, weights):
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been "
                "built. Please call `optimizer.build(trainable_variables)` to create "
                "the optimizer weights before calling `set_weights()`.")
        weights = list(weights)
        variables = self.variables
        if len(weights) != len(variables):
            raise ValueError(
                f"Optimizer {self.name!r} has {len(variables)} variables, got "
                f"{len(weights)} weights.")
        for var, w in zip(variables, weights):
            if tuple(np.shape(w)) != var.shape:
                raise ValueError(
                    f"Optimizer variable {var.path!r} has shape {var.shape} not "
                    f"compatible with provided weight shape {tuple(np.shape(w))}.")
            var.assign(w)

    def save_own_variables(self, store):
        variables = self.variables
        for i, var in enumerate(variables):
            store[str(i)] = var.numpy()

    def load_own_variables(self, store):
        variables = self.variables
        if len(store.keys()) != len(variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it "
                   f"has {len(variables)} variables whereas the saved optimizer "
                   f"has {len(store.keys())} variables. ")
            if len(variables) <= 2:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, var in enumerate(variables):
            var.assign(store[str(i)])

    # ---- config -------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, Variable):
            lr = float(np.asarray(lr._value))
        elif _is_schedule(lr) or callable(lr):
            lr = serialize_keras_object(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            **{key: getattr(self, key) for key in self._config_keys},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects,
                module="keras.optimizers.schedules")
        return cls(**config)

    def __repr__(self):
        return f"<kerax.optimizers.{type(self).__name__} name={self.name!r}>"


class OptaxOptimizer(Optimizer):
    """Wraps any `optax.GradientTransformation` as a kerax Optimizer whose
    state lives in kerax Variables (`kerax.optimizers.get(optax.adam(1e-3))`).

    The transformation's updates (optax's sign convention: they are *added*
    to the variables) are multiplied by `learning_rate`, a multiplier that
    defaults to 1.0 (the transformation unchanged); setting
    `optimizer.learning_rate = 0.5` halves every step. The other arguments
    (clipping, weight decay, EMA, ...) are the base class'. Not serializable
    to a config: optax transformations are plain functions.
    """

    def __init__(self, transformation, learning_rate=1.0, name=None, **kwargs):
        if not isinstance(transformation, optax.GradientTransformation):
            raise TypeError(
                "OptaxOptimizer expects an optax.GradientTransformation (e.g. "
                f"optax.adam(1e-3)), got {type(transformation).__name__}.")
        self.transformation = transformation
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def _transform(self, learning_rate):
        return optax.chain(self.transformation, optax.scale(learning_rate))

    def get_config(self):
        config = super().get_config()
        config["transformation"] = None
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        raise ValueError(
            "An OptaxOptimizer (a wrapped optax transformation) cannot be re-created "
            "from its config: optax transformations are not serializable. Pass the "
            "optimizer again (e.g. `model.compile(optimizer=optax.adam(1e-3))`).")


def _takes_argument(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL):
            return True
    return False


def _path_name(path):
    parts = []
    for k in path:
        if isinstance(k, jax.tree_util.GetAttrKey):
            parts.append(k.name)
        elif isinstance(k, jax.tree_util.DictKey):
            parts.append(str(k.key))
    return "_".join(p for p in parts if p and p != "inner_state")
