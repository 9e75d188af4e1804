"""`Layer`: the base of every layer and model.

A layer owns Variables (created by `add_weight` in `build`), tracks the layers,
variables, metrics and seed generators assigned as its attributes (also inside
lists and dicts), builds itself on the first call (eager or symbolic), and
collects losses (`add_loss`). All state goes through Variables, so a layer runs
unchanged eagerly, inside `kerax.function`, `kerax.grad`, fit's compiled step
and `stateless_call`.
"""
import inspect

import jax
import jax.numpy as jnp
import numpy as np

from kerax import constraints, initializers, ops, regularizers, tree
from kerax.core import config, tracking
from kerax.core.naming import current_path, name_scope, to_snake_case, unique_name
from kerax.core.remat import get_current_remat_mode, remat
from kerax.core.scope import (StateScope, SymbolicScope, call_depth, current_scope, is_tracer, layer_call,
                              pure, training_flag)
from kerax.core.scope import scopes as _stack
from kerax.core.variable import Variable, host_to_device
from kerax.dtype_policies import DTypePolicy, QuantizedDTypePolicy, global_policy
from kerax.dtype_policies import get as _get_policy
from kerax.metrics.reduction_metrics import Mean
from kerax.ops.dispatch import add_symbolic_type
from kerax.random import SeedGenerator
from kerax.registry import serialize_keras_object

__all__ = ["Layer", "KerasTensor", "any_symbolic"]


# ---- symbolic tensors ------------------------------------------------------------
def _refuse_strings(layer, args, kwargs):
    """A clear error for a string KerasTensor fed to a layer that runs in JAX."""
    for t in jax.tree_util.tree_leaves((args, kwargs), is_leaf=_is_kt):
        if isinstance(t, KerasTensor) and t.dtype == "string":
            src = t._history[0].name if t._history else t.name
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) was called on the string "
                f"tensor from {src!r}: strings never enter a JAX program. Feed string "
                "inputs to host layers first (TextVectorization, StringLookup, Hashing), "
                "which turn them into numbers.")


class KerasTensor:
    """A symbolic tensor of the functional API: a shape (None for unknown
    dimensions), a dtype and the node that produced it.

    Every `kerax.ops` function, activation and Python operator (`+`, `!=`,
    `x[:, 1:]`, ...) applied to it records a node, as in Keras 3. As in Keras,
    `==` is identity (so tensors work as dict keys and in lists) while `!=` is
    the element-wise `ops.not_equal`.
    """

    def __init__(self, shape, dtype="float32", name=None, sparse=False, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        # "string": a host-side input (kerax.Input(dtype="string")) that only host
        # layers (`_host_layer`: TextVectorization, StringLookup, Hashing) take
        self.dtype = ("string" if dtype in ("string", "str") or dtype is str else
                      jnp.dtype(dtype).name) if dtype is not None else config.floatx()
        self.name = name
        self.sparse = sparse
        self._history = history  # (layer, node_index, tensor_index)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        add_symbolic_type(cls)  # ops record subclasses' instances too

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __hash__(self):
        return id(self)

    def __jax_array__(self):
        raise TypeError(
            "A symbolic KerasTensor (from kerax.Input) cannot be used as a JAX array. "
            "Use kerax.ops / kerax layers (or kerax.layers.Lambda) on symbolic tensors; "
            "JAX functions only run on real arrays when the model is called.")

    def __array__(self, dtype=None, copy=None):
        return self.__jax_array__()

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no truth value.")

    def __int__(self):
        raise TypeError("A symbolic KerasTensor has no value: it cannot be an int.")

    def __float__(self):
        raise TypeError("A symbolic KerasTensor has no value: it cannot be a float.")

    def __iter__(self):
        raise NotImplementedError(
            "Iterating over a symbolic KerasTensor is not supported; use "
            "kerax.ops.unstack or indexing.")

    # ---- operators: recorded as Keras' ops ------------------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.subtract(self, other)

    def __rsub__(self, other):
        return ops.subtract(other, self)

    def __mul__(self, other):
        return ops.multiply(self, other)

    def __rmul__(self, other):
        return ops.multiply(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __truediv__(self, other):
        return ops.true_divide(self, other)

    def __rtruediv__(self, other):
        return ops.true_divide(other, self)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(other, self)

    def __mod__(self, other):
        return ops.mod(self, other)

    def __rmod__(self, other):
        return ops.mod(other, self)

    def __pow__(self, other):
        return ops.power(self, other)

    def __rpow__(self, other):
        return ops.power(other, self)

    def __neg__(self):
        return ops.negative(self)

    def __abs__(self):
        return ops.absolute(self)

    def __round__(self, ndigits=None):
        return ops.round(self, ndigits or 0)

    def __lt__(self, other):
        return ops.less(self, other)

    def __le__(self, other):
        return ops.less_equal(self, other)

    def __gt__(self, other):
        return ops.greater(self, other)

    def __ge__(self, other):
        return ops.greater_equal(self, other)

    def __ne__(self, other):
        return ops.not_equal(self, other)

    # Keras' KerasTensor maps &, |, ^, ~ to the logical ops.
    def __and__(self, other):
        return ops.logical_and(self, other)

    def __rand__(self, other):
        return ops.logical_and(other, self)

    def __or__(self, other):
        return ops.logical_or(self, other)

    def __ror__(self, other):
        return ops.logical_or(other, self)

    def __xor__(self, other):
        return ops.logical_xor(self, other)

    def __rxor__(self, other):
        return ops.logical_xor(other, self)

    def __invert__(self):
        return ops.logical_not(self)

    def __getitem__(self, key):
        return ops.get_item(self, key)


def any_symbolic(*args, **kwargs):
    for leaf in jax.tree_util.tree_leaves((args, kwargs), is_leaf=lambda x: isinstance(x, KerasTensor)):
        if isinstance(leaf, KerasTensor):
            return True
    return False


def _is_kt(x):
    return isinstance(x, KerasTensor)


def _shape_of(x):
    if isinstance(x, (KerasTensor, Variable)):
        return tuple(x.shape)
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return None


def _structure_shapes(x):
    """The shape (or nested structure of shapes) that build() receives."""
    if isinstance(x, (list, tuple)):
        return [_structure_shapes(e) for e in x]
    if isinstance(x, dict):
        return {k: _structure_shapes(v) for k, v in x.items()}
    return _shape_of(x)


class Node:
    """One call of a layer on symbolic tensors."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in jax.tree_util.tree_leaves(
            (args, kwargs), is_leaf=_is_kt) if isinstance(t, KerasTensor)]
        self.output_tensors = [t for t in jax.tree_util.tree_leaves(
            outputs, is_leaf=_is_kt) if isinstance(t, KerasTensor)]


# ---- the Layer ------------------------------------------------------------------------
# Bookkeeping attributes: not walked for layers, variables or metrics.
_UNTRACKED = frozenset([
    "_inbound_nodes", "_nodes", "_graph_inputs", "_graph_outputs", "_input_tensors",
    "_output_tensors", "_call_losses", "_own_variables", "_regularizers", "_parent_ref",
    "_build_shapes", "_tracked_extra", "_compiled", "_trainer_state", "optimizer",
    "compiled_loss", "_loss", "_compile_metrics", "_compile_config", "history",
    "stop_training", "_functions", "_layers_list", "_ordered_layers", "_parent_path",
    "_remat_mode", "_auto_config", "_auto_config_error_args",
])


_AUTO_CONFIG_TYPES = (str, int, float, bool, type(None))
# Layer.__init__ arguments Keras' Layer does not list (it reads them from **kwargs)
_KERAX_ONLY_INIT_ARGS = ("input_dim", "input_shape", "batch_input_shape", "batch_size")
_INIT_SIGNATURES = {}


def _init_signature(cls):
    sig = _INIT_SIGNATURES.get(cls)
    if sig is None:
        sig = _INIT_SIGNATURES[cls] = inspect.signature(cls.__init__)
    return sig


def _uses_auto_config(cls):
    """A class outside kerax that does not override get_config."""
    return getattr(cls.get_config, "_kerax_default_get_config", False) and \
        not cls.__module__.startswith("kerax.")


def _capture_init_args(cls, args, kwargs):
    """(config, error_args) for Keras' automatic `get_config`: the
    constructor's arguments by name, defaults included, when they bind and
    every value is a plain str/int/float/bool/None (nested in lists, tuples
    or dicts); None otherwise. `error_args` marks positional-only or `*args`
    arguments, which cannot be given back by name."""
    try:
        sig = _init_signature(cls)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None, False
    params = list(sig.parameters.values())
    if any(p.kind is inspect.Parameter.POSITIONAL_ONLY for p in params[1:]):
        return None, True
    bound.apply_defaults()
    config = dict(bound.arguments)
    config.pop(params[0].name)
    for p in params[1:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            config.update(config.pop(p.name, {}))
        elif p.kind is inspect.Parameter.VAR_POSITIONAL and config.pop(p.name, ()):
            return None, True
    config.pop("name", None)
    if cls.__init__ is Layer.__init__:  # as Keras' Layer.__init__ would capture them
        for key in _KERAX_ONLY_INIT_ARGS:
            if key not in kwargs:
                config.pop(key, None)
    try:
        leaves = tree.flatten(config)
    except (TypeError, ValueError):
        return None, False
    if not all(isinstance(v, _AUTO_CONFIG_TYPES) for v in leaves):
        return None, False
    return config, False


def _required_init_args(cls):
    P = inspect.Parameter
    return [p.name for p in list(_init_signature(cls).parameters.values())[1:]
            if p.default is P.empty and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)]


def _auto_config_error(cls_name, error_args, required=()):
    example = """
    class CustomLayer(keras.layers.Layer):
        def __init__(self, arg1, arg2, **kwargs):
            super().__init__(**kwargs)
            self.arg1 = arg1
            self.arg2 = arg2

        def get_config(self):
            config = super().get_config()
            config.update({
                "arg1": self.arg1,
                "arg2": self.arg2,
            })
            return config"""
    if required:
        return (
            f"Model {cls_name} must override `get_config()` in order to be serializable: "
            f"its `__init__()` takes arguments without defaults {list(required)}, and a "
            "model's constructor arguments are captured automatically (as in Keras 3) "
            "only when every one of them has a default. Please implement `get_config()`."
            "\n\nExample:\n" + example)
    if error_args:
        return (
            f"Object {cls_name} was created by passing positional only or variadic "
            "positional arguments (e.g., `*args`) to `__init__()`, which is not supported "
            "by the automatic config generation. Please remove all positional only and "
            "variadic arguments from `__init__()` or override `get_config()` and "
            "`from_config()` to make the object serializable.\n\nExample:\n" + example)
    return (
        f"Object {cls_name} was created by passing non-serializable argument values in "
        "`__init__()`, and therefore the object must override `get_config()` in order to "
        "be serializable (automatic configs take only str, int, float, bool and None "
        "values, also in lists, tuples and dicts). Please implement `get_config()`."
        "\n\nExample:\n" + example)




def assign_from_store(variables, store, where):
    """Assign `store["0"], store["1"], ...` (a weights-file group) to
    `variables`, after checking the count and every shape (nothing is
    assigned when one does not fit); `where` names the layer in errors."""
    keys = list(store.keys())
    if len(keys) != len(variables):
        raise ValueError(
            f"{where} expects {len(variables)} stored weight(s) "
            f"{[v.name for v in variables]}, but the file has {len(keys)}.")
    values = []
    for i, var in enumerate(variables):
        value = np.asarray(store[str(i)])
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(
                f"{where}: weight {var.name!r} has shape {tuple(var.shape)} in the "
                f"layer but {tuple(value.shape)} in the file.")
        values.append(value)
    for var, value in zip(variables, values):
        var.assign(value.astype(var.dtype))

# How many times a built layer's public attribute was set outside a call.
CONFIG_CHANGES = [0]

class Layer:
    """The base class of layers (Keras 3's `keras.layers.Layer`)."""

    _kerax_untracked = _UNTRACKED
    _kerax_base_class = True  # saving's property walk skips kerax's base classes

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        # Set up tracking before any subclass __init__ code assigns attributes.
        d = obj.__dict__
        d["_own_variables"] = []
        d["_regularizers"] = []
        d["_call_losses"] = []
        d["_inbound_nodes"] = []
        d["_tracked_extra"] = []
        d["built"] = False
        d["_trainable"] = True
        d["_initialized"] = False
        d["_parent_path"] = None  # the name-scope path the layer's weights live under
        d["_remat_mode"] = get_current_remat_mode()
        # Keras' automatic config: the constructor's arguments, when serializable
        # (only for classes whose get_config would use it)
        d["_auto_config"], d["_auto_config_error_args"] = _capture_init_args(cls, args, kwargs) \
            if _uses_auto_config(cls) else (None, False)
        return obj

    def __init__(self, trainable=True, name=None, dtype=None, autocast=True,
                 input_dim=None, input_shape=None, batch_input_shape=None,
                 batch_size=None, activity_regularizer=None, **kwargs):
        for key in ("weights", "input_length"):  # Keras 2 configs carry them as null
            if key in kwargs and kwargs[key] is None:
                del kwargs[key]
        if "quantization_config" in kwargs and kwargs["quantization_config"] is None:
            del kwargs["quantization_config"]  # Keras 3 configs carry it (None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__ got unexpected keyword arguments: "
                f"{sorted(kwargs)}.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer `name` must be a string, got {name!r}.")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._dtype_policy = _layer_policy(dtype)
        self._dtype = self._dtype_policy.variable_dtype
        self._autocast_to = (self._dtype_policy.compute_dtype
                             if self._dtype_policy.compute_dtype != self._dtype else None)
        self.autocast = autocast
        self.supports_masking = getattr(self, "supports_masking", False)
        if batch_input_shape is None:
            if input_shape is not None:
                batch_input_shape = (batch_size,) + tuple(input_shape)
            elif input_dim is not None:
                batch_input_shape = (batch_size, int(input_dim))
        self._batch_input_shape = tuple(batch_input_shape) if batch_input_shape is not None else None
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._initialized = True

    # ---- attributes and tracking ------------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, Layer) and value is self:
            raise ValueError("A layer cannot be an attribute of itself.")
        if name[:1] != "_" and self.__dict__.get("built") and not call_depth() and \
                not getattr(type(self), "_kerax_model", False):
            # a built layer reconfigured outside a call (`layer.activation =
            # None`): compiled `model(x)` programs retrace (models/compiled_call.py);
            # a model's own attributes (`history`, `optimizer`, `stop_training`,
            # set by compile/fit) change no layer's computation
            CONFIG_CHANGES[0] += 1
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        object.__delattr__(self, name)

    def _flatten_layers(self, include_self=True, recursive=True):
        seen = set()
        out = []

        def visit_layer(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            out.append(layer)
            if recursive:
                for child in layer._direct_layers():
                    visit_layer(child)

        if include_self:
            visit_layer(self)
        else:
            seen.add(id(self))
            for child in self._direct_layers():
                visit_layer(child)
        return out

    def _direct_layers(self):
        return tracking.collect(self, lambda v: isinstance(v, Layer) and v is not self)

    def _direct_variables(self):
        """Own variables: add_weight ones, then Variables set as attributes,
        then seed-generator states (in attribute order, any nesting depth)."""
        out = list(self._own_variables)
        seen = {id(v) for v in out}
        seeds = []
        for item in tracking.collect(self, lambda v: isinstance(v, (Variable, SeedGenerator, Layer))):
            if isinstance(item, Variable) and id(item) not in seen:
                seen.add(id(item))
                out.append(item)
            elif isinstance(item, SeedGenerator) and id(item.state) not in seen:
                seen.add(id(item.state))
                seeds.append(item.state)
        return out, seeds

    # ---- variables ---------------------------------------------------------------------
    def _collect(self, kind):
        seen = set()
        out = []
        for layer in self._flatten_layers():
            own, seeds = layer._direct_variables()
            vars_ = _keras_order(own) + (seeds if kind == "variables" else [])
            for v in vars_:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def _frozen_ids(self):
        ids = set()
        for layer in self._flatten_layers():
            if not layer.trainable:
                for sub in layer._flatten_layers():
                    for v in sub._direct_variables()[0]:
                        ids.add(id(v))
        return ids

    @property
    def weights(self):
        """All weights (trainable first within each layer), excluding RNG state
        and metric variables."""
        return self._collect("weights")

    @property
    def trainable_weights(self):
        frozen = self._frozen_ids()
        return [v for v in self.weights if v.trainable and id(v) not in frozen]

    @property
    def non_trainable_weights(self):
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    @property
    def variables(self):
        """All state: weights plus seed-generator states."""
        return self._collect("variables")

    @property
    def trainable_variables(self):
        # A live list: kerax.value_and_grad reads it again if the layer is
        # built while the gradient is taken.
        return tracking.LiveList(self.trainable_weights, self, "trainable_variables")

    @property
    def non_trainable_variables(self):
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.variables if id(v) not in trainable]

    @property
    def metrics(self):
        """The metrics of this layer and its sublayers (depth first, each
        layer's own before its sublayers'), each once. One walk over each
        layer's attributes finds both its metrics and its sublayers."""
        out, seen, visited = [], set(), set()

        def visit(layer):
            if id(layer) in visited:
                return
            visited.add(id(layer))
            children = []
            for item in tracking.collect(layer, lambda v: isinstance(v, Layer) or _is_metric(v)):
                if isinstance(item, Layer):
                    if item is not layer:
                        children.append(item)
                elif id(item) not in seen:
                    seen.add(id(item))
                    out.append(item)
            for child in children:
                visit(child)

        visit(self)
        return out

    @property
    def metrics_variables(self):
        return [v for m in self.metrics for v in m.variables]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        for layer in self._flatten_layers():
            object.__setattr__(layer, "_trainable", value)

    @property
    def dtype(self):
        """The variable dtype (as Keras 3's `layer.dtype`)."""
        return self._dtype

    @property
    def compute_dtype(self):
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self._dtype_policy.variable_dtype

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, policy):
        self._dtype_policy = _layer_policy(policy)
        self._dtype = self._dtype_policy.variable_dtype
        self._autocast_to = (self._dtype_policy.compute_dtype
                             if self._dtype_policy.compute_dtype != self._dtype else None)
        mode = self._dtype_policy.quantization_mode
        if mode is not None and self.built and not self.__dict__.get("_is_quantized"):
            self.quantize(mode)  # as Keras: a quantized policy on a built layer quantizes it

    @property
    def quantization_mode(self):
        """The layer's quantization mode ("int8", "int4", "float8"), None if not quantized."""
        return self._dtype_policy.quantization_mode

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the layer's weights in place (Dense, EinsumDense and Embedding
        implement it; see kerax.layers.quantized)."""
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `quantize` method implemented.")

    @property
    def layers(self):
        return self._flatten_layers(include_self=False, recursive=False)

    def _name_scope(self):
        """The name scope this layer builds, calls and creates weights in
        (Keras 3's rule): its name under the path that was open the first time
        it opened the scope, so weights read e.g. `outer/dense/kernel`."""
        parent = self.__dict__.get("_parent_path")
        if parent is None:
            parent = self.__dict__["_parent_path"] = current_path()
        return name_scope(self.name, caller=self, override_parent=parent)

    def add_weight(self, *args, **kwargs):
        """Create a Variable owned by this layer, with Keras 3's arguments
        `(shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
        regularizer=None, constraint=None, aggregation="none",
        overwrite_with_gradient=False, name=None)`. TF-Keras-2 code passing the
        name first (`add_weight("kernel", shape=...)`) also works."""
        if args and isinstance(args[0], str):
            if "name" in kwargs:
                raise TypeError(f"{self.name}.add_weight: name given twice.")
            kwargs["name"] = args[0]
            args = args[1:]
        return self._add_weight(*args, **kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                    autocast=True, regularizer=None, constraint=None,
                    aggregation="none", overwrite_with_gradient=False, name=None,
                    **kwargs):
        # tf.keras 2 spellings: resource variables are all JAX has; the others map.
        kwargs.pop("use_resource", None)
        synchronization = kwargs.pop("synchronization", "auto")
        autocast = kwargs.pop("experimental_autocast", autocast)
        if kwargs:
            raise TypeError(
                f"{self.name}.add_weight got unexpected keyword arguments {sorted(kwargs)}.")
        shape = () if shape is None else tuple(shape)
        for d in shape:
            if d is None or int(d) < 0:
                raise ValueError(
                    f"Layer {self.name!r}: add_weight({name!r}) needs a fully known, "
                    f"non-negative shape, got {shape}.")
        shape = tuple(int(d) for d in shape)
        dtype = jnp.dtype(dtype or self.variable_dtype)
        if initializer is None:
            initializer = ("glorot_uniform" if jnp.issubdtype(dtype, jnp.floating)
                           else "zeros")
        init = initializers.get(initializer)
        var_name = name or "variable"
        with self._name_scope():
            var = Variable(init, shape=shape, dtype=dtype, trainable=trainable,
                           autocast=autocast, name=var_name,
                           constraint=constraints.get(constraint),
                           aggregation=aggregation, synchronization=synchronization)
        var.regularizer = regularizers.get(regularizer)
        var.overwrite_with_gradient = overwrite_with_gradient
        self._own_variables.append(var)
        if var.regularizer is not None:
            self._regularizers.append((var, var.regularizer))
        return var

    def add_variable(self, *args, **kwargs):
        """Alias of add_weight (Keras 3 and the legacy name-first form)."""
        return self.add_weight(*args, **kwargs)

    def get_weights(self):
        return [np.asarray(v.numpy()) for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer {self.name!r}: set_weights expected {len(own)} arrays "
                f"({[v.path for v in own]}), got {len(weights)}.")
        for var, w in zip(own, weights):
            w = np.asarray(w)
            if tuple(w.shape) != var.shape:
                raise ValueError(
                    f"Layer {self.name!r}: weight {var.path!r} has shape {var.shape}, "
                    f"but the provided array has shape {tuple(w.shape)}.")
        for var, w in zip(own, weights):
            var.assign(np.asarray(w))

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet: call it on data or call "
                "build(input_shape) before count_params().")
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in self.weights))

    # ---- losses -------------------------------------------------------------------------
    def add_loss(self, loss):
        """Add a loss term (e.g. an activity regularization) for the current call."""
        scope = current_scope()
        if scope is not None:
            scope.add_loss(self, jnp.asarray(loss))
        else:
            if is_tracer(loss):
                raise ValueError(
                    f"Layer {self.name!r}: add_loss got a traced value outside a "
                    "kerax transform. Call the model through kerax.function, fit or "
                    "stateless_call.")
            self._call_losses.append(jnp.asarray(loss))

    def add_metric(self, value, name=None, aggregation=None):
        """TF-Keras-2 compatibility. A metric's own result (the usual
        `self.add_metric(self.my_mean(x))`) is already reported by the metric
        object; with a `name`, the value's running mean is tracked as a metric."""
        if name is None:
            return
        metrics = self.__dict__.setdefault("_named_metrics", {})
        if name not in metrics:
            metrics[name] = Mean(name=name)
        metrics[name].update_state(value)

    def _set_call_losses(self, values):
        object.__setattr__(self, "_call_losses", list(values))

    def _clear_call_losses(self):
        for layer in self._flatten_layers():
            object.__setattr__(layer, "_call_losses", [])

    @property
    def losses(self):
        """Regularization terms (from the current weight values) and the losses
        added during the last call."""
        layers = self._flatten_layers()
        ids = {id(l) for l in layers}
        out = []
        stack = _stack()
        if stack:
            for scope in stack:
                out.extend(v for owner, v in scope.losses if id(owner) in ids)
        if not stack or not out:
            for layer in layers:
                out.extend(layer._call_losses)
        trainable = {id(v) for v in self.trainable_weights}
        for layer in layers:
            for var, reg in layer._regularizers:
                if id(var) in trainable:  # Keras regularizes trainable weights only
                    out.append(jnp.asarray(reg(var.value)))
        return out

    # ---- build and call ------------------------------------------------------------
    def build(self, input_shape=None):
        self.built = True

    build._kerax_default_build = True

    def _build_is_overridden(self):
        return not getattr(type(self).build, "_kerax_default_build", False)

    def _maybe_build(self, args, kwargs):
        if self.built:
            return
        first = args[0] if args else next(iter(kwargs.values()), None)
        shapes = _structure_shapes(first)
        self._build_shapes = shapes
        if self._build_is_overridden():
            sig = inspect.signature(self.build)
            if len(sig.parameters) == 0:
                self.build()
            else:
                per_arg = self._per_argument_build_shapes(sig, args, kwargs)
                if per_arg is not None:
                    self._build_shapes_dict = per_arg
                    self.build(**per_arg)
                else:
                    self.build(tuple(shapes) if isinstance(shapes, tuple) else shapes)
        object.__setattr__(self, "built", True)

    def _per_argument_build_shapes(self, build_sig, args, kwargs):
        """Keras 3's rule for `build(query_shape, value_shape, ...)`: when build
        has several `<arg>_shape` parameters named after call arguments, each
        gets the shape of that argument."""
        names = [p.name for p in build_sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(names) < 2 or not all(n.endswith("_shape") for n in names):
            return None
        try:
            bound = inspect.signature(self.call).bind_partial(*args, **kwargs).arguments
        except TypeError:
            return None
        if names[1][:-len("_shape")] not in bound:
            return None
        return {n: _structure_shapes(bound[n[:-len("_shape")]]) for n in names
                if bound.get(n[:-len("_shape")]) is not None}

    def build_from_config(self, config):
        shape = config.get("input_shape") if config else None
        if shape is not None and not self.built:
            self.build(_to_shape(shape))
            object.__setattr__(self, "built", True)
        shapes_dict = config.get("shapes_dict") if config else None
        if shapes_dict is not None and not self.built:
            self.build(**{k: _to_shape(v) for k, v in shapes_dict.items()})
            object.__setattr__(self, "built", True)

    def get_build_config(self):
        shapes_dict = self.__dict__.get("_build_shapes_dict")
        if shapes_dict is not None:
            return {"shapes_dict": {k: _listify(v) for k, v in shapes_dict.items()}}
        shapes = getattr(self, "_build_shapes", None)
        if shapes is None:
            return None
        return {"input_shape": _listify(shapes)}

    def _call_signature(self):
        cls = type(self)
        cache = cls.__dict__.get("_kerax_sig_cache")
        if cache is None or cache[0] is not cls.call:
            params = inspect.signature(self.call).parameters
            has_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
            info = {
                "training": "training" in params or has_var_kw,
                "mask": "mask" in params,
                "training_default": params["training"].default if "training" in params
                and params["training"].default is not inspect.Parameter.empty else None,
            }
            cache = (cls.call, info)
            setattr(cls, "_kerax_sig_cache", cache)
        return cache[1]

    def __call__(self, *args, **kwargs):
        if not getattr(self, "_initialized", False) or "name" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() in your __init__ "
                "before using the layer.")
        if any_symbolic(*args, **kwargs):
            return self._symbolic_call(args, kwargs)
        info = self._call_signature()
        training = kwargs.pop("training", None)
        if training is None:
            training = training_flag()
        if training is None:
            training = info["training_default"]
        if info["training"]:
            kwargs["training"] = training
        args = self._convert_inputs(args)
        with self._name_scope():
            self._maybe_build(args, kwargs)
            if not call_depth() and not _stack():
                self._clear_call_losses()
            call = self._rematerialized(self.call, args, kwargs)
            with layer_call(training, self._autocast_to):
                outputs = call(*args, **kwargs)
        if self.activity_regularizer is not None:
            for out in jax.tree_util.tree_leaves(outputs):
                # Keras 3 divides the activity loss by the batch size.
                batch = out.shape[0] if getattr(out, "ndim", 0) else 1
                self.add_loss(self.activity_regularizer(out) / batch)
        return outputs

    def _rematerialized(self, call, args, kwargs):
        """`call`, wrapped in `remat` as the RematScope the layer was created
        in asks (Keras 3's modes); `call` itself with no scope."""
        mode = self._remat_mode
        if mode is None or mode.mode is None or current_scope() is None:
            return call
        if mode.mode == "full" or (mode.mode == "list_of_layers"
                                   and self.name in mode.layer_names):
            return remat(call)
        if mode.mode == "activations":
            activation = getattr(self, "activation", None)
            if activation is None:
                return call

            def with_remat_activation(*a, **k):
                object.__setattr__(self, "activation", remat(activation))
                try:
                    return call(*a, **k)
                finally:
                    object.__setattr__(self, "activation", activation)
            return with_remat_activation
        if mode.mode == "larger_than":
            def shape_only(*a):
                with StateScope():  # assigns and losses of this look-ahead are dropped
                    return call(*a, **kwargs)
            sizes = [int(np.prod(o.shape))
                     for o in jax.tree_util.tree_leaves(jax.eval_shape(shape_only, *args))]
            if sum(sizes) > mode.output_size_threshold:
                return remat(call)
        return call

    def _convert_inputs(self, args):
        if not args:
            return args
        first = args[0]

        def conv(x):
            if isinstance(x, Variable):
                x = x.value
            if isinstance(x, np.ndarray) and x.dtype != object:
                x = host_to_device(x)  # no program per shape, as jnp.asarray compiles
            elif isinstance(x, np.ndarray) or isinstance(x, (float, int)) and not isinstance(
                    x, bool):
                x = jnp.asarray(x)
            if self.autocast and hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating) \
                    and x.dtype != self.compute_dtype:
                x = x.astype(self.compute_dtype)
            return x

        first = jax.tree_util.tree_map(conv, first, is_leaf=lambda v: isinstance(v, Variable))
        return (first,) + tuple(args[1:])

    def call(self, *args, **kwargs):
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not implement call().")

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs, from the inputs and their mask (Keras 3's
        default: the input mask passes through). Used only for layers with
        `supports_masking` (see kerax.layers.masking_utils)."""
        return mask

    # ---- symbolic (functional API) -------------------------------------------------
    def _symbolic_call(self, args, kwargs):
        if not getattr(self, "_host_layer", False):
            _refuse_strings(self, args, kwargs)
        with self._name_scope():
            self._maybe_build(args, kwargs)
        out_spec = self.compute_output_spec(*args, **kwargs)
        counter = iter(range(10**9))
        node_index = len(self._inbound_nodes)

        def make(spec):
            i = next(counter)
            return KerasTensor(spec.shape, spec.dtype, name=f"{self.name}_{i}" if i else self.name,
                               history=(self, node_index, i))

        outputs = jax.tree_util.tree_map(make, out_spec, is_leaf=_is_kt)
        node = Node(self, args, kwargs, outputs)
        self._inbound_nodes.append(node)
        return outputs

    def compute_output_shape(self, *args, **kwargs):
        """Output shape(s) for input shape(s), from a symbolic call."""
        def to_kt(s):
            return KerasTensor(s, self.compute_dtype)
        if args and _is_shape(args[0]):
            kts = (to_kt(tuple(args[0])),) + tuple(args[1:])
        else:
            kts = jax.tree_util.tree_map(to_kt, args, is_leaf=_is_shape)
        spec = self.compute_output_spec(*kts, **kwargs)
        return jax.tree_util.tree_map(lambda t: tuple(t.shape), spec, is_leaf=_is_kt)

    def compute_output_spec(self, *args, **kwargs):
        """Output KerasTensor(s) for KerasTensor inputs, inferred with
        jax.eval_shape (never by running real data). Unknown (None) dimensions
        are found by evaluating with two different sizes."""
        self._maybe_build(args, kwargs)
        results = []
        for fill in (2, 3):
            def to_struct(x):
                if isinstance(x, KerasTensor):
                    return jax.ShapeDtypeStruct(tuple(fill if d is None else d for d in x.shape),
                                                x.dtype)
                return x
            leaves, tree = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_kt)
            kt_pos = [i for i, l in enumerate(leaves) if isinstance(l, KerasTensor)]
            structs = [to_struct(leaves[i]) for i in kt_pos]

            def fn(*arrays):
                full = list(leaves)
                for i, a in zip(kt_pos, arrays):
                    full[i] = a
                a_args, a_kwargs = jax.tree_util.tree_unflatten(tree, full)
                with StateScope(), SymbolicScope(), layer_call(False, self._autocast_to):
                    info = self._call_signature()
                    if info["training"] and "training" not in a_kwargs:
                        a_kwargs["training"] = False
                    a_args = self._convert_inputs(a_args)
                    return self.call(*a_args, **a_kwargs)

            try:
                results.append(jax.eval_shape(fn, *structs))
            except Exception as e:
                if isinstance(e, (ValueError, TypeError)) and str(e).startswith(("Layer ", "Input ")):
                    raise
                try:
                    err = type(e)(f"{e}\n(while computing the output of layer {self.name!r} "
                                  f"on symbolic inputs {[leaves[i] for i in kt_pos]})")
                except Exception:  # noqa: BLE001  (an error type that takes other arguments)
                    raise e from None
                raise err from e
        r2, r3 = results

        def merge(a, b):
            shape = tuple(None if da != db else da for da, db in zip(a.shape, b.shape))
            return KerasTensor(shape, a.dtype)

        return jax.tree_util.tree_map(merge, r2, r3)

    # ---- config -------------------------------------------------------------------------
    def get_config(self):
        """The layer's config: `name`, `trainable`, `dtype` (and
        `activity_regularizer`). A subclass that does not override
        `get_config` gets its constructor's arguments added automatically, as
        in Keras 3, when every argument value is a str, int, float, bool or
        None (or lists/tuples/dicts of them); otherwise it must implement
        `get_config` (NotImplementedError says so).

        >>> import kerax
        >>> class Scale(kerax.layers.Layer):
        ...     def __init__(self, factor=2.0, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.factor = factor
        >>> config = Scale(3.0, name="s").get_config()
        >>> config["name"], config["factor"]
        ('s', 3.0)
        """
        config = {"name": self.name}
        # kerax's own layers list their arguments themselves (as Keras' do)
        if _uses_auto_config(type(self)):
            auto = self.__dict__.get("_auto_config")
            required = _required_init_args(type(self)) if getattr(
                type(self), "_kerax_model", False) else []
            if auto is None or required:
                # (Keras 3 captures a Model subclass' arguments without their
                # values, so a required argument makes its get_config raise)
                raise NotImplementedError(_auto_config_error(
                    type(self).__name__, self.__dict__.get("_auto_config_error_args", False),
                    required))
            config.update(auto)
            params = _init_signature(type(self)).parameters
            if "name" not in params and not any(
                    p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                config.pop("name")  # the constructor could not take it back
        config.update({"trainable": self.trainable,
                       "dtype": serialize_keras_object(self._dtype_policy)
                       if isinstance(self._dtype_policy, QuantizedDTypePolicy)
                       else _dtype_config(self._dtype_policy.name)})
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        return config

    get_config._kerax_default_get_config = True

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "dtype" in config and isinstance(config["dtype"], dict) \
                and "mode" not in (config["dtype"].get("config") or {}):
            config["dtype"] = config["dtype"].get("config", {}).get("name")
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                f"Error when deserializing class '{cls.__name__}' using config={config}.\n\n"
                f"Exception encountered: {e}") from e

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # ---- stateless -------------------------------------------------------------------
    def _saving_config(self):
        """The layer's entry in a `.keras` file's config.json."""
        return serialize_keras_object(self)

    def stateless_call(self, trainable_variables, non_trainable_variables, *args,
                       return_losses=False, **kwargs):
        """Call the layer as a pure function of the given variable values
        (Keras 3's semantics): returns `(outputs, non_trainable_variables)` (and
        the losses with `return_losses=True`), so `jax.jit`/`jax.grad` apply."""
        tv, ntv = self.trainable_variables, self.non_trainable_variables
        trainable_variables = list(trainable_variables)
        non_trainable_variables = list(non_trainable_variables)
        if len(trainable_variables) != len(tv) or len(non_trainable_variables) != len(ntv):
            raise ValueError(
                f"{self.name}.stateless_call: expected {len(tv)} trainable and "
                f"{len(ntv)} non-trainable values (in the order of "
                "trainable_variables / non_trainable_variables), got "
                f"{len(trainable_variables)} and {len(non_trainable_variables)}.")
        def call():
            outputs = self(*args, **kwargs)
            return outputs, (self.losses if return_losses else None)

        (outputs, losses), new_values = pure(call, tv + ntv)(
            trainable_variables + non_trainable_variables)
        new_ntv = new_values[len(tv):]
        if return_losses:
            return outputs, new_ntv, losses
        return outputs, new_ntv


def _keras_order(variables):
    """A layer's own weights as Keras orders them: those created trainable, then
    the others (a weight frozen later keeps its place)."""
    return ([v for v in variables if v.created_trainable]
            + [v for v in variables if not v.created_trainable])


def _is_metric(obj):
    """Metrics are found by what they do (update_state/result/reset_state), so a
    user's metric-like object is tracked as Keras 3 tracks metrics."""
    return (not isinstance(obj, (Layer, type)) and hasattr(obj, "update_state")
            and hasattr(obj, "result") and hasattr(obj, "reset_state")
            and hasattr(obj, "variables"))


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def _listify(shapes):
    if isinstance(shapes, tuple) and _is_shape(shapes):
        return list(shapes)
    if isinstance(shapes, (list, tuple)):
        return [_listify(s) for s in shapes]
    if isinstance(shapes, dict):
        return {k: _listify(v) for k, v in shapes.items()}
    return shapes


def _to_shape(s):
    if isinstance(s, (list, tuple)) and _is_shape(s):
        return tuple(s)
    if isinstance(s, (list, tuple)):
        return [_to_shape(e) for e in s]
    if isinstance(s, dict):
        return {k: _to_shape(v) for k, v in s.items()}
    return s


def _layer_policy(dtype):
    """A layer's policy from its `dtype` argument: None (the global policy), a
    name or dtype, a policy, or a serialized policy; quantized ones
    ("int8_from_float32", QuantizedDTypePolicy configs) stay quantized."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, QuantizedDTypePolicy) or (
            isinstance(dtype, dict) and "mode" in (dtype.get("config") or {})) or (
            isinstance(dtype, str) and "_from_" in dtype):
        return _get_policy(dtype)
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name", None)
        return DTypePolicy(dtype) if dtype is not None else global_policy()
    return DTypePolicy(dtype)


def _dtype_config(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}
