"""Every public kerax.ops function and activation on symbolic tensors, against
keras.ops / keras.activations on the same symbolic inputs: the recorded output
spec (shape and dtype, leaf by leaf) and the operation class Keras records
(module, class name, constructor arguments: kerax.ops.keras_names)."""
import inspect
import json

import jax
import numpy as np
import pytest

import kerax
from kerax.layers.op_nodes import OP_NODES
from kerax.ops.keras_names import KERAS_OPS

F, I32, B, C64 = "float32", "int32", "bool", "complex64"
X = ((None, 4, 3), F)  # the default operand
SQ = ((None, 3, 3), F)
IMG = ((None, 8, 8, 3), F)


def _unary(t):
    return (t(*X),), {}


def _binary(t):
    return (t(*X), t(*X)), {}


def _ints(t):
    return (t((None, 4, 3), I32), t((None, 4, 3), I32)), {}


def _a(*specs, **kwargs):
    """A case: tensors for each spec ((shape, dtype) or a list of them), then
    plain values (anything else) positionally; kwargs as given."""
    def build(t):
        def one(s):
            if isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], tuple):
                return t(*s)
            if isinstance(s, list):
                return [one(e) for e in s]
            return s
        return tuple(one(s) for s in specs), dict(kwargs)
    return build


# op -> case; ops not listed take one float (None, 4, 3) tensor
CASES = {
    "core.unstack": _a(X, axis=1),
    "core.cast": _a(X, "int32"),
    "core.saturate_cast": _a(X, "uint8"),
    "core.cond": _a(((), B), lambda: 1.0, lambda: 2.0),
    "core.map": _a(lambda v: v * 2, X),
    "core.fori_loop": _a(0, 3, lambda i, v: v * 2, X),
    "core.switch": _a(((), I32), [lambda v: v, lambda v: v * 2], X),
    "core.while_loop": _a(lambda v: v[0, 0, 0] < 10, lambda v: v * 2, X,
                          maximum_iterations=3),
    "core.vectorized_map": _a(lambda v: v * 2, X),
    "core.scan": _a(lambda c, v: (c + v, c), ((4, 3), F), ((5, 4, 3), F)),
    "core.associative_scan": _a(lambda a, b: a + b, ((5, 3), F)),
    "core.slice": _a(X, (0, 1, 0), (1, 2, 3)),
    "core.slice_update": _a(X, (0, 0, 0), ((1, 2, 3), F)),
    "core.scatter": _a(((2, 2), I32), ((2,), F), (4, 4)),
    "core.scatter_update": _a(((4, 4), F), ((2, 2), I32), ((2,), F)),
    "numpy.bincount": _a(((None,), I32)),
    "numpy.bitwise_invert": _a(((None, 4), I32)),
    "numpy.bitwise_not": _a(((None, 4), I32)),
    "numpy.argpartition": _a(X, 1),
    "numpy.broadcast_to": _a(((1, 3), F), (4, 3)),
    "numpy.clip": _a(X, 0.0, 1.0),
    "numpy.concatenate": _a([X, X], axis=-1),
    "numpy.corrcoef": _a(((3, 5), F)),
    "numpy.correlate": _a(((8,), F), ((3,), F)),
    "numpy.diag": _a(((4, 3), F)),
    "numpy.diagflat": _a(((4,), F)),
    "numpy.diagonal": _a(((4, 4, 3), F)),
    "numpy.digitize": _a(X, ((3,), F)),
    "numpy.dot": _a(X, ((3, 5), F)),
    "numpy.dstack": _a([X, X]),
    "numpy.einsum": _a("bij,jk->bik", X, ((3, 5), F)),
    "numpy.expand_dims": _a(X, 1),
    "numpy.full_like": _a(X, 2.0),
    "numpy.get_item": _a(X, (slice(None), 0)),
    "numpy.histogram": _a(((8,), F)),
    "numpy.hstack": _a([X, X]),
    "numpy.inner": _a(X, ((5, 3), F)),
    "numpy.isin": _a(X, ((5,), F)),
    "numpy.kron": _a(((2, 3), F), ((4, 5), F)),
    "numpy.matmul": _a(X, ((3, 5), F)),
    "numpy.meshgrid": _a(((4,), F), ((3,), F)),
    "numpy.moveaxis": _a(X, 1, 2),
    "numpy.outer": _a(((4,), F), ((3,), F)),
    "numpy.pad": _a(X, ((0, 0), (1, 1), (2, 2))),
    "numpy.percentile": _a(X, 50.0, axis=1),
    "numpy.nanpercentile": _a(X, 50.0, axis=1),
    "numpy.quantile": _a(X, 0.5, axis=1),
    "numpy.nanquantile": _a(X, 0.5, axis=1),
    "numpy.repeat": _a(X, 2, axis=1),
    "numpy.reshape": _a(X, (-1, 12)),
    "numpy.roll": _a(X, 1, axis=1),
    "numpy.rot90": _a(X, axes=(1, 2)),
    "numpy.searchsorted": _a(((5,), F), ((None, 3), F)),
    "numpy.select": _a([(X[0], B), (X[0], B)], [X, X]),
    "numpy.split": _a(((None, 4, 6), F), 2, axis=-1),
    "numpy.array_split": _a(((None, 4, 6), F), 2, axis=-1),
    "numpy.dsplit": _a(((None, 4, 6), F), 2),
    "numpy.hsplit": _a(((None, 4, 6), F), 2),
    "numpy.vsplit": _a(((4, 6, 2), F), 2),
    "numpy.squeeze": _a(((None, 1, 3), F), axis=1),
    "numpy.stack": _a([X, X], axis=1),
    "numpy.swapaxes": _a(X, 1, 2),
    "numpy.take": _a(X, ((2,), I32), axis=1),
    "numpy.take_along_axis": _a(X, ((None, 2, 3), I32), axis=1),
    "numpy.tensordot": _a(X, ((4, 3, 5), F)),
    "numpy.tile": _a(X, (1, 2, 1)),
    "numpy.trace": _a(((4, 3), F)),
    "numpy.unravel_index": _a(((None,), I32), (4, 3)),
    "numpy.vander": _a(((4,), F)),
    "numpy.vdot": _a(((6,), F), ((6,), F)),
    "numpy.vstack": _a([X, X]),
    "numpy.where": _a((X[0], B), X, 1.0),
    "numpy.append": _a(X, X, axis=1),
    "numpy.full": _a((4, 3), ((), F)),
    "numpy.linspace": _a(((None, 3), F), ((None, 3), F), num=5),
    "numpy.logspace": _a(((None, 3), F), ((None, 3), F), num=5),
    "numpy.geomspace": _a(((None, 3), F), ((None, 3), F), num=5),
    "numpy.arange": _a(((), I32)),
    "numpy.round": _a(X, 1),
    "numpy.view": _a(X, "int32"),
    "numpy.slogdet": _a(SQ),
    "math.segment_sum": _a(((6, 3), F), ((6,), I32), num_segments=4),
    "math.segment_max": _a(((6, 3), F), ((6,), I32), num_segments=4),
    "math.segment_min": _a(((6, 3), F), ((6,), I32), num_segments=4),
    "math.segment_prod": _a(((6, 3), F), ((6,), I32), num_segments=4),
    "math.top_k": _a(X, 2),
    "math.in_top_k": _a(((None,), I32), ((None, 5), F), 2),
    "math.extract_sequences": _a(((None, 16), F), 4, 2),
    "math.fft": _a([X, X]),
    "math.fft2": _a([((None, 4, 4), F), ((None, 4, 4), F)]),
    "math.ifft2": _a([((None, 4, 4), F), ((None, 4, 4), F)]),
    "math.rfft": _a(((None, 8), F)),
    "math.irfft": _a([((None, 5), F), ((None, 5), F)]),
    "math.stft": _a(((None, 16), F), 6, 4, 8),
    "math.istft": _a([((None, 5, 5), F), ((None, 5, 5), F)], 6, 4, 8),
    "math.view_as_complex": _a(((None, 4, 2), F)),
    "math.view_as_real": _a(((None, 4), C64)),
    "math.cdist": _a(X, ((None, 5, 3), F)),
    "linalg.lstsq": _a(((5, 3), F), ((5, 2), F)),
    "linalg.solve": _a(SQ, ((None, 3, 2), F)),
    "linalg.solve_triangular": _a(SQ, ((None, 3, 2), F)),
    "linalg.jvp": _a(lambda v: v * 2, [X], [X]),
    "nn.binary_crossentropy": _a(((None, 4), F), ((None, 4), F)),
    "nn.categorical_crossentropy": _a(((None, 4), F), ((None, 4), F)),
    "nn.sparse_categorical_crossentropy": _a(((None,), I32), ((None, 5), F)),
    "nn.conv": _a(IMG, ((3, 3, 3, 4), F)),
    "nn.conv_transpose": _a(IMG, ((3, 3, 4, 3), F)),
    "nn.depthwise_conv": _a(IMG, ((3, 3, 3, 2), F)),
    "nn.separable_conv": _a(IMG, ((3, 3, 3, 2), F), ((1, 1, 6, 4), F)),
    "nn.adaptive_average_pool": _a(IMG, (2, 2)),
    "nn.adaptive_max_pool": _a(IMG, (2, 2)),
    "nn.average_pool": _a(IMG, 2),
    "nn.max_pool": _a(IMG, 2),
    "nn.depth_to_space": _a(((None, 4, 4, 8), F), 2),
    "nn.space_to_depth": _a(((None, 4, 4, 2), F), 2),
    "nn.batch_normalization": _a(X, ((3,), F), ((3,), F), -1),
    "nn.ctc_loss": _a(((None, 5), I32), ((None, 8, 6), F), ((None,), I32), ((None,), I32)),
    "nn.ctc_decode": _a(((None, 8, 6), F), ((None,), I32)),
    "nn.fold": _a(((None, 12, 8), F), (4, 5), 2, stride=(2, 1)),
    "nn.unfold": _a(((None, 3, 4, 5), F), 2, stride=(2, 1)),
    "einops.rearrange": _a(((2, 4, 6, 3), F), "b h (w w1) c -> b (h w) (c w1)", w1=2),
    "nn.dot_product_attention": _a(((None, 4, 2, 8), F), ((None, 4, 2, 8), F),
                                   ((None, 4, 2, 8), F)),
    "nn.moments": _a(X, [1]),
    "nn.multi_hot": _a(((None, 3), I32), num_classes=5),
    "nn.one_hot": _a(((None, 4), I32), 5),
    "nn.psnr": _a(X, X, 1.0),
    "nn.polar": _a(X, X),
    "nn.glu": _a(((None, 4, 6), F)),
    "nn.threshold": _a(X, 0.5, 0.0),
    "image.resize": _a(IMG, (4, 4)),
    "image.extract_patches": _a(IMG, (2, 2)),
    "image.extract_patches_3d": _a(((None, 4, 4, 4, 3), F), 2),
    "image.crop_images": _a(IMG, 1, 1, target_height=4, target_width=4),
    "image.pad_images": _a(IMG, 1, 1, target_height=10, target_width=10),
    "image.map_coordinates": _a(((8, 8), F), ((2, 5), F), 1),
    "image.affine_transform": _a(IMG, ((None, 8), F)),
    "image.perspective_transform": _a(IMG, ((None, 4, 2), F), ((None, 4, 2), F)),
    "image.scale_and_translate": _a(((2, 8, 8, 3), F), (2, 4, 4, 3), ((2,), F), ((2,), F),
                                    (1, 2), "linear"),
    "image.ssim": _a(IMG, IMG, 1.0),
    "image.elastic_transform": _a(IMG, seed=1),
    "activations.glu": _a(((None, 4, 6), F)),
    "activations.threshold": _a(X, 0.5, 0.0),
}
for _k in ("rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb", "gaussian_blur", "sobel_edges"):
    CASES[f"image.{_k}"] = _a(IMG)
for _k in ("cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lu_factor",
           "matrix_rank", "pinv", "qr", "svd"):
    CASES[f"linalg.{_k}"] = _a(SQ)
CASES["math.qr"] = CASES["math.logdet"] = _a(SQ)
for _k, (_mod, _cls, _) in KERAS_OPS.items():
    _params = [p for p in inspect.signature(
        getattr(kerax.activations if _k.startswith("activations.") else
                getattr(kerax.ops, _k.split(".")[0]), _k.split(".")[1])).parameters.values()
        if p.default is p.empty]
    if _k not in CASES and [p.name for p in _params] in (["x1", "x2"], ["x", "y"]):
        CASES[_k] = _binary
for _k in ("gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
           "bitwise_right_shift", "left_shift", "right_shift"):
    CASES[f"numpy.{_k}"] = _ints
CASES["numpy.ldexp"] = _a(X, ((None, 4, 3), I32))

# Ops kerax cannot run on symbolic tensors: their output shape depends on the data
# (JAX needs static shapes; Keras gives None dimensions but cannot compile them either).
NOT_SYMBOLIC = {
    "numpy.bincount": "the output length is the largest value in the data",
    "numpy.nonzero": "the number of nonzero entries depends on the data",
    "numpy.unique": "the number of unique values depends on the data (give `size`)",
    "numpy.arange": "the length depends on the (symbolic) bounds",  # Keras fails too
}
# Where Keras 3.15's symbolic spec disagrees with its own eager (JAX) result; kerax's
# spec is checked against that eager result instead.
KERAS_SPEC_WRONG = {
    "linalg.eig": "eigen decomposition of a general matrix is complex",
    "linalg.lu_factor": "the pivots are int32",
    "nn.adaptive_average_pool": "Keras' spec keeps an extra axis",
    "nn.adaptive_max_pool": "Keras' spec keeps an extra axis",
    "nn.multi_hot": "the result is float32",
    "nn.polar": "the result is complex",
    "numpy.corrcoef": "the result is (rows, rows)",
    "numpy.slogdet": "the sign has the batch shape",
}
# Keras 3.15 answers ops.ndim(KerasTensor) with a (3,)-shaped float tensor; kerax
# gives the int, as for arrays.
STATIC = {"numpy.ndim": 3}
# Keras' symbolic path fails on these activations (they call its JAX backend
# directly); kerax records them, and its spec is checked against Keras' eager result.
KERAS_FAILS = {"activations.hard_silu", "activations.hard_swish", "activations.mish",
               "activations.sparsemax", "numpy.arange"}


def _all_ops():
    keys = set(KERAS_OPS)
    for name in kerax.activations.__all__:
        if name not in ("get", "serialize", "deserialize"):
            keys.add(f"activations.{name}")
    return sorted(keys)


def _fn(lib, key):
    sub, name = key.split(".")
    if sub == "activations":
        return getattr(lib.activations, name)
    if sub == "image":
        return getattr(lib.ops.image, name)
    if lib is not kerax:
        return getattr(lib.ops, name)
    return getattr(getattr(kerax.ops, sub), name)


def _leaves(out):
    return jax.tree_util.tree_leaves(out, is_leaf=lambda x: hasattr(x, "shape"))


def _specs(out, batch=None):
    return [(tuple(batch if d is None and batch else d for d in x.shape), str(x.dtype))
            if hasattr(x, "shape") else x for x in _leaves(out)]


def _concrete(shape, dtype):
    shape = tuple(2 if d is None else d for d in shape)
    return np.random.default_rng(0).uniform(0, 1, shape).astype(dtype)


def _config(op):
    """An operation's config without its name, as JSON reads it back (None when
    its arguments cannot be serialized, e.g. Python functions)."""
    try:
        config = op.get_config()
        return json.loads(json.dumps({k: v for k, v in config.items() if k != "name"}))
    except (NotImplementedError, ValueError, TypeError):
        return None


def _keras_class(out):
    for leaf in _leaves(out):
        history = getattr(leaf, "_keras_history", None)
        if history is not None:
            op = history.operation
            params = inspect.signature(type(op).__init__).parameters.values()
            return type(op).__module__, type(op).__name__, {
                p.name for p in params if p.name not in ("self", "name")
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}, _config(op)
    return None


def _kerax_class(out):
    for leaf in _leaves(out):
        if getattr(leaf, "_history", None) is not None:
            layer = leaf._history[0]
            module, name = kerax.registry.builtin_name(type(layer))
            return module, name, set(type(layer).constructor), _config(layer)
    return None


def test_every_op_and_activation_is_symbolic_as_in_keras(keras):
    outcome = {}
    for key in _all_ops():
        case = CASES.get(key, _unary)
        try:
            args, kwargs = case(keras.KerasTensor)
            expected = _fn(keras, key)(*args, **kwargs)
        except Exception:  # noqa: BLE001 (Keras cannot run it symbolically)
            expected = None
        args, kwargs = case(kerax.KerasTensor)
        try:
            got = _fn(kerax, key)(*args, **kwargs)
        except ValueError as e:
            assert "cannot run on symbolic tensors" in str(e)
            outcome[key] = "not symbolic"
            continue
        if key in STATIC:
            assert got == STATIC[key]
            outcome[key] = "static"
        elif expected is None or key in KERAS_SPEC_WRONG:
            args, kwargs = case(_concrete)
            eager = _fn(keras, key)(*args, **kwargs)
            assert _specs(got, batch=2) == _specs(eager), key
            outcome[key] = "keras fails" if expected is None else "keras spec wrong"
        else:
            assert _specs(got) == _specs(expected), key
            # recorded as the same Keras operation class, with the same constructor
            # arguments and values
            assert _kerax_class(got) == _keras_class(expected), key
            outcome[key] = "same"
    assert {k for k, v in outcome.items() if v == "not symbolic"} == set(NOT_SYMBOLIC)
    assert {k for k, v in outcome.items() if v == "keras fails"} == KERAS_FAILS - {"numpy.arange"}
    assert {k for k, v in outcome.items() if v == "keras spec wrong"} == set(KERAS_SPEC_WRONG)
    assert sum(v == "same" for v in outcome.values()) >= 340


def test_keras_names_table_covers_every_recordable_op():
    """Every public kerax op that Keras records as an operation has an entry,
    and every entry names an op kerax has."""
    static = {"core.convert_to_numpy", "core.custom_gradient", "core.is_tensor",
              "core.shape", "core.dtype", "core.unwrap", "numpy.vectorize"}
    creation = {"numpy." + n for n in ("bartlett", "blackman", "empty", "eye", "hamming",
                                        "hanning", "identity", "kaiser", "ones", "tri",
                                        "zeros")}
    for sub in ("core", "numpy", "math", "linalg", "nn", "image", "einops"):
        for name in getattr(kerax.ops, sub).__all__:
            key = f"{sub}.{name}"
            assert key in KERAS_OPS or key in static | creation, key
    for key in KERAS_OPS:
        assert key in OP_NODES


# Keras 3.15 cannot reload its own config of these (a JSON list where it wants a tuple).
KERAS_CANNOT_RELOAD = {"nn.adaptive_average_pool", "nn.adaptive_max_pool"}
# Python functions as arguments: no file can hold them (Keras writes lambdas as
# bytecode, which kerax refuses to load; kerax refuses to write them).
TAKES_FUNCTIONS = {"core.associative_scan", "core.cond", "core.fori_loop", "core.map",
                   "core.scan", "core.switch", "core.vectorized_map", "core.while_loop",
                   "linalg.jvp"}


def _graph(lib, key):
    inputs = []

    def tensor(shape, dtype):
        inputs.append(lib.Input(batch_shape=shape, dtype=dtype))
        return inputs[-1]

    args, kwargs = CASES.get(key, _unary)(tensor)
    return lib.Model(inputs, _leaves(_fn(lib, key)(*args, **kwargs)))


def test_every_op_node_config_loads_in_the_other_library(keras):
    """A functional config holding each op, written by Keras, rebuilds in kerax
    with the same output specs, and the other way round."""
    skip = set(NOT_SYMBOLIC) | set(STATIC) | TAKES_FUNCTIONS | {
        "activations.linear", "math.view_as_real"}  # no node / complex Input
    for key in _all_ops():
        if key in skip:
            continue
        if key not in KERAS_FAILS:
            k_model = _graph(keras, key)
            kx_loaded = kerax.Model.from_config(json.loads(json.dumps(k_model.get_config())))
            if key not in KERAS_SPEC_WRONG:
                assert _specs(kx_loaded.outputs) == _specs(k_model.outputs), key
        kx_model = _graph(kerax, key)
        if key in KERAS_CANNOT_RELOAD:
            continue
        k_loaded = keras.Model.from_config(json.loads(json.dumps(kx_model.get_config())))
        if key not in KERAS_SPEC_WRONG:
            assert _specs(k_loaded.outputs) == _specs(kx_model.outputs), key
    x = kerax.Input((3,))
    with pytest.raises(ValueError, match="Python function"):
        kerax.Model(x, kerax.ops.map(lambda v: v, x)).get_config()
