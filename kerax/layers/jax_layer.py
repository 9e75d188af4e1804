"""`JaxLayer` and `FlaxLayer`: plain JAX functions and Flax modules as layers
(Keras 3's `keras.layers.JaxLayer` / `keras.layers.FlaxLayer`).

The wrapped model's parameters become kerax Variables, so it trains with
`compile`/`fit`, its state is threaded through compiled steps, and its weights
are saved and loaded with the model.

- `JaxLayer(call_fn, init_fn=None, params=None, state=None, seed=None)`:
  `call_fn(params, state, rng, inputs, training)` where only `inputs` is
  required and the others are passed when the function names them (in the
  order it lists them). With a `state` argument, `call_fn` returns
  `(outputs, new_state)` and `init_fn(rng, inputs, training)` (only `inputs`
  required) returns `(params, state)`; otherwise it returns `params`. `init_fn`
  runs once, on build, on an example input of ones (batch 1 where the size is
  unknown) with `training=True`; or pass `params=`/`state=` directly. The
  pytrees keep their structure: every array leaf becomes a Variable
  (params trainable, state non-trainable) named after its tree path
  (`Dense_0.kernel`), other leaves stay as they are. `rng` is a fresh key from
  the layer's seed generator in training and None in inference.
- `FlaxLayer(module, method=None, variables=None)` for `flax.linen` modules:
  the `params` collection is trainable, the other collections (e.g.
  `batch_stats`) non-trainable and updated through `mutable=` on every call;
  `training` is passed when the module's method takes it; in training the
  module gets `rngs={"params": ..., "dropout": ...}`. `variables` are those of
  `module.init(...)`.
- `FlaxLayer(module)` for `flax.nnx` modules: the module is split with
  `nnx.split` into a graph definition, its `nnx.Param` state (trainable) and
  the rest (non-trainable: BatchNorm statistics, RNG keys and counts, ...). Each
  call merges a copy with the Variables' current values, puts it in
  `train()`/`eval()` mode after `training`, runs it and assigns the updated
  non-trainable state back. `layer.to_nnx_module()` returns the module with the
  layer's current weights.

Saving: the weights of both layers save and load with `save_weights` /
`load_weights` and `model.save` / `kerax.models.load_model`. The *config*
holds Python objects: `call_fn`/`init_fn` (JaxLayer) are saved by name and the
module (FlaxLayer) as `{class_name, config}`, so loading needs them in
`custom_objects={...}` or registered with
`kerax.saving.register_keras_serializable()` (as in Keras). A linen module's
config is its dataclass fields (JSON values only) unless it defines
`get_config()`; an nnx module class must define `get_config()` returning its
constructor arguments (a constructor `rngs` argument is filled with
`nnx.Rngs(0)` when the config does not give one; the weights are loaded
afterwards).
"""
import dataclasses
import inspect

import jax
import jax.numpy as jnp
import numpy as np

from kerax import random as _random
from kerax.layers.layer import Layer
from kerax.registry import (deserialize_keras_object,
                                                get_registered_name, get_registered_object,
                                                register_builtin, serialize_keras_object)

__all__ = ["JaxLayer", "FlaxLayer"]

_CALL_ARGS = ("params", "state", "rng", "inputs", "training")
_INIT_ARGS = ("rng", "inputs", "training")


def _check_signature(fn, fn_name, allowed, layer):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError) as e:
        raise ValueError(f"{layer}: cannot inspect the signature of `{fn_name}`: {e}") from None
    if "inputs" not in params:
        raise ValueError(f"{layer}: missing required argument in `{fn_name}`: `inputs` "
                         f"(its arguments are {list(params)}).")
    names = []
    for p in params.values():
        if p.name not in allowed:
            raise ValueError(
                f"{layer}: unsupported argument in `{fn_name}`: `{p.name}`; supported "
                f"arguments are {', '.join('`%s`' % a for a in allowed)} (only "
                "`inputs` is required).")
        names.append(p.name)
    return names


def _path_name(path):
    parts = []
    for k in path:
        if isinstance(k, jax.tree_util.DictKey):
            parts.append(str(k.key))
        elif isinstance(k, jax.tree_util.SequenceKey):
            parts.append(str(k.idx))
        elif isinstance(k, jax.tree_util.GetAttrKey):
            if k.name != "value":  # nnx.Variable's payload
                parts.append(k.name)
        elif isinstance(k, jax.tree_util.FlattenedIndexKey):
            parts.append(str(k.key))
        else:
            parts.append(str(k).strip(".[]'\""))
    name = ".".join(p for p in parts if p) or "variable"
    return name.replace("/", "_")


def _is_key_array(x):
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _is_array_leaf(x):
    if isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return True
    return isinstance(x, (bool, int, float)) and not isinstance(x, str)


class _Slot:
    """One leaf of a wrapped pytree: a Variable (with the PRNG implementation
    for typed key arrays, stored as their key data) or a static value."""
    __slots__ = ("var", "static", "key_impl", "path")

    def __init__(self, var=None, static=None, key_impl=None, path=()):
        self.var = var
        self.static = static
        self.key_impl = key_impl
        self.path = path

    def read(self):
        if self.var is None:
            return self.static
        v = self.var.value
        if self.key_impl is not None:
            v = jax.random.wrap_key_data(v, impl=self.key_impl)
        return v


def _ones_like_spec(shape, dtype):
    return jnp.ones(tuple(1 if d is None else int(d) for d in shape), dtype=dtype)


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in x)


def _example_inputs(shapes, dtypes):
    """Ones of the build shape(s) (batch 1 where unknown), in the inputs' dtypes
    (float32 where unknown)."""
    if _is_shape(shapes):
        return _ones_like_spec(shapes, dtypes if isinstance(dtypes, str) else "float32")
    if isinstance(shapes, dict):
        d = dtypes if isinstance(dtypes, dict) else {}
        return {k: _example_inputs(v, d.get(k)) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        d = list(dtypes) if isinstance(dtypes, (list, tuple)) and len(dtypes) == len(shapes) \
            else [None] * len(shapes)
        return [_example_inputs(s, t) for s, t in zip(shapes, d)]
    raise ValueError(f"Cannot make an example input for the build shape {shapes!r}.")


def _structure_dtypes(x):
    if isinstance(x, (list, tuple)):
        return [_structure_dtypes(e) for e in x]
    if isinstance(x, dict):
        return {k: _structure_dtypes(v) for k, v in x.items()}
    dt = getattr(x, "dtype", None)
    return None if dt is None else jnp.dtype(dt).name


@register_builtin("keras.layers")
class JaxLayer(Layer):
    """A layer around a JAX model given as `call_fn` (and `init_fn`, or
    `params`/`state`). See the module docstring for the argument rules.

    Args:
      call_fn: `call_fn(params, state, rng, inputs, training)`; only `inputs`
        is required. Returns outputs, or `(outputs, new_state)` when it takes
        `state`.
      init_fn: `init_fn(rng, inputs, training)`; only `inputs` is required.
        Returns `params`, or `(params, state)` when `call_fn` takes `state`.
      params, state: pytrees of arrays to start from instead of `init_fn`.
      seed: seed of the layer's seed generator (the `rng` passed in training,
        and the key given to `init_fn`).
    """

    def __init__(self, call_fn, init_fn=None, params=None, state=None, seed=None,
                 **kwargs):
        # Keras' TF-backend option (jax2tf); meaningless on JAX.
        kwargs.pop("native_serialization_platforms", None)
        super().__init__(**kwargs)
        label = f"{type(self).__name__} {self.name!r}"
        if not callable(call_fn):
            raise TypeError(f"{label}: `call_fn` must be a callable, got {call_fn!r}.")
        if init_fn is not None and not callable(init_fn):
            raise TypeError(f"{label}: `init_fn` must be a callable or None, got {init_fn!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{label}: `seed` must be an int or None, got {seed!r}.")
        self.call_fn = call_fn
        self.init_fn = init_fn
        self.seed = None if seed is None else int(seed)
        self.call_fn_arguments = _check_signature(call_fn, "call_fn", _CALL_ARGS, label)
        self.call_fn_has_params = "params" in self.call_fn_arguments
        self.call_fn_has_state = "state" in self.call_fn_arguments
        self.init_fn_arguments = (_check_signature(init_fn, "init_fn", _INIT_ARGS, label)
                                  if init_fn is not None else None)
        if init_fn is None and params is None and state is None and (
                self.call_fn_has_params or self.call_fn_has_state):
            raise ValueError(
                f"{label}: `init_fn`, `params` and `state` cannot all be None when "
                "`call_fn` takes a `params` or a `state` argument.")
        self.seed_generator = (_random.SeedGenerator(seed)
                               if "rng" in self.call_fn_arguments else None)
        self._param_slots = self._state_slots = None
        self._param_tree = self._state_tree = None
        if params is not None or state is not None:
            self._set_trees(params, state)
            self.built = True

    # ---- the pytrees <-> Variables ----------------------------------------------------------
    def _make_slots(self, tree, trainable):
        if tree is None:
            return None, None
        leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
        slots = []
        with jax.ensure_compile_time_eval():
            for path, leaf in leaves:
                if not _is_array_leaf(leaf):
                    slots.append(_Slot(static=leaf, path=path))
                    continue
                key_impl = None
                if _is_key_array(leaf):
                    key_impl = jax.random.key_impl(leaf)
                    leaf = jax.random.key_data(leaf)
                value = jnp.asarray(leaf)
                dtype = value.dtype
                if jnp.issubdtype(dtype, jnp.floating):
                    dtype = jnp.dtype(self.variable_dtype)  # the layer's dtype policy
                var = self.add_weight(
                    shape=value.shape, dtype=dtype, trainable=trainable,
                    # a copy: fit donates variable buffers, never the caller's arrays
                    initializer=lambda shape, dt, v=value: jnp.array(v, dtype=dt, copy=True),
                    name=_path_name(path))
                slots.append(_Slot(var=var, key_impl=key_impl, path=path))
        return treedef, slots

    def _set_trees(self, params, state):
        if self._param_slots is not None or self._state_slots is not None:
            raise RuntimeError(f"Layer {self.name!r}: params/state are already set.")
        self._param_tree, self._param_slots = self._make_slots(params, True)
        self._state_tree, self._state_slots = self._make_slots(state, False)

    @staticmethod
    def _read(treedef, slots):
        if treedef is None:
            return None
        return jax.tree_util.tree_unflatten(treedef, [s.read() for s in slots])

    def _assign(self, treedef, slots, new_tree, what="state"):
        if treedef is None:
            if new_tree is not None and jax.tree_util.tree_leaves(new_tree):
                raise ValueError(
                    f"Layer {self.name!r}: `call_fn` returned a {what} but the layer "
                    f"has none (initialize it with init_fn or `{what}=`).")
            return
        try:
            new_leaves = treedef.flatten_up_to(new_tree)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"Layer {self.name!r}: structure mismatch: the {what} returned by "
                f"`call_fn` does not have the structure of the {what} at "
                f"initialization ({treedef}): {e}") from None
        for slot, value in zip(slots, new_leaves):
            if slot.var is None:
                continue
            if slot.key_impl is not None and _is_key_array(value):
                value = jax.random.key_data(value)
            slot.var.assign(value)

    def _tree_of_variables(self, treedef, slots):
        if treedef is None:
            return None
        if not self.__dict__.get("_nnx"):
            leaves = [s.var if s.var is not None else s.static for s in slots]
            try:
                return jax.tree_util.tree_unflatten(treedef, leaves)
            except Exception:  # noqa: BLE001 - node types that check their leaves
                pass
        # Nested dicts keyed by the tree path (nnx.State would unwrap Variables).
        out = {}
        for s in slots:
            keys = [k for k in _path_name(s.path).split(".")] or ["variable"]
            d = out
            for k in keys[:-1]:
                d = d.setdefault(k, {})
            d[keys[-1]] = s.var if s.var is not None else s.static
        return out

    @property
    def params(self):
        """The params pytree with kerax Variables as leaves (None before build)."""
        return self._tree_of_variables(self._param_tree, self._param_slots)

    @property
    def state(self):
        """The state pytree with kerax Variables as leaves (None if none)."""
        return self._tree_of_variables(self._state_tree, self._state_slots)

    # ---- build ------------------------------------------------------------------------------
    def _maybe_build(self, args, kwargs):
        if not self.built:
            first = args[0] if args else next(iter(kwargs.values()), None)
            self._input_dtypes = _structure_dtypes(first)
        return super()._maybe_build(args, kwargs)

    def _init_rng(self):
        """The key(s) given to `init_fn`: from `seed` when given, else from
        Python's seeded RNG (reproducible after `kerax.utils.set_random_seed`).
        Drawn on the host, so building inside a compiled step stays concrete."""
        seed = self.seed if self.seed is not None else _random.make_default_seed()
        return jax.random.fold_in(jax.random.PRNGKey(seed % (2**32)), 1)

    def _call_rng(self, training):
        """The `rng` given to `call_fn`: a fresh key in training, else None."""
        return self.seed_generator.next() if training else None

    def build(self, input_shape=None):
        if self._param_slots is not None or self._state_slots is not None:
            return
        if not (self.call_fn_has_params or self.call_fn_has_state):
            return
        if input_shape is None:
            raise ValueError(f"Layer {self.name!r}: build() needs the input shape.")
        dtypes = self.__dict__.get("_input_dtypes")
        with jax.ensure_compile_time_eval():
            inputs = _example_inputs(input_shape, dtypes)
            args = []
            for name in self.init_fn_arguments:
                if name == "rng":
                    args.append(self._init_rng())
                elif name == "inputs":
                    args.append(inputs)
                elif name == "training":
                    args.append(True)
            result = self.init_fn(*args)
        if self.call_fn_has_state:
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise ValueError(
                    f"Layer {self.name!r}: `call_fn` takes `state`, so `init_fn` must "
                    f"return a `(params, state)` pair, got {type(result).__name__}.")
            params, state = result
        else:
            params, state = result, None
        self._set_trees(params, state)

    # ---- call --------------------------------------------------------------------------------
    def call(self, inputs, training=False):
        args = []
        for name in self.call_fn_arguments:
            if name == "params":
                args.append(self._read(self._param_tree, self._param_slots))
            elif name == "state":
                args.append(self._read(self._state_tree, self._state_slots))
            elif name == "rng":
                args.append(self._call_rng(training))
            elif name == "inputs":
                args.append(inputs)
            elif name == "training":
                args.append(training)
        result = self.call_fn(*args)
        if not self.call_fn_has_state:
            return result
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ValueError(
                f"Layer {self.name!r}: `call_fn` takes `state`, so it must return "
                f"`(outputs, new_state)`, got {type(result).__name__}.")
        outputs, new_state = result
        self._assign(self._state_tree, self._state_slots, new_state)
        return outputs

    # ---- config ------------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update({
            "call_fn": serialize_keras_object(self.call_fn),
            "init_fn": serialize_keras_object(self.init_fn),
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["call_fn"] = deserialize_keras_object(config["call_fn"])
        config["init_fn"] = deserialize_keras_object(config.get("init_fn"))
        return super().from_config(config)


# ---- Flax ------------------------------------------------------------------------------------
def _is_nnx(module):
    try:
        from flax import nnx
    except ImportError:  # pragma: no cover - flax is a dependency
        return False
    return isinstance(module, nnx.Module)


def _is_linen(module):
    try:
        from flax import linen
    except ImportError:  # pragma: no cover
        return False
    return isinstance(module, linen.Module)


def _jsonable(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return True
    if isinstance(x, (list, tuple)):
        return all(_jsonable(e) for e in x)
    if isinstance(x, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in x.items())
    return False


def _module_config(module, layer):
    """Keras-style `{module, class_name, config, registered_name}` of a Flax module."""
    cls = type(module)
    if hasattr(module, "get_config"):
        config = module.get_config()
    elif _is_linen(module) and dataclasses.is_dataclass(module):
        config = {}
        for f in dataclasses.fields(module):
            if f.name in ("parent", "name") or not f.init:
                continue
            value = getattr(module, f.name)
            if not _jsonable(value):
                raise NotImplementedError(
                    f"FlaxLayer {layer!r}: cannot save the config of {cls.__name__}: its "
                    f"field {f.name!r} = {value!r} is not a JSON value. Define "
                    f"{cls.__name__}.get_config() (and from_config), or save only the "
                    "weights with save_weights().")
            config[f.name] = serialize_keras_object(value)
    else:
        raise NotImplementedError(
            f"FlaxLayer {layer!r}: cannot save the config of the {cls.__name__} module: "
            f"define {cls.__name__}.get_config() returning its constructor arguments "
            "(for nnx modules, `rngs` may be left out), register the class with "
            "kerax.saving.register_keras_serializable() or pass it in custom_objects "
            "when loading; or save only the weights with save_weights().")
    return {"module": cls.__module__, "class_name": cls.__name__, "config": config,
            "registered_name": get_registered_name(cls)}


def _module_from_config(config):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"FlaxLayer: malformed `module` config: {config!r}.")
    cls = None
    for key in (config.get("registered_name"), config.get("class_name")):
        if isinstance(key, str):
            cls = get_registered_object(key)
            if cls is not None:
                break
    if cls is None or not inspect.isclass(cls):
        # The registry's refusal/"how to supply it" error (never imports anything).
        return deserialize_keras_object(config)
    inner = dict(config.get("config") or {})
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    try:
        from flax import nnx
        needs_rngs = issubclass(cls, nnx.Module) and "rngs" not in inner and \
            "rngs" in inspect.signature(cls.__init__).parameters
    except ImportError:  # pragma: no cover
        needs_rngs = False
    if needs_rngs:
        inner["rngs"] = nnx.Rngs(0)
    return cls(**inner)


def _takes(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


@register_builtin("keras.layers")
class FlaxLayer(JaxLayer):
    """A layer around a `flax.linen` or `flax.nnx` module (see the module
    docstring).

    Args:
      module: a `flax.linen.Module` or a `flax.nnx.Module` instance.
      method: the method to call (a name or a function taking the module
        first); default `__call__`. A `training` argument of the method gets the
        layer's `training`.
      variables: linen only: the variables of `module.init(...)` ("params" and
        other collections) to start from; default: `module.init` on build.
    """

    def __init__(self, module, method=None, variables=None, **kwargs):
        for key in ("call_fn", "init_fn", "params", "state"):
            if key in kwargs:
                raise TypeError(f"FlaxLayer: `{key}` is not an argument of FlaxLayer "
                                "(it comes from `module`).")
        self.module = module
        self.method = method
        self._nnx = _is_nnx(module)
        if not self._nnx and not _is_linen(module):
            raise TypeError(
                f"FlaxLayer: `module` must be a flax.linen.Module or a flax.nnx.Module "
                f"instance, got {module!r}. Wrap other JAX models with JaxLayer.")
        if method is not None and not (isinstance(method, str) or callable(method)):
            raise TypeError(f"FlaxLayer: `method` must be a method name, a callable or "
                            f"None, got {method!r}.")
        fn = self._method_function()
        self._method_takes_training = _takes(fn, "training")
        self._method_takes_rngs = _takes(fn, "rngs")
        if self._nnx:
            self._init_nnx(variables, kwargs)
        else:
            self._init_linen(variables, kwargs)

    def _method_function(self):
        m = self.method
        if m is None:
            return type(self.module).__call__
        if isinstance(m, str):
            fn = getattr(type(self.module), m, None)
            if fn is None:
                raise ValueError(f"FlaxLayer: module {type(self.module).__name__} has no "
                                 f"method {m!r}.")
            return fn
        return getattr(m, "__func__", m)

    # ---- linen -------------------------------------------------------------------------------
    def _init_linen(self, variables, kwargs):
        from flax.linen import DenyList

        mutable = DenyList(["params"])
        method = self.method
        takes_training = self._method_takes_training

        def call_fn(params, state, rng, inputs, training):
            extra = {"training": training} if takes_training else {}
            out, updates = self.module.apply(
                self._linen_variables(params, state), inputs, rngs=rng, method=method,
                mutable=mutable, **extra)
            # Keep the collections the layer holds (not e.g. "intermediates").
            state_keys = set(state) if state else set()
            return out, {k: v for k, v in dict(updates).items() if k in state_keys}

        def init_fn(rng, inputs, training):
            extra = {"training": training} if takes_training else {}
            return self._split_variables(self.module.init(rng, inputs, method=method, **extra))

        params, state = self._split_variables(variables)
        super().__init__(call_fn=call_fn, init_fn=init_fn, params=params, state=state,
                         **kwargs)

    @staticmethod
    def _linen_variables(params, state):
        out = {}
        out.update(params or {})
        out.update(state or {})
        return out

    @staticmethod
    def _split_variables(variables):
        if variables is None:
            return None, None
        variables = dict(variables)
        params = {"params": variables["params"]} if "params" in variables else {}
        state = {k: v for k, v in variables.items() if k != "params"}
        return params, state

    def _init_rng(self):
        if self._nnx:
            return None
        k1, k2 = jax.random.split(super()._init_rng())
        return {"params": k1, "dropout": k2}

    def _call_rng(self, training):
        if self._nnx:
            # nnx modules carry their own RNG streams (threaded as state); a
            # method taking `rngs` also gets a fresh key in training.
            return self.seed_generator.next() if (
                training and self._method_takes_rngs) else None
        if not training:
            return {}
        k1, k2 = jax.random.split(self.seed_generator.next())
        # "dropout" for nn.Dropout; other streams fall back to "params".
        return {"params": k1, "dropout": k2}

    # ---- nnx ---------------------------------------------------------------------------------
    def _init_nnx(self, variables, kwargs):
        from flax import nnx

        if variables is not None:
            raise ValueError(
                "FlaxLayer: `variables` is for flax.linen modules; an nnx module carries "
                "its own state (update it with nnx.update before wrapping).")
        graphdef, params, rest = nnx.split(self.module, nnx.Param, ...)
        self._graphdef = graphdef
        takes_training = self._method_takes_training
        takes_rngs = self._method_takes_rngs

        def call_fn(params, state, rng, inputs, training):
            m = nnx.merge(self._graphdef, params, state)
            if training:
                m.train()
            else:
                m.eval()
            extra = {"training": training} if takes_training else {}
            if takes_rngs and rng is not None:
                extra["rngs"] = nnx.Rngs(rng)
            out = self._nnx_method(m)(inputs, **extra)
            _, _, new_state = nnx.split(m, nnx.Param, ...)
            return out, new_state

        super().__init__(call_fn=call_fn, init_fn=None, params=params, state=rest,
                         **kwargs)

    def _nnx_method(self, m):
        method = self.method
        if method is None:
            return m
        if isinstance(method, str):
            return getattr(m, method)
        if getattr(method, "__self__", None) is not None:  # bound to the original module
            return getattr(m, method.__name__)
        return lambda *a, **k: method(m, *a, **k)

    def to_nnx_module(self):
        """nnx only: a copy of the module holding the layer's current weights."""
        if not self._nnx:
            raise ValueError(f"Layer {self.name!r}: to_nnx_module() is for flax.nnx modules.")
        from flax import nnx
        return nnx.merge(self._graphdef, self._read(self._param_tree, self._param_slots),
                         self._read(self._state_tree, self._state_slots))

    # ---- config ------------------------------------------------------------------------------
    def get_config(self):
        config = Layer.get_config(self)
        method = self.method
        if getattr(method, "__self__", None) is self.module and method is not None:
            method = method.__name__  # a bound method is saved by name
        config.update({
            "module": _module_config(self.module, self.name),
            "method": method if method is None or isinstance(method, str)
            else serialize_keras_object(method),
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["module"] = _module_from_config(config["module"])
        method = config.get("method")
        if isinstance(method, dict):
            config["method"] = deserialize_keras_object(method)
        return super(JaxLayer, cls).from_config(config)  # Layer's: no call_fn here
