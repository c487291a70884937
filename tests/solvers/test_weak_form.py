"""Weak-form Darcy residuals with Wendland test functions: the test functions and the
ball quadratures against closed forms, the residual of the 5-point solver's solution
converging at second order, round-off for a manufactured solution, gradients against
finite differences, and input validation."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.solvers.darcy import solve_darcy
from sciml.solvers.weak_form import (
    BallQuadrature,
    BilinearField,
    NearestNodeField,
    composite_ball_quadrature,
    darcy_mixed_residuals,
    darcy_weak_residual,
    grid_ball_quadrature,
    lattice_centres,
    mixed_residual_loss,
    polar_ball_quadrature,
    sample_centres,
    scaled_wendland,
    scaled_wendland_gradient,
    wendland,
    wendland_gradient,
)

# int_{B_1} phi: 2 pi int_0^1 r phi(r) dr in 2-D (l = 4), 2 int_0^1 phi(r) dr in 1-D (l = 3),
# from int_0^1 r^k (1 - r)^m dr = k! m! / (k + m + 1)!.
WENDLAND_INTEGRAL = {1: 2 / 3, 2: math.pi / 9}


def _nodes(s):
    x = np.linspace(0.0, 1.0, s)
    return np.meshgrid(x, x, indexing="ij")


def _coefficient(x, y):
    return 1 + 0.5 * np.sin(2 * np.pi * x) * np.sin(2 * np.pi * y)


class Manufactured(eqx.Module):
    """``u = sin(pi x) sin(pi y)``, ``a = 1 + theta sin(2 pi x) sin(2 pi y)`` and the source
    ``f = -div(a grad u) = 2 pi^2 a u - grad a . grad u``, written out by hand."""

    theta: jax.Array

    def u(self, x):
        return jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])

    def grad_u(self, x):
        c, s = jnp.cos(jnp.pi * x), jnp.sin(jnp.pi * x)
        return jnp.pi * jnp.stack([c[0] * s[1], s[0] * c[1]])

    def a(self, x):
        return 1 + self.theta * jnp.sin(2 * jnp.pi * x[0]) * jnp.sin(2 * jnp.pi * x[1])

    def f(self, x):
        c, s = jnp.cos(2 * jnp.pi * x), jnp.sin(2 * jnp.pi * x)
        grad_a = 2 * jnp.pi * self.theta * jnp.stack([c[0] * s[1], s[0] * c[1]])
        return 2 * jnp.pi**2 * self.a(x) * self.u(x) - grad_a @ self.grad_u(x)

    def flux(self, x):
        return self.a(x) * self.grad_u(x)


# ------------------------------------------------------------------ test functions, rules


def test_wendland_values_support_and_gradient():
    assert float(wendland(0.0)) == 1.0 and float(wendland(0.0, d=1)) == 1.0
    r = np.array([0.0, 0.3, 0.7, 1.0, 1.5])
    expected = (1 - r) ** 6 * (35 * r**2 + 18 * r + 3) / 3 * (r <= 1)
    np.testing.assert_allclose(wendland(r), expected, atol=1e-15)
    xi = jax.random.uniform(jax.random.key(0), (20, 2), minval=-1.2, maxval=1.2)
    for d in (1, 2):
        points = xi[:, :d]
        by_autodiff = jax.jit(jax.vmap(jax.grad(lambda p, d=d: wendland(jnp.linalg.norm(p), d))))(
            points
        )
        np.testing.assert_allclose(wendland_gradient(points), by_autodiff, atol=1e-13)
    np.testing.assert_array_equal(wendland_gradient(jnp.zeros(2)), jnp.zeros(2))
    # scaled to B(c, R): phi_c(x) = phi(|x - c| / R), grad phi_c = grad_xi phi / R
    c, radius, x = jnp.array([0.4, 0.5]), 0.2, jnp.array([0.45, 0.38])
    by_autodiff = jax.jit(jax.grad(lambda p: scaled_wendland(p, c, radius)))(x)
    np.testing.assert_allclose(scaled_wendland_gradient(x, c, radius), by_autodiff, rtol=1e-13)


def _disk_monomial(a, b):
    """``int_{|xi| < 1} x^a y^b`` = B((a + 1) / 2, (b + 1) / 2) / (a + b + 2) * 2 if a, b even."""
    if a % 2 or b % 2:
        return 0.0
    beta = math.gamma((a + 1) / 2) * math.gamma((b + 1) / 2) / math.gamma((a + b + 2) / 2)
    return 2 * beta / (a + b + 2)


def _integrate(rule: BallQuadrature, g):
    return float(np.asarray(rule.weights) @ np.asarray(g(np.asarray(rule.points))))


def test_polar_rule_is_exact_to_degree_8_and_for_the_wendland_function():
    rule = polar_ball_quadrature()  # 5 radii x 10 angles
    for degree in range(9):
        for a in range(degree + 1):
            b = degree - a
            value = _integrate(rule, lambda p, a=a, b=b: p[:, 0] ** a * p[:, 1] ** b)
            assert value == pytest.approx(_disk_monomial(a, b), abs=1e-14), (a, b)
    # the bound is sharp: degree 10 is not integrated exactly
    assert abs(_integrate(rule, lambda p: p[:, 0] ** 10) - _disk_monomial(10, 0)) > 1e-6
    for d in (1, 2):
        rule = polar_ball_quadrature(d)
        phi = _integrate(rule, lambda p, d=d: wendland(np.linalg.norm(p, axis=-1), d))
        assert phi == pytest.approx(WENDLAND_INTEGRAL[d], rel=1e-14)
        assert float(jnp.sum(rule.weights)) == pytest.approx(2.0 if d == 1 else math.pi)


def test_grid_rule_is_the_authors_25_points_and_composite_rules_converge():
    rule = grid_ball_quadrature()
    assert rule.points.shape == (25, 2)
    mean_phi = float(jnp.mean(wendland(np.linalg.norm(rule.points, axis=-1))))
    assert mean_phi == pytest.approx(0.1260, abs=5e-5)  # against the exact mean 1 / 9
    # composite Gauss cells: the error of int phi falls at least as h^4 (phi is C^4)
    errors = []
    for n_cells in (2, 4, 8):
        rule = composite_ball_quadrature(n_cells, order=2)
        phi = _integrate(rule, lambda p: wendland(np.linalg.norm(p, axis=-1)))
        errors.append(abs(phi - WENDLAND_INTEGRAL[2]))
    slope = np.polyfit(np.log([2, 4, 8]), np.log(errors), 1)[0]
    assert slope < -4.0, errors


def test_latin_hypercube_centres_fill_every_stratum_once():
    n, radius = 12, 0.1
    centres = np.asarray(sample_centres(jax.random.key(3), n, radius))
    assert centres.shape == (n, 2)
    strata = np.floor((centres - radius) / (1 - 2 * radius) * n).astype(int)
    for axis in range(2):
        np.testing.assert_array_equal(np.sort(strata[:, axis]), np.arange(n))
    lattice = np.asarray(lattice_centres(3, 0.2, d=1))
    np.testing.assert_allclose(lattice[:, 0], [0.2, 0.5, 0.8])


# ---------------------------------------------------------- residuals: exact and discrete


def test_manufactured_solution_residual_falls_to_round_off_with_the_quadrature():
    m = Manufactured(jnp.asarray(0.5))
    centres = sample_centres(jax.random.key(0), 8, 0.1)
    scale = 0.1**2 * WENDLAND_INTEGRAL[2]  # int phi_c, and f is of order 10
    sizes = []
    for n_radial in (2, 6, 12):
        rule = polar_ball_quadrature(2, n_radial, 2 * n_radial)
        r = darcy_weak_residual(m.u, m.a, m.f, centres, 0.1, quadrature=rule)
        sizes.append(float(jnp.max(jnp.abs(r))) / scale)
    assert all(later < earlier for earlier, later in zip(sizes, sizes[1:])), sizes
    assert sizes[0] > 1e-3 and sizes[-1] < 1e-12, sizes
    # the mixed form with the exact flux: r1 vanishes exactly, r2 to round-off
    r1, r2 = darcy_mixed_residuals(m.u, m.flux, m.a, m.f, centres, 0.1, quadrature=rule)
    assert float(jnp.max(r1)) < 1e-25 and float(jnp.max(jnp.abs(r2))) / scale < 1e-12


def test_one_dimensional_residual_is_round_off():
    u = lambda x: jnp.sin(jnp.pi * x[0])
    a = lambda x: 1 + x[0] ** 2
    # -(a u')' = -(2 x pi cos(pi x) - (1 + x^2) pi^2 sin(pi x))
    f = lambda x: (
        (1 + x[0] ** 2) * jnp.pi**2 * jnp.sin(jnp.pi * x[0])
        - 2 * x[0] * jnp.pi * jnp.cos(jnp.pi * x[0])
    )
    centres = lattice_centres(5, 0.2, d=1)
    rule = polar_ball_quadrature(1, n_radial=12)
    r = darcy_weak_residual(u, a, f, centres, 0.2, quadrature=rule)
    assert float(jnp.max(jnp.abs(r))) < 1e-13


RADIUS = 0.125  # a multiple of every grid's spacing below, centres at multiples of 1/8: nodes
FINE = 129


def _prolongation(s):
    """``(FINE, s)``: linear interpolation from ``s`` to ``FINE`` nodes (nested grids)."""
    return np.stack(
        [np.interp(np.linspace(0, 1, FINE), np.linspace(0, 1, s), e) for e in np.eye(s)], 1
    )


@jax.jit
def _relative_residuals(u, a):
    """max |r_c| / int f phi_c for nodal ``u, a: (FINE, FINE)``, f = 1."""
    # Cells of the finest grid refine every coarser grid's cells, so this one rule
    # integrates cell by cell on each of them.
    rule = composite_ball_quadrature(round(RADIUS * (FINE - 1)), order=2)
    centres = lattice_centres(4, RADIUS)
    r = darcy_weak_residual(
        BilinearField(u), BilinearField(a), 1.0, centres, RADIUS, quadrature=rule
    )
    return jnp.max(jnp.abs(r)) / (RADIUS**2 * WENDLAND_INTEGRAL[2])


def _solver_residual(s, perturbation=0.0):
    """The residual of the 5-point solution on ``s x s`` nodes, interpolated bilinearly; the
    fine grid's bilinear interpolant of the coarse one's is the same function."""
    x, y = _nodes(s)
    a = _coefficient(x, y)
    u = np.asarray(solve_darcy(a, 1.0, rtol=1e-12))
    u = u + perturbation * u.max() * np.sin(np.pi * x) * np.sin(2 * np.pi * y)
    p = _prolongation(s)
    return float(_relative_residuals(p @ u @ p.T, p @ a @ p.T))


def test_solver_solution_residual_converges_at_second_order():
    # measured max |r_c| / int f phi_c: 5.2e-3, 1.29e-3, 3.23e-4 (local orders 2.02, 1.99);
    # s = 17 (two cells per radius) is not yet asymptotic (3.6e-2)
    sizes = [33, 65, FINE]
    residuals = [_solver_residual(s) for s in sizes]
    order = np.polyfit(np.log(1.0 / (np.array(sizes) - 1)), np.log(residuals), 1)[0]
    assert 1.9 < order < 2.1, (order, residuals)
    # a smooth perturbation of 1e-2 of max u leaves a residual ~80 times larger
    assert _solver_residual(FINE, perturbation=1e-2) > 50 * residuals[-1]


_at = eqx.filter_jit(lambda field, x: field(x))
_gradient_at = eqx.filter_jit(lambda field, x: jax.grad(field)(x))


def test_nearest_node_and_bilinear_fields_at_the_nodes():
    values = np.arange(9.0).reshape(3, 3)
    bilinear, nearest = BilinearField(values), NearestNodeField(values)
    x = jnp.array([0.5, 1.0])  # node (1, 2)
    assert float(_at(bilinear, x)) == 5.0 and float(_at(nearest, x)) == 5.0
    x = jnp.array([0.3, 0.6])  # t = (0.6, 1.2): nearest node (1, 1)
    assert float(_at(nearest, x)) == 4.0
    assert float(_at(bilinear, x)) == pytest.approx(3 * 0.6 + 1.2)  # 3 i + j is bilinear
    np.testing.assert_allclose(_gradient_at(bilinear, x), [6.0, 2.0])


def test_average_with_the_grid_rule_is_the_authors_plain_mean():
    m = Manufactured(jnp.asarray(0.5))
    flux = lambda x: 1.1 * m.flux(x)  # not the exact flux: r1 > 0
    centres, radius = jnp.array([[0.3, 0.6], [0.55, 0.45]]), 0.05
    rule = grid_ball_quadrature()
    r1, r2 = darcy_mixed_residuals(
        m.u, flux, m.a, 10.0, centres, radius, quadrature=rule, average=True
    )

    @jax.jit
    def by_hand(c):
        x = c + radius * rule.points
        s = jax.vmap(flux)(x)
        mismatch = s - jax.vmap(m.a)(x)[:, None] * jax.vmap(jax.grad(m.u))(x)
        grad_phi = scaled_wendland_gradient(x, c, radius)
        weak = jnp.sum(s * grad_phi, axis=-1) - 10.0 * scaled_wendland(x, c, radius)
        return jnp.mean(jnp.sum(mismatch**2, axis=-1)), jnp.mean(weak)

    np.testing.assert_allclose(jax.vmap(by_hand)(centres), (r1, r2), rtol=1e-12)
    loss = mixed_residual_loss(r1, r2)
    assert float(loss) == pytest.approx(float(jnp.mean(r1) + math.sqrt(2) * jnp.mean(r2**2)))


# ----------------------------------------------------------------------------- gradients


def _central_difference(loss, x, direction, step):
    return (loss(x + step * direction) - loss(x - step * direction)) / (2 * step)


def test_gradient_in_the_nodal_values_matches_finite_differences():
    s = 17
    x, y = _nodes(s)
    a = BilinearField(_coefficient(x, y))
    u0 = jnp.asarray(np.sin(np.pi * x) * np.sin(np.pi * y) * x)
    centres, rule = lattice_centres(3, 0.25), composite_ball_quadrature(4)

    @jax.jit
    def loss(values):
        r = darcy_weak_residual(BilinearField(values), a, 1.0, centres, 0.25, quadrature=rule)
        return jnp.sum(r**2)

    direction = jax.random.normal(jax.random.key(1), (s, s))
    exact = float(jnp.vdot(jax.grad(loss)(u0), direction))
    # the loss is quadratic in the values, so the central difference is exact
    assert exact == pytest.approx(float(_central_difference(loss, u0, direction, 1e-2)), rel=1e-9)


def test_gradient_in_the_centres_and_the_coefficient_matches_finite_differences():
    centres = sample_centres(jax.random.key(2), 5, 0.15)
    wrong_u = lambda x: jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1]) * (1 + 0.3 * x[0])

    def loss(m, c):
        r = darcy_weak_residual(wrong_u, m.a, m.f, c, 0.15)
        return jnp.sum(r**2)

    m = Manufactured(jnp.asarray(0.5))
    grad_m, grad_c = jax.jit(jax.grad(loss, argnums=(0, 1)))(m, centres)
    direction = jax.random.normal(jax.random.key(3), centres.shape)
    by_differences = _central_difference(lambda c: loss(m, c), centres, direction, 1e-5)
    assert float(jnp.vdot(grad_c, direction)) == pytest.approx(float(by_differences), rel=1e-7)
    theta = lambda t: loss(Manufactured(t), centres)
    by_differences = _central_difference(theta, jnp.asarray(0.5), 1.0, 1e-4)
    assert float(grad_m.theta) == pytest.approx(float(by_differences), rel=1e-7)


# --------------------------------------------------------------------- dtypes and errors


def test_float32_in_float32_out():
    x, y = _nodes(17)
    a = _coefficient(x, y).astype(np.float32)
    u = (np.sin(np.pi * x) * np.sin(np.pi * y)).astype(np.float32)
    centres = lattice_centres(2, 0.25, dtype=jnp.float32)
    r = darcy_weak_residual(
        BilinearField(u), NearestNodeField(a), 1.0, centres, 0.25, quadrature=grid_ball_quadrature()
    )
    assert r.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(r)))


def test_bad_inputs_raise_and_say_what_was_expected():
    u = lambda x: x[0] * x[1]
    good = jnp.array([[0.5, 0.5]])
    for radius in (0.0, 0.5, -0.1, 0.7):
        with pytest.raises(ValueError, match=r"radius R with 0 < R < 0.5"):
            darcy_weak_residual(u, 1.0, 1.0, good, radius)
    with pytest.raises(ValueError, match=r"centres in \[R, 1 - R\]\^d"):
        darcy_weak_residual(u, 1.0, 1.0, jnp.array([[0.5, 0.5], [0.05, 0.5]]), 0.1)
    with pytest.raises(ValueError, match=r"centres of shape \(n, d\)"):
        darcy_weak_residual(u, 1.0, 1.0, jnp.full((2, 3), 0.5), 0.1)
    with pytest.raises(ValueError, match=r"centres of shape \(n, d\)"):
        darcy_weak_residual(u, 1.0, 1.0, jnp.array([0.5, 0.5]), 0.1)
    with pytest.raises(ValueError, match="quadrature rule in the centres' dimension d = 2"):
        darcy_weak_residual(u, 1.0, 1.0, good, 0.1, quadrature=polar_ball_quadrature(1))
    with pytest.raises(ValueError, match=r"u to map one point x of shape \(2,\) to shape \(\)"):
        darcy_weak_residual(lambda x: x, 1.0, 1.0, good, 0.1)
    with pytest.raises(
        ValueError, match=r"flux to map one point x of shape \(2,\) to shape \(2,\)"
    ):
        darcy_mixed_residuals(u, u, 1.0, 1.0, good, 0.1)
    with pytest.raises(ValueError, match=r"nodal values of shape \(s, s\)"):
        BilinearField(jnp.zeros((4, 5)))
    with pytest.raises(ValueError, match="the dimension d to be 1 or 2"):
        polar_ball_quadrature(3)
    with pytest.raises(ValueError, match="n to be an integer >= 1"):
        sample_centres(jax.random.key(0), 0, 0.1)
    with pytest.raises(ValueError, match=r"same shape \(\.\.\., n\)"):
        mixed_residual_loss(jnp.zeros(3), jnp.zeros(4))
