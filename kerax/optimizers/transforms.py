"""Optax transforms with Keras 3's numerics.

Each is an `optax.GradientTransformation`: a pair of pure functions
`init(params) -> state` and `update(updates, state, params) -> (updates, state)`.
There are two kinds:

- update rules where Keras' formula differs from optax's built-ins
  (`keras_adam`, `keras_nadam`, `keras_adamax`, `keras_adafactor`). Their
  updates are the *direction* (before the learning rate), except
  `keras_adafactor`'s, which are the final step. Where optax already computes
  exactly what Keras does (SGD's momentum, RMSprop, Adagrad, Adadelta, Lion)
  kerax uses optax's own transforms.
- the arguments every Keras optimizer takes. `kerax.optimizers.Optimizer`
  composes them around its update rule (whose updates are the step that is
  *added* to the parameters) into one chain:

      chain(keras_loss_scale(loss_scale_factor),
            freeze(                                # variables without a gradient
                keras_accumulate(                  # gradient_accumulation_steps
                    chain(clip,                    # clipnorm / global_clipnorm / clipvalue
                          keras_weight_decay(rule)))),
            keras_ema(ema_momentum, ema_overwrite_frequency))

  `keras_dynamic_loss_scale` wraps that chain for `LossScaleOptimizer`.

Hyperparameters that change from step to step (the learning rate, the
optimizer's step counter) are arguments of the transform, so a new chain is
made for each step; its state keeps the same structure.
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from kerax._lazy import optax  # imported on first use

__all__ = ["keras_adam", "keras_nadam", "keras_adamax", "keras_adafactor",
           "keras_loss_scale", "keras_clip_by_norm", "keras_clip_by_global_norm",
           "keras_weight_decay", "keras_accumulate", "keras_ema", "freeze",
           "keras_dynamic_loss_scale", "all_finite", "param_owners"]


def _zeros(params):
    return jax.tree.map(jnp.zeros_like, params)


def _step(count, dtype):
    return jnp.asarray(count + 1, dtype)


def _unzip(like, tree, n):
    """`n` trees shaped like `like` from a tree of n-tuples."""
    return tuple(jax.tree.map(lambda _, x, i=i: x[i], like, tree) for i in range(n))


def _select(pred, new, old):
    """`new` where `pred` holds, else `old`, leaf by leaf."""
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


def _per_dtype(fn):
    """`fn(dtype)` computed once per dtype (a cache for one update's trace)."""
    memo = {}

    def get(dtype):
        if dtype not in memo:
            memo[dtype] = fn(dtype)
        return memo[dtype]
    return get


def _moments(updates, mu, nu, beta_1, beta_2):
    """Keras' first and second moment updates: `m += (g - m) * (1 - b1)`,
    `v += (g^2 - v) * (1 - b2)`, in the moments' dtype. Written with lax
    primitives (one bind each, no jnp wrapper), as a model's hundreds of
    variables each pay every operation at trace time."""
    lax = jax.lax
    consts = _per_dtype(lambda d: (jnp.asarray(1 - beta_1, d), jnp.asarray(1 - beta_2, d)))

    def one(g, m, v):
        c1, c2 = consts(m.dtype)
        g = g if g.dtype == m.dtype else lax.convert_element_type(g, m.dtype)
        return (lax.add(m, lax.mul(lax.sub(g, m), c1)),
                lax.add(v, lax.mul(lax.sub(lax.mul(g, g), v), c2)))

    return _unzip(updates, jax.tree.map(one, updates, mu, nu), 2)


# ---- update rules --------------------------------------------------------------------
class KerasAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class KerasAMSGradState(NamedTuple):
    count: Any
    mu: Any
    nu: Any
    nu_max: Any


def keras_adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    """Adam as Keras writes it: epsilon is added to sqrt(v) of the *uncorrected*
    second moment, and both bias corrections fold into the step size:
    `sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`.

    >>> tx = keras_adam()
    >>> u, _ = tx.update([jnp.ones(2)], tx.init([jnp.zeros(2)]))
    >>> [round(float(x), 4) for x in u[0]]
    [1.0, 1.0]
    """

    def init(params):
        if amsgrad:
            return KerasAMSGradState(jnp.zeros([], jnp.int32), _zeros(params),
                                     _zeros(params), _zeros(params))
        return KerasAdamState(jnp.zeros([], jnp.int32), _zeros(params), _zeros(params))

    def update(updates, state, params=None):
        del params
        mu, nu = _moments(updates, state.mu, state.nu, beta_1, beta_2)
        denom_v = nu
        if amsgrad:
            nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
            denom_v = nu_max

        def scale_and_eps(dtype):  # once per dtype, not per variable
            t = _step(state.count, dtype)
            scale = jnp.sqrt(1 - jnp.power(jnp.asarray(beta_2, dtype), t)) / (
                1 - jnp.power(jnp.asarray(beta_1, dtype), t))
            return scale, jnp.asarray(epsilon, dtype)

        consts = _per_dtype(scale_and_eps)

        def direction(m, v):
            scale, eps = consts(m.dtype)
            lax = jax.lax
            return lax.div(lax.mul(m, scale), lax.add(lax.sqrt(v), eps))

        out = jax.tree.map(direction, mu, denom_v)
        count = optax.safe_increment(state.count)
        if amsgrad:
            return out, KerasAMSGradState(count, mu, nu, nu_max)
        return out, KerasAdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


class KerasNadamState(NamedTuple):
    count: Any
    u_product: Any
    mu: Any
    nu: Any


def keras_nadam(beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Nadam as Keras writes it, with Dozat's momentum schedule
    `u_t = b1 * (1 - 0.5 * 0.96^t)` and its running product.

    >>> tx = keras_nadam()
    >>> _, state = tx.update([jnp.ones(2)], tx.init([jnp.zeros(2)]))
    >>> int(state.count)
    1
    """

    def init(params):
        return KerasNadamState(jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32),
                               _zeros(params), _zeros(params))

    def update(updates, state, params=None):
        del params
        t = _step(state.count, jnp.float32)
        u_t = beta_1 * (1.0 - 0.5 * jnp.power(0.96, t))
        u_next = beta_1 * (1.0 - 0.5 * jnp.power(0.96, t + 1))
        u_product = state.u_product * u_t
        u_product_next = u_product * u_next
        beta_2_power = jnp.power(jnp.float32(beta_2), t)
        mu, nu = _moments(updates, state.mu, state.nu, beta_1, beta_2)

        def direction(g, m, v):
            dt = m.dtype
            m_hat = (u_next.astype(dt) * m / (1 - u_product_next.astype(dt))
                     + (1 - u_t.astype(dt)) * g / (1 - u_product.astype(dt)))
            v_hat = v / (1 - beta_2_power.astype(dt))
            return m_hat / (jnp.sqrt(v_hat) + epsilon)

        out = jax.tree.map(direction, updates, mu, nu)
        return out, KerasNadamState(optax.safe_increment(state.count), u_product, mu, nu)

    return optax.GradientTransformation(init, update)


class KerasAdamaxState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def keras_adamax(beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Adamax as Keras writes it: `m / ((1 - b1^t) * (u + eps))` with
    `u = max(b2 * u, |g|)` (optax puts eps inside the max).

    >>> tx = keras_adamax()
    >>> u, _ = tx.update([jnp.ones(2)], tx.init([jnp.zeros(2)]))
    >>> [round(float(x), 4) for x in u[0]]
    [1.0, 1.0]
    """

    def init(params):
        return KerasAdamaxState(jnp.zeros([], jnp.int32), _zeros(params), _zeros(params))

    def update(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda g, m: m + (g - m) * (1 - beta_1), updates, state.mu)
        nu = jax.tree.map(lambda g, u: jnp.maximum(beta_2 * u, jnp.abs(g)), updates, state.nu)

        def direction(m, u):
            t = _step(state.count, m.dtype)
            return m / ((1 - jnp.power(jnp.asarray(beta_1, m.dtype), t)) * (u + epsilon))

        out = jax.tree.map(direction, mu, nu)
        return out, KerasAdamaxState(optax.safe_increment(state.count), mu, nu)

    return optax.GradientTransformation(init, update)


class KerasAdafactorState(NamedTuple):
    count: Any
    r: Any
    c: Any
    v: Any


def keras_adafactor(learning_rate, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                    clip_threshold=1.0, relative_step=True):
    """Adafactor as Keras writes it: the last two axes of every variable with
    2 or more dimensions are factored (row and column second moments); the step
    is `max(epsilon_2, rms(param)) * min(lr, 1/sqrt(t))`, and the final update
    (sign included) is returned. `relative_step=True` caps the learning rate at
    `1/sqrt(t)` (Keras skips that cap when the learning rate is a schedule:
    pass `relative_step=False` then). Needs `params`.

    >>> tx = keras_adafactor(0.1)
    >>> p = [jnp.ones((2, 2))]
    >>> u, _ = tx.update([jnp.ones((2, 2))], tx.init(p), p)
    >>> round(float(u[0][0, 0]), 4)
    -0.1
    """

    def init(params):
        def r0(p):
            return jnp.zeros(p.shape[:-1], p.dtype) if p.ndim >= 2 else jnp.zeros([], p.dtype)

        def c0(p):
            return (jnp.zeros(p.shape[:-2] + p.shape[-1:], p.dtype) if p.ndim >= 2
                    else jnp.zeros([], p.dtype))

        return KerasAdafactorState(jnp.zeros([], jnp.int32), jax.tree.map(r0, params),
                                   jax.tree.map(c0, params), _zeros(params))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("keras_adafactor needs `params` in update().")
        t = _step(state.count, jnp.float32)

        def rms(x):
            return jnp.sqrt(jnp.mean(jnp.square(x)))

        def one(g, p, r, c, v):
            dt = p.dtype
            lr = jnp.asarray(learning_rate, dt)
            step = t.astype(dt)
            if relative_step:
                lr = jnp.minimum(lr, 1 / jnp.sqrt(step))
            rho_t = jnp.minimum(lr, 1 / jnp.sqrt(step))
            alpha_t = jnp.maximum(jnp.asarray(epsilon_2, dt), rms(p)) * rho_t
            g2 = jnp.square(g) + epsilon_1
            beta_2_t = 1 - jnp.power(step, beta_2_decay)
            if p.ndim >= 2:
                r = beta_2_t * r + (1 - beta_2_t) * jnp.mean(g2, axis=-1)
                c = beta_2_t * c + (1 - beta_2_t) * jnp.mean(g2, axis=-2)
                v = (jnp.expand_dims(r / jnp.mean(r, axis=-1, keepdims=True), -1)
                     * jnp.expand_dims(c, -2))
            else:
                v = beta_2_t * v + (1 - beta_2_t) * g2
            u = g / jnp.sqrt(v)
            u = u / jnp.maximum(jnp.asarray(1.0, dt), rms(u) / clip_threshold)
            return -alpha_t * u, r, c, v

        out, r, c, v = _unzip(updates, jax.tree.map(one, updates, params, state.r,
                                                     state.c, state.v), 4)
        return out, KerasAdafactorState(optax.safe_increment(state.count), r, c, v)

    return optax.GradientTransformation(init, update)


# ---- Keras' base optimizer arguments ---------------------------------------------------
def _stateless(fn):
    """A transform without state whose update is `fn(updates)`."""
    return optax.GradientTransformation(
        lambda params: optax.EmptyState(), lambda updates, state, params=None: (fn(updates), state))


def keras_loss_scale(factor):
    """`loss_scale_factor`: gradients are divided by `factor` (the loss was
    multiplied by it before differentiation).

    >>> u, _ = keras_loss_scale(4.0).update([jnp.array(2.0)], optax.EmptyState())
    >>> float(u[0])
    0.5
    """
    return _stateless(lambda updates: jax.tree.map(lambda g: g / factor, updates))


def keras_clip_by_norm(clipnorm):
    """`clipnorm`: each gradient is rescaled to an L2 norm of at most
    `clipnorm` (a zero gradient stays zero).

    >>> u, _ = keras_clip_by_norm(1.0).update([jnp.array([3.0, 4.0])], optax.EmptyState())
    >>> [round(float(x), 4) for x in u[0]]
    [0.6, 0.8]
    """
    def clip(g):
        l2sum = jnp.sum(jnp.square(g), keepdims=True)
        pred = l2sum > 0
        l2norm = jnp.where(pred, jnp.sqrt(jnp.where(pred, l2sum, jnp.ones_like(l2sum))), l2sum)
        return (g * clipnorm / jnp.maximum(l2norm, clipnorm)).astype(g.dtype)

    return _stateless(lambda updates: jax.tree.map(clip, updates))


def keras_clip_by_global_norm(clipnorm):
    """`global_clipnorm`: all gradients are rescaled together to a global L2
    norm of at most `clipnorm`; a non-finite norm gives NaN gradients, as in Keras.

    >>> tx = keras_clip_by_global_norm(1.0)
    >>> u, _ = tx.update([jnp.array([3.0]), jnp.array([4.0])], optax.EmptyState())
    >>> [round(float(x[0]), 4) for x in u]
    [0.6, 0.8]
    """
    def clip(updates):
        leaves = jax.tree.leaves(updates)
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g.astype(jnp.float32))) for g in leaves))
        scale = clipnorm * jnp.minimum(1.0 / norm, 1.0 / clipnorm)
        scale = scale + (norm - norm)  # NaN/inf norms give NaN
        return jax.tree.map(lambda g: (g * scale).astype(g.dtype), updates)

    return _stateless(clip)


def keras_weight_decay(inner, rate, learning_rate, mask=None):
    """`weight_decay`, decoupled as Keras does it: each parameter (where the
    tree of bools `mask` is True) is first decayed, `p - p * rate * lr`, then
    `inner` runs on the decayed parameters; the update is the decay plus
    `inner`'s step.

    >>> tx = keras_weight_decay(optax.scale(0.0), rate=0.5, learning_rate=0.1)
    >>> p = [jnp.array(2.0)]
    >>> u, _ = tx.update([jnp.array(1.0)], tx.init(p), p)
    >>> round(float(u[0]), 4)
    -0.1
    """
    def decay(p, use):
        if not use:
            return p
        return p - p * jnp.asarray(rate, p.dtype) * jnp.asarray(learning_rate, p.dtype)

    def update(updates, state, params=None):
        use = mask if mask is not None else jax.tree.map(lambda _: True, params)
        decayed = jax.tree.map(decay, params, use)
        steps, state = inner.update(updates, state, decayed)
        return jax.tree.map(lambda s, d, p: (d - p) + s, steps, decayed, params), state

    return optax.GradientTransformation(inner.init, update)


class KerasAccumulateState(NamedTuple):
    gradient_accumulator: Any
    inner_state: Any


def keras_accumulate(inner, steps, iteration):
    """`gradient_accumulation_steps`: `inner` updates only on every `steps`-th
    call (when `(iteration + 1) % steps == 0`, `iteration` counting calls from
    0), with the mean of the gradients since the last update; on the other
    calls the update is zero and `inner`'s state is unchanged.

    >>> p = [jnp.zeros(())]
    >>> state = keras_accumulate(optax.identity(), 2, 0).init(p)
    >>> u, state = keras_accumulate(optax.identity(), 2, 0).update([jnp.array(1.0)], state, p)
    >>> u, _ = keras_accumulate(optax.identity(), 2, 1).update([jnp.array(3.0)], state, p)
    >>> float(u[0])
    2.0
    """
    def init(params):
        return KerasAccumulateState(_zeros(params), inner.init(params))

    def update(updates, state, params=None):
        is_update = (iteration + 1) % steps == 0
        acc = state.gradient_accumulator
        grads = jax.tree.map(lambda g, a: jnp.where(is_update, (g + a) / steps, g), updates, acc)
        out, inner_state = inner.update(grads, state.inner_state, params)
        acc = jax.tree.map(lambda g, a: jnp.where(is_update, jnp.zeros_like(a), g + a),
                           updates, acc)
        return (_select(is_update, out, _zeros(out)),
                KerasAccumulateState(acc, _select(is_update, inner_state, state.inner_state)))

    return optax.GradientTransformation(init, update)


class KerasEmaState(NamedTuple):
    average: Any


def keras_ema(momentum=0.99, overwrite_frequency=None, step=0):
    """`use_ema`: after the update, an exponential moving average of the
    parameters, `a = m * a + (1 - m) * p` (`m` is 0 on `step` 0, so the
    average starts at the parameters); with `overwrite_frequency`, the
    parameters are replaced by their averages when `(step + 1)` is a multiple
    of it. Place it last: its input updates are the step added to `params`.

    >>> tx = keras_ema(0.5, overwrite_frequency=1, step=1)
    >>> p = [jnp.array(0.0)]
    >>> u, state = tx.update([jnp.array(2.0)], tx.init(p), p)
    >>> float(state.average[0]), float(u[0])
    (1.0, 1.0)
    """
    def init(params):
        return KerasEmaState(jax.tree.map(jnp.copy, params))

    def update(updates, state, params=None):
        not_first = jnp.asarray(step) != 0

        def average(u, p, a):
            m = not_first.astype(p.dtype) * jnp.asarray(momentum, p.dtype)
            return m * a + (1 - m) * (p + u)

        averages = jax.tree.map(average, updates, params, state.average)
        if overwrite_frequency:
            overwrite = (jnp.asarray(step) + 1) % overwrite_frequency == 0
            updates = jax.tree.map(lambda u, p, a: jnp.where(overwrite, a - p, u),
                                   updates, params, averages)
        return updates, KerasEmaState(averages)

    return optax.GradientTransformation(init, update)


def param_owners(tx, state, params):
    """For each leaf of `state` (tx's state for the list `params`), the index
    of the parameter it belongs to, or -1 (leaves shared by all parameters,
    such as step counts, or every leaf when that cannot be told).

    >>> tx = keras_adam()
    >>> p = [jnp.zeros(2), jnp.zeros(3)]
    >>> param_owners(tx, tx.init(p), p)
    [-1, 0, 1, 0, 1]
    """
    n_leaves = len(jax.tree.leaves(state))
    index = jax.tree.unflatten(jax.tree.structure(params), range(len(jax.tree.leaves(params))))
    try:
        owners = jax.tree.leaves(optax.tree_utils.tree_map_params(
            tx, lambda _, i: i, state, index,
            transform_non_params=lambda x: jax.tree.map(lambda _: -1, x)))
    except Exception:  # noqa: BLE001 - an init that is not a map over params
        owners = None
    if owners is None or len(owners) != n_leaves or not all(isinstance(o, int) for o in owners):
        return [-1] * n_leaves
    return owners


def freeze(inner, frozen):
    """`inner`, except that the parameters at the (flattened) indices
    `frozen` get a zero update and keep their own state leaves (Keras skips
    the variables whose gradient is None).

    >>> tx = freeze(optax.trace(0.5), frozen=[1])
    >>> p = [jnp.zeros(()), jnp.zeros(())]
    >>> u, state = tx.update([jnp.array(1.0), jnp.array(1.0)], tx.init(p), p)
    >>> [float(x) for x in u], [float(x) for x in state.trace]
    ([1.0, 0.0], [1.0, 0.0])
    """
    frozen = frozenset(frozen)

    def update(updates, state, params=None):
        out, new_state = inner.update(updates, state, params)
        if not frozen:
            return out, new_state
        leaves, treedef = jax.tree.flatten(out)
        out = treedef.unflatten([jnp.zeros_like(u) if i in frozen else u
                                 for i, u in enumerate(leaves)])
        owners = param_owners(inner, state, params)
        kept = [old if owner in frozen else new for owner, old, new in
                zip(owners, jax.tree.leaves(state), jax.tree.leaves(new_state))]
        return out, jax.tree.unflatten(jax.tree.structure(new_state), kept)

    return optax.GradientTransformation(inner.init, update)


def all_finite(tree):
    """Whether every element of every leaf of `tree` is finite.

    >>> bool(all_finite([jnp.array([1.0, jnp.inf])]))
    False
    """
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


class DynamicLossScaleState(NamedTuple):
    dynamic_scale: Any
    step_counter: Any
    inner_state: Any


def keras_dynamic_loss_scale(inner, initial_scale=2.0 ** 15, growth_steps=2000):
    """Dynamic loss scaling (`LossScaleOptimizer`): gradients are divided by
    the scale; a step whose gradients are not all finite is skipped (zero
    update, `inner`'s state unchanged) and halves the scale (not below 1);
    after `growth_steps` finite steps in a row the scale doubles.

    >>> tx = keras_dynamic_loss_scale(optax.identity(), initial_scale=4.0)
    >>> u, state = tx.update([jnp.array(2.0)], tx.init([jnp.zeros(())]))
    >>> float(u[0]), float(state.dynamic_scale)
    (0.5, 4.0)
    >>> u, state = tx.update([jnp.array(jnp.nan)], state)
    >>> float(u[0]), float(state.dynamic_scale)
    (0.0, 2.0)
    """
    def init(params):
        return DynamicLossScaleState(jnp.asarray(initial_scale, jnp.float32),
                                     jnp.zeros([], jnp.int32), inner.init(params))

    def update(updates, state, params=None):
        scale, counter = state.dynamic_scale, state.step_counter
        finite = all_finite(updates)
        grads = jax.tree.map(lambda g: jnp.where(finite, g / scale, jnp.zeros_like(g)), updates)
        out, inner_state = inner.update(grads, state.inner_state, params)
        grow = jnp.logical_and(finite, counter + 1 >= growth_steps)
        return (_select(finite, out, _zeros(out)), DynamicLossScaleState(
            jnp.where(finite, jnp.where(grow, scale * 2, scale), jnp.maximum(scale / 2, 1.0)),
            jnp.where(finite, jnp.where(grow, 0, counter + 1), 0),
            _select(finite, inner_state, state.inner_state)))

    return optax.GradientTransformation(init, update)
