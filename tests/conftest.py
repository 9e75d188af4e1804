import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on its JAX backend: the reference implementation."""
    k = pytest.importorskip("keras")
    assert k.backend.backend() == "jax", "tests need KERAS_BACKEND=jax"
    return k


@pytest.fixture
def rng():
    return np.random.default_rng(0)
