"""Linear algebra: Keras 3's `keras.ops.linalg` names over jax.numpy.linalg / jax.scipy."""
import jax
import jax.numpy as jnp

from kerax.ops.core import float_tensor as _f


def cholesky(x, upper=False):
    out = jnp.linalg.cholesky(_f(x))
    return jnp.conj(jnp.swapaxes(out, -1, -2)) if upper else out


def cholesky_inverse(x, upper=False):
    """Inverse of A from its Cholesky factor `x` (lower, or upper if `upper`)."""
    x = _f(x)
    lower = jnp.conj(jnp.swapaxes(x, -1, -2)) if upper else x
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)
    linv = jax.scipy.linalg.solve_triangular(lower, eye, lower=True)
    return jnp.conj(jnp.swapaxes(linv, -1, -2)) @ linv


def det(x):
    return jnp.linalg.det(_f(x))


def eig(x):
    return jnp.linalg.eig(_f(x))


def eigh(x):
    return jnp.linalg.eigh(_f(x))


def inv(x):
    return jnp.linalg.inv(_f(x))


def lu_factor(x):
    x = _f(x)
    lu, piv = jax.scipy.linalg.lu_factor(x)
    return lu, piv


def norm(x, ord=None, axis=None, keepdims=False):
    if isinstance(axis, list):
        axis = tuple(axis)
    return jnp.linalg.norm(_f(x), ord=ord, axis=axis, keepdims=keepdims)


def qr(x, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}.")
    return jnp.linalg.qr(_f(x), mode=mode)


def solve(a, b):
    return jnp.linalg.solve(_f(a), _f(b))


def solve_triangular(a, b, lower=False):
    return jax.scipy.linalg.solve_triangular(_f(a), _f(b), lower=lower)


def svd(x, full_matrices=True, compute_uv=True):
    return jnp.linalg.svd(_f(x), full_matrices=full_matrices, compute_uv=compute_uv)


def lstsq(a, b, rcond=None):
    return jnp.linalg.lstsq(_f(a), _f(b), rcond=rcond)[0]


def matrix_rank(x, tol=None):
    return jnp.linalg.matrix_rank(_f(x), rtol=tol).astype("int32")


def pinv(x, rcond=None):
    return jnp.linalg.pinv(_f(x), rtol=rcond)


def jvp(fun, primals, tangents, has_aux=False):
    return jax.jvp(fun, primals, tangents, has_aux=has_aux)


__all__ = sorted(n for n, v in list(globals().items())
                 if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == __name__)
