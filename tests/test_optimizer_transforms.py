"""kerax.optimizers.transforms: each transform's closed form (its doctests), and
the optimizer as Variables around one optax chain."""
import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax

import kerax
from kerax import optimizers
from kerax.optimizers import transforms


def test_docstring_examples():
    result = doctest.testmod(transforms)
    assert result.attempted >= 12 and result.failed == 0


def test_optimizer_is_variables_around_one_chain():
    w = [kerax.Variable(np.ones((2, 3), "float32"), name="kernel"),
         kerax.Variable(np.zeros(3, "float32"), name="bias")]
    opt = optimizers.Adam(0.1, clipnorm=1.0, weight_decay=0.1, use_ema=True,
                          gradient_accumulation_steps=2, loss_scale_factor=2.0)
    opt.build(w)
    tx = opt._chain(0.1, 0)
    assert isinstance(tx, optax.GradientTransformation)
    state = tx.init([v.value for v in w])
    # one Variable per leaf of the chain's state, besides iteration and learning_rate
    assert len(jax.tree.leaves(state)) == len(opt.variables) - 2
    # the whole step is a pure function of the values
    grads = [jnp.ones((2, 3)), jnp.ones(3)]
    updates, new_state = jax.jit(tx.update)(grads, state, [v.value for v in w])
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    np.testing.assert_array_equal(updates[0], 0.0)  # first call of two: accumulating


def test_optax_optimizer_takes_keras_arguments():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(4,)).astype("float32")
    grads = [rng.normal(size=(4,)).astype("float32") for _ in range(6)]
    v = kerax.Variable(w0)
    opt = optimizers.OptaxOptimizer(optax.sgd(0.1, momentum=0.9), gradient_accumulation_steps=3)
    for g in grads:
        opt.apply_gradients([(g, v)])
    tx = optax.MultiSteps(optax.sgd(0.1, momentum=0.9), every_k_schedule=3)
    params, state = jnp.asarray(w0), tx.init(jnp.asarray(w0))
    for g in grads:
        u, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, u)
    np.testing.assert_allclose(v.numpy(), np.asarray(params), rtol=1e-6, atol=1e-6)
    assert [x.name for x in opt.variables[:2]] == ["iteration", "learning_rate"]
    assert opt.variables[2].name == "variable_gradient_accumulator"


def test_keras_style_optimizer_slots_are_the_rule_state():
    """A Keras-style optimizer's own slots are the update rule's state, so
    gradient accumulation restores them on the steps that do not update."""

    class MySGD(optimizers.Optimizer):
        def build(self, variables):
            super().build(variables)
            self.m = self.add_optimizer_variables(variables, "m")

        def update_step(self, gradient, variable, learning_rate):
            m = self.m[self._get_variable_index(variable)]
            self.assign(m, 0.5 * m.value + gradient)
            self.assign_sub(variable, learning_rate * m.value)

    v = kerax.Variable(np.array([1.0, 2.0], "float32"), name="v")
    opt = MySGD(learning_rate=0.1, gradient_accumulation_steps=2, use_ema=True)
    step = kerax.function(lambda g: opt.apply_gradients([(g, v)]))
    step(jnp.array([1.0, 1.0]))   # accumulate only
    np.testing.assert_allclose(v.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(opt.m[0].numpy(), [0.0, 0.0])
    step(jnp.array([3.0, 3.0]))   # update with the mean, 2
    np.testing.assert_allclose(opt.m[0].numpy(), [2.0, 2.0])
    np.testing.assert_allclose(v.numpy(), [0.8, 1.8], rtol=1e-6)
    assert [x.name for x in opt.variables] == [
        "iteration", "learning_rate", "v_average", "v_gradient_accumulator", "v_m"]
