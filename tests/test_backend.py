"""kerax.backend: Keras 3's keras.backend and the Keras-2 `K` names."""
import numpy as np
import pytest

import kerax
from kerax import backend as K

_r = np.random.default_rng(1)
X = _r.standard_normal((3, 4)).astype("float32")
Y = _r.standard_normal((3, 4)).astype("float32")


def test_seed_example():
    t = K.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = K.square(K.transpose(t))
    np.testing.assert_array_equal(out, [[1, 16], [4, 25], [9, 36]])
    assert out.dtype == np.float32


def test_keras3_backend_surface(keras):
    assert K.backend() == keras.backend.backend() == "jax"
    assert K.floatx() == keras.backend.floatx()
    assert K.epsilon() == keras.backend.epsilon()
    assert K.image_data_format() == keras.backend.image_data_format()
    for d in ["float32", "int32", "bool", "float16", "uint8", None, "int", int, float, bool,
              np.float32, np.dtype("int8")]:
        assert K.standardize_dtype(d) == keras.backend.standardize_dtype(d), d
    for a, b in [("float32", "int32"), ("int8", "uint8"), ("float16", "float32"),
                 ("bool", "int32"), ("float16", float), ("int8", float), ("int32", int)]:
        assert K.result_type(a, b) == keras.backend.result_type(a, b), (a, b)
    for d in ["float32", "int32", "bool", "bfloat16"]:
        assert K.is_float_dtype(d) == keras.backend.is_float_dtype(d)
        assert K.is_int_dtype(d) == keras.backend.is_int_dtype(d)
    with pytest.raises(ValueError, match="dtype"):
        K.standardize_dtype("double")
    # Every Keras 3 keras.backend name exists.
    for name in dir(keras.backend):
        if not name.startswith("_"):
            assert hasattr(K, name), name


def test_settings_round_trip():
    old = K.epsilon()
    try:
        K.set_epsilon(1e-5)
        assert K.epsilon() == kerax.config.epsilon() == 1e-5
    finally:
        K.set_epsilon(old)
    try:
        K.set_image_data_format("channels_first")
        assert K.image_data_format() == "channels_first"
    finally:
        K.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="channels_last"):
        K.set_image_data_format("nhwc")


def test_uids_and_clear_session(keras):
    K.clear_session()
    assert [K.get_uid("dense"), K.get_uid("dense"), K.get_uid("conv")] == [1, 2, 1]
    calls = []
    K.register_clear_session_hook(lambda: calls.append(1))
    K.clear_session()
    assert K.get_uid("dense") == 1 and calls == [1]
    # Keras counts the same way.
    keras.backend.clear_session()
    assert [keras.backend.get_uid("dense"), keras.backend.get_uid("dense")] == [1, 2]


def test_one_name_counter_and_one_dtype_rule():
    from kerax.core import dtypes, naming
    assert K.get_uid is naming.get_uid
    assert (K.standardize_dtype, K.result_type, K.is_float_dtype) == \
        (dtypes.standardize_dtype, dtypes.result_type, dtypes.is_float_dtype)
    K.clear_session()
    assert kerax.layers.Dense(2).name == "dense"
    assert K.get_uid("dense") == 2            # layer names and get_uid share a counter
    assert kerax.layers.Dense(2).name == "dense_2"
    K.reset_uids()
    assert K.get_uid("dense") == 1


def test_clear_session_restarts_default_names_as_keras(keras):
    def names(lib):
        return [lib.layers.Dense(2).name, lib.metrics.Mean().name, lib.optimizers.Adam().name]

    runs = []
    for lib in (keras, kerax):
        lib.backend.clear_session()
        first, second = names(lib), names(lib)
        lib.backend.clear_session()
        runs.append((first, second, names(lib), lib.layers.Dense(2).name))
    assert runs[1] == runs[0]
    assert runs[0] == (["dense", "mean", "adam"], ["dense_1", "mean", "adam_1"],
                       ["dense", "mean", "adam"], "dense_1")


def test_learning_phase():
    assert K.learning_phase() == 0
    seen = []

    class Probe(kerax.layers.Layer):
        def call(self, x, training=None):
            seen.append(K.learning_phase())
            return x

    probe = Probe()
    probe(X, training=True)
    probe(X, training=False)
    probe(X)
    assert seen == [1, 0, 0]
    # Keras 3 removed the global learning phase (tf.keras' set_learning_phase)
    with pytest.raises(NotImplementedError, match="training=True"):
        K.set_learning_phase(1)


@pytest.mark.parametrize("name,fn,expected", [
    ("square", lambda: K.square(X), np.square(X)),
    ("sqrt", lambda: K.sqrt(X), np.sqrt(np.clip(X, 0, None))),
    ("exp", lambda: K.exp(X), np.exp(X)),
    ("log", lambda: K.log(np.abs(X)), np.log(np.abs(X))),
    ("abs", lambda: K.abs(X), np.abs(X)),
    ("pow", lambda: K.pow(np.abs(X), 3), np.abs(X) ** 3),
    ("mean", lambda: K.mean(X, axis=1), X.mean(1)),
    ("mean[keepdims]", lambda: K.mean(X, axis=0, keepdims=True), X.mean(0, keepdims=True)),
    ("sum", lambda: K.sum(X), X.sum()),
    ("max", lambda: K.max(X, axis=0), X.max(0)),
    ("min", lambda: K.min(X, axis=-1), X.min(-1)),
    ("std", lambda: K.std(X, axis=1), X.std(1)),
    ("var", lambda: K.var(X), X.var()),
    ("prod", lambda: K.prod(X, axis=1), X.prod(1)),
    ("argmax", lambda: K.argmax(X), X.argmax(-1)),
    ("argmin", lambda: K.argmin(X, axis=0), X.argmin(0)),
    ("cumsum", lambda: K.cumsum(X), X.cumsum(0)),
    ("clip", lambda: K.clip(X, -0.5, 0.5), np.clip(X, -0.5, 0.5)),
    ("dot", lambda: K.dot(X, Y.T), X @ Y.T),
    ("batch_dot", lambda: K.batch_dot(X, Y), (X * Y).sum(1, keepdims=True)),
    ("batch_dot[3d]", lambda: K.batch_dot(X[:, None, :], Y[:, :, None]),
     np.einsum("bij,bjk->bik", X[:, None, :], Y[:, :, None])),
    ("concatenate", lambda: K.concatenate([X, Y]), np.concatenate([X, Y], -1)),
    ("reshape", lambda: K.reshape(X, (2, 6)), X.reshape(2, 6)),
    ("permute_dimensions", lambda: K.permute_dimensions(X, (1, 0)), X.T),
    ("expand_dims", lambda: K.expand_dims(X), X[..., None]),
    ("batch_flatten", lambda: K.batch_flatten(X[:, :, None]), X),
    ("flatten", lambda: K.flatten(X), X.ravel()),
    ("stack", lambda: K.stack([X, Y]), np.stack([X, Y])),
    ("tile", lambda: K.tile(X, (2, 1)), np.tile(X, (2, 1))),
    ("repeat", lambda: K.repeat(X, 2), np.repeat(X[:, None], 2, 1)),
    ("repeat_elements", lambda: K.repeat_elements(X, 2, 1), np.repeat(X, 2, 1)),
    ("gather", lambda: K.gather(X, [2, 0]), X[[2, 0]]),
    ("ones", lambda: K.ones((2, 3)), np.ones((2, 3), "float32")),
    ("zeros", lambda: K.zeros((2,)), np.zeros(2, "float32")),
    ("eye", lambda: K.eye(3), np.eye(3, dtype="float32")),
    ("constant[fill]", lambda: K.constant(7, shape=(2, 2)), np.full((2, 2), 7, "float32")),
    ("relu", lambda: K.relu(X), np.maximum(X, 0)),
    ("relu[alpha,max]", lambda: K.relu(X, alpha=0.1, max_value=0.5),
     np.where(X >= 0.5, 0.5, np.where(X > 0, X, 0.1 * X))),
    ("sigmoid", lambda: K.sigmoid(X), 1 / (1 + np.exp(-X))),
    ("softplus", lambda: K.softplus(X), np.log1p(np.exp(X))),
    ("softmax", lambda: K.softmax(X), np.exp(X) / np.exp(X).sum(-1, keepdims=True)),
    ("tanh", lambda: K.tanh(X), np.tanh(X)),
    ("l2_normalize", lambda: K.l2_normalize(X, axis=1),
     X / np.sqrt((X ** 2).sum(1, keepdims=True))),
    ("switch", lambda: K.switch(X > 0, X, Y), np.where(X > 0, X, Y)),
    ("equal", lambda: K.equal(X, X), np.ones_like(X, bool)),
    ("int_shape", lambda: np.array(K.int_shape(X)), np.array([3, 4])),
    ("shape", lambda: K.shape(X), np.array([3, 4], "int32")),
    ("reduce_sum", lambda: K.reduce_sum(X, axis=0), X.sum(0)),
    ("reduce_mean", lambda: K.reduce_mean(X), X.mean()),
])
def test_k_functions(name, fn, expected):
    got = np.asarray(fn())
    assert got.shape == np.shape(expected), name
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_k_losses_match_keras(keras):
    t = np.float32(X > 0)
    p = 1 / (1 + np.exp(-Y))
    np.testing.assert_allclose(K.binary_crossentropy(t, p),
                               keras.ops.binary_crossentropy(t, p), rtol=1e-6)
    oh = np.eye(4, dtype="float32")[[0, 1, 3]]
    np.testing.assert_allclose(K.categorical_crossentropy(oh, X, from_logits=True),
                               keras.ops.categorical_crossentropy(oh, X, from_logits=True),
                               rtol=1e-6)
    np.testing.assert_allclose(K.sparse_categorical_crossentropy([0, 1, 3], X, from_logits=True),
                               keras.ops.sparse_categorical_crossentropy(
                                   np.array([0, 1, 3]), X, from_logits=True), rtol=1e-6)


def test_variables_and_values():
    v = K.variable([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(v, kerax.Variable) and v.dtype == "float32"
    np.testing.assert_array_equal(K.get_value(v), [[1, 2], [3, 4]])
    K.set_value(v, np.zeros((2, 2)))
    np.testing.assert_array_equal(K.eval(v), np.zeros((2, 2)))
    K.batch_set_value([(v, np.ones((2, 2)))])
    assert K.batch_get_value([v])[0].sum() == 4
    K.update_add(v, np.ones((2, 2), "float32"))
    np.testing.assert_array_equal(v.numpy(), 2 * np.ones((2, 2)))
    np.testing.assert_array_equal(K.square(v), 4 * np.ones((2, 2)))
    assert K.count_params(v) == 4 and K.ndim(v) == 2
    with pytest.raises(TypeError, match="Variable"):
        K.set_value(np.zeros(2), 1.0)
    assert K.constant(42).dtype == np.float32 and K.cast(K.constant(2.5), "int32") == 2


def test_random():
    a = K.random_normal((200, 50), mean=1.0, stddev=2.0, seed=3)
    assert a.shape == (200, 50) and a.dtype == np.float32
    assert abs(float(np.mean(a)) - 1.0) < 0.1 and abs(float(np.std(a)) - 2.0) < 0.1
    np.testing.assert_array_equal(a, K.random_normal((200, 50), mean=1.0, stddev=2.0, seed=3))
    u = np.asarray(K.random_uniform((1000,), -1.0, 1.0, seed=1))
    assert u.min() >= -1 and u.max() < 1 and abs(u.mean()) < 0.1


def test_set_dtype_promotion_function():
    f32, i32 = K.constant(2.0), K.constant(40, dtype="int32")
    kerax.config.set_dtype_promotion("strict")
    try:
        with pytest.raises(Exception, match="promotion"):
            K.sum(f32 + i32)
        assert float(f32 + K.cast(i32, "float32")) == 42.0
    finally:
        kerax.config.set_dtype_promotion("standard")
    assert float(f32 + i32) == 42.0
    with pytest.raises(ValueError, match="strict"):
        kerax.config.set_dtype_promotion("loose")
