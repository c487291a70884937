"""Verification of the Darcy solver: order of accuracy, agreement with a direct sparse
solve, adjoint gradients against finite differences, grid-independent CG iteration
counts, input validation and dtype handling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg

from sciml.solvers.darcy import (
    darcy_operator,
    darcy_residual,
    solve_darcy,
    solve_darcy_with_info,
)


def _grid(s):
    x = np.linspace(0.0, 1.0, s)
    return np.meshgrid(x, x, indexing="ij")


def _two_valued_coefficient(s, seed=0, high=12.0, low=4.0, modes=6):
    """``high`` where a smooth random cosine series is >= 0, ``low`` elsewhere."""
    rng = np.random.default_rng(seed)
    k = np.arange(modes)
    series = rng.standard_normal((modes, modes)) / (1.0 + k[:, None] ** 2 + k[None, :] ** 2)
    series[0, 0] = 0.0
    basis = np.cos(np.pi * np.outer(np.linspace(0.0, 1.0, s), k))
    return np.where(basis @ series @ basis.T >= 0, high, low)


def _sparse_darcy_matrix(a):
    """The same 5-point operator assembled entry by entry, on the interior unknowns."""
    s = a.shape[0]
    n = s - 2
    inverse_h2 = (s - 1) ** 2
    index = lambda i, j: (i - 1) * n + (j - 1)
    rows, cols, vals = [], [], []
    for i in range(1, s - 1):
        for j in range(1, s - 1):
            diagonal = 0.0
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                face = 0.5 * (a[i, j] + a[i + di, j + dj]) * inverse_h2
                diagonal += face
                if 1 <= i + di <= s - 2 and 1 <= j + dj <= s - 2:
                    rows.append(index(i, j))
                    cols.append(index(i + di, j + dj))
                    vals.append(-face)
            rows.append(index(i, j))
            cols.append(index(i, j))
            vals.append(diagonal)
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n * n, n * n))


# ------------------------------------------------------------------------------ accuracy


def _manufactured_coefficient(x, y):
    return 1.0 + x**2 + 0.5 * np.sin(2 * np.pi * y) * np.cos(np.pi * x)


def _manufactured_solution(x, y):
    return np.sin(np.pi * x) * np.sin(np.pi * y) * np.exp(x - 0.5 * y)


def _manufactured_source(x, y):
    """``-div(a grad u) = -(a_x u_x + a u_xx + a_y u_y + a u_yy)`` of the closed forms."""
    pi = np.pi
    a = _manufactured_coefficient(x, y)
    a_x = 2 * x - 0.5 * pi * np.sin(2 * pi * y) * np.sin(pi * x)
    a_y = pi * np.cos(2 * pi * y) * np.cos(pi * x)
    e = np.exp(x - 0.5 * y)
    u_x = e * np.sin(pi * y) * (pi * np.cos(pi * x) + np.sin(pi * x))
    u_xx = e * np.sin(pi * y) * ((1 - pi**2) * np.sin(pi * x) + 2 * pi * np.cos(pi * x))
    u_y = e * np.sin(pi * x) * (pi * np.cos(pi * y) - 0.5 * np.sin(pi * y))
    u_yy = e * np.sin(pi * x) * ((0.25 - pi**2) * np.sin(pi * y) - pi * np.cos(pi * y))
    return -(a_x * u_x + a * u_xx + a_y * u_y + a * u_yy)


def test_manufactured_source_is_minus_div_a_grad_u():
    def flux(x, y):
        a = 1.0 + x**2 + 0.5 * jnp.sin(2 * jnp.pi * y) * jnp.cos(jnp.pi * x)
        u = lambda x, y: jnp.sin(jnp.pi * x) * jnp.sin(jnp.pi * y) * jnp.exp(x - 0.5 * y)
        return a * jax.grad(u, 0)(x, y), a * jax.grad(u, 1)(x, y)

    source = jax.jit(
        jax.vmap(
            lambda x, y: (
                -jax.grad(lambda x: flux(x, y)[0])(x) - jax.grad(lambda y: flux(x, y)[1])(y)
            )
        )
    )
    x, y = np.random.default_rng(0).uniform(0.0, 1.0, (2, 50))
    np.testing.assert_allclose(source(x, y), _manufactured_source(x, y), rtol=1e-12, atol=1e-12)


def test_manufactured_solution_converges_at_second_order():
    resolutions = [33, 65, 129]
    errors = []
    for s in resolutions:
        x, y = _grid(s)
        u = solve_darcy(_manufactured_coefficient(x, y), _manufactured_source(x, y), rtol=1e-12)
        errors.append(np.max(np.abs(np.asarray(u) - _manufactured_solution(x, y))))
    h = 1.0 / (np.array(resolutions) - 1)
    slope = np.polyfit(np.log(h), np.log(errors), 1)[0]
    assert abs(slope - 2.0) < 0.1, (slope, errors)


def test_agrees_with_a_direct_sparse_solve():
    s = 33
    a = _two_valued_coefficient(s, seed=1)
    f = np.random.default_rng(2).standard_normal((s, s))
    expected = scipy.sparse.linalg.spsolve(_sparse_darcy_matrix(a), f[1:-1, 1:-1].ravel())
    u = np.asarray(solve_darcy(a, f, rtol=1e-12))
    interior = u[1:-1, 1:-1].ravel()
    assert np.linalg.norm(interior - expected) <= 1e-9 * np.linalg.norm(expected)
    assert np.all(u[0] == 0) and np.all(u[-1] == 0)
    assert np.all(u[:, 0] == 0) and np.all(u[:, -1] == 0)


def test_operator_and_residual_match_the_sparse_matrix():
    s = 9
    rng = np.random.default_rng(3)
    a = rng.uniform(1.0, 5.0, (s, s))
    u = np.pad(rng.standard_normal((s - 2, s - 2)), 1)
    f = rng.standard_normal((s, s))
    product = _sparse_darcy_matrix(a) @ u[1:-1, 1:-1].ravel()
    operator = np.asarray(darcy_operator(a, u))
    np.testing.assert_allclose(operator[1:-1, 1:-1].ravel(), product, rtol=1e-12)
    assert np.all(operator[0] == 0) and np.all(operator[:, -1] == 0)
    residual = np.asarray(darcy_residual(a, f, u))
    np.testing.assert_allclose(residual[1:-1, 1:-1].ravel(), f[1:-1, 1:-1].ravel() - product)
    assert np.all(residual[-1] == 0) and np.all(residual[:, 0] == 0)


def test_zero_source_gives_zero_solution_without_iterating():
    u, iterations, residual = solve_darcy_with_info(jnp.ones((33, 33)), 0.0, rtol=1e-12)
    assert int(iterations) == 0 and float(residual) == 0.0
    assert np.all(np.asarray(u) == 0)


# ----------------------------------------------------------------------------- gradients


# One grid and one tolerance for all gradient tests, so that they share compiled solves.
GRADIENT_GRID = 12
GRADIENT_RTOL = 1e-13


def _weighted_sum(a, f, weights):
    return jnp.sum(weights * solve_darcy(a, f, rtol=GRADIENT_RTOL))


_weighted_sum_gradients = jax.jit(jax.grad(_weighted_sum, argnums=(0, 1)))


def _misfit(a, f, u_obs):
    return 0.5 * jnp.sum((solve_darcy(a, f, rtol=GRADIENT_RTOL) - u_obs) ** 2)


def _central_difference(fun, x, direction, eps=1e-4):
    return (fun(x + eps * direction) - fun(x - eps * direction)) / (2 * eps)


def test_adjoint_gradients_match_finite_differences():
    s = GRADIENT_GRID
    rng = np.random.default_rng(4)
    a = jnp.asarray(rng.uniform(1.0, 3.0, (s, s)))
    f = jnp.asarray(rng.standard_normal((s, s)))
    weights = jnp.asarray(rng.standard_normal((s, s)))
    grad_a, grad_f = _weighted_sum_gradients(a, f, weights)
    assert np.all(np.asarray(grad_f)[[0, -1], :] == 0)
    assert np.all(np.asarray(grad_f)[:, [0, -1]] == 0)
    for _ in range(3):
        direction = jnp.asarray(rng.standard_normal((s, s)))
        fd_a = _central_difference(lambda x: _weighted_sum(x, f, weights), a, direction)
        fd_f = _central_difference(lambda x: _weighted_sum(a, x, weights), f, direction)
        assert abs(jnp.vdot(grad_a, direction) - fd_a) <= 1e-6 * abs(fd_a)
        assert abs(jnp.vdot(grad_f, direction) - fd_f) <= 1e-6 * abs(fd_f)


def test_gradient_of_a_misfit_loss_and_of_a_scalar_source():
    s = GRADIENT_GRID
    rng = np.random.default_rng(5)
    a = jnp.asarray(rng.uniform(2.0, 6.0, (s, s)))
    u_obs = jnp.asarray(rng.standard_normal((s, s))) * 1e-2
    grad_a, grad_f = jax.jit(jax.grad(_misfit, argnums=(0, 1)))(a, 1.5, u_obs)
    assert jnp.shape(grad_f) == ()
    fd_f = (_misfit(a, 1.5 + 1e-4, u_obs) - _misfit(a, 1.5 - 1e-4, u_obs)) / 2e-4
    assert abs(grad_f - fd_f) <= 1e-6 * abs(fd_f)
    direction = jnp.asarray(rng.standard_normal((s, s)))
    fd_a = _central_difference(lambda x: _misfit(x, 1.5, u_obs), a, direction)
    assert abs(jnp.vdot(grad_a, direction) - fd_a) <= 1e-6 * abs(fd_a)


def test_vmap_of_grad_matches_per_sample_gradients():
    s = GRADIENT_GRID
    rng = np.random.default_rng(6)
    a = jnp.asarray(rng.uniform(1.0, 4.0, (2, s, s)))
    f = jnp.asarray(rng.standard_normal((2, s, s)))
    weights = jnp.asarray(rng.standard_normal((s, s)))
    batched = jax.jit(jax.vmap(_weighted_sum_gradients, in_axes=(0, 0, None)))(a, f, weights)
    for i in range(2):
        single = _weighted_sum_gradients(a[i], f[i], weights)
        for batched_grad, single_grad in zip(batched, single):
            np.testing.assert_allclose(batched_grad[i], single_grad, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------- conjugate gradients


def test_cg_iterations_are_few_and_grid_independent_at_contrast_12_to_4():
    iterations = []
    for s in (33, 129):
        a = _two_valued_coefficient(s, seed=7)
        _, count, residual = solve_darcy_with_info(a, 1.0, rtol=1e-12)
        # the true residual of the computed u; at s = 129 float64 rounding is ~1e-12
        assert float(residual) <= 1e-11
        iterations.append(int(count))
    # The preconditioned spectrum lies in [1/sqrt(3), sqrt(3)], so the classical bound
    # is sqrt(3)/2 * log(2e12) = 25 iterations, whatever the grid (21 are needed).
    assert max(iterations) <= 25, iterations
    assert abs(iterations[1] - iterations[0]) <= 2, iterations


def test_batched_solve_matches_single_solves():
    s = 33
    a = np.stack([_two_valued_coefficient(s, seed=k) for k in range(3)])
    solve = jax.vmap(lambda a: solve_darcy_with_info(a, 1.0, rtol=1e-12))
    u, iterations, _ = jax.jit(solve)(a)
    for k in range(3):
        single, single_iterations, _ = solve_darcy_with_info(a[k], 1.0, rtol=1e-12)
        np.testing.assert_allclose(u[k], single, rtol=1e-12, atol=1e-15)
        assert int(iterations[k]) == int(single_iterations)


def test_maxiter_caps_the_iterations():
    a = _two_valued_coefficient(33, seed=8)
    _, iterations, residual = solve_darcy_with_info(a, 1.0, rtol=1e-12, maxiter=3)
    assert int(iterations) == 3 and float(residual) > 1e-6


# ----------------------------------------------------------------------------------- dtypes


def test_float32_inputs_give_a_float32_solution():
    s = 33
    a = _two_valued_coefficient(s, seed=9)
    u32, _, residual = solve_darcy_with_info(a.astype(np.float32), 1.0, rtol=1e-5)
    assert u32.dtype == jnp.float32 and residual.dtype == jnp.float32
    assert float(residual) <= 1e-4
    u64 = solve_darcy(a, 1.0, rtol=1e-12)
    assert u64.dtype == jnp.float64
    assert float(jnp.max(jnp.abs(u32 - u64)) / jnp.max(jnp.abs(u64))) <= 1e-5


# ------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("a", "message"),
    [
        (np.where(np.eye(5) > 0, np.nan, 1.0), "got 5 NaN values"),
        (np.where(np.eye(5) > 0, np.inf, 1.0), "got 5 infinite values"),
        (np.where(np.eye(5) > 0, -1.0, 1.0), r"min\(a\) = -1.0"),
        (np.zeros((5, 5)), r"min\(a\) = 0.0"),
    ],
)
def test_bad_coefficient_values_raise(a, message):
    with pytest.raises(ValueError, match=message):
        solve_darcy(a, 1.0)


@pytest.mark.parametrize(
    ("a", "f", "message"),
    [
        (np.ones(5), 1.0, r"shape \(s, s\); got shape \(5,\)"),
        (np.ones((5, 6)), 1.0, r"got shape \(5, 6\)"),
        (np.ones((2, 2)), 1.0, r"at least 3 x 3 nodes \(one interior node\); got shape \(2, 2\)"),
        (np.ones((5, 5)), np.ones((6, 6)), r"shape \(5, 5\) to match a; got shape \(6, 6\)"),
        (np.ones((5, 5)), np.ones(5), r"got shape \(5,\)"),
    ],
)
def test_bad_shapes_raise(a, f, message):
    with pytest.raises(ValueError, match=message):
        solve_darcy(a, f)


def test_bad_source_and_options_raise():
    with pytest.raises(ValueError, match="got 1 NaN or inf values"):
        solve_darcy(np.ones((5, 5)), np.where(np.eye(5)[::-1] * np.eye(5) > 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="rtol = 0"):
        solve_darcy(np.ones((5, 5)), 1.0, rtol=0)
    with pytest.raises(ValueError, match="maxiter"):
        solve_darcy(np.ones((5, 5)), 1.0, maxiter=0)


def test_bad_coefficient_fails_at_run_time_under_jit_and_vmap():
    a = jnp.ones((6, 6)).at[2, 3].set(-1.0)
    with pytest.raises(Exception, match="positive, finite coefficient"):
        jax.block_until_ready(
            jax.jit(jax.vmap(solve_darcy, in_axes=(0, None)))(jnp.stack([a, jnp.ones((6, 6))]), 1.0)
        )
