"""kerax.ops against Keras 3 (JAX backend), NumPy and the seeds' tensor examples."""
import inspect

import jax
import numpy as np
import pytest

import kerax
from kerax import ops

_r = np.random.default_rng(0)
X = _r.standard_normal((3, 4)).astype("float32")
Y = _r.standard_normal((3, 4)).astype("float32")
V = _r.standard_normal((4,)).astype("float32")
SQ = _r.standard_normal((3, 3)).astype("float32")
SPD = (SQ @ SQ.T + 3 * np.eye(3)).astype("float32")
POS = (np.abs(X) + 0.1).astype("float32")
UNIT = _r.uniform(-0.9, 0.9, (3, 4)).astype("float32")
I = _r.integers(-5, 6, (3, 4)).astype("int32")
IP = _r.integers(1, 6, (3, 4)).astype("int32")
B = X > 0
X3 = _r.standard_normal((2, 3, 4)).astype("float32")
PROBS = np.abs(X) / np.abs(X).sum(-1, keepdims=True)
ONEHOT = np.eye(4, dtype="float32")[[0, 3, 1]]
LABELS = np.array([0, 3, 1], "int32")
IMG = _r.standard_normal((2, 5, 6, 3)).astype("float32")
SEQ = _r.standard_normal((2, 7, 3)).astype("float32")

# name -> (args, kwargs); compared with keras.ops.<name>(*args, **kwargs).
CASES = {
    # elementwise
    "abs": ((X,), {}), "absolute": ((I,), {}), "negative": ((X,), {}), "sign": ((X,), {}),
    "square": ((X,), {}), "square[bool]": ((B,), {}), "sqrt": ((POS,), {}),
    "sqrt[int]": ((IP,), {}), "exp": ((X,), {}), "expm1": ((X,), {}), "log": ((POS,), {}),
    "log10": ((POS,), {}), "log1p": ((POS,), {}), "log2": ((POS,), {}), "sin": ((X,), {}),
    "cos": ((X,), {}), "tan": ((UNIT,), {}), "sinh": ((X,), {}), "cosh": ((X,), {}),
    "tanh": ((X,), {}), "arcsin": ((UNIT,), {}), "arccos": ((UNIT,), {}),
    "arctan": ((X,), {}), "arcsinh": ((X,), {}), "arccosh": ((POS + 1,), {}),
    "arctanh": ((UNIT,), {}), "ceil": ((X,), {}), "floor": ((X,), {}), "round": ((X * 3,), {}),
    "round[decimals]": ((X * 3,), {"decimals": 1}), "trunc": ((X,), {}),
    "reciprocal": ((POS,), {}), "conj": ((X,), {}), "real": ((X,), {}), "copy": ((X,), {}),
    "isfinite": ((X,), {}), "isinf": ((X,), {}), "isnan": ((X,), {}), "cbrt": ((X,), {}),
    "logical_not": ((B,), {}), "clip": ((X, -0.5, 0.5), {}), "clip[int]": ((I, -2, 2), {}),
    "nan_to_num": ((np.array([np.nan, np.inf, -np.inf, 1.0], "float32"),), {}),
    "deg2rad": ((X,), {}), "rad2deg": ((X,), {}), "sinc": ((X,), {}),
    # binary
    "add": ((X, Y), {}), "add[scalar]": ((X, 10), {}), "add[int+float]": ((I, 1.5), {}),
    "subtract": ((X, Y), {}), "multiply": ((X, Y), {}), "divide": ((X, POS), {}),
    "divide[int]": ((I, IP), {}), "true_divide": ((X, POS), {}),
    "floor_divide": ((I, IP), {}), "mod": ((I, IP), {}), "power": ((POS, Y), {}),
    "maximum": ((X, Y), {}), "minimum": ((X, Y), {}), "equal": ((I, IP), {}),
    "not_equal": ((I, IP), {}), "greater": ((X, Y), {}), "greater_equal": ((X, Y), {}),
    "less": ((X, Y), {}), "less_equal": ((X, Y), {}), "logical_and": ((B, ~B), {}),
    "logical_or": ((B, ~B), {}), "logical_xor": ((B, B), {}), "arctan2": ((X, Y), {}),
    "logaddexp": ((X, Y), {}), "hypot": ((X, Y), {}), "isclose": ((X, X + 1e-9), {}),
    "divide_no_nan": ((X, np.where(Y > 0, Y, 0).astype("float32")), {}),
    # creation
    "arange": ((5,), {}), "arange[float]": ((0.0, 2.0, 0.5), {}), "zeros": (((2, 3),), {}),
    "ones": (((2, 3),), {}), "full": (((2, 3), 7), {}), "full_like": ((I, 1.5), {}),
    "zeros_like": ((X,), {}), "ones_like": ((I,), {}), "eye": ((3, 4, 1), {}),
    "identity": ((3,), {}), "tri": ((3, 4), {}), "linspace": ((0, 1, 5), {}),
    "logspace": ((0, 2, 3), {}), "array": (([[1, 2], [3, 4]],), {}),
    "array[float]": (([1.0, 2.0],), {}), "meshgrid": ((V, V[:3]), {"indexing": "ij"}),
    # reductions
    "sum": ((X,), {"axis": 1}), "sum[bool]": ((B,), {}), "prod": ((X,), {"axis": 0}),
    "mean": ((X,), {"axis": (0, 1), "keepdims": True}), "mean[int]": ((I,), {}),
    "max": ((X,), {"axis": -1}), "min": ((X,), {}), "amax": ((X,), {"axis": 0}),
    "all": ((B,), {"axis": 1}), "any": ((B,), {}), "std": ((X,), {"axis": 1}),
    "var": ((X,), {"axis": 0, "keepdims": True}), "median": ((X,), {"axis": 1}),
    "quantile": ((X, 0.3), {"axis": 1}), "average": ((X,), {"axis": 1, "weights": V}),
    "argmax": ((X,), {"axis": 1}), "argmin": ((X,), {}), "count_nonzero": ((I,), {"axis": 0}),
    "cumsum": ((X,), {"axis": 1}), "cumprod": ((X,), {}), "ptp": ((X,), {"axis": 1}),
    "logsumexp": ((X,), {"axis": -1}),
    # shapes and joins
    "reshape": ((X, (4, 3)), {}), "reshape[-1]": ((X, (-1,)), {}), "transpose": ((X3,), {}),
    "transpose[axes]": ((X3, (1, 0, 2)), {}), "swapaxes": ((X3, 0, 2), {}),
    "moveaxis": ((X3, 0, -1), {}), "expand_dims": ((X, 1), {}), "squeeze": ((X[:1],), {}),
    "broadcast_to": ((V, (3, 4)), {}), "flip": ((X,), {"axis": 1}), "roll": ((X, 1), {"axis": 0}),
    "tile": ((V, (2, 1)), {}), "repeat": ((X, 2), {"axis": 1}), "ravel": ((X,), {}),
    "concatenate": (([X, Y],), {"axis": 1}), "stack": (([X, Y],), {"axis": 1}),
    "hstack": (([X, Y],), {}), "vstack": (([X, Y],), {}), "append": ((X, Y), {"axis": 0}),
    "split": ((X, 2), {"axis": 1}), "pad": ((X, ((1, 0), (0, 2))), {}),
    "pad[reflect]": ((X, ((1, 1), (2, 2))), {"mode": "reflect"}),
    "take": ((X, np.array([2, -1, 0])), {"axis": 1}),
    "take_along_axis": ((X, np.argsort(X, axis=1)), {"axis": 1}),
    "where": ((B, X, Y), {}), "where[scalar]": ((B, X, 0.0), {}), "sort": ((X,), {}),
    "argsort": ((X,), {"axis": 0}), "tril": ((SQ,), {"k": -1}), "triu": ((SQ,), {}),
    "diag": ((V,), {}), "diagonal": ((SQ,), {}), "trace": ((SQ,), {}), "diff": ((X,), {}),
    "ndim": ((X3,), {}), "size": ((X3,), {}),
    # products
    "matmul": ((X, Y.T), {}), "dot": ((X, V), {}), "vdot": ((V, V), {}),
    "outer": ((V, V), {}), "tensordot": ((X3, X.T), {"axes": ([1, 2], [1, 0])}),
    "einsum": (("ij,kj->ik", X, Y), {}), "cross": ((X[:, :3], Y[:, :3]), {}),
    "inner": ((X, Y), {}),
    # math / linalg
    "erf": ((X,), {}), "erfinv": ((UNIT,), {}), "rsqrt": ((POS,), {}),
    "top_k": ((X, 2), {}), "in_top_k": ((LABELS, X, 2), {}),
    "segment_sum": ((X, np.array([0, 0, 1])), {"num_segments": 2}),
    "segment_max": ((X, np.array([0, 1, 1])), {"num_segments": 2}),
    "cholesky": ((SPD,), {}), "det": ((SPD,), {}), "inv": ((SPD,), {}),
    "solve": ((SPD, X[:, :2]), {}), "solve_triangular": ((np.tril(SPD), X[:, :2]), {"lower": True}),
    "norm": ((X,), {}), "norm[axis]": ((X,), {"axis": 1, "ord": 1}),
    "eigh": ((SPD,), {}), "slogdet": ((SPD,), {}),
    "svd[values]": ((X,), {"compute_uv": False}),
    # nn
    "relu": ((X,), {}), "relu6": ((X * 5,), {}), "sigmoid": ((X,), {}), "softplus": ((X,), {}),
    "softsign": ((X,), {}), "silu": ((X,), {}), "swish": ((X,), {}), "log_sigmoid": ((X,), {}),
    "leaky_relu": ((X,), {}), "hard_sigmoid": ((X * 3,), {}), "hard_silu": ((X * 3,), {}),
    "elu": ((X,), {"alpha": 0.5}), "selu": ((X,), {}), "gelu": ((X,), {}),
    "gelu[exact]": ((X,), {"approximate": False}), "celu": ((X,), {}), "glu": ((X,), {}),
    "hard_tanh": ((X * 2,), {}), "softmax": ((X,), {}), "softmax[axis0]": ((X,), {"axis": 0}),
    "log_softmax": ((X,), {}),
    "one_hot": ((LABELS, 4), {}), "multi_hot": ((np.array([[0, 2], [1, 1]]), 3), {}),
    "binary_crossentropy": ((np.float32(X > 0), POS / POS.max() * 0.99), {}),
    "binary_crossentropy[logits]": ((np.float32(X > 0), Y), {"from_logits": True}),
    "categorical_crossentropy": ((ONEHOT, PROBS), {}),
    "categorical_crossentropy[logits]": ((ONEHOT, X), {"from_logits": True}),
    "sparse_categorical_crossentropy": ((LABELS, PROBS), {}),
    "sparse_categorical_crossentropy[logits]": ((LABELS, X), {"from_logits": True}),
    "moments": ((X3, (0, 1)), {}),
    "batch_normalization": ((X, V, POS[0], -1), {"offset": V, "scale": POS[1]}),
    "normalize": ((X,), {}),
    "conv": ((IMG, _r.standard_normal((3, 3, 3, 4)).astype("float32")),
             {"strides": 2, "padding": "same"}),
    "conv[1d]": ((SEQ, _r.standard_normal((3, 3, 2)).astype("float32")),
                 {"dilation_rate": 2}),
    "conv[groups]": ((IMG[..., :2], _r.standard_normal((2, 2, 1, 4)).astype("float32")), {}),
    "conv[channels_first]": ((np.moveaxis(IMG, -1, 1),
                              _r.standard_normal((3, 2, 3, 2)).astype("float32")),
                             {"data_format": "channels_first"}),
    "depthwise_conv": ((IMG, _r.standard_normal((3, 3, 3, 2)).astype("float32")),
                       {"padding": "same"}),
    "separable_conv": ((IMG, _r.standard_normal((3, 3, 3, 2)).astype("float32"),
                        _r.standard_normal((1, 1, 6, 4)).astype("float32")), {}),
    "conv_transpose": ((IMG, _r.standard_normal((3, 3, 4, 3)).astype("float32")),
                       {"strides": 2}),
    "conv_transpose[same]": ((IMG, _r.standard_normal((3, 3, 4, 3)).astype("float32")),
                             {"strides": 2, "padding": "same"}),
    "conv_transpose[outpad]": ((IMG, _r.standard_normal((3, 3, 4, 3)).astype("float32")),
                               {"strides": 2, "padding": "same", "output_padding": 1}),
    "conv_transpose[1d]": ((SEQ, _r.standard_normal((4, 2, 3)).astype("float32")),
                           {"strides": 3, "padding": "valid"}),
    "max_pool": ((IMG, 2), {"strides": 2}), "max_pool[same]": ((IMG, 3), {"strides": 2, "padding": "same"}),
    "average_pool": ((IMG, 2), {"strides": 1}),
    "average_pool[same]": ((IMG, 3), {"strides": 2, "padding": "same"}),
    "max_pool[1d]": ((SEQ, 2), {"strides": 2}),
    # core
    "slice": ((X, (1, 1), (2, 2)), {}), "slice_update": ((X, (1, 1), np.ones((2, 2), "float32")), {}),
    "scatter": ((np.array([[0, 1], [2, 3], [0, 1]]), np.array([1.0, 2.0, 3.0], "float32"), (3, 4)), {}),
    "scatter_update": ((X, np.array([[0, 1], [2, 3]]), np.array([5.0, 6.0], "float32")), {}),
    "unstack": ((X,), {"axis": 1}),
    "saturate_cast": ((X * 300, "int8"), {}),
    # image
    "image.resize": ((IMG, (3, 8)), {}),
    "image.resize[nearest]": ((IMG, (7, 4)), {"interpolation": "nearest"}),
    "image.resize[antialias]": ((IMG, (3, 4)), {"antialias": True}),
    "image.rgb_to_grayscale": ((IMG,), {}),
    "image.crop_images": ((IMG, 1, 2), {"target_height": 3, "target_width": 3}),
    "image.pad_images": ((IMG, 1, 2), {"target_height": 8, "target_width": 9}),
}


def _get(module, dotted):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _flat(out):
    return jax.tree_util.tree_leaves(out if isinstance(out, (tuple, list)) else [out])


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_keras(case, keras):
    name = case.split("[")[0]
    args, kwargs = CASES[case]
    expected = _get(keras.ops, name)(*args, **kwargs)
    got = _get(ops, name)(*args, **kwargs)
    exp_leaves, got_leaves = _flat(expected), _flat(got)
    assert len(exp_leaves) == len(got_leaves), case
    for e, g in zip(exp_leaves, got_leaves):
        e, g = np.asarray(e), np.asarray(g)
        assert g.shape == e.shape, (case, g.shape, e.shape)
        assert g.dtype == e.dtype, (case, g.dtype, e.dtype)
        if e.dtype.kind in "fc":
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6, err_msg=case)
        else:
            np.testing.assert_array_equal(g, e, err_msg=case)


def test_pool_default_strides_and_sparsemax_closed_form():
    # (Keras 3.15's JAX max_pool fails with strides=None and its sparsemax does
    # not sum to 1, so these compare with NumPy.)
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(ops.max_pool(x, 2)[0, ..., 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(ops.average_pool(x, 2)[0, ..., 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(ops.sparsemax(np.array([0.1, 0.5, 0.2], "float32")),
                               [1 / 6, 17 / 30, 4 / 15], rtol=1e-6)
    np.testing.assert_allclose(ops.sparsemax(np.array([[1.0, 2.0, 3.0]], "float32")),
                               [[0.0, 0.0, 1.0]])
    out = ops.sparsemax(X)
    np.testing.assert_allclose(np.sum(out, -1), 1.0, rtol=1e-6)
    assert np.all(np.asarray(out) >= 0)


def test_case_coverage():
    assert len({c.split("[")[0] for c in CASES}) >= 150


def test_signatures_match_keras(keras):
    """Every keras.ops name kerax has takes the same parameters with the same defaults."""
    checked = 0
    for name in dir(keras.ops):
        if name.startswith("_") or not hasattr(ops, name):
            continue
        k, m = getattr(keras.ops, name), getattr(ops, name)
        if not callable(k) or inspect.ismodule(k) or name == "stop_gradient":
            continue
        ks, ms = inspect.signature(k), inspect.signature(m)
        assert [(p.name, p.default) for p in ks.parameters.values()] == \
            [(p.name, p.default) for p in ms.parameters.values()], name
        checked += 1
    assert checked > 300


def test_variables_are_accepted():
    v = kerax.Variable(X)
    np.testing.assert_allclose(ops.add(v, 1.0), X + 1.0)
    np.testing.assert_allclose(ops.matmul(v, ops.transpose(v)), X @ X.T, rtol=1e-5)
    np.testing.assert_allclose(ops.concatenate([v, v], axis=0), np.concatenate([X, X]))
    np.testing.assert_allclose(ops.nn.softmax(v), jax.nn.softmax(X), rtol=1e-6)
    np.testing.assert_allclose(ops.einsum("ij,ij->i", v, v), (X * X).sum(1), rtol=1e-5)
    assert ops.shape(v) == (3, 4) and ops.ndim(v) == 2 and ops.size(v) == 12


def test_submodules_like_keras(keras):
    assert ops.numpy.add is ops.add and ops.nn.relu is ops.relu
    assert ops.linalg.inv is ops.inv and ops.math.erf is ops.erf
    for name in ops.image.__all__:
        assert list(inspect.signature(getattr(ops.image, name)).parameters) == \
            list(inspect.signature(getattr(keras.ops.image, name)).parameters), name


# --- the seeds' tensor examples (TensorFlow chapter: "Using TensorFlow like NumPy")

def test_seed_tensor_examples():
    t = ops.convert_to_tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.dtype == np.float32
    assert ops.convert_to_tensor(42).dtype == np.int32
    np.testing.assert_array_equal(t[:, 1], [2.0, 5.0])
    np.testing.assert_array_equal(t[:, 1:], [[2.0, 3.0], [5.0, 6.0]])
    np.testing.assert_array_equal(t[..., 1, None], [[2.0], [5.0]])
    np.testing.assert_array_equal(t + 10, [[11, 12, 13], [14, 15, 16]])
    assert (t + 10).dtype == np.float32 and ops.add(t, 10).dtype == np.float32
    np.testing.assert_array_equal(ops.square(t), [[1, 4, 9], [16, 25, 36]])
    np.testing.assert_array_equal(ops.transpose(t), [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(t @ ops.transpose(t), [[14, 32], [32, 77]])
    np.testing.assert_array_equal(ops.matmul(t, t.T), [[14, 32], [32, 77]])
    # Tensors and NumPy.
    a = np.array([2.0, 4.0, 5.0])
    np.testing.assert_array_equal(ops.convert_to_tensor(a), a)
    assert ops.convert_to_tensor(a, dtype="float32").dtype == np.float32
    np.testing.assert_array_equal(ops.square(a), [4.0, 16.0, 25.0])
    sq = np.square(t)
    assert isinstance(sq, (np.ndarray, jax.Array)) and sq.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(t), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(sq, [[1, 4, 9], [16, 25, 36]])


# --- strict typing (TensorFlow's "no automatic conversions")

def test_strict_dtype_promotion():
    f32 = ops.convert_to_tensor(2.0)
    i32 = ops.convert_to_tensor(40)
    f64 = np.array([1.0])
    with kerax.config.dtype_promotion("strict"):
        with pytest.raises(Exception, match="promotion"):
            ops.add(f32, i32)
        with pytest.raises(Exception, match="promotion"):
            f32 + i32
        with pytest.raises(Exception, match="promotion"):
            ops.add(f32, ops.cast(f64, "float16"))
        out = ops.add(f32, ops.cast(i32, "float32"))
        assert float(out) == 42.0 and out.dtype == np.float32
        # Python scalars keep the tensor's dtype (t + 10 works in TF too).
        assert ops.add(f32, 10).dtype == np.float32
        with pytest.raises(Exception, match="promotion"):
            ops.multiply(ops.ones((2,), "float16"), ops.ones((2,), "float32"))
    # Standard mode promotes.
    assert ops.add(f32, i32).dtype == np.float32
    assert ops.add(ops.ones((2,), "float16"), ops.ones((2,), "float32")).dtype == np.float32


def test_strict_float32_float64():
    with jax.enable_x64(True):
        f32 = ops.ones((2,), "float32")
        f64 = ops.convert_to_tensor(np.array([1.0, 2.0]), dtype="float64")
        with kerax.config.dtype_promotion("strict"):
            with pytest.raises(Exception, match="promotion"):
                ops.add(f32, f64)
            with pytest.raises(Exception, match="promotion"):
                f32 + f64
            assert ops.add(f32, ops.cast(f64, "float32")).dtype == np.float32
        assert ops.add(f32, f64).dtype == np.float64


# --- core control flow against closed forms

def test_control_flow():
    assert int(ops.cond(True, lambda: 1, lambda: 2)) == 1
    assert int(ops.fori_loop(0, 5, lambda i, s: s + i, 0)) == 10
    assert int(ops.while_loop(lambda x: x < 10, lambda x: x * 2, 1)) == 16
    a, b = ops.while_loop(lambda a, b: a < 5, lambda a, b: (a + 1, b * 2), (0, 1))
    assert (int(a), int(b)) == (5, 32)
    assert int(ops.while_loop(lambda x: x < 100, lambda x: x + 1, 0,
                              maximum_iterations=7)) == 7
    carry, ys = ops.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(4.0, dtype="float32"))
    assert float(carry) == 6.0
    np.testing.assert_array_equal(ys, [0.0, 0.0, 2.0, 9.0])
    assert int(ops.switch(1, [lambda x: x + 1, lambda x: x * 10], 3)) == 30
    np.testing.assert_allclose(ops.vectorized_map(lambda r: r.sum(), X), X.sum(1), rtol=1e-6)
    np.testing.assert_allclose(ops.map(lambda r: r * 2, X), X * 2)
    np.testing.assert_allclose(
        ops.associative_scan(lambda a, b: a + b, V), np.cumsum(V), rtol=1e-6)
    np.testing.assert_allclose(ops.scatter_update(X, [[0, 0]], [1.0], reduction="add")[0, 0],
                               X[0, 0] + 1.0)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="padding"):
        ops.conv(IMG, np.ones((3, 3, 3, 2), "float32"), padding="full")
    with pytest.raises(ValueError, match="mode"):
        ops.pad(X, 1, mode="nope")
    with pytest.raises(ValueError, match="reduction"):
        ops.scatter_update(X, [[0, 0]], [1.0], reduction="avg")
    with pytest.raises(ValueError, match="top_k"):
        ops.top_k(X, 9)


def test_list_of_traced_values_converts_inside_jit():
    """`ops.sum(losses)` on a Python list of traced scalars (the custom training
    loop guide) stacks them instead of going through NumPy."""
    out = jax.jit(lambda a: kerax.ops.sum([a, a * 2, 1.0]))(np.float32(1.5))
    np.testing.assert_allclose(out, 5.5)
