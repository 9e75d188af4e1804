"""Small optax transforms for the places where Keras 3's update rule differs
from optax's built-ins.

Each returns an `optax.GradientTransformation` whose updates are the
*direction* (before the learning rate), except `keras_adafactor`, whose step
size depends on the learning rate and the parameters. Optimizers chain them
with `optax.scale(-learning_rate)`.

Where optax already computes exactly what Keras does (SGD's momentum,
RMSprop, Adagrad, Adadelta, Lion) kerax uses optax's own transforms.
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["keras_adam", "keras_nadam", "keras_adamax", "keras_adafactor"]


def _zeros(params):
    return jax.tree.map(jnp.zeros_like, params)


def _step(count, dtype):
    return jnp.asarray(count + 1, dtype)


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
    `sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`."""

    def init(params):
        if amsgrad:
            return KerasAMSGradState(jnp.zeros([], jnp.int32), _zeros(params),
                                     _zeros(params), _zeros(params))
        return KerasAdamState(jnp.zeros([], jnp.int32), _zeros(params), _zeros(params))

    def update(updates, state, params=None):
        del params

        def moments(g, m, v):
            return m + (g - m) * (1 - beta_1), v + (jnp.square(g) - v) * (1 - beta_2)

        mv = jax.tree.map(moments, updates, state.mu, state.nu)
        mu = jax.tree.map(lambda _, x: x[0], updates, mv)
        nu = jax.tree.map(lambda _, x: x[1], updates, mv)
        denom_v = nu
        if amsgrad:
            nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
            denom_v = nu_max

        def direction(m, v):
            t = _step(state.count, m.dtype)
            scale = jnp.sqrt(1 - jnp.power(jnp.asarray(beta_2, m.dtype), t)) / (
                1 - jnp.power(jnp.asarray(beta_1, m.dtype), t))
            return m * scale / (jnp.sqrt(v) + epsilon)

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
    `u_t = b1 * (1 - 0.5 * 0.96^t)` and its running product."""

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

        def moments(g, m, v):
            return m + (g - m) * (1 - beta_1), v + (jnp.square(g) - v) * (1 - beta_2)

        mv = jax.tree.map(moments, updates, state.mu, state.nu)
        mu = jax.tree.map(lambda _, x: x[0], updates, mv)
        nu = jax.tree.map(lambda _, x: x[1], updates, mv)

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
    `u = max(b2 * u, |g|)` (optax puts eps inside the max)."""

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
    pass `relative_step=False` then). Needs `params`."""

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

        res = jax.tree.map(one, updates, params, state.r, state.c, state.v)
        pick = lambda i: jax.tree.map(lambda _, x: x[i], updates, res)  # noqa: E731
        return pick(0), KerasAdafactorState(optax.safe_increment(state.count),
                                            pick(1), pick(2), pick(3))

    return optax.GradientTransformation(init, update)
