"""What `compile(loss=..., metrics=..., loss_weights=...)` builds: the total
loss over (possibly several) outputs, and the metrics per output."""

import jax.numpy as jnp

from kerax import losses as losses_mod
from kerax import metrics as metrics_mod
from kerax.losses.losses import LossFunctionWrapper
from kerax.metrics import Mean

__all__ = ["CompileLoss", "CompileMetrics", "flatten_outputs"]


def flatten_outputs(y_pred, output_names):
    """(names, flat list) of the model outputs."""
    if isinstance(y_pred, dict):
        keys = sorted(y_pred)
        return keys, [y_pred[k] for k in keys]
    if isinstance(y_pred, (list, tuple)):
        names = list(output_names or [])
        if len(names) != len(y_pred):
            names = [f"output_{i}" for i in range(len(y_pred))]
        return names, list(y_pred)
    name = (output_names or ["output"])[0]
    return [name], [y_pred]


def _match_targets(y_true, y_pred, names, what="y"):
    """Flatten targets in the order of the outputs."""
    n = len(names)
    if y_true is None:
        return [None] * n
    if isinstance(y_true, dict):
        missing = [k for k in names if k not in y_true]
        if missing and len(y_true) == n and not isinstance(y_pred, dict):
            # dict keyed by output layer names in another spelling: keep order
            return [y_true[k] for k in y_true]
        if missing:
            raise ValueError(
                f"`{what}` is a dict with keys {sorted(y_true)}, but the model's outputs "
                f"are named {names}; missing {missing}.")
        return [y_true[k] for k in names]
    if isinstance(y_true, (list, tuple)) and n > 1:
        if len(y_true) != n:
            raise ValueError(
                f"The model has {n} outputs {names} but `{what}` holds {len(y_true)} "
                "arrays; pass one target per output (as a list or a dict by output name).")
        return list(y_true)
    if n > 1:
        raise ValueError(
            f"The model has {n} outputs {names}; `{what}` must be a list or a dict of "
            f"{n} targets, got a single array.")
    if isinstance(y_true, (list, tuple)) and len(y_true) == 1:
        return [y_true[0]]
    return [y_true]


def _per_output_batch(y_true, y_pred, sample_weight, output_names):
    """(names, targets, predictions, sample weights), one entry per output."""
    names, preds = flatten_outputs(y_pred, output_names)
    trues = _match_targets(y_true, y_pred, names, "y")
    sws = _match_targets(sample_weight, y_pred, names, "sample_weight") \
        if isinstance(sample_weight, (list, tuple, dict)) else [sample_weight] * len(names)
    return names, trues, preds, sws


def _per_output(spec, names, what):
    """Expand a compile argument (single / list / dict) into one entry per output."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(
                f"`{what}` has keys {unknown} that are not output names; outputs are {names}.")
        return [spec.get(k) for k in names]
    if isinstance(spec, (list, tuple)) and n > 1:
        if len(spec) != n:
            raise ValueError(
                f"`{what}` is a list of {len(spec)} entries but the model has {n} "
                f"outputs {names}.")
        return list(spec)
    if isinstance(spec, (list, tuple)) and n == 1 and what == "loss":
        if len(spec) != 1:
            raise ValueError(f"`loss` is a list of {len(spec)} entries for a single-output model.")
        return [spec[0]]
    return [spec] * n


def _loss_object(identifier):
    if identifier is None:
        return None
    obj = losses_mod.get(identifier)
    if isinstance(obj, losses_mod.Loss):
        return obj
    if callable(obj):
        name = getattr(obj, "__name__", None) or type(obj).__name__
        return LossFunctionWrapper(obj, name=name)
    raise ValueError(f"Could not interpret loss {identifier!r}.")


class CompileLoss:
    """Sum over outputs of `loss_weight * loss(y_true, y_pred, sample_weight)`."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        self.loss = loss
        self.loss_weights = loss_weights
        self.output_names = output_names
        self.built = False
        self.names = None
        self.losses = None
        self.weights = None
        self.trackers = []

    def build(self, y_true, y_pred):
        names, _ = flatten_outputs(y_pred, self.output_names)
        self.names = names
        if isinstance(self.loss, (list, tuple, dict)) or len(names) == 1:
            specs = _per_output(self.loss, names, "loss")
        else:
            specs = [self.loss] * len(names)
        self.losses = [_loss_object(s) for s in specs]
        if self.loss_weights is None:
            self.weights = [1.0] * len(names)
        elif isinstance(self.loss_weights, (int, float)):
            self.weights = [float(self.loss_weights)] * len(names)
        else:
            self.weights = [1.0 if w is None else float(w)
                            for w in _per_output(self.loss_weights, names, "loss_weights")]
        if len(names) > 1:
            self.trackers = [Mean(name=f"{n}_loss") if l is not None else None
                             for n, l in zip(names, self.losses)]
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        names, trues, preds, sws = _per_output_batch(
            y_true, y_pred, sample_weight, self.output_names)
        total = jnp.zeros((), jnp.float32)
        for i, (loss, w, yt, yp, sw) in enumerate(zip(self.losses, self.weights, trues, preds, sws)):
            if loss is None:
                continue
            if yt is None:
                raise ValueError(
                    f"The loss for output {names[i]!r} needs targets, but `y` is None.")
            value = loss(yt, yp, sample_weight=sw)
            value = jnp.asarray(value, jnp.float32)
            if self.trackers and self.trackers[i] is not None:
                self.trackers[i].update_state(value)
            total = total + w * value
        return total


def _metric_objects(spec, loss, yt, yp, output_name, multi, weighted):
    out = []
    if spec is None:
        return out
    if not isinstance(spec, (list, tuple)):
        spec = [spec]
    for ident in spec:
        if ident is None:
            continue
        if isinstance(ident, str) and ident in ("accuracy", "acc"):
            m = metrics_mod.get_accuracy_for(loss, tuple(jnp.shape(yt)), tuple(jnp.shape(yp)),
                                             name=ident)
        elif isinstance(ident, str) and ident in ("crossentropy", "ce"):
            shape_p = jnp.shape(yp)
            if shape_p[-1] == 1:
                m = metrics_mod.BinaryCrossentropy(name=ident)
            elif len(jnp.shape(yt)) < len(shape_p) or jnp.shape(yt)[-1] == 1:
                m = metrics_mod.SparseCategoricalCrossentropy(name=ident)
            else:
                m = metrics_mod.CategoricalCrossentropy(name=ident)
        else:
            m = metrics_mod.get(ident)
            if not hasattr(m, "update_state"):
                fn = m
                m = metrics_mod.MeanMetricWrapper(fn, name=getattr(fn, "__name__", "metric"))
            elif isinstance(ident, str):
                _rename(m, ident)
        if multi:
            base = ident if isinstance(ident, str) else m.name
            _rename(m, f"{output_name}_{base}")
        elif weighted and isinstance(ident, str):
            pass
        out.append(m)
    return out


def _rename(metric, name):
    try:
        metric.name = name
    except AttributeError:
        object.__setattr__(metric, "_name", name)


class CompileMetrics:
    """The metrics of `compile(metrics=..., weighted_metrics=...)`, per output."""

    def __init__(self, metrics, weighted_metrics, output_names=None, loss=None):
        self.metrics_spec = metrics
        self.weighted_spec = weighted_metrics
        self.output_names = output_names
        self.loss = loss
        self.built = False
        self.unweighted = []
        self.weighted = []

    @property
    def metrics(self):
        return [m for per in self.unweighted for m in per] + [m for per in self.weighted for m in per]

    def build(self, y_true, y_pred):
        names, preds = flatten_outputs(y_pred, self.output_names)
        trues = _match_targets(y_true, y_pred, names, "y")
        multi = len(names) > 1
        losses = _per_output(self.loss, names, "loss") if isinstance(
            self.loss, (list, tuple, dict)) else [self.loss] * len(names)

        def expand(spec):
            if spec is None:
                return [None] * len(names)
            if isinstance(spec, dict):
                return _per_output(spec, names, "metrics")
            if multi and isinstance(spec, (list, tuple)) and len(spec) == len(names) and all(
                    isinstance(s, (list, tuple)) or s is None for s in spec):
                return list(spec)
            return [spec] * len(names)

        self.unweighted = [_metric_objects(s, l, yt, yp, n, multi, False)
                           for s, l, yt, yp, n in zip(expand(self.metrics_spec), losses, trues, preds, names)]
        self.weighted = [_metric_objects(s, l, yt, yp, n, multi, True)
                         for s, l, yt, yp, n in zip(expand(self.weighted_spec), losses, trues, preds, names)]
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        names, trues, preds, sws = _per_output_batch(
            y_true, y_pred, sample_weight, self.output_names)
        for per, yt, yp in zip(self.unweighted, trues, preds):
            for m in per:
                m.update_state(yt, yp)
        for per, yt, yp, sw in zip(self.weighted, trues, preds, sws):
            for m in per:
                m.update_state(yt, yp, sample_weight=sw)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()
