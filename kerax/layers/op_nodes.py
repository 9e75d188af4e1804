"""kerax ops recorded as nodes of a functional graph, as Keras 3 records them.

`ops.not_equal(x, 0)`, `ops.concatenate([a, b], axis=-1)`, `x[:, 2:-2]`, `x + 1`
or `activations.relu(x)` on symbolic tensors (`kerax.Input`) reach `record`
through kerax.ops.dispatch. The call becomes an instance of the op's node
class: named, saved and loaded as Keras' operation class for that op
(`keras.src.ops.numpy.NotEqual`, ...; kerax.ops.keras_names), with the op's
static arguments as its config and the rest as the node's call arguments. Its
output spec comes from `jax.eval_shape` of the real op.

Only ops of kerax.ops (and the activations Keras gives a class) have node
classes, so a file that names anything else is refused like any unknown class:
loading never runs code from a file.
"""
import collections
import inspect

import jax
import jax.numpy as jnp

from kerax import activations, config, ops
from kerax.core.naming import to_snake_case, unique_name
from kerax.layers.layer import KerasTensor, _is_kt
from kerax.layers.operation import Operation
from kerax.ops.dispatch import register_symbolic
from kerax.ops.keras_names import KERAS_OPS
from kerax.registry import deserialize_keras_object, get_registered_name, register_builtin

__all__ = ["OpNode", "OP_NODES", "record"]

_MODULES = {"core": ops.core, "numpy": ops.numpy, "math": ops.math, "linalg": ops.linalg,
            "nn": ops.nn, "image": ops.image, "activations": activations,
            "einops": ops.einops}


def _contains_symbolic(value):
    if isinstance(value, KerasTensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_symbolic(v) for v in value.values())
    return False


class _Signature:
    """`OpNode.signature` / `.call_signature` of a node class, read from its
    op on first use and then stored on the class (inspect.signature over all
    ~340 ops would cost several ms of `import kerax`)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, cls):
        if cls.fn is None:
            return None
        signature = inspect.signature(cls.fn)
        cls.signature = signature  # class attributes from now on
        cls.call_signature = signature.replace(parameters=[
            p for p in signature.parameters.values() if p.name not in cls.constructor])
        return getattr(cls, self.name)


class OpNode(Operation):
    """One call of a kerax op on symbolic tensors (Keras' operation object).

    The class says which op (`op_key`, `fn`) and which of its arguments are
    the constructor's (`constructor`); an instance holds their values and is
    called with the remaining (call) arguments.
    """

    op_key = None  # "numpy.add"
    fn = None  # the op itself (never a symbolic-dispatching wrapper)
    constructor = ()  # names of the arguments Keras passes to the constructor
    signature = _Signature()  # the op's signature
    call_signature = _Signature()  # ... without the constructor arguments

    def __init__(self, name=None, **arguments):
        unknown = sorted(set(arguments) - set(self.constructor))
        if unknown:
            raise ValueError(
                f"Operation {type(self).__name__} (kerax.ops {self.op_key}) got unknown "
                f"arguments {unknown}; its arguments are {list(self.constructor)}.")
        super().__init__(name=name)
        self._op_arguments = arguments

    def call(self, *args, **kwargs):
        full = self._bind(args, kwargs)
        return type(self).fn(*full.args, **full.kwargs)

    def _bind(self, args, kwargs):
        """The op's full arguments: this node's constructor arguments and the
        call's."""
        kwargs = dict(kwargs)
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        try:
            bound = self.call_signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"Operation {self.name!r} ({type(self).__name__}, kerax.ops "
                            f"{self.op_key}): {e}.") from None
        arguments = dict(self._op_arguments)
        var_kw = _var_keyword(self.signature)
        if var_kw is not None:
            extra = {k: arguments.pop(k) for k in list(arguments)
                     if k not in self.signature.parameters}
            extra.update(bound.arguments.pop(var_kw, {}))
            arguments[var_kw] = extra
        arguments.update(bound.arguments)
        ordered = collections.OrderedDict(
            (p, arguments[p]) for p in self.signature.parameters if p in arguments)
        return inspect.BoundArguments(self.signature, ordered)

    def compute_output_spec(self, *args, **kwargs):
        spec = self._probed_output_spec(*args, **kwargs)
        # an op whose output sizes stay constant over small probe sizes (stft's
        # frames) gives its shapes in closed form
        rule = getattr(type(self).fn, "output_shapes", None)
        if rule is None:
            return spec
        full = self._bind(args, kwargs)
        leaves, tree = jax.tree_util.tree_flatten(spec, is_leaf=_is_kt)
        shapes = rule(*full.args, **full.kwargs)
        return jax.tree_util.tree_unflatten(
            tree, [KerasTensor(tuple(shape), leaf.dtype) for leaf, shape in zip(leaves, shapes)])

    def _probed_output_spec(self, *args, **kwargs):
        try:
            try:
                return super().compute_output_spec(*args, **kwargs)
            except (TypeError, ValueError):
                args, kwargs, changed = _unify_unknown_dims(args, kwargs)
                if not changed:
                    raise
                # (None, 2) + (5, 2): broadcasting makes the None a 5 (or a 1)
                return super().compute_output_spec(*args, **kwargs)
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                jax.errors.TracerIntegerConversionError,
                jax.errors.TracerBoolConversionError) as e:
            raise ValueError(
                f"kerax.ops {self.op_key} cannot run on symbolic tensors here: the shape "
                "of its output depends on the values of its inputs, which a symbolic "
                "tensor does not have. Compute it in a layer's call() on real arrays "
                f"(or give the op static sizes). JAX said: {str(e).splitlines()[0]}") from e

    def check_saveable(self, values):
        """Refuse a Python function that a file cannot name (a lambda or a
        local function), among `values` (this node's arguments)."""
        for value in jax.tree_util.tree_leaves(values, is_leaf=_is_kt):
            if inspect.isfunction(value) and "<" in value.__qualname__ \
                    and get_registered_name(value) == value.__name__:
                raise ValueError(
                    f"Cannot save operation {self.name!r} (kerax.ops {self.op_key}): it is "
                    f"given the Python function {value.__qualname__!r}, which a file cannot "
                    "name. Use a module-level function registered with "
                    "kerax.saving.register_keras_serializable(), or a layer.")

    def get_config(self):
        self.check_saveable(self._op_arguments)
        config = {"name": self.name}
        for key, value in self._op_arguments.items():
            if key == "dtype" and value is not None:
                value = jnp.dtype(value).name
            config[key] = value
        return config

    @classmethod
    def from_config(cls, config):
        # a value written as an object (a registered function, an array) is
        # looked up in the registry, never imported or executed
        return cls(**{k: deserialize_keras_object(v) if isinstance(v, dict) and "class_name" in v
                      else v for k, v in config.items()})

    def __repr__(self):
        return f"<Operation name={self.name}>"


def _unify_unknown_dims(args, kwargs):
    """The arguments with each unknown dimension set to the known size (> 1) of
    another symbolic argument at the same position counted from the right, as
    broadcasting requires; `changed` says whether any was set."""
    leaves, tree = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_kt)
    tensors = [t for t in leaves if isinstance(t, KerasTensor)]
    known = {}
    for t in tensors:
        for i, d in enumerate(reversed(t.shape)):
            if d is not None and d != 1:
                known.setdefault(i, d)
    changed = False

    def unify(t):
        nonlocal changed
        if not isinstance(t, KerasTensor):
            return t
        n = len(t.shape)
        shape = tuple(known.get(n - 1 - i, d) if d is None else d for i, d in enumerate(t.shape))
        changed = changed or shape != t.shape
        return KerasTensor(shape, t.dtype)

    args, kwargs = jax.tree_util.tree_unflatten(tree, [unify(t) for t in leaves])
    return args, kwargs, changed


class _GetItem(OpNode):
    def call(self, x, key, **kwargs):
        # As Keras' GetItem: a key read back from a file as a list is a tuple.
        return super().call(x, tuple(key) if isinstance(key, list) else key, **kwargs)


def _var_keyword(signature):
    for p in signature.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            return p.name
    return None


def _node_class(key, keras_module, class_name, constructor):
    submodule, name = key.split(".")
    wrapped = getattr(_MODULES[submodule], name)
    fn = getattr(wrapped, "__wrapped__", wrapped)
    base = _GetItem if key == "numpy.get_item" else OpNode
    module = ("keras.src.activations.activations" if keras_module == "activations"
              else f"keras.src.ops.{keras_module}")
    cls = type(class_name, (base,), {
        "op_key": key, "fn": staticmethod(fn), "constructor": tuple(constructor.split()),
        "__module__": __name__,
        "__doc__": f"`kerax.{'ops.' if submodule != 'activations' else ''}{key}` as a graph "
                   f"node (Keras' `{module}.{class_name}`)."})
    return module, cls


OP_NODES = {}  # op key -> node class
_by_class = {}
for _key, (_module, _class_name, _constructor) in KERAS_OPS.items():
    if (_module, _class_name) in _by_class:
        # An alias (swish of silu, linalg.qr of math.qr, extract_patches_3d of
        # extract_patches): recorded, saved and loaded as the first op listed.
        OP_NODES[_key] = _by_class[(_module, _class_name)]
        continue
    _keras_module, _cls = _node_class(_key, _module, _class_name, _constructor)
    OP_NODES[_key] = _by_class[(_module, _class_name)] = _cls
    register_builtin(_keras_module, name=_class_name)(_cls)


# Ops whose Keras function standardizes `data_format` (None -> the configured one)
# before creating the op; recorded the same way, a file reads the same in both.
_DATA_FORMAT_OPS = {"image.extract_patches", "nn.adaptive_average_pool",
                    "nn.adaptive_max_pool", "nn.average_pool", "nn.max_pool", "nn.conv",
                    "nn.conv_transpose", "nn.depthwise_conv", "nn.separable_conv"}


def _standardize(key, static):
    """The constructor arguments as Keras' op function passes them."""
    if key in _DATA_FORMAT_OPS and static.get("data_format") is None:
        static["data_format"] = config.image_data_format()
    if key in ("nn.one_hot", "nn.multi_hot") and static.get("dtype") is None:
        static["dtype"] = config.floatx()
    if key == "nn.layer_normalization":
        static.setdefault("rms_scaling", False)
    if key == "image.extract_patches":
        size = static["size"]
        if isinstance(size, int):
            size = static["size"] = (size, size)
        if static.get("strides") is None:
            static["strides"] = tuple(size)


def record(key, args, kwargs):
    """Record the call of op `key` on symbolic arguments as a graph node and
    return its symbolic output(s)."""
    if key == "image.extract_patches_3d":
        # Keras records it as ExtractPatches with a 3D size (strides likewise).
        arguments = dict(inspect.signature(ops.image.extract_patches_3d).bind(
            *args, **kwargs).arguments)
        for name in ("size", "strides"):
            if isinstance(arguments.get(name), int):
                arguments[name] = (arguments[name],) * 3
        if arguments.get("strides") is None:
            arguments["strides"] = tuple(arguments["size"])
        arguments["images"] = arguments.pop("volumes")
        return record("image.extract_patches", (), arguments)
    cls = OP_NODES[key]
    try:
        bound = cls.signature.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"kerax.ops {key}: {e}.") from None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    var_kw = _var_keyword(cls.signature)
    extra = dict(arguments.pop(var_kw, {})) if var_kw else {}
    static = {}
    for name in cls.constructor:
        if name in arguments:
            static[name] = arguments.pop(name)
        elif name in extra:
            static[name] = extra.pop(name)
    _standardize(key, static)
    for name, value in static.items():
        if _contains_symbolic(value):
            raise TypeError(
                f"kerax.ops {key}: argument `{name}` must be a fixed value, not a symbolic "
                "tensor (Keras takes it when the op is created, as a Python value).")
    call_args, call_kwargs = [], {}
    for p in cls.call_signature.parameters.values():
        if p.name not in arguments:
            continue
        value = arguments[p.name]
        if p.kind == p.VAR_POSITIONAL:
            call_args.extend(value)
        elif p.kind == p.KEYWORD_ONLY:
            call_kwargs[p.name] = value
        else:
            call_args.append(value)
    call_kwargs.update(extra)
    node = cls(name=unique_name(to_snake_case(cls.__name__)), **static)
    return node(*call_args, **call_kwargs)


register_symbolic(KerasTensor, record)
