"""Reading and setting an optimizer's learning rate from a callback."""
import numpy as np


def optimizers_of(model):
    """`[(name, optimizer)]`: the model's optimizer, or the inner ones of a
    multi-optimizer (an object with an `optimizers` list)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("This callback needs the model's optimizer, but `model.optimizer` is "
                         "None: compile the model with an optimizer first.")
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    inner = getattr(optimizer, "optimizers", None)
    if isinstance(inner, (list, tuple)):
        return [(getattr(o, "name", str(i)), o) for i, o in enumerate(inner)]
    return [("", optimizer)]


def get_learning_rate(optimizer):
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    return float(np.asarray(optimizer.learning_rate))


def set_learning_rate(optimizer, value):
    optimizer.learning_rate = value


def add_learning_rates(model, logs):
    """Add `learning_rate` (or `learning_rate_<name>` per inner optimizer) to `logs`."""
    if logs is None or getattr(model, "optimizer", None) is None:
        return logs
    for name, opt in optimizers_of(model):
        if hasattr(opt, "learning_rate"):
            logs[f"learning_rate_{name}" if name else "learning_rate"] = get_learning_rate(opt)
    return logs
