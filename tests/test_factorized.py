"""Factorised (Tucker, CP) spectral weights: reconstruction, parameter counts, gradients,
initial scale and input checks."""

from __future__ import annotations

import math
import string

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models.factorized import (
    CPWeights,
    TuckerWeights,
    cp_rank,
    factorized_param_count,
    factorized_weights,
    tucker_ranks,
    weight_shape,
)
from sciml.models.fno import SpectralConv

# Jitted once per shape: one compilation is faster than the eager operations one by one.
complex_weights = eqx.filter_jit(lambda module: module.complex_weights())

SHAPES = {1: (2, 3, (5,)), 2: (2, 3, (4, 3)), 3: (2, 2, (3, 2, 2))}
# Every way of giving a rank, one per dimension (each new shape costs a compilation).
RANKS = {
    "tucker": {1: 0.5, 2: (2, 2, 2, 3, 2), 3: 1.0},
    "cp": {1: 0.5, 2: 7, 3: 1},
}
KEY = jax.random.key(0)


def random_complex(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def n_real_parameters(module) -> int:
    return sum(leaf.size for leaf in jax.tree_util.tree_leaves(eqx.filter(module, eqx.is_array)))


def numpy_tucker(module: TuckerWeights) -> np.ndarray:
    """Tucker reconstruction in one numpy einsum: W[a..] = G[r..] prod_k U_k[a_k, r_k]."""
    n = len(module.factors)
    outer, inner = string.ascii_lowercase[:n], string.ascii_uppercase[:n]
    core = np.asarray(module.core)
    factors = [np.asarray(f) for f in module.factors]
    subscripts = inner + "," + ",".join(o + i for o, i in zip(outer, inner)) + "->" + outer
    return np.einsum(
        subscripts, core[0] + 1j * core[1], *(f[0] + 1j * f[1] for f in factors), optimize=True
    )


def numpy_cp(module: CPWeights) -> np.ndarray:
    """CP reconstruction as a sum of R rank-one outer products."""
    lam = np.asarray(module.weights)
    factors = [np.asarray(f) for f in module.factors]
    factors = [f[0] + 1j * f[1] for f in factors]
    total = np.zeros(module.shape, complex)
    for r in range(module.rank):
        term = (lam[0, r] + 1j * lam[1, r]) * np.ones(())
        for f in factors:
            term = np.multiply.outer(term, f[:, r])
        total += term
    return total


@pytest.mark.parametrize("d", [1, 2, 3])
def test_tucker_hosvd_with_full_ranks_reproduces_the_dense_tensor(d):
    cin, cout, modes = SHAPES[d]
    shape = weight_shape(cin, cout, modes)
    assert shape == (2 ** (d - 1), cin, cout, *modes)
    dense = random_complex(shape, d)
    tucker = TuckerWeights.from_dense(jnp.asarray(dense), rank=shape)
    assert tucker.ranks == shape and tucker.core.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(complex_weights(tucker)), dense, rtol=0, atol=1e-12)
    # The factors are unitary.
    for f in tucker.factors:
        u = np.asarray(f[0]) + 1j * np.asarray(f[1])
        np.testing.assert_allclose(u.conj().T @ u, np.eye(u.shape[1]), atol=1e-12)
    # Default rank: full.
    assert TuckerWeights.from_dense(jnp.asarray(dense)).ranks == shape


def test_truncated_hosvd_recovers_a_tensor_of_that_multilinear_rank():
    cin, cout, modes = SHAPES[2]
    low = TuckerWeights(cin, cout, modes, rank=RANKS["tucker"][2], key=KEY, dtype=jnp.float64)
    exact = complex_weights(low)
    fitted = TuckerWeights.from_dense(exact, rank=RANKS["tucker"][2])
    assert fitted.ranks == RANKS["tucker"][2]
    scale = float(jnp.max(jnp.abs(exact)))
    np.testing.assert_allclose(complex_weights(fitted), exact, rtol=0, atol=1e-12 * scale)
    # Lower ranks than the tensor's cannot reproduce it.
    worse = complex_weights(TuckerWeights.from_dense(exact, rank=(2, 2, 2, 2, 2)))
    assert float(jnp.max(jnp.abs(worse - exact))) > 1e-3 * scale


def test_hosvd_of_a_spectral_convs_weights():
    """The layout of SpectralConv's weights, reshaped to one corner axis, round-trips."""
    conv = SpectralConv(3, 2, (4, 3), key=jax.random.key(0), dtype=jnp.float64)
    dense = conv.complex_weights().reshape(weight_shape(3, 2, (4, 3)))
    tucker = TuckerWeights.from_dense(dense)
    back = complex_weights(tucker).reshape(conv.complex_weights().shape)
    np.testing.assert_allclose(back, conv.complex_weights(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("kind", ["tucker", "cp"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_random_weights_match_an_independent_reconstruction_and_the_count(kind, d):
    cin, cout, modes = SHAPES[d]
    rank = RANKS[kind][d]
    module = factorized_weights(kind, cin, cout, modes, rank=rank, key=KEY, dtype=jnp.float64)
    w = complex_weights(module)
    assert w.shape == (2 ** (d - 1), cin, cout, *modes) == module.shape
    assert w.dtype == jnp.complex128
    expected = numpy_tucker(module) if kind == "tucker" else numpy_cp(module)
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(np.asarray(w), expected, rtol=0, atol=1e-12 * scale)
    assert factorized_param_count(kind, cin, cout, modes, rank) == n_real_parameters(module)
    if isinstance(rank, tuple):
        assert module.ranks == rank
    elif isinstance(rank, int):
        assert module.rank == rank


@pytest.mark.parametrize("kind", ["tucker", "cp"])
def test_float32_parameters_give_complex64_weights(kind):
    cin, cout, modes = SHAPES[2]
    module = factorized_weights(kind, cin, cout, modes, rank=RANKS[kind][2], key=KEY)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(module))
    assert complex_weights(module).dtype == jnp.complex64


@pytest.mark.parametrize("kind", ["tucker", "cp"])
@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_rank_fraction_is_about_that_fraction_of_the_dense_count(kind, fraction):
    dense = 2 * 2 * 32 * 32 * 12 * 12
    assert dense == 589_824
    count = factorized_param_count(kind, 32, 32, (12, 12), fraction)
    assert fraction * dense / 1.5 <= count <= 1.5 * fraction * dense
    shape = weight_shape(32, 32, (12, 12))
    if kind == "tucker":
        ranks = tucker_ranks(shape, fraction)
        assert all(1 <= r <= n for r, n in zip(ranks, shape))
        assert ranks[1] > ranks[3]  # proportional to the dimensions
    else:
        assert cp_rank(shape, fraction) == int(fraction * math.prod(shape) / sum(shape))


def test_ranks_stay_within_one_and_the_dimension():
    shape = weight_shape(3, 4, (2,))
    assert shape[0] == 1
    assert tucker_ranks(shape, 1e-6) == (1, 1, 1, 1)
    assert all(r <= n for r, n in zip(tucker_ranks(shape, 1.0), shape))
    assert cp_rank(shape, 1e-6) == 1
    assert cp_rank(shape, 3) == 3


@pytest.mark.parametrize("kind", ["tucker", "cp"])
def test_initial_weights_have_the_dense_layers_root_mean_square(kind):
    module = factorized_weights(
        kind, 32, 32, (12, 12), rank=0.1, key=jax.random.key(0), dtype=jnp.float64
    )
    w = np.asarray(complex_weights(module))
    rms = 1 / (math.sqrt(3) * 32 * 32)
    # That is the root mean square of the dense layer's real and imaginary parts.
    dense = SpectralConv(2, 3, (4, 3), key=KEY, dtype=jnp.float64).weights
    np.testing.assert_allclose(jnp.sqrt(jnp.mean(dense**2)), 1 / (math.sqrt(3) * 6), rtol=0.1)
    for part in (w.real, w.imag):
        assert 0.8 * rms < np.sqrt(np.mean(part**2)) < 1.25 * rms
        assert abs(part.mean()) < 0.1 * rms


@pytest.mark.parametrize("kind", ["tucker", "cp"])
def test_gradients_reach_every_parameter(kind):
    cin, cout, modes = SHAPES[2]
    module = factorized_weights(
        kind, cin, cout, modes, rank=RANKS[kind][2], key=KEY, dtype=jnp.float64
    )
    target = jnp.asarray(random_complex(module.shape, 0))

    @eqx.filter_jit
    @eqx.filter_grad
    def grad(m):
        return jnp.sum(jnp.abs(m.complex_weights() - target) ** 2)

    leaves = jax.tree_util.tree_leaves(grad(module))
    assert len(leaves) == len(module.shape) + 1
    for g in leaves:
        assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.max(jnp.abs(g))) > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: factorized_weights("dense", 2, 3, (4,), rank=0.1, key=jax.random.key(0)),
         "one of 'tucker', 'cp'"),
        (lambda: factorized_param_count("tt", 2, 3, (4,), 0.1), "one of 'tucker', 'cp'"),
        (lambda: TuckerWeights(2, 3, (4,), rank=0.0, key=jax.random.key(0)), r"\(0, 1\]"),
        (lambda: TuckerWeights(2, 3, (4,), rank=-0.2, key=jax.random.key(0)), r"\(0, 1\]"),
        (lambda: CPWeights(2, 3, (4,), rank=1.5, key=jax.random.key(0)), r"\(0, 1\]"),
        (lambda: CPWeights(2, 3, (4,), rank=0, key=jax.random.key(0)), "positive integer R"),
        (lambda: factorized_weights("cp", 2, 3, (4,), rank=(1, 2, 2, 2), key=jax.random.key(0)),
         "positive integer R"),
        (lambda: TuckerWeights(2, 3, (4,), rank=(1, 2, 2), key=jax.random.key(0)),
         "sequence of 4 integer ranks"),
        (lambda: TuckerWeights(2, 3, (4,), rank=(1, 2, 4, 2), key=jax.random.key(0)),
         "between 1 and its dimension"),
        (lambda: TuckerWeights(2, 3, (4,), rank=(1, 0, 2, 2), key=jax.random.key(0)),
         "between 1 and its dimension"),
        (lambda: TuckerWeights(2, 3, (4,), rank=3, key=jax.random.key(0)), "rank fraction"),
        (lambda: TuckerWeights(2, 3, 4, key=jax.random.key(0)), "modes"),
        (lambda: TuckerWeights(0, 3, (4,), key=jax.random.key(0)), "in_channels"),
        (lambda: CPWeights(2, 3, (4,), key=jax.random.key(0), dtype=jnp.int32), "dtype"),
        (lambda: TuckerWeights.from_dense(jnp.ones((3, 2, 2, 4, 4), complex)), "corners"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
