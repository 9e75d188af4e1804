"""kerax.ops, activations and operators on symbolic tensors, as Keras 3 records
them: the same graph built with Keras and with kerax (same weights) predicts the
same and records the same operation nodes; kerax.Operation and kerax.Function."""
import json

import numpy as np
import pytest

import kerax


def _both(keras, build, inputs, atol=1e-5):
    """Build the graph with each library, copy Keras' weights, compare outputs
    (and the recorded layer/op classes, in order)."""
    k_model = build(keras)
    kx_model = build(kerax)
    kx_model.set_weights(k_model.get_weights())
    k_out = k_model.predict(inputs, verbose=0)
    kx_out = kx_model.predict(inputs, verbose=0)
    k_out = k_out if isinstance(k_out, (list, tuple)) else [k_out]
    kx_out = kx_out if isinstance(kx_out, (list, tuple)) else [kx_out]
    assert len(k_out) == len(kx_out)
    for a, b in zip(kx_out, k_out):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   atol=atol)
    classes = [[(entry["module"], entry["class_name"]) for entry in m.get_config()["layers"]]
               for m in (kx_model, k_model)]
    assert sorted(classes[0]) == sorted(classes[1])
    # as in Keras, `model.layers` holds the layers, not the recorded ops
    assert [type(layer).__name__ for layer in kx_model.layers] == \
        [type(layer).__name__ for layer in k_model.layers]
    return kx_model, k_model


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_activation_of_a_merge_layer(keras):
    def build(lib):
        a, b = lib.Input((5,)), lib.Input((5,))
        return lib.Model([a, b], lib.activations.relu(lib.layers.Add()([a, b])))
    _both(keras, build, [_x(3, 5), _x(3, 5, seed=1)])


def test_not_equal_mask_of_token_ids(keras):
    def build(lib):
        ids = lib.Input((6,), dtype="int32")
        mask = lib.ops.not_equal(ids, 0)
        emb = lib.layers.Embedding(10, 4)(ids)
        pooled = lib.ops.sum(emb * lib.ops.expand_dims(lib.ops.cast(mask, "float32"), -1),
                             axis=1)
        return lib.Model(ids, [mask, pooled])
    ids = np.array([[1, 2, 0, 0, 3, 0], [4, 0, 5, 6, 7, 8]], np.int32)
    kx_model, _ = _both(keras, build, ids)
    assert kx_model.outputs[0].dtype == "bool"


def test_concatenate_every_other_state(keras):
    def build(lib):
        x = lib.Input((4,))
        states = [lib.layers.Dense(3, name=f"s{i}")(x) for i in range(4)]
        return lib.Model(x, lib.ops.concatenate(states[::2], axis=-1))
    kx_model, _ = _both(keras, build, _x(2, 4))
    assert kx_model.outputs[0].shape == (None, 6)


def test_ops_relu_of_input_and_shape_expand_dims(keras):
    def build(lib):
        x = lib.Input((4, 3))
        rows = lib.ops.shape(x)[1] * lib.ops.shape(x)[2]  # static ints, as in Keras
        flat = lib.ops.reshape(lib.ops.relu(x), (-1, rows))
        return lib.Model(x, [lib.ops.expand_dims(flat, axis=1), lib.ops.relu(x)])
    kx_model, _ = _both(keras, build, _x(2, 4, 3))
    assert kerax.ops.shape(kx_model.inputs[0]) == (None, 4, 3)
    assert [tuple(t.shape) for t in kx_model.outputs] == [(None, 1, 12), (None, 4, 3)]


def test_lists_keywords_and_python_scalars(keras):
    def build(lib):
        a, b = lib.Input((3,)), lib.Input((3,))
        stacked = lib.ops.stack([a, b, a * 2.0], axis=1)
        picked = lib.ops.where(a > 0.5, 1.0 - b, 0.0)
        mean = lib.ops.mean(stacked, axis=-1, keepdims=True)
        return lib.Model([a, b], [stacked, picked, mean, 3 ** lib.ops.abs(a) // 2, -a % 2])
    _both(keras, build, [_x(2, 3), _x(2, 3, seed=1)])


def test_ops_returning_structures(keras):
    def build(lib):
        x = lib.Input((6, 4))
        first, second = lib.ops.split(x, 2, axis=-1)
        rows = lib.ops.unstack(x, axis=1)
        values, indices = lib.ops.top_k(x, 2)
        return lib.Model(x, [first, second, rows[0] + rows[5], values, indices])
    kx_model, _ = _both(keras, build, _x(2, 6, 4))
    assert kx_model.outputs[-1].dtype == "int32"


def test_slicing_and_broadcasting(keras):
    def build(lib):
        img = lib.Input((8, 8, 2))
        time = lib.Input((2,))
        z = lib.layers.Conv2D(2, 3, padding="same")(img)
        cropped = z[:, 2:-2, 2:-2]
        return lib.Model([img, time], time[:, None, None, :] + cropped)
    kx_model, _ = _both(keras, build, [_x(2, 8, 8, 2), _x(2, 2, seed=1)])
    assert kx_model.outputs[0].shape == (None, 4, 4, 2)


def test_every_activation_recorded_as_keras_and_runs_as_eager(keras):
    x = _x(3, 4, 6) * 3
    i = kerax.Input((4, 6))
    names, outputs = [], []
    for name in kerax.activations.__all__:
        if name in ("get", "serialize", "deserialize"):
            continue
        args = (0.5, 0.0) if name == "threshold" else ()
        out = getattr(kerax.activations, name)(i, *args)
        if name == "linear":
            assert out is i  # no node, as in Keras
            continue
        names.append((name, args))
        outputs.append(out)
    predicted = kerax.Model(i, outputs).predict(x, verbose=0)  # one compiled graph
    for (name, args), got in zip(names, predicted):
        eager = np.asarray(getattr(kerax.activations, name)(x, *args))
        np.testing.assert_allclose(got, eager, rtol=1e-6, atol=1e-6, err_msg=name)
        # Keras 3.15's sparsemax is not a projection onto the simplex (rows sum to
        # 0 or 1.66): compare it with the closed form instead.
        expected = _sparsemax(x) if name == "sparsemax" else \
            np.asarray(getattr(keras.activations, name)(x, *args))
        np.testing.assert_allclose(eager, expected, rtol=1e-5, atol=1e-5, err_msg=name)
    assert len(names) > 30


def _sparsemax(x):
    """Martins & Astudillo (2016), along the last axis, in NumPy."""
    z = -np.sort(-x, axis=-1)
    k = np.arange(1, x.shape[-1] + 1)
    cumsum = np.cumsum(z, axis=-1)
    support = 1 + k * z > cumsum
    k_z = support.sum(-1, keepdims=True)
    tau = (np.take_along_axis(cumsum, k_z - 1, axis=-1) - 1) / k_z
    return np.maximum(x - tau, 0)


def test_not_equal_is_symbolic_and_equal_is_identity(keras):
    a = kerax.Input((3,))
    ka = keras.Input((3,))
    assert isinstance(a != 0, kerax.KerasTensor)
    assert isinstance(ka != 0, keras.KerasTensor)
    assert (a == 0) is (ka == 0) is False
    assert a == a and ka == ka
    assert {a: 1}[a] == 1 and a in {a} and [a].index(a) == 0
    b = kerax.Input((3,))
    assert [b, a].index(a) == 1  # == is identity: no symbolic truth value asked
    with pytest.raises(TypeError, match="truth value"):
        bool(a != 0)
    with pytest.raises(NotImplementedError, match="Iterating"):
        list(a)


def test_recorded_nodes_and_specs_equal_keras(keras):
    """The op nodes recorded for one graph: same classes, configs (names aside)
    and output specs as Keras'."""
    def build(lib):
        x = lib.Input((5, 4), name="x")
        h = lib.ops.transpose(lib.ops.softmax(x, axis=1), (0, 2, 1))
        h = lib.ops.pad(h, ((0, 0), (1, 1), (0, 0)))
        s = lib.ops.sum(h[:, ::2], axis=[1, 2], keepdims=True)
        return lib.Model(x, [lib.ops.clip(h, 0.1, 0.9), s, lib.ops.argmax(x, axis=-1)])

    def nodes(model):
        out = []
        for entry in json.loads(json.dumps(model.get_config()))["layers"]:
            if not entry["module"].startswith("keras.src."):
                continue  # layers: compared by _both
            config = {k: v for k, v in entry["config"].items() if k != "name"}
            shapes = [a["config"]["shape"] for a in entry["inbound_nodes"][0]["args"]
                      if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__"] \
                if entry["inbound_nodes"] else []
            out.append((entry["module"], entry["class_name"], str(config), str(shapes)))
        return sorted(out)

    kx_model, k_model = _both(keras, build, _x(2, 5, 4))
    assert len(nodes(kx_model)) == 7
    assert nodes(kx_model) == nodes(k_model)
    assert [t.shape for t in kx_model.outputs] == [tuple(t.shape) for t in k_model.outputs]
    assert [t.dtype for t in kx_model.outputs] == [t.dtype for t in k_model.outputs]


def test_fixed_argument_cannot_be_symbolic():
    x = kerax.Input((4,))
    with pytest.raises(TypeError, match="newshape"):
        kerax.ops.reshape(x, (kerax.Input((1,)), 2))


def test_data_dependent_op_is_a_clear_error():
    with pytest.raises(ValueError, match="unique cannot run on symbolic tensors"):
        kerax.ops.unique(kerax.Input((4,)))


def test_ops_in_a_model_train_with_fit():
    x = kerax.Input((3,))
    h = kerax.layers.Dense(4)(x)
    out = kerax.layers.Dense(1)(kerax.ops.concatenate([kerax.ops.relu(h), x * 0.5], axis=-1))
    model = kerax.Model(x, out)
    model.compile("sgd", "mse")
    data = _x(16, 3)
    before = model.evaluate(data, data[:, :1], verbose=0)
    model.fit(data, data[:, :1], epochs=3, verbose=0)
    assert model.evaluate(data, data[:, :1], verbose=0) < before


# ---- kerax.Operation ----------------------------------------------------------------
def _scale_op(lib):
    class Scale(lib.Operation):
        def __init__(self, factor, name=None):
            super().__init__(name=name)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    class Halves(lib.Operation):
        def call(self, x):
            return x[..., :2], x[..., 2:]

        def compute_output_spec(self, x):
            return (lib.KerasTensor(x.shape[:-1] + (2,), x.dtype),
                    lib.KerasTensor(x.shape[:-1] + (x.shape[-1] - 2,), x.dtype))

    return Scale, Halves


def test_operation_subclass_eager_and_symbolic_as_keras(keras):
    results = []
    for lib in (keras, kerax):
        Scale, Halves = _scale_op(lib)
        op = Scale(3.0, name="scale")
        eager = np.asarray(op(_x(2, 5)))
        i = lib.Input((5,))
        first, rest = Halves()(op(i))
        model = lib.Model(i, [first, rest])
        results.append((eager, [np.asarray(o) for o in model.predict(_x(2, 5), verbose=0)],
                        op.get_config(), [tuple(first.shape), tuple(rest.shape)]))
        again = Scale.from_config(op.get_config())
        assert again.factor == 3.0 and again.name == "scale"
    (e1, p1, c1, s1), (e2, p2, c2, s2) = results
    np.testing.assert_allclose(e2, e1, rtol=1e-6)
    for a, b in zip(p2, p1):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert c2 == c1 == {"name": "scale", "factor": 3.0}
    assert s2 == s1 == [(None, 2), (None, 3)]


def test_operation_with_unserializable_argument_says_so():
    class Apply(kerax.Operation):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def call(self, x):
            return self.fn(x)

    op = Apply(lambda v: v + 1)
    assert float(op(np.float32(1.0))) == 2.0
    with pytest.raises(NotImplementedError, match="get_config"):
        op.get_config()


# ---- kerax.Function -----------------------------------------------------------------
def test_function_as_keras(keras):
    def build(lib):
        a, b = lib.Input((3,)), lib.Input((2,))
        y = lib.ops.relu(lib.layers.Dense(2, name="d")(a)) + b
        return lib.Function([a, b], y, name="fn"), lib.Model([a, b], y)

    k_fn, k_model = build(keras)
    kx_fn, kx_model = build(kerax)
    kx_model.set_weights(k_model.get_weights())
    xs = [_x(4, 3), _x(4, 2, seed=1)]
    np.testing.assert_allclose(np.asarray(kx_fn(xs)), np.asarray(k_fn(xs)), atol=1e-6)
    assert [type(op).__name__ for op in kx_fn.operations][:2] == \
        [type(op).__name__ for op in k_fn.operations][:2] == ["InputLayer", "Dense"]
    assert len(kx_fn.operations) == len(k_fn.operations) == 5
    assert kx_fn.name == "fn" and len(kx_fn.inputs) == 2
    assert kx_fn.outputs is kx_model.outputs or kx_fn.outputs.shape == (None, 2)
    kx_spec = kx_fn.compute_output_spec([kerax.KerasTensor((None, 3)),
                                        kerax.KerasTensor((5, 2))])
    k_spec = k_fn.compute_output_spec([keras.KerasTensor((None, 3)), keras.KerasTensor((5, 2))])
    assert kx_spec.shape == tuple(k_spec.shape) == (5, 2)
    # called on symbolic tensors, it is one node of a bigger graph
    c, d = kerax.Input((3,)), kerax.Input((2,))
    outer = kerax.Model([c, d], kx_fn([c, d]) * 2.0)
    np.testing.assert_allclose(outer.predict(xs, verbose=0), 2 * np.asarray(k_fn(xs)),
                               atol=1e-6)


def test_function_dict_structure():
    a, b = kerax.Input((3,), name="a"), kerax.Input((3,), name="b")
    fn = kerax.Function({"x": a, "y": b}, {"sum": a + b, "prod": a * b})
    out = fn({"x": np.ones((1, 3), "float32"), "y": np.full((1, 3), 2.0, "float32")})
    assert sorted(out) == ["prod", "sum"]
    np.testing.assert_allclose(out["sum"], 3.0)
    np.testing.assert_allclose(out["prod"], 2.0)
    with pytest.raises(ValueError, match="missing"):
        fn({"x": np.ones((1, 3), "float32")})


def test_plot_of_a_graph_with_ops_draws_the_ops():
    pytest.importorskip("pydot")
    x = kerax.Input((3,))
    y = kerax.layers.Dense(2)(kerax.ops.relu(kerax.layers.Dense(3)(x)) + 1.0)
    dot = kerax.utils.model_to_dot(kerax.Model(x, y), show_layer_names=True)
    labels = " ".join(str(n.get("label")) for n in dot.get_nodes())
    assert "Relu" in labels and "Add" in labels
    assert len(dot.get_edges()) == 4  # input -> dense -> relu -> add -> dense
