"""Optimizer state in Keras 3's layout, so optimizer state moves both ways
between kerax and Keras files.

Keras stores an optimizer as one list `optimizer/vars/0..N-1`: `iteration`,
`learning_rate` (when a float), EMA averages and gradient accumulators (when
used), then the optimizer's own slots in the order its `build` creates them
(e.g. Adam: m0, v0, m1, v1, ...; RMSprop: every velocity, then every momentum,
then every average gradient). kerax keeps the same prefix, then the leaves of
the optax state (one group per field, plus shared leaves such as a step
count). This module maps between the two for the optimizers Keras also has;
for the others kerax writes its own order (`optimizer.variables`) and marks
the group with the attribute `kerax_layout`. A MultiOptimizer's list is its
own `iteration` and `learning_rate`, then each inner optimizer's list in turn
(the inner optimizers are also written at `optimizer/optimizers/<name>`).
"""
import numpy as np

from kerax.optimizers import optimizers as O

__all__ = ["keras_layout", "derived_values"]


def _spec(opt):
    """Keras' slot layout for `opt` as segments: ("per_var", [fields]) — for
    each trainable variable, each field in turn — or ("shared", field).
    Fields are the slot names (Keras' own, see `_slot_names`). None if not mapped."""
    t = type(opt)
    own = getattr(t, "_keras_layout", None)  # an optimizer that declares its layout
    if own is not None:
        return [(kind, list(fields) if kind == "per_var" else fields) for kind, fields in own]
    if t is O.SGD:
        return [("per_var", ["momentum"])] if opt.momentum != 0 else []
    if t is O.RMSprop:
        segs = [("per_var", ["velocity"])]
        if opt.momentum > 0:
            segs.append(("per_var", ["momentum"]))
        if opt.centered:
            segs.append(("per_var", ["average_gradient"]))
        return segs
    if t in (O.Adam, O.AdamW):
        segs = [("per_var", ["momentum", "velocity"])]
        if opt.amsgrad:
            segs.append(("per_var", ["velocity_hat"]))
        return segs
    if t is O.Nadam:
        return [("per_var", ["momentum", "velocity"]), ("shared", "u_product")]
    if t is O.Adamax:
        return [("per_var", ["momentum", "norm"])]
    if t is O.Adagrad:
        return [("per_var", ["accumulator"])]
    if t is O.Adadelta:
        return [("per_var", ["accumulated_grad", "accumulated_delta_var"])]
    if t is O.Lion:
        return [("per_var", ["momentum"])]
    return None


# Keras' RMSprop momentum is the negative of optax's trace of `-lr * step`.
_NEGATED = {("RMSprop", "momentum")}


def _state_index(opt):
    """{(owner index or -1, field): state Variable} of a built optimizer."""
    out = {}
    tvars = opt._trainable_variables
    prefix = {i: f"{opt.name}/{v.path.replace('/', '_')}_" for i, v in enumerate(tvars)}
    for var, owner in zip(opt._state_vars, opt._state_owners or []):
        path = var.path
        if owner >= 0:
            p = prefix[owner]
            field = path[len(p):] if path.startswith(p) else None
        else:
            field = path[len(opt.name) + 1:]
        out[(owner, field)] = var
    return out


def keras_layout(opt):
    """For a built optimizer with a Keras equivalent: the list of
    `(variable, sign)` in Keras' order (sign -1 where Keras stores the
    negation); else None."""
    if not getattr(opt, "built", False):
        return None
    parts = getattr(opt, "_keras_layout_parts", None)
    if parts is not None:  # MultiOptimizer: its own variables, then each inner optimizer's
        own, inner = parts()
        out = [(v, 1) for v in own]
        for o in inner:  # (an inner optimizer without variables is unbuilt, as in Keras)
            sub = keras_layout(o) if o.built else [(v, 1) for v in o.variables]
            if sub is None:
                return None
            out.extend(sub)
        return out
    spec = _spec(opt)
    if spec is None:
        return None
    state = set(id(v) for v in opt._state_vars)
    out = [(v, 1) for v in opt.variables if id(v) not in state]
    index = _state_index(opt)
    n = len(opt._trainable_variables)
    used = set()
    for kind, fields in spec:
        if kind == "shared":
            var = index.get((-1, fields))
            if var is None:
                return None
            out.append((var, 1))
            used.add(id(var))
            continue
        for i in range(n):
            for f in fields:
                var = index.get((i, f))
                if var is None:
                    return None
                sign = -1 if (type(opt).__name__, f) in _NEGATED else 1
                out.append((var, sign))
                used.add(id(var))
    # Every per-variable slot must be covered; leftovers may only be shared
    # leaves that are derived from the step counter (see derived_values).
    for (owner, field), var in index.items():
        if id(var) not in used and (owner >= 0 or field != "count"):
            return None
    return out


def derived_values(opt, iterations):
    """{id(var): value} for kerax state leaves Keras does not store (optax's
    step `count`), computed from the loaded iteration counter."""
    it = int(np.asarray(iterations))
    steps = opt.gradient_accumulation_steps
    count = it // steps if steps else it
    out = {}
    for (owner, field), var in _state_index(opt).items():
        if owner < 0 and field == "count":
            out[id(var)] = np.asarray(count, dtype=var.dtype)
    return out
