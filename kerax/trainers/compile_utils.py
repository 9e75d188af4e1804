"""What `compile(loss=..., metrics=..., loss_weights=...)` builds: the total
loss over (possibly several) outputs, and the metrics per output.

The mapping of the arguments onto the model's outputs follows Keras 3:

- `loss`: one loss for every output; a list/tuple with one entry per output
  (None: no loss for that output); a dict by output name (functional models:
  the output layers' names; dict outputs: their keys); or a structure that
  mirrors a nested output structure. `loss_weights` takes the structure of
  `loss` (a dict by output name goes with a dict `loss`).
- `metrics` / `weighted_metrics`: a list/tuple or dict (a single string is an
  error, as in Keras). With one output every metric applies to it. With
  several outputs, a list with one entry per output maps entry i to output i
  (`["accuracy", "mse"]`: accuracy on the first output, mse on the second;
  an entry may be a list of metrics); a dict maps output names (any subset);
  anything else must mirror the output structure.
- Logs: per-output metrics are named `{output}_{metric}` (repeats get `_1`,
  `_2`, ...; a weighted metric whose name is taken gets `weighted_`); with
  more than one loss term each is tracked as `{output}_loss`, the mean over
  batches weighted by batch size, exactly like the total `loss`, so that
  `loss == sum(loss_weight * {output}_loss)` (plus any `add_loss` terms).
"""
import collections

import jax.numpy as jnp

from kerax import losses as losses_mod
from kerax import metrics as metrics_mod
from kerax import tree
from kerax.losses.losses import LossFunctionWrapper
from kerax.metrics import Mean

__all__ = ["CompileLoss", "CompileMetrics"]


def _shape(x):
    return tuple(getattr(x, "shape", None) or jnp.shape(x))


def _is_binary_or_sparse(y_true, y_pred):
    """(binary?, sparse categorical?) from the shapes, as Keras decides for
    the "crossentropy" and "accuracy" shortcuts."""
    yt, yp = _shape(y_true), _shape(y_pred)
    binary = bool(yp) and yp[-1] == 1
    sparse = len(yt) < len(yp) or (bool(yt) and bool(yp) and yt[-1] == 1 and yp[-1] != 1)
    return binary, sparse


def _get_loss(identifier, y_true, y_pred):
    """A `Loss` for one compile entry (None for no loss)."""
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        binary, sparse = _is_binary_or_sparse(y_true, y_pred)
        fn = (losses_mod.binary_crossentropy if binary else
              losses_mod.sparse_categorical_crossentropy if sparse else
              losses_mod.categorical_crossentropy)
    else:
        fn = losses_mod.get(identifier)
    if isinstance(fn, losses_mod.Loss):
        return fn
    if not callable(fn):
        raise ValueError(f"Could not interpret loss {identifier!r}.")
    name = identifier if isinstance(identifier, str) else (
        getattr(fn, "__name__", None) or type(fn).__name__)
    return LossFunctionWrapper(fn, name=name)


def _resolve(path, obj):
    for key in path:
        obj = obj[key]
    return obj


def _first_dim(x):
    leaves = tree.flatten(x)
    return _shape(leaves[0])[0] if leaves and _shape(leaves[0]) else 1


class _Weighted:
    """One loss entry and its weight: a leaf of the loss structure."""

    def __init__(self, loss, weight):
        self.loss = loss
        self.weight = weight


_Term = collections.namedtuple("_Term", ["path", "loss", "weight", "name"])


def _structure_text(x):
    return tree.map_structure(lambda _: "*", x)


class CompileLoss:
    """Sum over the loss terms of `loss_weight * loss(y_true, y_pred, sample_weight)`,
    built on the first batch from the structure of the targets and outputs."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        if loss_weights is not None and not isinstance(
                loss_weights, (list, tuple, dict, float, int)) or isinstance(loss_weights, bool):
            raise ValueError(
                "Expected `loss_weights` argument to be a float (single output case) or a "
                "list, tuple, or dict (multiple output case). Received instead: "
                f"loss_weights={loss_weights!r} of type {type(loss_weights)}")
        self.loss = loss
        self.loss_weights = loss_weights
        self.output_names = list(output_names) if output_names else None
        self.built = False
        self.terms = []
        self.trackers = []
        self._pred_structure = None
        self._true_structure = None

    # ---- structure ------------------------------------------------------------------
    def _match_targets(self, y_true, y_pred, what="y"):
        """`y_true` (or a nested `sample_weight`) in the structure of `y_pred`,
        as Keras reconciles them: a single array for a one-element output
        list, a dict by output name for a list of outputs, a list for a dict
        or a tuple, or fewer targets than outputs when some outputs have no loss."""
        try:
            tree.assert_same_structure(y_pred, y_true)
            return y_true
        except (ValueError, TypeError):
            pass
        if not tree.is_nested(y_true) and hasattr(y_pred, "__len__") and len(y_pred) == 1:
            y_true = [y_true]
        elif isinstance(y_pred, (list, tuple)) and isinstance(y_true, dict) and \
                self.output_names and set(self.output_names) == set(y_true):
            y_true = [y_true[name] for name in self.output_names]
        if isinstance(y_true, (list, tuple)):
            try:
                return tree.pack_sequence_as(y_pred, y_true)
            except (ValueError, TypeError):
                pass
        try:
            tree.assert_same_paths(y_true, y_pred)
            return tree.pack_sequence_as(y_pred, tree.flatten(y_true))
        except (ValueError, TypeError):
            pass
        flat_true = tree.flatten(y_true)
        flat_loss = tree.flatten(self.loss)
        used = [i for i, l in enumerate(flat_loss) if l is not None]
        if tree.is_nested(self.loss) and len(flat_true) == len(used):
            # targets only for the outputs that have a loss
            placed = [None] * len(flat_loss)
            for i, value in zip(used, flat_true):
                placed[i] = value
            return tree.pack_sequence_as(self.loss, placed)
        raise ValueError(
            f"`{what}` and the model's outputs have different structures.\n"
            f"{what}: {_structure_text(y_true)}\n"
            f"outputs: {_structure_text(y_pred)}"
            + (f" (named {self.output_names})" if self.output_names else "")
            + "\nPass one target per output: a list in output order or a dict by "
            "output name.")

    def build(self, y_true, y_pred):
        y_true = self._match_targets(y_true, y_pred)
        loss, weights = self.loss, self.loss_weights
        names = self.output_names
        if names and isinstance(loss, dict) and not isinstance(y_pred, dict):
            if set(names) != set(loss):
                raise ValueError(
                    f"Expected keys {names} in loss dict, but found "
                    f"loss.keys()={list(loss)}. Give every output a loss "
                    "(None for an output without one).")
            loss = [loss[n] for n in names]
            if isinstance(weights, dict):
                missing = [n for n in names if n not in weights]
                if missing:
                    raise ValueError(
                        f"`loss_weights` is a dict without the output(s) {missing}; "
                        f"expected keys {names}.")
                weights = [weights[n] for n in names]
        if weights is not None:
            try:
                tree.assert_same_structure(loss, weights)
            except (ValueError, TypeError):
                flat_w = tree.flatten(weights)
                if len(tree.flatten(loss)) != len(flat_w):
                    raise ValueError(
                        "`loss_weights` must match the number of losses, got "
                        f"{len(tree.flatten(loss))} losses and {len(flat_w)} weights "
                        f"(loss={loss!r}, loss_weights={self.loss_weights!r}). Pass a "
                        "loss per output to weight the outputs differently.") from None
                weights = tree.pack_sequence_as(loss, flat_w)
            paired = tree.map_structure(
                lambda l, w: None if l is None else _Weighted(l, w), loss, weights)
        else:
            paired = tree.map_structure(lambda l: None if l is None else _Weighted(l, None), loss)

        n = len(tree.flatten(y_pred))
        flat_names = names if names and len(names) == n else [None] * n
        name_struct = tree.pack_sequence_as(y_pred, flat_names)
        if not tree.is_nested(paired):
            paired = tree.map_structure(lambda _: paired, y_pred)
        self.terms = []
        self._build_nested(y_true, y_pred, paired, name_struct, ())
        self.trackers = [Mean(name=f"{t.name}_loss") for t in self.terms] \
            if len(self.terms) > 1 else []
        self._pred_structure = tree.map_structure(lambda _: None, y_pred)
        self._true_structure = tree.map_structure(lambda _: None, y_true)
        self.built = True

    def _build_nested(self, y_true, y_pred, loss, names, path):
        if not tree.is_nested(loss):
            if loss is None:
                return
            resolved = _get_loss(loss.loss, y_true, y_pred)
            if resolved is None:
                return
            name_path = path
            if not tree.is_nested(names):
                output_name = names if names is not None else resolved.name
                if not path:
                    name_path = (output_name,)
                elif isinstance(path[-1], int):
                    name_path = path[:-1] + (output_name,)
            name = "/".join(str(p) for p in name_path)
            if name == "":
                name = "_".join(str(k) for k in (
                    list(names) if isinstance(names, dict) else tree.flatten(names)))
            self.terms.append(_Term(path, resolved, loss.weight, name))
            return
        if isinstance(loss, (list, tuple)) and not any(tree.is_nested(l) for l in loss) \
                and len(loss) == len(tree.flatten(y_pred)):
            loss = tree.pack_sequence_as(y_pred, list(loss))
        elif isinstance(loss, (list, tuple)) and not isinstance(y_pred, type(loss)):
            for entry in loss:  # several losses on the same output(s)
                self._build_nested(y_true, y_pred, entry, names, path)
            return
        if not tree.is_nested(loss):
            return self._build_nested(y_true, y_pred, loss, names, path)
        if not isinstance(loss, type(y_pred)) and not (
                isinstance(loss, dict) and isinstance(y_pred, dict)):
            raise ValueError(
                f"The `loss` structure at {path or 'the top'} is a {type(loss).__name__} but "
                f"the model's output there is {_structure_text(y_pred)}; pass a loss per "
                "output in the outputs' structure (or a dict by output name).")
        items = loss.items() if isinstance(loss, dict) else enumerate(loss)
        for key, entry in items:
            if entry is None:
                continue
            for what, obj in (("outputs", y_pred), ("targets `y`", y_true)):
                ok = key in obj if isinstance(obj, dict) else (
                    isinstance(obj, (list, tuple)) and isinstance(key, int) and key < len(obj))
                if not ok:
                    raise ValueError(
                        f"The `loss` entry at {path + (key,)} has no counterpart in the "
                        f"model's {what} ({_structure_text(obj)}).")
            self._build_nested(y_true[key], y_pred[key], entry, names[key], path + (key,))

    # ---- the loss ---------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        y_true = self._match_targets(y_true, y_pred)
        try:
            tree.assert_same_structure(self._pred_structure, y_pred)
        except (ValueError, TypeError):
            y_pred = tree.pack_sequence_as(self._pred_structure, tree.flatten(y_pred))
        try:
            tree.assert_same_structure(self._true_structure, y_true)
        except (ValueError, TypeError):
            y_true = tree.pack_sequence_as(self._true_structure, tree.flatten(y_true))
        if sample_weight is not None and tree.is_nested(sample_weight):
            sample_weight = self._match_targets(sample_weight, y_pred, "sample_weight")
        total = jnp.zeros((), jnp.float32)
        trackers = self.trackers or [None] * len(self.terms)
        for term, tracker in zip(self.terms, trackers):
            yt, yp = _resolve(term.path, y_true), _resolve(term.path, y_pred)
            if yt is None:
                raise ValueError(
                    f"The loss {term.name!r} needs targets, but `y` has none for it.")
            sw = _resolve(term.path, sample_weight) if sample_weight is not None and \
                tree.is_nested(sample_weight) else sample_weight
            value = jnp.asarray(term.loss(yt, yp, sample_weight=sw), jnp.float32)
            if tracker is not None:  # the unweighted term, weighted by batch size
                tracker.update_state(value, sample_weight=_first_dim(yp))
            if term.weight is not None:
                value = value * term.weight
            total = total + value
        return total


# ---- metrics ---------------------------------------------------------------------------
def _metric_list(spec, y_true, y_pred, loss):
    """The metric objects of one output's entry (a metric or a list of them)."""
    if spec is None:
        return None
    entries = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    out = []
    for ident in entries:
        if ident is None:
            raise ValueError("Expected a metric, received None in `metrics`.")
        out.append(metrics_mod.get_compile_metric(
            ident, _shape(y_true), _shape(y_pred),
            loss=loss if not tree.is_nested(loss) else None))
    return out


class CompileMetrics:
    """The metrics of `compile(metrics=..., weighted_metrics=...)`, per output.
    `named_metrics()` gives (log name, metric) pairs."""

    def __init__(self, metrics, weighted_metrics, output_names=None, loss=None):
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(
                    f"Expected `{arg}` argument to be a list, tuple, or dict. Received "
                    f"instead: {arg}={value!r} of type {type(value)}. Write "
                    f"{arg}=[{value!r}].")
        self.metrics_spec = metrics
        self.weighted_spec = weighted_metrics
        self.output_names = list(output_names) if output_names else None
        self.loss = loss
        self.built = False
        self._flat = []            # per output: list of metrics or None
        self._flat_weighted = []
        self._names = []           # (log name, metric), unweighted then weighted
        self._resolved_names = None

    @property
    def metrics(self):
        return [m for _, m in self._names]

    def named_metrics(self):
        return list(self._names)

    def _flatten_y(self, y):
        if isinstance(y, dict) and self._resolved_names is not None:
            return [y[name] for name in self._resolved_names]
        return tree.flatten(y)

    def _loss_per_output(self, n, output_names):
        loss = self.loss
        if isinstance(loss, dict) and output_names:
            return [loss.get(name) for name in output_names]
        if isinstance(loss, (list, tuple)) and len(loss) == n:
            return list(loss)
        return [loss] * n

    def build(self, y_true, y_pred):
        n = len(tree.flatten(y_pred))
        flat_pred = tree.is_nested(y_pred) and len(y_pred) == n
        if flat_pred and isinstance(y_pred, dict):
            if self.output_names and set(y_pred) == set(self.output_names):
                output_names = self.output_names
            elif isinstance(y_pred, collections.OrderedDict):
                output_names = list(y_pred)
            else:
                output_names = sorted(y_pred)
        else:
            output_names = self.output_names
        self._resolved_names = output_names if n > 1 and flat_pred else None
        losses = self._loss_per_output(n, output_names)
        self._flat = self._build_set(self.metrics_spec, n, output_names, y_true, y_pred,
                                     flat_pred, losses, "metrics")
        self._flat_weighted = self._build_set(self.weighted_spec, n, output_names, y_true,
                                              y_pred, flat_pred, losses, "weighted_metrics")
        self._names = self._log_names(output_names if n > 1 else None)
        self.built = True

    def _build_set(self, spec, n, output_names, y_true, y_pred, flat_pred, losses, arg):
        if not spec:
            return [None] * n
        if n == 1:  # one output: every metric applies to it
            return [_metric_list(tree.flatten(spec), tree.flatten(y_true)[0],
                                 tree.flatten(y_pred)[0], losses[0])]
        per_output = None
        if flat_pred:
            if isinstance(spec, (list, tuple)) and len(spec) == n:
                per_output = list(spec)
            elif output_names and isinstance(spec, dict) and set(spec) <= set(output_names):
                per_output = [spec.get(name) for name in output_names]
        if per_output is not None:
            return [_metric_list(s, yt, yp, l) for s, yt, yp, l in zip(
                per_output, self._flatten_y(y_true), self._flatten_y(y_pred), losses)]
        # anything else must mirror the (nested) structure of the outputs
        try:
            shallow = tree.lists_to_tuples(y_pred)
            return tree.flatten(tree.map_structure_up_to(
                shallow, lambda s, yt, yp: _metric_list(s, yt, yp, None),
                tree.lists_to_tuples(spec), tree.lists_to_tuples(y_true), shallow))
        except (ValueError, TypeError) as e:
            names = f" {self.output_names}" if self.output_names else ""
            raise ValueError(
                f"Invalid `{arg}`: with {n} outputs{names}, `{arg}` should be a list with one "
                f"entry per output (each a metric or a list of metrics), a dict by output "
                f"name, or match the output structure of the model "
                f"{_structure_text(y_pred)}. Received: {arg}={spec!r}\n({e})") from None

    def _log_names(self, output_names):
        names = [None] * len(self._flat) if output_names is None else list(output_names)
        seen = {}
        out = []
        for group, weighted in ((self._flat, False), (self._flat_weighted, True)):
            for out_name, per in zip(names, group):
                for m in per or ():
                    prefix = f"{out_name}_" if out_name else ""
                    name = prefix + m.name
                    if name not in seen:
                        seen[name] = 1
                    elif not weighted:
                        seen[name] += 1
                        name = f"{name}_{seen[name] - 1}"
                    else:
                        name = f"{prefix}weighted_{m.name}"
                        if name not in seen:
                            seen[name] = 1
                        else:
                            seen[name] += 1
                            name = f"{name}_{seen[name] - 1}"
                    out.append((name, m))
        return out

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        trues, preds = self._flatten_y(y_true), self._flatten_y(y_pred)
        for per, yt, yp in zip(self._flat, trues, preds):
            for m in per or ():
                m.update_state(yt, yp)
        if sample_weight is not None:
            sws = self._flatten_y(sample_weight)
            if len(sws) < len(trues):  # one weight array for every output
                sws = [sws[0]] * len(trues)
        else:
            sws = [None] * len(trues)
        for per, yt, yp, sw in zip(self._flat_weighted, trues, preds, sws):
            for m in per or ():
                m.update_state(yt, yp, sample_weight=sw)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()
