"""Implicit mask propagation through Sequential and functional models (Keras
3's rules, without attaching masks to arrays).

A model run keeps a mask (or None) next to every intermediate tensor:

* a layer whose `call` has a `mask` argument and one tensor argument gets the
  mask of that argument as `mask=` (unless passed explicitly); with several
  tensor arguments, each `<arg>_mask` parameter (MultiHeadAttention's
  `query_mask`, `value_mask`, `key_mask`) gets the mask of `<arg>`;
* the outputs' mask is `layer.compute_mask(first_input, its_mask)` for layers
  with `supports_masking` (the default passes the mask through; `Embedding
  (mask_zero=True)` and `Masking` create one; `LSTM` without
  `return_sequences` drops it), and None for the other layers.
"""
import inspect

import jax

__all__ = ["call_with_masks", "has_mask"]


def _none_leaf(x):
    return x is None


def has_mask(masks):
    """True when a structure of masks holds at least one array."""
    return any(m is not None for m in jax.tree_util.tree_leaves(masks, is_leaf=_none_leaf))


def _call_params(layer):
    cls = type(layer)
    cache = cls.__dict__.get("_kerax_mask_params")
    if cache is None or cache[0] is not cls.call:
        try:
            params = inspect.signature(layer.call).parameters
        except (TypeError, ValueError):
            params = {}
        names = [n for n, p in params.items()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        cache = (cls.call, names)
        setattr(cls, "_kerax_mask_params", cache)
    return cache[1]


def _is_tensor_like(x):
    return hasattr(x, "shape") and hasattr(x, "dtype")


def call_with_masks(layer, args, kwargs, arg_masks, kwarg_masks):
    """Call `layer(*args, **kwargs)` passing the implicit masks.

    `arg_masks` / `kwarg_masks` mirror `args` / `kwargs` with the mask (or
    None) of each tensor. Returns `(outputs, output_masks)` where
    `output_masks` is a list aligned with the flat outputs, or None."""
    names = _call_params(layer)
    if names and (has_mask(arg_masks) or has_mask(kwarg_masks)):
        kwargs = dict(kwargs)
        bound = dict(zip(names, args))
        bound.update(kwargs)
        bound_masks = dict(zip(names, arg_masks))
        bound_masks.update(kwarg_masks)
        tensor_args = [n for n in names if n in bound and n != "training" and not n.endswith("mask")
                       and any(_is_tensor_like(l) for l in jax.tree_util.tree_leaves(bound[n]))]
        if len(tensor_args) == 1:
            m = bound_masks.get(tensor_args[0])
            if "mask" in names and bound.get("mask") is None and has_mask(m):
                kwargs["mask"] = m
        else:
            for n in tensor_args:
                key = f"{n}_mask"
                m = bound_masks.get(n)
                if key in names and bound.get(key) is None and has_mask(m):
                    kwargs[key] = m
    outputs = layer(*args, **kwargs)
    out_masks = None
    if getattr(layer, "supports_masking", False):
        first = args[0] if args else next(iter(kwargs.values()), None)
        prev = arg_masks[0] if arg_masks else None
        if not has_mask(prev):
            prev = None
        out = layer.compute_mask(first, prev)
        if has_mask(out):
            flat_out = jax.tree_util.tree_leaves(outputs)
            flat_masks = jax.tree_util.tree_leaves(out, is_leaf=_none_leaf) \
                if isinstance(out, (list, tuple)) else [out]
            out_masks = (list(flat_masks) + [None] * len(flat_out))[:len(flat_out)]
    return outputs, out_masks
