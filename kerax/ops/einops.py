"""einops-style axis rearrangement: Keras 3's `keras.ops.rearrange`."""
import math
import re

import jax.numpy as jnp

from kerax.ops.core import convert_to_tensor as _t

__all__ = ["rearrange"]

_TOKEN = re.compile(r"\.\.\.|\(|\)|[A-Za-z_]\w*|\S")
_ELLIPSIS = "..."


def _parse(side, pattern, what):
    """The entries of one side of a pattern: each a list of axis names (a
    group "(h w)" has several; "..." is the name "...")."""
    entries, group = [], None
    for token in _TOKEN.findall(side):
        if token == "(":
            if group is not None:
                raise ValueError(f"rearrange: nested parentheses in {what} of pattern "
                                 f"{pattern!r}.")
            group = []
        elif token == ")":
            if group is None:
                raise ValueError(f"rearrange: unbalanced ')' in {what} of pattern {pattern!r}.")
            entries.append(group)
            group = None
        elif token == _ELLIPSIS or re.fullmatch(r"[A-Za-z_]\w*", token):
            if group is not None:
                group.append(token)
            else:
                entries.append([token])
        else:
            raise ValueError(f"rearrange: unexpected {token!r} in {what} of pattern "
                             f"{pattern!r} (axis names, '(...)' groups and '...' only).")
    if group is not None:
        raise ValueError(f"rearrange: unbalanced '(' in {what} of pattern {pattern!r}.")
    names = [n for e in entries for n in e]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"rearrange: axis {repeated[0]!r} appears twice in {what} of "
                         f"pattern {pattern!r}.")
    return entries


def rearrange(tensor, pattern, **axes_lengths):
    """Reorder, merge and split axes of `tensor` as an einops `pattern` says
    ("b h w c -> b c h w", "b (h h1) w c -> b h w (c h1)"). `axes_lengths`
    gives the sizes of split axes (at most one per group is inferred);
    "..." stands for any number of axes.

    >>> import numpy as np
    >>> rearrange(np.zeros((2, 6, 4, 3)), "b (h h1) w c -> b h w (c h1)", h1=2).shape
    (2, 3, 4, 6)
    """
    x = _t(tensor)
    if not isinstance(pattern, str) or pattern.count("->") != 1:
        raise ValueError(f"rearrange: `pattern` must be a string 'inputs -> outputs', got "
                         f"{pattern!r}.")
    left, right = pattern.split("->")
    inputs = _parse(left, pattern, "the input side")
    outputs = _parse(right, pattern, "the output side")
    in_names = [n for e in inputs for n in e]
    out_names = [n for e in outputs for n in e]
    if set(in_names) != set(out_names):
        raise ValueError(
            f"rearrange: both sides of pattern {pattern!r} must name the same axes; only "
            f"on one side: {sorted(set(in_names) ^ set(out_names))}.")
    unknown = sorted(set(axes_lengths) - set(in_names))
    if unknown:
        raise ValueError(f"rearrange: axes_lengths names {unknown}, which pattern {pattern!r} "
                         "does not use.")
    # expand "..." into as many anonymous axes as the tensor has left over
    fixed = len([e for e in inputs if e != [_ELLIPSIS]])
    if _ELLIPSIS in in_names:
        if [_ELLIPSIS] not in inputs:
            raise ValueError(f"rearrange: '...' cannot be inside a group on the input side "
                             f"of {pattern!r}.")
        if x.ndim < fixed:
            raise ValueError(f"rearrange: pattern {pattern!r} needs at least {fixed} axes, "
                             f"the tensor has shape {x.shape}.")
        dots = [f"...{i}" for i in range(x.ndim - fixed)]
        inputs = _expand(inputs, dots)
        outputs = _expand(outputs, dots)
    elif x.ndim != len(inputs):
        raise ValueError(f"rearrange: the input side of {pattern!r} has {len(inputs)} axes, "
                         f"the tensor has shape {x.shape}.")
    sizes = {}
    for entry, dim in zip(inputs, x.shape):
        known = [n for n in entry if n in axes_lengths]
        free = [n for n in entry if n not in axes_lengths]
        if len(free) > 1:
            raise ValueError(f"rearrange: cannot infer both {free[0]!r} and {free[1]!r} of "
                             f"an axis of size {dim}; give one in axes_lengths.")
        product = math.prod(int(axes_lengths[n]) for n in known)
        if free:
            if product == 0 or dim % product:
                raise ValueError(f"rearrange: an axis of size {dim} cannot be split into "
                                 f"{entry} with {({n: axes_lengths[n] for n in known})}.")
            sizes[free[0]] = dim // product
        elif product != dim:
            raise ValueError(f"rearrange: an axis of size {dim} is not {entry} = "
                             f"{({n: axes_lengths[n] for n in known})}.")
        sizes.update({n: int(axes_lengths[n]) for n in known})
    flat_in = [n for e in inputs for n in e]
    flat_out = [n for e in outputs for n in e]
    x = jnp.reshape(x, [sizes[n] for n in flat_in])
    x = jnp.transpose(x, [flat_in.index(n) for n in flat_out])
    return jnp.reshape(x, [math.prod(sizes[n] for n in e) for e in outputs])


def _expand(entries, dots):
    out = []
    for entry in entries:
        group = []
        for n in entry:
            group.extend(dots if n == _ELLIPSIS else [n])
        if entry == [_ELLIPSIS]:
            out.extend([d] for d in dots)
        else:
            out.append(group)
    return out
