"""The `Loss` base class and the weighting / reduction rules of Keras 3.

A loss object is called as `loss(y_true, y_pred, sample_weight=None)`:

1. `y_true` and `y_pred` are converted to the loss' dtype (`floatx()` unless
   `dtype=` says otherwise);
2. `call(y_true, y_pred)` gives the per-sample losses;
3. a mask produced by `call` (only `ignore_class` of the sparse categorical
   cross-entropy makes one) is merged into `sample_weight`;
4. the losses are multiplied by `sample_weight`;
5. the weighted losses are reduced:

   ``"sum_over_batch_size"`` / ``"mean"``  sum / number of loss elements
   ``"sum"``                               sum
   ``"mean_with_sample_weight"``           sum / sum(sample_weight)
                                           (number of elements without weights)
   ``"none"`` / ``None``                   no reduction

Everything is pure jax.numpy on static shapes, so it works under `jax.jit`,
`jax.grad` and `kerax.function`.
"""
import jax
import jax.numpy as jnp

from kerax import config
from kerax.core.dtypes import standardize_dtype
from kerax.core.naming import auto_name
from kerax.ops.core import convert_to_tensor, unwrap
from kerax.ops.numpy import divide_no_nan
from kerax.registry import register_builtin
from kerax.variables import Variable

__all__ = ["Loss", "standardize_reduction", "squeeze_or_expand_to_same_rank",
           "reduce_values", "reduce_weighted_values", "apply_mask", "to_tensor"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight",
               "none", None)


def standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{list(_REDUCTIONS)}. Received: reduction={reduction!r}")
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """When the ranks of `x1` and `x2` differ by one and the longer one ends in
    a dimension of 1, make the ranks equal: a rank-1 partner gains a trailing
    axis (if `expand_rank_1`), otherwise the trailing 1 is squeezed."""
    r1, r2 = jnp.ndim(x1), jnp.ndim(x2)
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and jnp.shape(x1)[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = jnp.expand_dims(x2, -1)
        else:
            x1 = jnp.squeeze(x1, -1)
    elif r2 == r1 + 1 and jnp.shape(x2)[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = jnp.expand_dims(x1, -1)
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def _broadcastable(*shapes):
    try:
        jnp.broadcast_shapes(*shapes)
        return True
    except ValueError:
        return False


def _align_weights(values, weights, what="sample_weight"):
    """`squeeze_or_expand_to_same_rank`, then, where plain broadcasting fails but
    `weights` matches the leading dimensions of `values` (per-sample weights
    for per-timestep losses), give `weights` trailing axes."""
    values, weights = squeeze_or_expand_to_same_rank(values, weights)
    vs, ws = jnp.shape(values), jnp.shape(weights)
    if not _broadcastable(vs, ws):
        if len(ws) < len(vs) and tuple(vs[:len(ws)]) == tuple(ws):
            weights = jnp.reshape(weights, ws + (1,) * (len(vs) - len(ws)))
        else:
            raise ValueError(
                f"`{what}` of shape {tuple(ws)} cannot be applied to losses of shape "
                f"{tuple(vs)}: it must broadcast to the losses' shape or match its "
                "leading dimensions (e.g. one weight per sample).")
    return values, weights


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduce already weighted losses (see the module docstring)."""
    shape = tuple(jnp.shape(values))
    if reduction is None or reduction == "none" or shape in ((), (0,)):
        return values
    loss = jnp.sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = jnp.sum(sample_weight).astype(loss.dtype)
        else:
            size = 1
            for d in shape:
                size *= int(d)
            divisor = jnp.asarray(size, loss.dtype)
        loss = divide_no_nan(loss, divisor)
    return loss


def apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a boolean `mask` of valid loss entries into `sample_weight`. For the
    mean reductions, valid entries weigh `total / valid` so that the mean is
    taken over the valid entries only."""
    if mask is None:
        return sample_weight
    mask = jnp.asarray(mask)
    if reduction in ("mean", "sum_over_batch_size"):
        total = jnp.asarray(mask.size, dtype)
        valid = jnp.sum(mask.astype(dtype))
        float_mask = jnp.where(mask.astype(bool), divide_no_nan(total, valid),
                               jnp.zeros((), dtype))
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = _align_weights(float_mask, sample_weight.astype(dtype))
    return sample_weight * float_mask


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    """Weight `values` by `sample_weight` (and `mask`), then reduce them."""
    reduction = standardize_reduction(reduction)
    dtype = standardize_dtype(dtype)
    values = convert_to_tensor(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = convert_to_tensor(sample_weight, dtype=dtype)
    sample_weight = apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = _align_weights(values, sample_weight)
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


def to_tensor(x, dtype=None):
    """`x` as a jax array of `dtype`: Variables are read, lists and tuples of
    numbers or arrays are stacked (also while tracing), and a float64 list
    becomes `floatx()` when no `dtype` is given.

    >>> to_tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    x = unwrap(x)
    if isinstance(x, (list, tuple)):
        x = jnp.asarray(jax.tree_util.tree_map(
            unwrap, list(x), is_leaf=lambda v: isinstance(v, Variable)), dtype=dtype)
        if dtype is None and x.dtype == jnp.float64 and config.floatx() != "float64":
            dtype = config.floatx()
    return convert_to_tensor(x, dtype=dtype)


def _convert_structure(x, dtype):
    """Arrays (and lists of numbers) -> one array of `dtype`; dicts and ragged
    lists/tuples of arrays (multi-output models) -> the same structure of arrays."""
    if isinstance(x, dict):
        return {k: _convert_structure(v, dtype) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        try:
            return to_tensor(x, dtype)
        except (TypeError, ValueError):
            return type(x)(_convert_structure(v, dtype) for v in x)
    return to_tensor(x, dtype)


@register_builtin("keras.losses", name="Loss")
@register_builtin("keras", name="Loss")  # applied first: Keras writes module "keras"
class Loss:
    """Base class of losses. Subclasses implement `call(y_true, y_pred)`,
    returning per-sample losses, and `get_config()` if they take arguments:

    ```python
    class HuberLoss(kerax.losses.Loss):
        def __init__(self, threshold=1.0, **kwargs):
            self.threshold = threshold
            super().__init__(**kwargs)

        def call(self, y_true, y_pred):
            error = y_true - y_pred
            small = jnp.abs(error) < self.threshold
            return jnp.where(small, error ** 2 / 2,
                             self.threshold * jnp.abs(error) - self.threshold ** 2 / 2)

        def get_config(self):
            return {**super().get_config(), "threshold": self.threshold}
    ```

    Args:
        name: the loss' name (default: the class name in snake_case).
        reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight", "none" or None (see the module docs).
        dtype: dtype of the computation (default `kerax.config.floatx()`).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = standardize_dtype(dtype)

    @property
    def dtype(self):
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _convert_structure(y_pred, self.dtype)
        y_true = _convert_structure(y_true, self.dtype)
        losses, mask = self._call_with_mask(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = unwrap(sample_weight)
        return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask,
                                      reduction=self.reduction, dtype=self.dtype)

    def _call_with_mask(self, y_true, y_pred):
        """(per-sample losses, boolean mask of valid entries or None)."""
        return self.call(y_true, y_pred), None

    def call(self, y_true, y_pred):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call(y_true, y_pred)` returning "
            "the per-sample losses.")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"
