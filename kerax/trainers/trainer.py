"""compile / fit / evaluate / predict (Keras 3's Trainer), on optax and XLA.

`train_step`, `test_step`, `predict_step`, `compute_loss` and `compute_metrics`
are overridable in the stateful Keras style; `train_step`/`test_step`/
`predict_step` also in the stateless style of Keras' JAX backend
(`step(self, state, data) -> (logs, new_state)`), chosen by the override's
signature: such a step reads the Variables' values into `state` and assigns the
returned state back, so it runs as a stateful step. fit compiles whatever they do into
one XLA program per input signature that runs `steps_per_execution` steps with
`lax.scan` (see engine.py). In-memory arrays go to the device once per fit and
every epoch's shuffled batches are gathered inside the program; the host reads
metric values only to report progress.
"""
import dataclasses
import functools
import inspect
import threading
import time
import warnings
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from kerax import losses as losses_mod
from kerax import metrics as metrics_mod
from kerax import optimizers
from kerax.callbacks import CallbackList
from kerax.core import config as core_config
from kerax.core.scope import StateScope, pure
from kerax.layers.layer import Layer
from kerax.random import global_seed_generator
from kerax.saving import training_state
from kerax.registry import deserialize_keras_object
from kerax.trainers import data_adapter as da
from kerax.trainers.compile_utils import CompileLoss, CompileMetrics
from kerax.trainers.engine import StepEngine
from kerax.transforms import value_and_grad
from kerax.variables import current_scope

__all__ = ["Trainer"]


def _batch_size_of(x):
    leaves = jax.tree_util.tree_leaves(x)
    return leaves[0].shape[0] if leaves else 1


_WALKS = threading.local()  # per thread: models whose layer metrics were walked this call


class _walk_once:
    """Within this block (one evaluate call, whose model does not change
    shape) the model's layer metrics are walked once, not by every reset,
    log ordering and name lookup."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        memo = getattr(_WALKS, "models", None)
        if memo is None:
            memo = _WALKS.models = {}
        self.outer = id(self.model) in memo
        if not self.outer:
            memo[id(self.model)] = None

    def __exit__(self, *exc):
        if not self.outer:
            _WALKS.models.pop(id(self.model), None)


def _to_float_logs(logs):
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(np.asarray(v))
        except (TypeError, ValueError):
            out[k] = v
    return out


@dataclasses.dataclass
class TrainerState:
    """What `compile` sets up besides the loss and metrics (`model._trainer_state`)."""
    loss_tracker: object = None          # the "loss" Mean (None before compile)
    steps_per_execution: object = None   # None (grouped when no callback objects),
    run_eagerly: bool = False            # a positive int, or "auto" (always grouped)
    engines: dict = dataclasses.field(default_factory=dict)  # mode -> StepEngine
    # grouped mode: mode -> the most steps per dispatch that keeps a dispatch
    # under GROUP_SECONDS (measured once on the second dispatch)
    group_cap: dict = dataclasses.field(default_factory=dict)
    # threads: fit/train_on_batch run in one thread at a time (another raises),
    # evaluate calls queue (they share the metrics), predict runs concurrently;
    # trace_lock guards building the engines and tracing their steps
    fit_lock: object = dataclasses.field(default_factory=threading.RLock)
    eval_lock: object = dataclasses.field(default_factory=threading.RLock)
    trace_lock: object = dataclasses.field(default_factory=threading.RLock)


_STATE_LOCK = threading.Lock()  # creating a model's TrainerState in predict


def _training(method):
    """fit/train_on_batch: one thread at a time per model; another thread's
    call raises instead of interleaving its updates with the running one."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        st = self.__dict__.get("_trainer_state")
        lock = st.fit_lock if st is not None else None
        if lock is not None and not lock.acquire(blocking=False):
            raise RuntimeError(
                f"{method.__name__}: this model is being trained by fit/train_on_batch in "
                "another thread. Train one model from one thread at a time (predict and "
                "evaluate may run in other threads meanwhile).")
        try:
            return method(self, *args, **kwargs)
        finally:
            if lock is not None:
                lock.release()
    return wrapper


def _evaluating(method):
    """evaluate/test_on_batch: calls from several threads run one after the
    other (they reset and update the same metric variables)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        st = self.__dict__.get("_trainer_state")
        if st is None:
            return method(self, *args, **kwargs)
        with st.eval_lock:
            return method(self, *args, **kwargs)
    return wrapper


def _call_accepting(method, x, y, y_pred, sample_weight, training=None):
    """Call a (possibly overridden) `compute_loss`/`compute_metrics` with the
    arguments its signature accepts (Keras 3's rule: an override without
    `training` is called without it). x, y, y_pred, sample_weight go by
    position, as Keras passes them, unless the override takes fewer
    positional parameters: then by name."""
    accepts = _accepted(method)
    kwargs = {}
    if training is not None and accepts["training"]:
        kwargs["training"] = training
    values = (x, y, y_pred, sample_weight)
    if accepts["positional"] >= 4:
        return method(*values, **kwargs)
    names = ("x", "y", "y_pred", "sample_weight")
    unknown = [n for n in accepts["required"] if n not in names]
    if unknown:
        raise TypeError(
            f"{method.__qualname__}{inspect.signature(method)}: kerax calls it with "
            f"(x, y, y_pred, sample_weight[, training]); cannot pass {unknown}.")
    kwargs.update({n: v for n, v in zip(names, values) if n in accepts["names"]})
    return method(**kwargs)


_ACCEPTED = weakref.WeakKeyDictionary()


def _accepted(method):
    """What `method`'s signature accepts (cached per function)."""
    fn = getattr(method, "__func__", None)
    got = _ACCEPTED.get(fn) if fn is not None else None
    if got is not None:
        return got
    params = list(inspect.signature(method).parameters.values())
    P = inspect.Parameter
    var_kw = any(p.kind is P.VAR_KEYWORD for p in params)
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    got = {
        "training": var_kw or any(p.name == "training" and p.kind is not P.POSITIONAL_ONLY
                                  for p in params),
        "positional": 1_000 if any(p.kind is P.VAR_POSITIONAL for p in params)
        else len(positional),
        "names": {p.name for p in params if p.kind is not P.POSITIONAL_ONLY}
        | ({"x", "y", "y_pred", "sample_weight"} if var_kw else set()),
        "required": [p.name for p in params if p.default is P.empty
                     and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)],
    }
    if fn is not None:  # a bound method: its signature without self, per function
        _ACCEPTED[fn] = got
    return got


class Trainer:
    """Mixed into `kerax.Model`."""

    _kerax_base_class = True
    _kerax_model = True  # what saving's walk, which cannot import models, checks

    # ---- compile ---------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=None,
                jit_compile="auto", auto_scale_loss=True):
        """Configure the model for `fit`, `evaluate` and `predict`.

        `steps_per_execution` is how many batches run per compiled call:

        - None (the default): grouped. Consecutive batches run in one compiled
          loop, up to 128 per call (fewer when a step is slow, so that a call
          takes about half a second and progress keeps moving; on CPU a
          training step with a convolution runs one per call, since XLA's CPU
          backend runs a convolution's gradient several times slower inside a
          loop; a call of fewer than 256 steps, all epochs together, runs one
          per call, as the loop program takes longer to compile than grouping
          saves there), unless a callback of that `fit`/`evaluate`/`predict` call
          overrides one of its batch-level hooks (`on_train_batch_begin/end`, `on_batch_begin/end`,
          `on_test_batch_*`, `on_predict_batch_*`) without declaring
          `accepts_grouped_batches = True`: then one batch per call, as in
          Keras. Grouping changes no result: every step sees the same batch
          and the same state as one step at a time; the progress bar moves
          once per group. A `.keras` file stores the default as 1 (what Keras
          writes); loading it restores the default.
        - an int k: exactly k batches per call (`lax.scan`); batch hooks run
          once per k batches. `steps_per_execution=1` is one batch per call.
        - "auto": grouped as the default, whatever the callbacks.
        """
        self.optimizer = optimizers.get(optimizer)
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16" and not isinstance(
                self.optimizer, optimizers.LossScaleOptimizer):
            self.optimizer = optimizers.LossScaleOptimizer(self.optimizer)
        self.loss = loss
        _validate_names(loss, metrics, weighted_metrics)
        self._loss = CompileLoss(loss, loss_weights, self._output_names()) if loss is not None else None
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics, self._output_names(), loss)
        if steps_per_execution not in ("auto", None):
            if not isinstance(steps_per_execution, (int, np.integer)) or isinstance(
                    steps_per_execution, bool) or steps_per_execution < 1:
                raise ValueError(
                    "compile: `steps_per_execution` must be a positive integer, 'auto' or "
                    f"None (the default: grouped), got {steps_per_execution!r}.")
        self._trainer_state = TrainerState(
            loss_tracker=metrics_mod.Mean(name="loss"),
            steps_per_execution=steps_per_execution,
            run_eagerly=bool(run_eagerly) or jit_compile is False)
        self._compile_config = {
            "optimizer": optimizer, "loss": loss, "metrics": metrics,
            "loss_weights": loss_weights, "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly,
            # Keras writes (and reads) an int: the default is stored as 1
            "steps_per_execution": 1 if steps_per_execution is None else steps_per_execution,
            "jit_compile": jit_compile}
        self.compiled = True
        self.stop_training = False

    @property
    def compiled(self):
        return self.__dict__.get("_compiled", False)

    @compiled.setter
    def compiled(self, value):
        self.__dict__["_compiled"] = bool(value)

    @property
    def run_eagerly(self):
        st = self.__dict__.get("_trainer_state")
        return bool(st is not None and st.run_eagerly)

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._require_compiled("run_eagerly")
        self._trainer_state.run_eagerly = bool(value)

    def _output_names(self):
        graph = self.__dict__.get("_graph")
        outputs = None
        if graph is not None:
            outputs = graph.flat_outputs
        elif getattr(self, "outputs", None):
            outputs = self.outputs
        if outputs:
            return [t._history[0].name if t._history else f"output_{i}" for i, t in enumerate(outputs)]
        return None

    @property
    def output_names(self):
        return self._output_names()

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call `model.compile(optimizer, loss, ...)` before `{what}`.")

    def get_compile_config(self):
        return getattr(self, "_compile_config", None) if self.compiled else None

    # ---- compile_from_config (used by kerax.saving when loading a model) --------------
    def compile_from_config(self, config):
        """Compile from a `get_compile_config()` dict as stored in `.keras`
        files, and build the optimizer so saved optimizer state can load."""
        if not config:
            return
        if not isinstance(config, dict):
            raise ValueError(f"compile_from_config: expected a dict, got {config!r}.")

        def objects(value, module):
            if isinstance(value, dict) and "class_name" in value:
                return deserialize_keras_object(value, module=module)
            if isinstance(value, dict):
                return {k: objects(v, module) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [objects(v, module) for v in value]
            return value

        optimizer = config.get("optimizer", "rmsprop")
        if isinstance(optimizer, dict):
            optimizer = deserialize_keras_object(optimizer, module="keras.optimizers")
        self.compile(
            optimizer=optimizer if optimizer is not None else "rmsprop",
            loss=objects(config.get("loss"), "keras.losses"),
            metrics=objects(config.get("metrics"), "keras.metrics"),
            loss_weights=config.get("loss_weights"),
            weighted_metrics=objects(config.get("weighted_metrics"), "keras.metrics"),
            run_eagerly=bool(config.get("run_eagerly", False)),
            # Keras stores its default as 1: read 1 as kerax's default (grouped)
            steps_per_execution=None if config.get("steps_per_execution", 1) in (1, None)
            else config["steps_per_execution"],
            jit_compile=config.get("jit_compile", "auto"))
        if self.built and self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    # ---- metrics -----------------------------------------------------------------------
    def _layer_metrics(self):
        """The metrics of the model's layers (a walk over every layer; within
        one evaluate call it is walked once, see `_walk_once`)."""
        memo = getattr(_WALKS, "models", None)
        if memo is not None and id(self) in memo:
            found = memo[id(self)]
            if found is None:
                found = memo[id(self)] = Layer.metrics.fget(self)
            return found
        return Layer.metrics.fget(self)

    def _named_metrics(self):
        """(log name, metric) pairs: the loss, each loss term's tracker, the
        compiled metrics (named per output as Keras 3 logs them), then the
        metrics of the layers."""
        out = []
        st = self.__dict__.get("_trainer_state")
        if st is not None and st.loss_tracker is not None:
            out.append((st.loss_tracker.name, st.loss_tracker))
            if self._loss is not None and self._loss.built:
                out.extend((t.name, t) for t in self._loss.trackers)
            if self._compile_metrics.built:
                out.extend(self._compile_metrics.named_metrics())
        seen = {id(m) for _, m in out}
        for m in self._layer_metrics():
            if id(m) not in seen:
                seen.add(id(m))
                out.append((m.name, m))
        return out

    @property
    def metrics(self):
        return [m for _, m in self._named_metrics()]

    @property
    def metrics_names(self):
        return [name for name, _ in self._named_metrics()]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        logs = {}
        for name, m in self._named_metrics():
            r = m.result()
            if isinstance(r, dict):
                logs.update(r)
            else:
                logs[name] = r
        return logs

    def _logs_as_list(self, logs):
        """evaluate/train_on_batch/test_on_batch without `return_dict`: the
        values in Keras 3's order (the loss, the metrics by their own names,
        the loss terms, then every other key sorted); a single value alone."""
        order = []
        st = self.__dict__.get("_trainer_state")
        if st is not None and st.loss_tracker is not None:
            order.append(st.loss_tracker.name)
            if self._compile_metrics.built:
                order.extend(m.name for m in self._compile_metrics.metrics)
            if self._loss is not None and self._loss.built:
                order.extend(t.name for t in self._loss.trackers)
        order.extend(m.name for m in self._layer_metrics())
        keys = list(dict.fromkeys(k for k in order if k in logs))
        keys += sorted(k for k in logs if k not in keys)
        values = [logs[k] for k in keys]
        return values[0] if len(values) == 1 else values

    # ---- the overridable step pieces ------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss(es) plus every `add_loss` / regularization term."""
        total = jnp.zeros((), jnp.float32)
        if self._loss is not None:
            total = total + self._loss(y, y_pred, sample_weight)
        extra = self.losses
        if extra:
            total = total + sum(jnp.asarray(l, jnp.float32) for l in extra)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics and return every metric's result."""
        self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def stateless_compute_loss(self, trainable_variables, non_trainable_variables,
                               metrics_variables, x=None, y=None, y_pred=None,
                               sample_weight=None, training=True):
        """`compute_loss` as a pure function of the given variable values (Keras
        3): returns `(loss, (trainable_variables, non_trainable_variables,
        metrics_variables))`, the last two with whatever `compute_loss` assigned."""
        groups = [list(self.trainable_variables), list(self.non_trainable_variables),
                  list(self.metrics_variables)]
        values = (trainable_variables, non_trainable_variables, metrics_variables)
        _check_state(groups, values, ("trainable_variables", "non_trainable_variables",
                                      "metrics_variables"), "stateless_compute_loss")
        loss, new = pure(
            lambda: _call_accepting(self.compute_loss, x, y, y_pred, sample_weight,
                                    training=training),
            [v for g in groups for v in g])([a for vals in values for a in vals])
        _, ntv, mv = _split(new, groups)
        return loss, (trainable_variables, ntv, mv)

    def train_step(self, *args):
        """`train_step(data)` (stateful) or `train_step(state, data) -> (logs,
        state)` (Keras' JAX form, for `super().train_step(state, data)` from a
        stateless override)."""
        if len(args) == 2:
            return self._stateless_default("train", *args)
        (data,) = args
        x, y, sample_weight = da.unpack_x_y_sample_weight(data)
        trainable = self.trainable_variables

        def forward():
            y_pred = self(x, training=True)
            loss = _call_accepting(self.compute_loss, x, y, y_pred, sample_weight,
                                   training=True)
            # loss scaling (LossScaleOptimizer, loss_scale_factor) before differentiation
            return self.optimizer.scale_loss(loss), (loss, y_pred)

        (_, (loss, y_pred)), grads = value_and_grad(forward, trainable, has_aux=True)()
        if trainable:
            self.optimizer.apply(grads, trainable)
        self._trainer_state.loss_tracker.update_state(loss, sample_weight=_batch_size_of(x))
        return _call_accepting(self.compute_metrics, x, y, y_pred, sample_weight)

    def test_step(self, *args):
        """`test_step(data)` or `test_step(state, data) -> (logs, state)`."""
        if len(args) == 2:
            return self._stateless_default("test", *args)
        (data,) = args
        x, y, sample_weight = da.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = _call_accepting(self.compute_loss, x, y, y_pred, sample_weight, training=False)
        self._trainer_state.loss_tracker.update_state(loss, sample_weight=_batch_size_of(x))
        return _call_accepting(self.compute_metrics, x, y, y_pred, sample_weight)

    def predict_step(self, *args):
        """`predict_step(data)` or `predict_step(state, data) -> (outputs,
        non_trainable_variables)`."""
        if len(args) == 2:
            return self._stateless_default("predict", *args)
        (data,) = args
        x, _, _ = da.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ---- the stateless (Keras JAX) step form ---------------------------------------
    def _state_groups(self, mode):
        """The Variables behind a stateless step's `state`, in Keras' order:
        (trainable, non-trainable[, optimizer][, metrics])."""
        groups = [list(self.trainable_variables), list(self.non_trainable_variables)]
        if mode == "train":
            groups.append(list(self.optimizer.variables))
        if mode != "predict":
            groups.append(list(self.metrics_variables))
        return groups

    def _stateless_default(self, mode, state, data):
        """The built-in stateful step run as a pure function of `state`."""
        groups = self._state_groups(mode)
        _check_state(groups, state, _STATE_NAMES[mode], f"{mode}_step")
        stateful = getattr(Trainer, f"{mode}_step")
        out, new = pure(lambda d: stateful(self, d), [v for g in groups for v in g])(
            [a for vals in state for a in vals], data)
        new = _split(new, groups)
        return (out, new[1]) if mode == "predict" else (out, tuple(new))

    def _run_stateless_step(self, mode, data):
        """A `step(state, data)` override as a stateful step: the Variables'
        current (in fit: traced) values go in as `state`; the returned state is
        assigned back (values returned unchanged are not)."""
        groups = self._state_groups(mode)
        state = tuple([v.value for v in g] for g in groups)
        out, new_state = getattr(self, f"{mode}_step")(state, data)
        if mode == "predict":  # Keras: (outputs, non_trainable_variables)
            new_state = (state[0], new_state)
        names = _STATE_NAMES[mode]
        what = f"{type(self).__name__}.{mode}_step"
        if not isinstance(new_state, (tuple, list)) or len(new_state) != len(groups):
            raise ValueError(
                f"{what}(state, data) must return (logs, state) with state = "
                f"({', '.join(names)}); got a state of "
                f"{type(new_state).__name__} "
                f"{'' if not isinstance(new_state, (tuple, list)) else len(new_state)}.")
        _check_state(groups, new_state, names, what + " returned a state whose")
        for variables, old, new in zip(groups, state, new_state):
            for var, a, b in zip(variables, old, new):
                if b is not a:
                    var.assign(b)
        return out

    def _step_fn(self, mode):
        method = getattr(self, f"{mode}_step")
        if getattr(type(self), f"{mode}_step") is getattr(Trainer, f"{mode}_step") or \
                not _is_stateless_step(method):
            return method
        return lambda data: self._run_stateless_step(mode, data)

    # ---- engines -----------------------------------------------------------------------
    def _engine(self, mode):
        st = self._trainer_state
        engine = st.engines.get(mode)
        if engine is None:
            with st.trace_lock:
                engine = st.engines.get(mode)
                if engine is None:
                    step = self._step_fn(mode)
                    engine = st.engines[mode] = StepEngine(
                        lambda d: step(d), collect_outputs=(mode == "predict"), name=mode,
                        lock=st.trace_lock)
        return engine

    def _grouping(self, mode, data, callbacks, call_steps=None):
        """`(k, size)` for one pass: a fixed k (size None), or grouped (k 1) in
        blocks of up to `size` steps, one program for any count up to size.
        `call_steps`: the steps the whole call will run (all epochs), if known."""
        st = self._trainer_state
        k = st.steps_per_execution
        if k not in (None, "auto"):
            return max(1, int(k)), None
        if k is None and callbacks.needs_every_batch(mode):
            return 1, None
        if call_steps is not None and call_steps < MIN_GROUPED_STEPS:
            # a short call: the loop program compiles slower than the one-step
            # program by more than grouping saves on a few dispatches
            return 1, None
        if st.group_cap.get(mode) == 0:  # a training step with convolutions on CPU
            return 1, None
        if mode == "train" and st.group_cap.get(mode) is None and self._loop_slows(data):
            st.group_cap[mode] = 0
            return 1, None
        if data.kind == "arrays" and not data.streams():
            # batches gathered on the device: only the (size, batch) index
            # array travels, so one group size serves every dataset length
            return 1, MAX_GROUP
        # host batches travel per dispatch: the group size follows the number
        # of full batches (a power of two, so few programs; for arrays at most
        # that number, so each group is a view of the arrays, the last one
        # overlapping the one before: no padding copy) and bounds a
        # dispatch's bytes
        full = data.num_samples // data.batch_size if data.kind == "arrays" else None
        if data.steps is not None:
            full = data.steps if full is None else min(full, data.steps)
        if full is None:
            size = MAX_GROUP
        elif data.kind == "arrays":
            size = min(MAX_GROUP, _pow2_floor(max(1, full)))
        else:
            size = min(MAX_GROUP, _pow2_ceil(max(1, full)))
        size = min(size, _pow2_floor(max(1, GROUP_BYTES // max(1, self._batch_bytes(
            mode, data)))))
        return (1, None) if size <= 1 else (1, size)

    def _batch_bytes(self, mode, data):
        """The bytes of one batch a grouped dispatch moves: the inputs sent to
        the device and, for predict, the outputs brought back."""
        first = data.first_batch_spec()
        b = max(1, _batch_size_of(first))
        total = sum(np.dtype(a.dtype).itemsize * int(np.prod(a.shape))
                    for a in jax.tree_util.tree_leaves(first))
        if mode == "predict":
            program = self._step_program(mode, first)
            total += sum(int(np.prod(a.shape)) * a.dtype.itemsize
                         for a in program.jaxpr.out_avals[:program.n_out])
        return total * max(1, getattr(data, "batch_size", b) or b) // b

    def _step_program(self, mode, batch):
        """The engine's traced step for batches shaped like `batch` (traced
        once, reused when the engine compiles)."""
        struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), batch)
        with self._trainer_state.trace_lock:
            return self._engine(mode)._program(struct)

    def _loop_slows(self, data):
        """Whether the training step runs slower inside a compiled loop than
        one per dispatch. On XLA's CPU backend a convolution's gradient does
        (measured on the 2-core CPU host, ms per step one per dispatch vs in a
        loop: Conv1D 0.5 vs 4.1, Conv2D 2.8 vs 9.4; dense, recurrent and
        100-layer steps were as fast or faster in a loop): such steps run one
        per dispatch there."""
        if jax.default_backend() != "cpu":
            return False
        if data.kind == "arrays":
            program = self._step_program("train", data.first_batch_spec())
        else:
            try:  # a generator's first batch, as the engine will stack it
                program = self._step_program("train", jax.tree_util.tree_map(
                    lambda a: a[0], da.stack_batches([data.first_batch()])))
            except Exception:  # noqa: BLE001  (the step's own trace will report it)
                return False
        return _uses_primitive(program.jaxpr.jaxpr, "conv_general_dilated")

    def _run_epoch(self, mode, data, callbacks, rng, steps_limit=None, on_outputs=None,
                   call_steps=None):
        """Run one pass over `data` (one dispatch per block of steps); calls the
        batch hooks; returns the last logs (device values), None if no batch ran."""
        st = self._trainer_state
        engine = self._engine(mode)
        begin = {"train": callbacks.on_train_batch_begin, "test": callbacks.on_test_batch_begin,
                 "predict": callbacks.on_predict_batch_begin}[mode]
        end = {"train": callbacks.on_train_batch_end, "test": callbacks.on_test_batch_end,
               "predict": callbacks.on_predict_batch_end}[mode]
        if call_steps is None and data.steps is not None:
            call_steps = data.steps if steps_limit is None else min(data.steps, steps_limit)
        k, size = (1, None) if self.run_eagerly else self._grouping(mode, data, callbacks,
                                                                    call_steps)
        blocks = da.EpochIterator(data, k, eager=self.run_eagerly, steps=steps_limit, rng=rng,
                                  size=size)
        # grouped: the first dispatch (which compiles) runs one step; the next
        # few are timed, growing the group until a dispatch would take about
        # GROUP_SECONDS (or the group is full); the cap is kept for later calls
        probe = size is not None and st.group_cap.get(mode) is None
        if size is not None:
            blocks.group = 1 if probe else min(size, st.group_cap[mode])
        grouped_seen, best = 0, None
        staging = engine.staging()  # aligned host buffers for this pass's host batches
        read_outputs = mode == "predict" and callbacks.reads_batch_outputs("predict")
        pending, pending_bytes = [], 0
        logs = None
        step = 0
        try:
            for block in blocks:
                begin(step)
                t0 = time.perf_counter()
                out = _run_block(engine, block, staging)
                if block.n is not None:
                    grouped_seen += 1
                    if probe and grouped_seen >= 2:
                        # slow steps get small groups (still the one program: a
                        # switch to another would cost a compile)
                        jax.block_until_ready(out)
                        per_step = (time.perf_counter() - t0) / block.n
                        best = per_step if best is None else min(best, per_step)
                        cap = max(1, _pow2_floor(int(GROUP_SECONDS / max(best, 1e-7))))
                        st.group_cap[mode] = cap
                        if cap <= blocks.group or blocks.group >= size or grouped_seen >= 5:
                            probe = False
                        blocks.group = min(size, cap)
                    if mode == "predict":
                        rows = slice(block.start, block.start + block.n)
                        if read_outputs:  # a callback may read them: host arrays now
                            out = jax.tree_util.tree_map(lambda o: np.asarray(o)[rows], out)
                        else:  # kept on the device (no sync per dispatch); cut at the end
                            out = _Rows(out, rows)
                            pending.append(out)
                            pending_bytes += out.nbytes
                            if pending_bytes > PENDING_BYTES:
                                for p in pending:  # bound the device memory held
                                    p.host()
                                pending, pending_bytes = [], 0
                step += block.steps
                if mode == "predict":
                    on_outputs(out)
                    end(step - 1, {"outputs": out})
                else:
                    logs = out
                    end(step - 1, out)
                if mode == "train" and getattr(self, "stop_training", False):
                    break
        finally:
            engine.release_staging(staging)
        return logs

    # ---- fit ---------------------------------------------------------------------------------
    @_training
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        self._require_compiled("fit")
        if current_scope() is not None:
            raise RuntimeError("fit cannot be called inside kerax.function or kerax.grad.")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be a non-negative integer, got {epochs!r}.")
        verbose = 1 if verbose == "auto" else int(verbose)
        cap = core_config.max_epochs()  # kerax.config.set_max_epochs, as Keras
        if cap is not None and cap < epochs:
            warnings.warn(f"fit: limiting epochs to {cap} (kerax.config.max_epochs()).",
                          stacklevel=2)
            epochs = cap
        data = da.make_data(x, y, sample_weight, batch_size, shuffle, steps_per_epoch,
                            class_weight)
        val_data = None
        if validation_split and validation_data is None:
            if data.kind != "arrays":
                raise ValueError(
                    "`validation_split` is only supported for array inputs; pass "
                    "`validation_data` for generators and datasets.")
            head, tail = data.split(validation_split)
            data = da.ArrayData(*head, batch_size=data.batch_size, shuffle=shuffle,
                                steps=steps_per_epoch, class_weight=class_weight)
            val_data = da.ArrayData(*tail, batch_size=validation_batch_size or data.batch_size)
        elif validation_data is not None:
            if isinstance(validation_data, (tuple, list)) and 2 <= len(validation_data) <= 3 and \
                    da._is_array_structure(validation_data[0]):
                vx, vy, vsw = da.unpack_x_y_sample_weight(tuple(validation_data))
                val_data = da.make_data(vx, vy, vsw, validation_batch_size or data.batch_size
                                        if data.kind == "arrays" else validation_batch_size or 32,
                                        False, validation_steps)
            else:
                val_data = da.make_data(validation_data, steps=validation_steps)
        self._check_first_batch(data)
        self._build_for(data)
        callbacks = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                 model=self, verbose=verbose, epochs=epochs, steps=data.steps)
        self.stop_training = False
        self._initial_epoch = None
        self._shuffle_seed = None
        callbacks.on_train_begin()
        if self._initial_epoch is not None:  # set by BackupAndRestore
            initial_epoch = self._initial_epoch
        self._shuffle_seed = self._current_shuffle_seed()  # BackupAndRestore may set it
        ran_epochs = epochs > initial_epoch
        try:
            epoch_logs = self._fit_epochs(data, val_data, callbacks, initial_epoch, epochs,
                                          steps_per_epoch, validation_steps, validation_freq)
        finally:  # the device copies of the data live as long as this call
            for d in (data, val_data):
                if d is not None and d.kind == "arrays":
                    d.release()
        if ran_epochs and getattr(self.optimizer, "use_ema", False):
            # as Keras: the trained variables end as their moving averages
            self.optimizer.finalize_variable_values(self.trainable_variables)
        callbacks.on_train_end(epoch_logs)
        return self.history

    def _fit_epochs(self, data, val_data, callbacks, initial_epoch, epochs, steps_per_epoch,
                    validation_steps, validation_freq):
        """The epochs of `fit`; returns the last epoch's logs."""
        epoch_logs = {}
        per_epoch = steps_per_epoch or data.steps
        call_steps = None if per_epoch is None else per_epoch * (epochs - initial_epoch)
        val_runs = max(1, (epochs - initial_epoch) // validation_freq)
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            step_count = getattr(self.optimizer, "iterations", None)
            rng = _shuffle_rng(self._shuffle_seed,
                               0 if step_count is None else np.asarray(step_count.value))
            logs = self._run_epoch("train", data, callbacks, rng, steps_per_epoch,
                                   call_steps=call_steps)
            if logs is None:
                warnings.warn(
                    "fit: the training data ran out (the iterator yielded no batch this "
                    "epoch); stopping. Pass an iterable that can be re-iterated or set "
                    "steps_per_epoch.")
                break
            epoch_logs = self._epoch_logs(logs)
            if val_data is not None and (epoch + 1) % validation_freq == 0:
                # fit's callbacks see the validation pass (on_test_*), as in Keras
                val_logs = self._evaluate_data(val_data, callbacks=callbacks,
                                               steps=validation_steps, runs=val_runs)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        return epoch_logs

    def _build_for(self, data, optimizer=True):
        """Build the model, the compiled loss and metrics (abstractly, with
        jax.eval_shape) and the optimizer's slots before the step is traced,
        so no variable is created inside the trace (which would trace it again)."""
        x, y, _ = da.unpack_x_y_sample_weight(data.first_batch_spec())
        loss, metrics = getattr(self, "_loss", None), getattr(self, "_compile_metrics", None)
        pending = [c for c in (loss, metrics) if c is not None and not c.built and y is not None]
        opt = getattr(self, "optimizer", None) if optimizer else None
        if not pending and self.__dict__.get("built") and (opt is None or opt.built):
            return  # a model that ran before: nothing to build (no walk over its layers)

        def spec(a):
            dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
            return jax.ShapeDtypeStruct(np.shape(a), dtype)

        built = all(layer.built for layer in self._flatten_layers())
        known = self._symbolic_output_spec(x) if pending and built else None
        if known is not None:
            # a built Functional/Sequential model: its outputs' shapes are known
            # symbolically, so the loss and metrics build without tracing the model
            def build_only(ys):
                with StateScope():
                    y_pred = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype),
                                                    known)
                    for c in pending:
                        c.build(ys, y_pred)

            jax.eval_shape(build_only, jax.tree_util.tree_map(spec, y))
        elif pending or not built:
            def forward(xs, ys):
                with StateScope():
                    y_pred = self(xs, training=False)
                    for c in pending:
                        c.build(ys, y_pred)

            jax.eval_shape(forward, jax.tree_util.tree_map(spec, x),
                           None if y is None else jax.tree_util.tree_map(spec, y))
        if opt is not None and not opt.built and self.trainable_variables:
            opt.build(self.trainable_variables)

    def _symbolic_output_spec(self, x):
        """What `self(x)` returns, as ShapeDtypeStructs, read from a kerax
        Functional or Sequential model's symbolic outputs (None for other
        models, or outputs with an unknown dimension besides the batch)."""
        cls = type(self)
        if (cls.__module__, cls.__name__) not in (("kerax.models.model", "Functional"),
                                                  ("kerax.models.sequential", "Sequential")):
            return None
        graph = self.__dict__.get("_graph")
        outputs = graph.outputs if graph is not None else self.__dict__.get("_symbolic_output")
        leaves = jax.tree_util.tree_leaves(x)
        if outputs is None or not leaves:
            return None
        batch = np.shape(leaves[0])[0]
        bad = []

        def to_spec(t):
            shape = tuple(batch if i == 0 and d is None else d for i, d in enumerate(t.shape))
            if any(d is None for d in shape):
                bad.append(t)
            return jax.ShapeDtypeStruct(shape, t.dtype)

        specs = jax.tree_util.tree_map(to_spec, outputs, is_leaf=lambda t: hasattr(t, "_history"))
        if bad:
            return None
        if isinstance(specs, (list, tuple)) and len(specs) == 1:  # Model.call's unwrapping
            specs = specs[0]
        return specs

    def _check_first_batch(self, data):
        """Fail early with a clear message when data and model cannot fit."""
        first = data.first_batch_spec()
        x, y, _ = da.unpack_x_y_sample_weight(first)
        if self._loss is not None and y is None:
            raise ValueError(
                "fit/evaluate: the model was compiled with a loss but no targets `y` were "
                "given (x only).")

    def _epoch_logs(self, step_logs):
        """The logs the last step returned (the metrics' results after it,
        computed inside the compiled program), as floats, in metric order.
        A step whose logs are not the metrics' (a `compute_metrics` or
        `train_step` override returning other keys) keeps its own logs, as in
        Keras; a step that returned no dict falls back to the metrics."""
        if not isinstance(step_logs, dict) or not step_logs:
            return _to_float_logs(self.get_metrics_result())
        names = self.metrics_names
        if set(step_logs) >= set(names):
            # compiled outputs come back with sorted keys: restore metric order
            order = [k for k in names if k in step_logs] + [
                k for k in step_logs if k not in names]
            return _to_float_logs({k: step_logs[k] for k in order})
        return _to_float_logs(step_logs)

    # ---- state for BackupAndRestore ----------------------------------------------
    def _backup_state(self):
        """Everything needed to resume, keyed by structure, never by
        auto-generated names (kerax.saving.training_state)."""
        state = training_state.backup(self)
        state[_SHUFFLE_SEED_KEY] = np.asarray(self._current_shuffle_seed(), np.int64)
        return state

    def _restore_state(self, state):
        state = dict(state)
        shuffle_seed = state.pop(_SHUFFLE_SEED_KEY, None)
        training_state.restore(self, state)
        if shuffle_seed is not None:  # the resumed fit shuffles as the interrupted one
            self._shuffle_seed = int(np.asarray(shuffle_seed))

    def _current_shuffle_seed(self):
        """The seed of fit's epoch shuffle orders: the running fit's (which a
        BackupAndRestore backup keeps), else `set_random_seed`'s seed."""
        seed = self.__dict__.get("_shuffle_seed")
        return (global_seed_generator()._initial_seed if seed is None else seed) % 2**63

    # ---- evaluate / predict ------------------------------------------------------------
    @_evaluating
    def _evaluate_data(self, data, callbacks=None, steps=None, runs=1):
        if callbacks is None:
            callbacks = CallbackList([], model=self)
        with _walk_once(self):
            self.reset_metrics()
            callbacks.on_test_begin()
            if data.kind == "arrays":
                data.stream = True  # one ordered pass: no device copy of the whole data
            per_run = steps or data.steps
            logs = self._run_epoch("test", data, callbacks, np.random.default_rng(0), steps,
                                   call_steps=None if per_run is None else per_run * runs)
            if logs is None:
                raise ValueError("evaluate: the dataset is empty (no batches).")
            logs = self._epoch_logs(logs)
        callbacks.on_test_end(logs)
        return logs

    @_evaluating
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        self._require_compiled("evaluate")
        verbose = 1 if verbose == "auto" else int(verbose)
        data = da.make_data(x, y, sample_weight, batch_size, False, steps)
        self._check_first_batch(data)
        self._build_for(data, optimizer=False)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=data.steps)
        with _walk_once(self):
            try:
                logs = self._evaluate_data(data, cbs, steps)
            finally:  # the device copy of the data lives as long as this call
                if data.kind == "arrays":
                    data.release()
            if return_dict:
                return logs
            return self._logs_as_list(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for `x`, batch by batch, as NumPy arrays (in
        the model's output structure; a one-element output list comes back
        as the array, as in Keras 3). In-memory `x` is the inputs whatever
        its structure: an array, a tuple/list of arrays for several inputs,
        or a dict by input name. A dataset or generator yields `x` or
        `(x, y[, sample_weight])` batches (y and sample_weight are ignored).

        >>> import numpy as np, kerax
        >>> a, b = kerax.Input((2,)), kerax.Input((3,))
        >>> model = kerax.Model([a, b], kerax.layers.Concatenate()([a, b]))
        >>> model.predict((np.ones((4, 2)), np.zeros((4, 3))), verbose=0).shape
        (4, 5)
        """
        self._ensure_trainer_state()
        verbose = 1 if verbose == "auto" else int(verbose)
        # In-memory `x` is the model's inputs, whatever its structure (a tuple
        # of arrays feeds a multi-input model, as in Keras); only batches
        # yielded by a dataset or generator are read as (x[, y[, sample_weight]]).
        data = da.make_data(x, None, None, batch_size, False, steps)
        outputs = []
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=data.steps)
        cbs.on_predict_begin()
        if data.kind == "arrays":
            # One ordered pass sliced on the host. A partial last batch runs at
            # its own size (one program per distinct last-batch size, as Keras 3):
            # padding it would change what a model that mixes samples across the
            # batch (ops over axis 0, an `x @ x.T` output) returns.
            data.stream = True
        try:
            self._run_epoch("predict", data, cbs, np.random.default_rng(0), steps,
                            on_outputs=outputs.append)
        finally:  # the device copy of the data lives as long as this call
            if data.kind == "arrays":
                data.release()
        cbs.on_predict_end()
        if not outputs:
            raise ValueError("predict: the input is empty (no batches).")

        def cat(*blocks):
            arrs = [np.asarray(b) for b in blocks]
            return np.concatenate([a.reshape((-1,) + a.shape[2:]) for a in arrs], axis=0)

        outputs = [o.host() if isinstance(o, _Rows) else o for o in outputs]
        return jax.tree_util.tree_map(cat, *outputs)

    def _ensure_trainer_state(self):
        """predict works without compile: a state with no loss or metrics."""
        with _STATE_LOCK:
            if self.__dict__.get("_trainer_state") is None:
                self._trainer_state = TrainerState()
                self._loss = None

    # ---- single batches -----------------------------------------------------------------
    def _one_batch(self, mode, batch):
        engine = self._engine(mode)
        batch = jax.tree_util.tree_map(
            lambda a: a if a is None else np.asarray(a, np.float32 if np.asarray(a).dtype == np.float64 else None),
            batch)
        if self.run_eagerly:
            return _run_block(engine, da.Block("eager", batch, 1))
        return _run_block(engine, da.Block("stacked", da.stack_batches([batch]), 1))

    @_training
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._require_compiled("train_on_batch")
        if class_weight is not None:
            sample_weight = da._class_weights_to_sample_weight(y, class_weight, sample_weight)
        self.reset_metrics()  # as Keras 3: the logs are this batch's alone
        logs = self._epoch_logs(
            self._one_batch("train", da.pack_x_y_sample_weight(x, y, sample_weight)))
        if return_dict:
            return logs
        return self._logs_as_list(logs)

    @_evaluating
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        self.reset_metrics()
        logs = self._epoch_logs(
            self._one_batch("test", da.pack_x_y_sample_weight(x, y, sample_weight)))
        if return_dict:
            return logs
        return self._logs_as_list(logs)

    def predict_on_batch(self, x):
        self._ensure_trainer_state()
        out = self._one_batch("predict", (x,))
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[0], out)


_STATE_NAMES = {
    "train": ("trainable_variables", "non_trainable_variables", "optimizer_variables",
              "metrics_variables"),
    "test": ("trainable_variables", "non_trainable_variables", "metrics_variables"),
    "predict": ("trainable_variables", "non_trainable_variables"),
}


_STATE_SOURCES = {"trainable_variables": "model.trainable_variables",
                  "non_trainable_variables": "model.non_trainable_variables",
                  "optimizer_variables": "model.optimizer.variables",
                  "metrics_variables": "model.metrics_variables"}


def _is_stateless_step(method):
    """Whether a train/test/predict_step override takes Keras' JAX form
    `(state, data)`: a parameter named `state`, or two positional ones."""
    P = inspect.Parameter
    params = [p for p in inspect.signature(method).parameters.values()
              if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    return any(p.name == "state" for p in params) or \
        len([p for p in params if p.default is P.empty]) >= 2


def _check_state(groups, values, names, what):
    for variables, vals, name in zip(groups, values, names):
        n = len(vals) if isinstance(vals, (list, tuple)) else None
        if n != len(variables):
            raise ValueError(
                f"{what} `{name}` holds {n} values; expected {len(variables)} (one per "
                f"variable of {_STATE_SOURCES[name]}, in that order).")


def _split(flat, groups):
    out, i = [], 0
    for g in groups:
        out.append(list(flat[i:i + len(g)]))
        i += len(g)
    return out


def _validate_names(loss, metrics, weighted_metrics):
    """Resolve string names at compile time so a typo fails here, not in fit."""

    def leaves(spec):
        if isinstance(spec, dict):
            return [x for v in spec.values() for x in leaves(v)]
        if isinstance(spec, (list, tuple)):
            return [x for v in spec for x in leaves(v)]
        return [spec]

    for name in leaves(loss):
        if isinstance(name, str) and name.lower() not in ("crossentropy", "ce"):
            losses_mod.get(name)
    for name in leaves(metrics) + leaves(weighted_metrics):
        if isinstance(name, str) and name.lower() not in ("accuracy", "acc"):
            metrics_mod.get(name)


_SHUFFLE_SEED_KEY = "trainer/shuffle_seed"


def _shuffle_rng(seed, iterations):
    """The generator of an epoch's shuffle order: a function of the seed
    (`set_random_seed`'s, or the one a BackupAndRestore backup holds) and of
    the optimizer's step count when the epoch starts, which a resumed run
    restores with the optimizer. So a resumed fit shuffles exactly as the
    uninterrupted one, and `fit(epochs=1)` three times equals `fit(epochs=3)`."""
    return np.random.default_rng([int(seed), int(iterations)])


def _run_block(engine, block, staging=None):
    """Dispatch one `da.Block` to the engine (host batches through `staging`)."""
    if block.kind == "indexed":
        return engine.run_indexed(block.data, block.index, block.n, block.start, block.first)
    if block.kind == "stacked":
        return engine.run_batches(block.data, block.n, block.start, staging=staging)
    return engine.run_eager(block.data)


class _Rows:
    """A grouped predict dispatch's outputs, left on the device until predict
    returns: the `rows` of each leaf are the valid steps."""
    __slots__ = ("out", "rows", "done")

    def __init__(self, out, rows):
        self.out, self.rows, self.done = out, rows, None

    @property
    def nbytes(self):
        return sum(getattr(o, "nbytes", 0) for o in jax.tree_util.tree_leaves(self.out))

    def host(self):
        if self.done is None:
            self.done = jax.tree_util.tree_map(lambda o: np.asarray(o)[self.rows], self.out)
            self.out = None
        return self.done


# Grouped steps (compile's default): at most MAX_GROUP steps per dispatch, at
# most GROUP_BYTES of host batches moved per dispatch (evaluate, predict,
# generators), and about GROUP_SECONDS per dispatch for slow steps.
MAX_GROUP = 128
PENDING_BYTES = 256 << 20  # predict outputs kept on the device before copying them out
# 16 MB: with host batches copied through warm aligned buffers (engine.Staging)
# fewer, larger dispatches win (measured on the 2-core CPU host, predict over
# 10k MNIST rows: 1.10x a single host-fed scan at 16 MB per dispatch, 1.2x at 4 MB)
GROUP_BYTES = 16 << 20
GROUP_SECONDS = 0.5
# calls with fewer steps (all epochs together) run one step per dispatch: on
# the 2-core CPU host the loop program of a 100-layer MLP compiled in 1.6 s
# against 1.2 s for the one-step program, and grouping saved ~1.6 ms per step
MIN_GROUPED_STEPS = 256


def _uses_primitive(jaxpr, name):
    """Whether `jaxpr` or one of its inner jaxprs (loops, conds, calls, custom
    gradients) applies the primitive `name`."""
    stack, seen = [jaxpr], set()
    while stack:
        j = stack.pop()
        if id(j) in seen:
            continue
        seen.add(id(j))
        for eqn in j.eqns:
            if eqn.primitive.name == name:
                return True
            for p in eqn.params.values():
                for v in p if isinstance(p, (list, tuple)) else (p,):
                    inner = getattr(v, "jaxpr", None)
                    if inner is not None and hasattr(inner, "eqns"):
                        stack.append(inner)
                    elif hasattr(v, "eqns"):
                        stack.append(v)
    return False


def _pow2_ceil(n):
    return 1 << (int(n) - 1).bit_length()


def _pow2_floor(n):
    return 1 << (int(n).bit_length() - 1) if n >= 1 else 1
