import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import kerax
from kerax import optimizers

SHAPES = [(3, 4), (4,), (2, 3, 2)]
STEPS = 20


def _data(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(steps)]
    return w0, grads


def _run_keras(keras, opt, w0, grads, names=None):
    kv = [keras.Variable(w, name=(names[i] if names else None)) for i, w in enumerate(w0)]
    for g in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(x) if x is not None else None
                                 for x in g], kv))
    return [np.asarray(v.value) for v in kv], kv


def _run_kerax(opt, w0, grads, names=None):
    xv = [kerax.Variable(w, name=(names[i] if names else None)) for i, w in enumerate(w0)]
    for g in grads:
        opt.apply_gradients(zip(g, xv))
    return [v.numpy() for v in xv], xv


def _assert_close(ref, got, rtol=1e-4, atol=1e-6):
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "learning_rate": 0.01}),
    ("AdamW", {}),
    ("Nadam", {}),
    ("Adamax", {}),
    ("Adagrad", {}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adafactor", {}),
    ("Lion", {}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras(keras, name, kwargs):
    w0, grads = _data()
    ref, _ = _run_keras(keras, getattr(keras.optimizers, name)(**kwargs), w0, grads)
    got, _ = _run_kerax(getattr(optimizers, name)(**kwargs), w0, grads)
    _assert_close(ref, got)


BASE_CASES = [
    ("Adam", {"weight_decay": 0.1, "clipnorm": 0.5}),
    ("SGD", {"momentum": 0.5, "global_clipnorm": 1.0, "use_ema": True}),
    ("RMSprop", {"clipvalue": 0.3, "use_ema": True, "ema_overwrite_frequency": 4}),
    ("Adam", {"gradient_accumulation_steps": 3}),
    ("Adafactor", {"weight_decay": 0.05}),
    ("Lion", {"loss_scale_factor": 8.0}),
]


@pytest.mark.parametrize("name,kwargs", BASE_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(BASE_CASES)])
def test_base_features_match_keras(keras, name, kwargs):
    # Keras' eager gradient accumulation is slow: fewer steps there.
    w0, grads = _data(1, steps=6 if kwargs.get("gradient_accumulation_steps") else STEPS)
    kopt = getattr(keras.optimizers, name)(**kwargs)
    xopt = getattr(optimizers, name)(**kwargs)
    ref, kv = _run_keras(keras, kopt, w0, grads)
    got, xv = _run_kerax(xopt, w0, grads)
    _assert_close(ref, got)
    if kwargs.get("use_ema"):
        kopt.finalize_variable_values(kv)
        xopt.finalize_variable_values()
        _assert_close([np.asarray(v.value) for v in kv], [v.numpy() for v in xv])


def test_weight_decay_exclusion_matches_keras(keras):
    w0, grads = _data(2)
    names = ["kernel", "bias", "other"]
    kopt = keras.optimizers.AdamW(weight_decay=0.3, learning_rate=0.01)
    xopt = optimizers.AdamW(weight_decay=0.3, learning_rate=0.01)
    kv = [keras.Variable(w, name=n) for w, n in zip(w0, names)]
    xv = [kerax.Variable(w, name=n) for w, n in zip(w0, names)]
    kopt.exclude_from_weight_decay(var_list=[kv[2]], var_names=["bias"])
    xopt.exclude_from_weight_decay(var_list=[xv[2]], var_names=["bias"])
    for g in grads:
        kopt.apply_gradients(zip(g, kv))
        xopt.apply_gradients(zip(g, xv))
    _assert_close([np.asarray(v.value) for v in kv], [v.numpy() for v in xv])
    with pytest.raises(ValueError, match="before the optimizer is built"):
        xopt.exclude_from_weight_decay(var_names=["x"])


def test_schedule_and_callable_learning_rate_match_keras(keras):
    w0, grads = _data(3)
    kopt = keras.optimizers.SGD(
        momentum=0.9, learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 3, 0.5))
    xopt = optimizers.SGD(
        momentum=0.9, learning_rate=optimizers.schedules.ExponentialDecay(0.1, 3, 0.5))
    ref, _ = _run_keras(keras, kopt, w0, grads)
    got, _ = _run_kerax(xopt, w0, grads)
    _assert_close(ref, got)
    # A callable of the step (compiled along with the update).
    xopt2 = optimizers.Adam(learning_rate=lambda step: 0.01 / (1.0 + step))
    got2, _ = _run_kerax(xopt2, w0, grads[:3])
    kopt2 = keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.01, 1, 1.0))
    ref2, _ = _run_keras(keras, kopt2, w0, grads[:3])
    _assert_close(ref2, got2)


def test_none_gradients_are_skipped(keras):
    w0, grads = _data(4, steps=6)
    grads = [[g[0], None if i % 2 else g[1], g[2]] for i, g in enumerate(grads)]
    kopt = keras.optimizers.Adam(learning_rate=0.01)
    xopt = optimizers.Adam(learning_rate=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, _ = _run_keras(keras, kopt, w0, grads)
        got, _ = _run_kerax(xopt, w0, grads)
    _assert_close(ref, got)
    xv = [kerax.Variable(w) for w in w0]
    with pytest.raises(ValueError, match="No gradients"):
        optimizers.SGD().apply_gradients(zip([None, None, None], xv))


def test_constraints_applied_after_update():
    v = kerax.Variable(np.array([1.0, -2.0, 3.0], "float32"),
                       constraint=lambda w: jnp.clip(w, -1.0, 1.0))
    opt = optimizers.SGD(learning_rate=0.1)
    opt.apply_gradients([(np.array([1.0, 1.0, 1.0], "float32"), v)])
    np.testing.assert_allclose(v.numpy(), [0.9, -1.0, 1.0], rtol=1e-6)


def test_state_lives_in_variables():
    w0, grads = _data()
    opt = optimizers.Adam(learning_rate=0.01)
    assert not opt.built
    xv = [kerax.Variable(w) for w in w0]
    opt.apply_gradients(zip(grads[0], xv))
    assert opt.built
    assert int(opt.iterations.numpy()) == 1 and opt.iterations.dtype == jnp.int32
    names = [v.name for v in opt.variables]
    assert names[:2] == ["iteration", "learning_rate"]
    assert all(isinstance(v, kerax.Variable) and not v.trainable for v in opt.variables)
    # m and v per variable plus a step count.
    assert len(opt.variables) == 2 + 1 + 2 * len(SHAPES)
    assert opt.variables[0].path == f"{opt.name}/iteration"
    # Deterministic: a second optimizer on the same shapes lists the same names.
    opt2 = optimizers.Adam(learning_rate=0.01)
    opt2.build(xv)
    assert [v.name for v in opt2.variables] == names
    # learning_rate get/set
    assert isinstance(opt.learning_rate, kerax.Variable)
    opt.learning_rate = 0.5
    np.testing.assert_allclose(float(opt.learning_rate.numpy()), 0.5)
    sched = optimizers.Adam(learning_rate=optimizers.schedules.ExponentialDecay(0.1, 1, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        sched.learning_rate = 0.1
    np.testing.assert_allclose(float(sched.learning_rate), 0.1)


def _loss_setup(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    w = rng.normal(size=(3, 2)).astype("float32")
    b = np.zeros((2,), "float32")
    return x, y, w, b


def test_kerax_function_matches_eager_and_lr_change_needs_no_retrace():
    x, y, w_init, b_init = _loss_setup()

    def make():
        w = kerax.Variable(w_init, name="w")
        b = kerax.Variable(b_init, name="b")
        opt = optimizers.Adam(learning_rate=0.05)
        vars_ = [w, b]

        def loss_fn(x, y):
            return jnp.mean((x @ w.value + b.value - y) ** 2)

        def step(x, y):
            loss, grads = kerax.value_and_grad(loss_fn, vars_)(x, y)
            opt.apply_gradients(zip(grads, vars_))
            return loss

        return vars_, opt, step

    eager_vars, eager_opt, eager_step = make()
    comp_vars, comp_opt, comp_step = make()
    comp = kerax.function(comp_step)
    for i in range(10):
        if i == 5:
            eager_opt.learning_rate = 0.01
            comp_opt.learning_rate = 0.01
        le = eager_step(x, y)
        lc = comp(x, y)
        np.testing.assert_allclose(np.asarray(lc), np.asarray(le), rtol=1e-5)
    assert comp.trace_count == 1
    for a, b in zip(eager_vars, comp_vars):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
    assert int(comp_opt.iterations.numpy()) == 10
    for a, b in zip(eager_opt.variables, comp_opt.variables):
        np.testing.assert_allclose(np.asarray(b.numpy()), np.asarray(a.numpy()), rtol=1e-5,
                                   atol=1e-7)


def test_stateless_apply_is_pure_and_jittable(keras):
    w0, grads = _data(5, steps=5)
    ref, _ = _run_keras(keras, keras.optimizers.Nadam(learning_rate=0.01), w0, grads)
    opt = optimizers.Nadam(learning_rate=0.01)
    xv = [kerax.Variable(w) for w in w0]
    opt.build(xv)
    before = [v.numpy() for v in opt.variables]
    opt_vals = [v.value for v in opt.variables]
    train_vals = [v.value for v in xv]
    f = jax.jit(opt.stateless_apply)
    for g in grads:
        train_vals, opt_vals = f(opt_vals, [jnp.asarray(x) for x in g], train_vals)
    _assert_close(ref, [np.asarray(t) for t in train_vals])
    assert int(opt_vals[0]) == 5
    # Nothing was assigned.
    for v, b in zip(opt.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)
    for v, w in zip(xv, w0):
        np.testing.assert_array_equal(v.numpy(), w)


def test_two_optimizers_in_one_compiled_step(keras):
    x, y, w_init, b_init = _loss_setup(1)
    w = kerax.Variable(w_init, name="w")
    b = kerax.Variable(b_init, name="b")
    opt_w = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    opt_b = optimizers.Adam(learning_rate=0.05)

    def loss_fn(x, y):
        return jnp.mean((x @ w.value + b.value - y) ** 2)

    @kerax.function
    def step(x, y):
        gw, gb = kerax.grad(loss_fn, [w, b])(x, y)
        opt_w.apply_gradients([(gw, w)])
        opt_b.apply_gradients([(gb, b)])

    kw = keras.Variable(w_init)
    kb = keras.Variable(b_init)
    k_w = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    k_b = keras.optimizers.Adam(learning_rate=0.05)
    for _ in range(5):
        step(x, y)
        gw, gb = jax.grad(lambda a, c: jnp.mean((x @ a + c - y) ** 2), argnums=(0, 1))(
            kw.value, kb.value)
        k_w.apply_gradients([(gw, kw)])
        k_b.apply_gradients([(gb, kb)])
    np.testing.assert_allclose(w.numpy(), np.asarray(kw.value), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), np.asarray(kb.value), rtol=1e-5, atol=1e-6)
    assert not set(map(id, opt_w.variables)) & set(map(id, opt_b.variables))


def test_optax_transformation_wrapper():
    w0, grads = _data(6, steps=5)
    opt = optimizers.get(optax.adam(1e-2))
    assert isinstance(opt, optimizers.OptaxOptimizer)
    got, _ = _run_kerax(opt, w0, grads)
    assert all(isinstance(v, kerax.Variable) for v in opt.variables)
    # Reference: optax itself.
    tx = optax.adam(1e-2)
    params = [jnp.asarray(w) for w in w0]
    state = tx.init(params)
    for g in grads:
        u, state = tx.update([jnp.asarray(x) for x in g], state, params)
        params = optax.apply_updates(params, u)
    _assert_close([np.asarray(p) for p in params], got, rtol=1e-6)


def test_get_serialize_deserialize(keras):
    for ident in ["adam", "Adam", "ADAM", "sgd", "rmsprop", "adamw", "AdamW", "Nadam"]:
        assert type(optimizers.get(ident)).__name__.lower() == ident.lower()
    with pytest.raises(ValueError, match="Unknown optimizer.*adam"):
        optimizers.get("adamm")
    with pytest.raises(ValueError):
        optimizers.get(3)
    opt = optimizers.Adam(learning_rate=0.002, beta_1=0.8, amsgrad=True, clipnorm=1.0)
    kopt = keras.optimizers.Adam(learning_rate=0.002, beta_1=0.8, amsgrad=True, clipnorm=1.0,
                                 name=opt.name)
    ours = optimizers.serialize(opt)
    theirs = keras.saving.serialize_keras_object(kopt)
    assert ours == theirs
    back = optimizers.deserialize(theirs)
    assert isinstance(back, optimizers.Adam) and back.beta_1 == 0.8 and back.amsgrad
    back2 = optimizers.get({"class_name": "adam", "config": {"learning_rate": 0.1}})
    np.testing.assert_allclose(float(back2.learning_rate.numpy()), 0.1)
    # schedules nest in the config exactly as Keras writes them
    s_opt = optimizers.SGD(learning_rate=optimizers.schedules.CosineDecay(0.1, 100),
                           momentum=0.9)
    ks_opt = keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.CosineDecay(0.1, 100),
                                  momentum=0.9, name=s_opt.name)
    assert optimizers.serialize(s_opt) == keras.saving.serialize_keras_object(ks_opt)
    restored = optimizers.deserialize(optimizers.serialize(s_opt))
    assert isinstance(restored._learning_rate, optimizers.schedules.CosineDecay)
    for name in ["SGD", "RMSprop", "AdamW", "Nadam", "Adamax", "Adagrad", "Adadelta",
                 "Adafactor", "Lion"]:
        ours = getattr(optimizers, name)(name="o").get_config()
        theirs = getattr(keras.optimizers, name)(name="o").get_config()
        assert ours == theirs, name


def test_argument_errors():
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.Adam(bogus=1)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    opt = optimizers.SGD()
    a, b = kerax.Variable(np.ones(2, "float32")), kerax.Variable(np.ones(2, "float32"))
    opt.apply_gradients([(np.ones(2, "float32"), a)])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(np.ones(2, "float32"), b)])
    with pytest.raises(ValueError, match="must be built"):
        optimizers.Adam().stateless_apply([], [], [])


def test_keras_style_custom_optimizer():
    class MySGD(optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def build(self, variables):
            super().build(variables)
            self.m = self.add_optimizer_variables(variables, "m")

        def update_step(self, gradient, variable, learning_rate):
            m = self.m[self._get_variable_index(variable)]
            self.assign(m, 0.5 * m.value + gradient)
            self.assign_sub(variable, learning_rate * m.value)

    v = kerax.Variable(np.array([1.0, 2.0], "float32"), name="v")
    opt = MySGD()
    step = kerax.function(lambda g: opt.apply_gradients([(g, v)]))
    g = jnp.array([1.0, 1.0])
    step(g)
    step(g)
    # m1 = 1, v1 = x - 0.1; m2 = 1.5, v2 = v1 - 0.15
    np.testing.assert_allclose(v.numpy(), [0.75, 1.75], rtol=1e-6)
    assert [x.name for x in opt.variables] == ["iteration", "learning_rate", "v_m"]


def test_compiled_ema_accumulation_decay_clip_match_keras(keras):
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(3, 2)).astype("float32")
    grads = [rng.normal(size=(3, 2)).astype("float32") for _ in range(5)]
    kw = dict(learning_rate=0.1, use_ema=True, ema_overwrite_frequency=2,
              gradient_accumulation_steps=2, weight_decay=0.1, clipnorm=1.0)
    v = kerax.Variable(w0)
    opt = optimizers.Adam(**kw)
    step = kerax.function(lambda g: opt.apply_gradients([(g, v)]))
    kv = keras.Variable(w0)
    kopt = keras.optimizers.Adam(**kw)
    for g in grads:
        step(jnp.asarray(g))
        kopt.apply_gradients([(jnp.asarray(g), kv)])
    assert step.trace_count == 1
    np.testing.assert_allclose(v.numpy(), np.asarray(kv.value), rtol=1e-5, atol=1e-6)
    opt.finalize_variable_values()
    kopt.finalize_variable_values([kv])
    np.testing.assert_allclose(v.numpy(), np.asarray(kv.value), rtol=1e-5, atol=1e-6)


# ---- Keras' base arguments, combined, against Keras: eager and compiled -----------------
def _schedule(lib):
    return lib.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)


COMBOS = [
    ("Adam", {"learning_rate": 0.05, "clipnorm": 0.5, "weight_decay": 0.1, "use_ema": True,
              "gradient_accumulation_steps": 2}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "global_clipnorm": 1.0,
             "loss_scale_factor": 4.0, "use_ema": True, "ema_momentum": 0.9,
             "ema_overwrite_frequency": 3}),
    ("RMSprop", {"learning_rate": 0.01, "clipvalue": 0.3, "weight_decay": 0.05,
                 "gradient_accumulation_steps": 3, "use_ema": True,
                 "ema_overwrite_frequency": 2}),
    ("Adafactor", {"learning_rate": 0.05, "weight_decay": 0.2, "clipnorm": 1.0,
                   "gradient_accumulation_steps": 2}),
    ("Nadam", {"learning_rate": 0.01, "global_clipnorm": 0.5, "loss_scale_factor": 2.0,
               "gradient_accumulation_steps": 2, "use_ema": True}),
    ("Lion", {"learning_rate": 0.01, "clipvalue": 0.2, "weight_decay": 0.1, "use_ema": True,
              "ema_overwrite_frequency": 2}),
    ("AdamW", {"learning_rate": _schedule, "weight_decay": 0.1, "clipnorm": 1.0,
               "gradient_accumulation_steps": 2, "use_ema": True}),
]
NAMES = ["kernel", "bias", "other"]


def _make(lib, name, kwargs):
    kwargs = {k: (v(lib) if callable(v) else v) for k, v in kwargs.items()}
    return getattr(lib.optimizers, name)(name="opt", **kwargs)


def _assert_same_state(kopt, kv, xopt, xv, tol=1e-6):
    """The trained variables and every optimizer variable (by its Keras path)
    equal Keras'; kerax's only extra slots are optax step counts."""
    _assert_close([np.asarray(v.value) for v in kv], [v.numpy() for v in xv], rtol=tol, atol=tol)
    theirs = {v.path: np.asarray(v.value) for v in kopt.variables}
    compared = 0
    for v in xopt.variables:
        if v.path in ("opt/count", "opt/u_product") or v.path.endswith(("_r", "_c")):
            continue  # kerax-only (step counts) or named otherwise by Keras (Adafactor)
        assert v.path in theirs, (v.path, sorted(theirs))
        np.testing.assert_allclose(v.numpy(), theirs[v.path], rtol=tol, atol=tol, err_msg=v.path)
        compared += 1
    assert compared >= 2 + len(kv)  # iteration, learning_rate or slots, per-variable slots


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,kwargs", COMBOS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(COMBOS)])
def test_base_arguments_combined_match_keras(keras, name, kwargs, compiled):
    w0, grads = _data(8, steps=6)
    kopt, xopt = _make(keras, name, kwargs), _make(kerax, name, kwargs)
    kv = [keras.Variable(w, name=n) for w, n in zip(w0, NAMES)]
    xv = [kerax.Variable(w, name=n) for w, n in zip(w0, NAMES)]
    if "weight_decay" in kwargs:
        kopt.exclude_from_weight_decay(var_names=["bias"])
        xopt.exclude_from_weight_decay(var_names=["bias"])

    def step(g):
        xopt.apply_gradients(zip(g, xv))

    run = kerax.function(step) if compiled else step
    for g in grads:
        kopt.apply_gradients(zip([jnp.asarray(x) for x in g], kv))
        run([jnp.asarray(x) for x in g])
    if compiled:
        assert run.trace_count == 1
    _assert_same_state(kopt, kv, xopt, xv)
    if kwargs.get("use_ema"):
        kopt.finalize_variable_values(kv)
        xopt.finalize_variable_values()
        _assert_close([np.asarray(v.value) for v in kv], [v.numpy() for v in xv],
                      rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_missing_gradients_with_ema_and_accumulation_match_keras(keras, compiled):
    """A variable without a gradient keeps its value and its slots (its
    accumulator too) while the EMA still averages it, as in Keras."""
    w0, grads = _data(9, steps=6)
    kwargs = {"learning_rate": 0.05, "use_ema": True, "ema_overwrite_frequency": 3,
              "gradient_accumulation_steps": 2, "weight_decay": 0.1, "clipnorm": 1.0}
    kopt, xopt = _make(keras, "Adam", kwargs), _make(kerax, "Adam", kwargs)
    kv = [keras.Variable(w, name=n) for w, n in zip(w0, NAMES)]
    xv = [kerax.Variable(w, name=n) for w, n in zip(w0, NAMES)]

    def with_bias(g0, g1, g2):
        xopt.apply_gradients(zip([g0, g1, g2], xv))

    def without_bias(g0, g2):
        xopt.apply_gradients(zip([g0, None, g2], xv))

    if compiled:
        with_bias, without_bias = kerax.function(with_bias), kerax.function(without_bias)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (g0, g1, g2) in enumerate(grads):
            if i in (0, 3):  # the bias has a gradient on these steps only
                kopt.apply_gradients(zip([g0, g1, g2], kv))
                with_bias(g0, g1, g2)
            else:
                kopt.apply_gradients(zip([g0, None, g2], kv))
                without_bias(g0, g2)
    _assert_same_state(kopt, kv, xopt, xv)


def test_default_names_restart_after_clear_session():
    kerax.backend.clear_session()
    assert optimizers.Adam().name == "adam"
    assert optimizers.Adam().name == "adam_1"
    assert optimizers.RMSprop().name == "rm_sprop"
    assert optimizers.LossScaleOptimizer(optimizers.SGD()).name == "loss_scale_optimizer"
    kerax.backend.clear_session()
    assert optimizers.Adam().name == "adam"


SLOT_CASES = [("SGD", {"momentum": 0.9}), ("RMSprop", {"momentum": 0.5, "centered": True}),
              ("Adam", {"amsgrad": True}), ("AdamW", {}), ("Nadam", {}), ("Adamax", {}),
              ("Adagrad", {}), ("Adadelta", {}), ("Lion", {}),
              ("Adam", {"use_ema": True, "gradient_accumulation_steps": 2})]


@pytest.mark.parametrize("name,kwargs", SLOT_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SLOT_CASES)])
def test_slot_variables_have_keras_names(keras, name, kwargs):
    kopt = getattr(keras.optimizers, name)(name="opt", **kwargs)
    xopt = getattr(optimizers, name)(name="opt", **kwargs)
    kopt.build([keras.Variable(np.zeros((2, 3)), name="kernel"),
                keras.Variable(np.zeros(3), name="bias")])
    xopt.build([kerax.Variable(np.zeros((2, 3)), name="kernel"),
                kerax.Variable(np.zeros(3), name="bias")])
    theirs = [v.path for v in kopt.variables if v.path.startswith("opt/")]  # not Nadam's u_product
    ours = [v.path for v in xopt.variables if v.path not in ("opt/count", "opt/u_product")]
    assert sorted(ours) == sorted(theirs)
    # iteration, learning_rate, EMA averages and accumulators first, as in Keras
    head = [p for p in theirs if p.endswith(("iteration", "learning_rate", "_average",
                                             "_gradient_accumulator"))]
    assert ours[:len(head)] == theirs[:len(head)] == head


def test_loss_scale_optimizer_stateless_apply_matches_apply():
    def make():
        w = kerax.Variable(np.array([1.0, -2.0], "float32"))
        opt = optimizers.LossScaleOptimizer(optimizers.Adam(0.1, use_ema=True),
                                            initial_scale=4.0, dynamic_growth_steps=2)
        opt.build([w])
        return w, opt

    gs = [jnp.array([4.0, 8.0]), jnp.array([jnp.inf, 0.0]), jnp.array([2.0, -2.0])]
    w, opt = make()
    for g in gs:
        opt.apply([g])
    w2, opt2 = make()
    values, tvals = [v.value for v in opt2.variables], [w2.value]
    f = jax.jit(opt2.stateless_apply)
    for g in gs:
        tvals, values = f(values, [g], tvals)
    np.testing.assert_allclose(np.asarray(tvals[0]), w.numpy(), rtol=1e-6)
    for v, x in zip(opt.variables, values):
        np.testing.assert_allclose(np.asarray(x), v.numpy(), rtol=1e-6, err_msg=v.path)
    assert int(opt.iterations.numpy()) == 2  # the non-finite step did not count
    assert float(opt.dynamic_scale.numpy()) == 2.0  # halved, then one finite step
