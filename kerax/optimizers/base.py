"""The `Optimizer` base class: Keras 3's optimizer API over optax.

An optimizer keeps *all* of its state in non-trainable kerax Variables: the
step counter (`iterations`), the learning rate (when it is a float), and one
Variable per leaf of the optax state (created by `build`). `apply` reads those
Variables, runs the optax update as a pure function of their values and
assigns the results, so it works eagerly, inside `kerax.function` and — via
`stateless_apply` — under a plain `jax.jit`.

A subclass either returns an optax transformation from `_transform(lr)`
(the built-in optimizers) or, Keras-style, overrides `build` (calling
`super().build`) and `update_step(gradient, variable, learning_rate)`.
"""
import inspect
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

from kerax import config
from kerax.saving.object_registration import _snake, serialize_keras_object
from kerax.variables import Variable, is_tracer, pure

__all__ = ["Optimizer", "OptaxOptimizer"]

_NAME_COUNTS = {}


def _auto_name(cls):
    base = _snake(cls.__name__)
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _outside_traces():
    from jax._src import core as _core  # no public equivalent
    try:
        return _core.trace_state_clean()
    except Exception:  # pragma: no cover - older/newer JAX
        return False


def _concrete(var):
    """The concrete value of `var` (its stored one when read inside a trace)."""
    return var._value


def _is_schedule(x):
    from kerax.optimizers.schedules import LearningRateSchedule
    return isinstance(x, LearningRateSchedule)


def _positive_or_none(value, arg, integer=False):
    if value is None:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or value < 0:
        kind = "a non-negative integer" if integer else "a non-negative float"
        raise ValueError(f"Argument `{arg}` must be {kind} or None. Received: {arg}={value!r}")
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
            name = _auto_name(type(self))
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
        self._ema = []
        self._accumulators = []
        self._state_vars = []
        self._state_treedef = None
        self._state_owners = None
        self._exclude_ids = set()
        self._exclude_pattern = None
        self._wd_cache = {}

        self._iterations = self._make_variable(0, "iteration", dtype="int32")
        self._learning_rate = None
        self._set_learning_rate(learning_rate, initial=True)

    # ---- variables -----------------------------------------------------------
    def _make_variable(self, value, name, dtype=None, shape=None):
        with jax.ensure_compile_time_eval():
            if isinstance(value, jax.Array) and value.ndim == 0:
                # Own buffer: an optax init may return the same scalar for several
                # leaves, and compiled steps donate variable buffers. (Other
                # leaves come from one jitted init, so they are distinct already;
                # a host round trip avoids compiling a copy per shape.)
                value = jax.device_put(np.array(value))
            var = Variable(value, shape=shape, dtype=dtype, trainable=False, name=name)
        var._shared = False  # the optimizer made this buffer itself
        var._path = f"{self.name}/{name}"
        self._variables.append(var)
        return var

    @property
    def variables(self):
        """All optimizer Variables, in creation order: iteration, learning_rate
        (if a float), EMA averages, gradient accumulators, optax state leaves."""
        return list(self._variables)

    @property
    def iterations(self):
        """The step counter: an int32 Variable incremented by every `apply`."""
        return self._iterations

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     layout=None, name=None):
        """Create and track an optimizer Variable (Keras API)."""
        dtype = dtype or config.floatx()
        shape = tuple(shape)
        with jax.ensure_compile_time_eval():
            if isinstance(initializer, str):
                if initializer == "zeros":  # host-built: no compile per shape
                    value = jnp.asarray(np.zeros(shape, jnp.dtype(dtype)))
                elif initializer == "ones":
                    value = jnp.asarray(np.ones(shape, jnp.dtype(dtype)))
                else:
                    from kerax import initializers  # provided by kerax.initializers
                    value = initializers.get(initializer)(shape, dtype)
            elif callable(initializer):
                value = initializer(shape, dtype)
            else:
                value = jnp.full(shape, initializer, dtype)
        return self._make_variable(value, name or "variable", dtype=dtype)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A Variable shaped like `reference_variable`, named
        `{reference path with '_'}_{name}` (Keras API)."""
        name = f"{reference_variable.path.replace('/', '_')}_{name or 'var'}"
        return self.add_variable(reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.dtype, name=name)

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

    # ---- building ------------------------------------------------------------------
    def _transform(self, learning_rate):
        """The optax transformation of one step: updates are what is *added* to
        the variables. None for Keras-style optimizers that use update_step."""
        return None

    def build(self, var_list):
        """Create the optimizer's Variables for `var_list` (the trainable
        variables it will update). Runs on the first `apply` when not called."""
        if self.built:
            return
        var_list = list(var_list)
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(
                    f"{type(self).__name__}.build expects kerax Variables, got "
                    f"{type(v).__name__}.")
        self._trainable_variables = var_list
        self._index = {id(v): i for i, v in enumerate(var_list)}
        if self.use_ema:
            self._ema = [self.add_variable_from_reference(v, "average") for v in var_list]
            with jax.ensure_compile_time_eval():
                for avg, v in zip(self._ema, var_list):
                    avg._value = jnp.array(_concrete(v), dtype=avg.dtype, copy=True)
        if self.gradient_accumulation_steps:
            self._accumulators = [self.add_variable_from_reference(v, "gradient_accumulator")
                                  for v in var_list]
        tx = self._transform(0.0)
        if tx is not None:
            params = [jnp.asarray(_concrete(v)) for v in var_list]
            if _outside_traces():
                # one compiled init for all slots (not one small program per
                # shape), and every state leaf gets its own buffer
                state = jax.jit(tx.init)(params)
            else:  # built on the first call of a compiled step: stay concrete
                with jax.ensure_compile_time_eval():
                    state = tx.init(params)
            leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(state)
            owners = _state_owners(tx, state, len(var_list))
            self._state_treedef = treedef
            self._state_owners = owners
            for (path, leaf), owner in zip(leaves_with_path, owners):
                field = _path_name(path) or "state"
                if owner >= 0:
                    name = f"{var_list[owner].path.replace('/', '_')}_{field}"
                else:
                    name = field
                self._state_vars.append(self._make_variable(leaf, name))
        self.built = True

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
        grads = list(grads)
        if not grads:
            return
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
            trainable_variables = list(trainable_variables)
            for v in trainable_variables:
                if not isinstance(v, Variable):
                    raise TypeError(
                        f"{type(self).__name__}: expected kerax Variables to update, got "
                        f"{type(v).__name__}. Pass e.g. zip(grads, model.trainable_variables).")
            if len(trainable_variables) != len(grads):
                raise ValueError(
                    f"Got {len(grads)} gradients for {len(trainable_variables)} variables.")
            if not self.built:
                self.build(trainable_variables)
            self._check_variables_are_known(trainable_variables)

        present, missing = [], []
        for g, v in zip(grads, trainable_variables):
            if g is None:
                missing.append(v.path)
            else:
                present.append((g, v))
        if not present:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the "
                "loss. If using `model.compile()`, did you forget to provide a `loss` "
                "argument?", stacklevel=2)
        grads = [jnp.asarray(g.value if isinstance(g, Variable) else g) for g, _ in present]
        variables = [v for _, v in present]
        for g, v in zip(grads, variables):
            if tuple(g.shape) != v.shape:
                raise ValueError(
                    f"Gradient for variable {v.path!r} has shape {tuple(g.shape)}, "
                    f"expected {v.shape}.")
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        self._apply_step(grads, variables)
        for v in variables:
            if v.constraint is not None:
                v.assign(v.constraint(v.value))
        self._iterations.assign_add(1)

    def _apply_step(self, grads, variables):
        steps = self.gradient_accumulation_steps
        if steps:
            is_update = (self._iterations.value + 1) % steps == 0
            accs = [self._accumulators[self._index[id(v)]] for v in variables]
            new_accs = [jnp.where(is_update, jnp.zeros_like(a.value), g + a.value)
                        for g, a in zip(grads, accs)]
            grads = [jnp.where(is_update, (g + a.value) / steps, g)
                     for g, a in zip(grads, accs)]
            watched = list(self._trainable_variables) + [
                v for v in self._variables if v is not self._iterations]
            before = [v.value for v in watched]
        lr = self._get_current_learning_rate()
        grads = self._clip_gradients(grads)
        self._apply_weight_decay(variables, lr)
        self._update(grads, variables, lr)
        if steps:
            for var, old in zip(watched, before):
                var.assign(jnp.where(is_update, var.value, old))
            for a, new in zip(accs, new_accs):
                a.assign(new)
        if self.use_ema:
            self._update_ema()

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g.astype(jnp.float32))) for g in grads))
            scale = self.global_clipnorm * jnp.minimum(1.0 / norm, 1.0 / self.global_clipnorm)
            scale = scale + (norm - norm)  # NaN/inf norms give NaN, as in Keras
            return [(g * scale).astype(g.dtype) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [jnp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                lr_v = jnp.asarray(lr, v.dtype)
                wd = jnp.asarray(self.weight_decay, v.dtype)
                v.assign(v.value - v.value * wd * lr_v)

    def _update(self, grads, variables, lr):
        tx = self._transform(lr)
        if tx is None:
            self._backend_update_step(grads, variables, lr)
            return
        all_vars = self._trainable_variables
        params = [v.value for v in all_vars]
        by_id = {id(v): g for g, v in zip(grads, variables)}
        full = [by_id[id(v)] if id(v) in by_id else jnp.zeros_like(p)
                for v, p in zip(all_vars, params)]
        full = [g.astype(p.dtype) for g, p in zip(full, params)]
        old_leaves = [s.value for s in self._state_vars]
        state = jax.tree_util.tree_unflatten(self._state_treedef, old_leaves)
        updates, new_state = tx.update(full, state, params)
        new_leaves = jax.tree_util.tree_leaves(new_state)
        skipped = {i for i, v in enumerate(all_vars) if id(v) not in by_id}
        for i, (v, p, u) in enumerate(zip(all_vars, params, updates)):
            if i not in skipped:
                v.assign((p + u).astype(v.dtype))
        for s, old, new, owner in zip(self._state_vars, old_leaves, new_leaves,
                                      self._state_owners):
            s.assign(old if owner in skipped else new)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        for g, v in zip(grads, trainable_variables):
            self.update_step(g, v, learning_rate)

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
    def _update_ema(self):
        it = self._iterations.value
        if self.gradient_accumulation_steps:
            it = it // self.gradient_accumulation_steps
        not_first = (it != 0)
        for var, avg in zip(self._trainable_variables, self._ema):
            m = not_first.astype(var.dtype) * jnp.asarray(self.ema_momentum, var.dtype)
            avg.assign(m * avg.value + (1 - m) * var.value)
        if self.ema_overwrite_frequency:
            overwrite = (it + 1) % self.ema_overwrite_frequency == 0
            for var, avg in zip(self._trainable_variables, self._ema):
                var.assign(jnp.where(overwrite, avg.value, var.value))

    def finalize_variable_values(self, var_list=None):
        """With `use_ema`, overwrite the trained variables with their moving
        averages (fit does this after the last epoch)."""
        if not self.use_ema or not self.built:
            return
        var_list = self._trainable_variables if var_list is None else list(var_list)
        if len(var_list) != len(self._ema):
            raise ValueError(
                f"The length of model variables ({len(var_list)}) to override does not "
                f"match the length of model variables stored in the optimizer "
                f"({len(self._ema)}). Please check if the optimizer was called on your model.")
        for var, avg in zip(var_list, self._ema):
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
        return [np.asarray(v.numpy()) for v in self._variables]

    def set_weights(self, weights):
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been "
                "built. Please call `optimizer.build(trainable_variables)` to create "
                "the optimizer weights before calling `set_weights()`.")
        weights = list(weights)
        if len(weights) != len(self._variables):
            raise ValueError(
                f"Optimizer {self.name!r} has {len(self._variables)} variables, got "
                f"{len(weights)} weights.")
        for var, w in zip(self._variables, weights):
            if tuple(np.shape(w)) != var.shape:
                raise ValueError(
                    f"Optimizer variable {var.path!r} has shape {var.shape} not "
                    f"compatible with provided weight shape {tuple(np.shape(w))}.")
            var.assign(w)

    def save_own_variables(self, store):
        for i, var in enumerate(self._variables):
            store[str(i)] = var.numpy()

    def load_own_variables(self, store):
        if len(store.keys()) != len(self._variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it "
                   f"has {len(self._variables)} variables whereas the saved optimizer "
                   f"has {len(store.keys())} variables. ")
            if len(self._variables) <= 2:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, var in enumerate(self._variables):
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
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from kerax.saving.object_registration import deserialize_keras_object
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


def _clip_by_norm(g, clipnorm):
    l2sum = jnp.sum(jnp.square(g), keepdims=True)
    pred = l2sum > 0
    l2norm = jnp.where(pred, jnp.sqrt(jnp.where(pred, l2sum, jnp.ones_like(l2sum))), l2sum)
    return (g * clipnorm / jnp.maximum(l2norm, clipnorm)).astype(g.dtype)


def _path_name(path):
    parts = []
    for k in path:
        if isinstance(k, jax.tree_util.GetAttrKey):
            parts.append(k.name)
        elif isinstance(k, jax.tree_util.DictKey):
            parts.append(str(k.key))
    return "_".join(p for p in parts if p and p != "inner_state")


def _state_owners(tx, state, n):
    """For each leaf of `state`, the index of the parameter it belongs to, or
    -1 (shared leaves such as step counts, or when it cannot be told)."""
    n_leaves = len(jax.tree_util.tree_leaves(state))
    try:
        owners = optax.tree_utils.tree_map_params(
            tx, lambda _, i: i, state, list(range(n)),
            transform_non_params=lambda x: jax.tree.map(lambda _: -1, x))
        owners = jax.tree_util.tree_leaves(owners)
        if len(owners) != n_leaves or not all(isinstance(o, int) for o in owners):
            raise ValueError
        return owners
    except Exception:  # noqa: BLE001 - exotic transforms: treat every leaf as shared
        return [-1] * n_leaves
