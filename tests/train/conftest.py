"""A tiny pointwise network and a tiny linear operator problem for the training tests."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest


class PointwiseMLP(eqx.Module):
    """(C_in, *grid) -> (C_out, *grid): a one-hidden-layer MLP applied at every point.

    ``traces`` counts how often the network is traced, to check compilation.
    """

    hidden: jax.Array
    bias: jax.Array
    readout: jax.Array
    traces = [0]

    def __init__(self, c_in, c_out, width=8, *, key, dtype=jnp.float32):
        k1, k2 = jax.random.split(key)
        self.hidden = jax.random.normal(k1, (width, c_in), dtype) / c_in**0.5
        self.bias = jnp.zeros((width, 1, 1), dtype)
        self.readout = jax.random.normal(k2, (c_out, width), dtype) / width**0.5

    def __call__(self, x):
        PointwiseMLP.traces[0] += 1
        h = jnp.tanh(jnp.einsum("wc,c...->w...", self.hidden, x) + self.bias)
        return jnp.einsum("ow,w...->o...", self.readout, h)


def linear_problem(n=32, grid=(8, 8), seed=0):
    """u = 0.7 a_0 - 1.3 a_1 + 0.5, pointwise, on float32 fields (N, 2, *grid) -> (N, 1, *grid)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 2, *grid)).astype(np.float32)
    u = (0.7 * a[:, :1] - 1.3 * a[:, 1:] + 0.5).astype(np.float32)
    return a, u


@pytest.fixture(scope="module")
def problem():
    """((inputs, outputs) train, (inputs, outputs) test): 24 and 8 samples."""
    a, u = linear_problem()
    return (a[:24], u[:24]), (a[24:], u[24:])


@pytest.fixture(scope="module")
def model():
    """An untrained PointwiseMLP 2 -> 1 (immutable, so shared)."""
    return PointwiseMLP(2, 1, key=jax.random.key(0))


def poisoned_sgd(learning_rate, good_steps):
    """Plain SGD whose updates turn NaN after ``good_steps`` steps: a run that
    diverges at a chosen epoch, whatever the data."""
    import optax

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(updates, count, params=None):
        scale = jnp.where(count < good_steps, -learning_rate, jnp.nan)
        return jax.tree.map(lambda u: scale * u, updates), count + 1

    return optax.GradientTransformation(init, update)


@pytest.fixture(scope="module")
def diverging():
    """``poisoned_sgd``, for the tests of the stop on a non-finite loss."""
    return poisoned_sgd
