r"""Weak-form residuals of Darcy flow with compactly supported radial test functions.

The physics of DGNO (Zang & Koutsourelakis 2025) enters as *virtual observables*: the
weak residuals of ``-div(a grad u) = f`` tested against Wendland functions supported on
small balls inside the domain. For a centre ``c`` and radius ``R``,

    r_c = int_{B_c} ( a grad u . grad phi_c - f phi_c ) dx,     phi_c(x) = phi(|x - c| / R),

which vanishes for the exact solution (``phi_c`` and its gradient vanish on the sphere
``|x - c| = R``, so integration by parts leaves no boundary term). Only first derivatives
of ``u`` appear. The mixed form of the authors' code introduces a flux ``s ~ a grad u``:

    r1_c = mean_{B_c} |s - a grad u|^2,     r2_c = int_{B_c} ( s . grad phi_c - f phi_c ) dx.

Every field is a callable of one point ``x: (d,)``; residuals are evaluated with
``jax.vmap`` over the centres and the points of a quadrature rule on the unit ball,
``int_{B_c} g dx ~ R^d sum_q w_q g(c + R xi_q)``.

Test functions. The Wendland function of smoothness index ``l = floor(d / 2) + 3``,

    phi(r) = (1 - r)^(l + 2) ((l^2 + 4 l + 3) r^2 + (3 l + 6) r + 3) / 3   (r <= 1),

zero for ``r > 1``; ``phi(0) = 1``; for ``d = 2``, ``phi(r) = (1 - r)^6 (35 r^2 + 18 r + 3) / 3``.
It is ``C^4`` and positive definite in ``R^d`` (Wendland 1995). Its gradient is
``grad_xi phi = g(r) xi`` with the polynomial
``g(r) = -(1 - r)^(l + 1) ((l^3 + 8 l^2 + 19 l + 12) r + l^2 + 7 l + 12) / 3``, smooth at
``xi = 0``; on a ball of radius ``R``, ``grad phi_c(x) = g(r) xi / R`` with ``xi = (x - c) / R``.

Quadrature. The default rule, ``polar_ball_quadrature``, is Gauss–Legendre in the radius
(with the Jacobian ``r`` in 2-D) times the trapezoid rule in the angle: with ``n_r`` radii
and ``n_theta`` angles it integrates every polynomial of total degree
``<= min(2 n_r - 2, n_theta - 1)`` exactly, and ``phi`` itself (a polynomial of degree
``2 l + 4`` in ``r``) once ``n_r >= l + 3``; for smooth integrands it converges
spectrally. ``grid_ball_quadrature`` is the authors' rule: the points of a uniform
``7 x 7`` grid on ``[-1, 1]^2`` inside the open ball (25 of them), equally weighted. It
is exact for constants only; its mean of ``phi`` is 0.1260 where the exact mean is
``1 / 9``, 13% too large. The authors also drop the ball's area and use the plain mean
over the 25 points: that is ``average=True`` here with the grid rule. For nodal fields
use ``composite_ball_quadrature``: Gauss points on the grid's own cells. The gradient of a
bilinear interpolant jumps by ``O(h)`` across cell faces, and a rule blind to the grid
turns those jumps into an error proportional to its point spacing, whatever ``h``.

Grids. ``BilinearField`` and ``NearestNodeField`` turn nodal values on the ``s x s`` nodes
of the unit square (``values[i, j]`` at ``(x, y) = (i, j) / (s - 1)``, boundary included, as
``sciml.solvers.darcy`` returns them) into such callables.

References:
    Y. Zang and P.-S. Koutsourelakis, "DGenNO: A Novel Physics-aware Neural Operator for
    Solving Forward and Inverse PDE Problems based on Deep, Generative Probabilistic
    Modeling", arXiv:2502.06250, 2025 (first version: "DGNO").
    H. Wendland, "Piecewise polynomial, positive definite and compactly supported radial
    functions of minimal degree", Adv. Comput. Math. 4 (1995) 389-396.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = [
    "BallQuadrature",
    "BilinearField",
    "composite_ball_quadrature",
    "NearestNodeField",
    "darcy_mixed_residuals",
    "darcy_weak_residual",
    "grid_ball_quadrature",
    "lattice_centres",
    "mixed_residual_loss",
    "polar_ball_quadrature",
    "sample_centres",
    "scaled_wendland",
    "scaled_wendland_gradient",
    "wendland",
    "wendland_gradient",
]

ScalarField = Callable[[Array], Array]
"""A scalar field: ``x: (d,) -> ()``."""

# ----------------------------------------------------------------------- test functions


def _smoothness(d: int) -> int:
    return d // 2 + 3


@functools.partial(jax.jit, static_argnames="d")
def wendland(r: Float[ArrayLike, "*shape"], d: int = 2) -> Float[Array, "*shape"]:
    """The Wendland function ``phi(r)`` of smoothness index ``l = floor(d / 2) + 3``.

    ``phi(r) = (1 - r)^(l + 2) ((l^2 + 4 l + 3) r^2 + (3 l + 6) r + 3) / 3`` for
    ``0 <= r <= 1`` and zero beyond; ``phi(0) = 1`` (Wendland 1995).

    Args:
        r: radii ``>= 0``, any shape.
        d: the space dimension, which sets ``l``.

    Returns:
        ``phi(r)``, the shape of ``r``.
    """
    ell = _smoothness(d)
    r = jnp.clip(jnp.asarray(r), 0.0, 1.0)
    return (1 - r) ** (ell + 2) * ((ell**2 + 4 * ell + 3) * r**2 + (3 * ell + 6) * r + 3) / 3


def _radial_gradient_factor(r: Array, d: int) -> Array:
    """``g(r)`` with ``grad_xi phi(|xi|) = g(|xi|) xi``, a polynomial, zero for ``r >= 1``."""
    ell = _smoothness(d)
    r = jnp.clip(r, 0.0, 1.0)
    slope = ell**3 + 8 * ell**2 + 19 * ell + 12
    return -((1 - r) ** (ell + 1)) * (slope * r + ell**2 + 7 * ell + 12) / 3


def _norm(xi: Array) -> Array:
    """``|xi|`` over the last axis, with a zero (not NaN) gradient at ``xi = 0``."""
    squared = jnp.sum(xi**2, axis=-1)
    positive = squared > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


@jax.jit
def wendland_gradient(xi: Float[ArrayLike, "... d"]) -> Float[Array, "... d"]:
    """The gradient ``grad_xi phi(|xi|) = g(|xi|) xi`` of the Wendland function.

    ``g(r) = -(1 - r)^(l + 1) ((l^3 + 8 l^2 + 19 l + 12) r + l^2 + 7 l + 12) / 3`` for
    ``r <= 1`` and zero beyond, with ``l = floor(d / 2) + 3``; smooth at ``xi = 0``.

    Args:
        xi: ``(..., d)`` points of the reference space.

    Returns:
        ``(..., d)`` gradients.
    """
    xi = jnp.asarray(xi)
    factor = _radial_gradient_factor(_norm(xi), xi.shape[-1])
    return factor[..., None] * xi


@jax.jit
def scaled_wendland(
    x: Float[ArrayLike, "... d"], centre: Float[ArrayLike, " d"], radius: float | Float[Array, ""]
) -> Float[Array, "*shape"]:
    """The test function ``phi_c(x) = phi(|x - c| / R)`` of the ball ``B(c, R)``.

    Args:
        x: ``(..., d)`` points.
        centre: ``(d,)`` centre ``c``.
        radius: ``R > 0``.

    Returns:
        ``phi_c(x)``, shape ``(...)``.
    """
    xi = (jnp.asarray(x) - jnp.asarray(centre)) / radius
    return wendland(_norm(xi), xi.shape[-1])


@jax.jit
def scaled_wendland_gradient(
    x: Float[ArrayLike, "... d"], centre: Float[ArrayLike, " d"], radius: float | Float[Array, ""]
) -> Float[Array, "... d"]:
    """``grad phi_c(x) = grad_xi phi(xi) / R`` with ``xi = (x - c) / R``.

    Args:
        x: ``(..., d)`` points.
        centre: ``(d,)`` centre ``c``.
        radius: ``R > 0``.

    Returns:
        ``(..., d)`` gradients.
    """
    xi = (jnp.asarray(x) - jnp.asarray(centre)) / radius
    return wendland_gradient(xi) / radius


# ------------------------------------------------------------------------- quadrature


def _unit_ball_volume(d: int) -> float:
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1)


class BallQuadrature(eqx.Module):
    """A quadrature rule on the unit ball: ``int_{|xi| < 1} g ~ sum_q w_q g(xi_q)``.

    The weights sum to the ball's volume (2 in 1-D, ``pi`` in 2-D; approximately for
    ``composite_ball_quadrature``). On the ball of centre
    ``c`` and radius ``R``: ``int g ~ R^d sum_q w_q g(c + R xi_q)``.

    Attributes:
        points: ``(Q, d)`` nodes ``xi_q`` with ``|xi_q| < 1``.
        weights: ``(Q,)`` positive weights.
    """

    points: Float[Array, "Q d"]
    weights: Float[Array, " Q"]

    @property
    def d(self) -> int:
        """The space dimension."""
        return self.points.shape[1]


def _check_dimension(name: str, d) -> int:
    if not (isinstance(d, numbers.Integral) and int(d) in (1, 2)):
        raise ValueError(f"{name} expects the dimension d to be 1 or 2; got d = {d!r}")
    return int(d)


def _check_count(name: str, what: str, n, minimum: int) -> int:
    if not (isinstance(n, numbers.Integral) and int(n) >= minimum):
        raise ValueError(f"{name} expects {what} to be an integer >= {minimum}; got {n!r}")
    return int(n)


def polar_ball_quadrature(d: int = 2, n_radial: int = 5, n_angular: int = 10) -> BallQuadrature:
    """Gauss–Legendre in the radius times the trapezoid rule in the angle (the default).

    2-D: radii ``r_k`` and weights ``v_k`` of the ``n_radial``-point Gauss–Legendre rule on
    ``[0, 1]``, angles ``theta_j = 2 pi j / n_angular``; ``xi = r_k (cos theta_j, sin theta_j)``
    with weight ``2 pi v_k r_k / n_angular``. Exact for polynomials of total degree
    ``<= min(2 n_radial - 2, n_angular - 1)`` and for the Wendland function
    (``n_radial >= 5``), spectrally accurate for smooth integrands. The defaults (50 points)
    are exact up to degree 8. 1-D: the same radii in the two directions ``+-1``, weights
    ``v_k``, which is exact for ``phi`` (a polynomial on each half) where a Gauss rule on
    ``[-1, 1]`` is not.

    Args:
        d: dimension, 1 or 2.
        n_radial: Gauss–Legendre points in the radius.
        n_angular: equispaced angles (2-D only; 1-D uses the two directions).

    Returns:
        The rule, ``n_radial * n_angular`` points in 2-D, ``2 n_radial`` in 1-D (float64
        when x64 is enabled; the residuals cast it to their dtype).
    """
    name = "polar_ball_quadrature"
    d = _check_dimension(name, d)
    n_radial = _check_count(name, "n_radial", n_radial, 1)
    nodes, gauss_weights = np.polynomial.legendre.leggauss(n_radial)
    radii, radial_weights = (nodes + 1) / 2, gauss_weights / 2
    if d == 1:
        points = np.concatenate([radii, -radii])[:, None]
        weights = np.concatenate([radial_weights, radial_weights])
    else:
        n_angular = _check_count(name, "n_angular", n_angular, 1)
        angles = 2 * np.pi * np.arange(n_angular) / n_angular
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        points = (radii[:, None, None] * directions[None]).reshape(-1, 2)
        weights = np.repeat(2 * np.pi * radial_weights * radii / n_angular, n_angular)
    return BallQuadrature(jnp.asarray(points), jnp.asarray(weights))


def grid_ball_quadrature(d: int = 2, n: int = 7) -> BallQuadrature:
    """The points of a uniform ``n^d`` grid on ``[-1, 1]^d`` inside the open unit ball.

    Equal weights summing to the ball's volume, so a constant is integrated exactly and
    nothing more: the ball's boundary cuts the grid's cells. ``n = 7`` in 2-D gives the
    25 points of the DGNO code (Zang & Koutsourelakis 2025), whose mean of the Wendland
    function is 0.1260 against the exact ``1 / 9``.

    Args:
        d: dimension, 1 or 2.
        n: grid points per axis, ``>= 2``.

    Returns:
        The rule.
    """
    d = _check_dimension("grid_ball_quadrature", d)
    n = _check_count("grid_ball_quadrature", "n", n, 2)
    # Integer coordinates 2 k - (n - 1) over n - 1 keep the test |xi| < 1 exact.
    k = 2 * np.arange(n) - (n - 1)
    mesh = np.stack(np.meshgrid(*([k] * d), indexing="ij"), axis=-1).reshape(-1, d)
    inside = mesh[np.sum(mesh**2, axis=-1) < (n - 1) ** 2]
    points = inside / (n - 1)
    weights = np.full(len(points), _unit_ball_volume(d) / len(points))
    return BallQuadrature(jnp.asarray(points), jnp.asarray(weights))


def composite_ball_quadrature(n_cells: int, order: int = 2, d: int = 2) -> BallQuadrature:
    """Gauss–Legendre on each square of side ``1 / n_cells`` tiling ``[-1, 1]^d``, in the ball.

    The cube ``[-1, 1]^d`` is cut into ``(2 n_cells)^d`` cells, each carrying the product
    Gauss–Legendre rule of ``order`` points per axis; the points outside the ball are
    dropped (the test functions vanish there to order ``(1 - r)^5``, so the weak
    residuals lose nothing, but the weights sum to the ball's volume only approximately).

    Use it for nodal fields. On a ball centred at a grid node with ``R = n_cells h`` the
    cells are the grid's, and the integrand of a ``BilinearField`` is smooth on each, so
    the weak residual is integrated to ``O(h^(2 order))``. A rule blind to the grid (the
    polar one) samples the jumps of the interpolant's gradient across cell faces (of size
    ``O(h)``) and leaves an error proportional to its own point spacing, whatever ``h``:
    with 64 x 128 polar points and ``R = 0.1`` it stalls at ``1e-3`` of ``int f phi_c``.

    Args:
        n_cells: cells per radius, ``>= 1``.
        order: Gauss–Legendre points per axis and cell, ``>= 1``.
        d: dimension, 1 or 2.

    Returns:
        The rule.
    """
    name = "composite_ball_quadrature"
    n_cells = _check_count(name, "n_cells", n_cells, 1)
    order = _check_count(name, "order", order, 1)
    d = _check_dimension(name, d)
    nodes, gauss_weights = np.polynomial.legendre.leggauss(order)
    left = np.arange(-n_cells, n_cells) / n_cells
    axis = (left[:, None] + (nodes[None] + 1) / (2 * n_cells)).reshape(-1)
    axis_weights = np.tile(gauss_weights / (2 * n_cells), 2 * n_cells)
    points = np.stack(np.meshgrid(*([axis] * d), indexing="ij"), axis=-1).reshape(-1, d)
    weights = np.prod(
        np.stack(np.meshgrid(*([axis_weights] * d), indexing="ij"), axis=-1).reshape(-1, d),
        axis=-1,
    )
    inside = np.sum(points**2, axis=-1) < 1
    return BallQuadrature(jnp.asarray(points[inside]), jnp.asarray(weights[inside]))


# ----------------------------------------------------------------------------- centres


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_radius(name: str, radius) -> None:
    if not _is_concrete(radius):
        return
    value = np.asarray(radius)
    if value.shape != () or not np.isrealobj(value) or not 0 < float(value) < 0.5:
        raise ValueError(f"{name} expects a scalar radius R with 0 < R < 0.5; got {radius!r}")


def sample_centres(
    key: PRNGKeyArray, n: int, radius: float, d: int = 2, dtype=None
) -> Float[Array, "n d"]:
    """``n`` centres by Latin hypercube sampling in ``[R, 1 - R]^d``.

    Each axis is cut into ``n`` equal strata and every stratum holds exactly one centre,
    at a uniform position within it; the strata are matched across axes by independent
    random permutations (as the DGNO code draws its centres, anew at every step).

    Args:
        key: a JAX PRNG key.
        n: number of centres, ``>= 1``.
        radius: the balls' radius ``R``, ``0 < R < 0.5``: every ball lies in the unit cube.
        d: dimension, 1 or 2.
        dtype: floating dtype of the result (default: JAX's default float).

    Returns:
        ``(n, d)`` centres.
    """
    name = "sample_centres"
    n = _check_count(name, "n", n, 1)
    d = _check_dimension(name, d)
    _check_radius(name, radius)
    dtype = jnp.zeros((), dtype).dtype if dtype is not None else jnp.asarray(0.0).dtype
    return _latin_hypercube(key, radius, n, d, dtype)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _latin_hypercube(key: PRNGKeyArray, radius, n: int, d: int, dtype) -> Array:
    keys = jax.random.split(key, d + 1)
    strata = jnp.stack([jax.random.permutation(k, n) for k in keys[:d]], axis=-1)
    unit = (strata.astype(dtype) + jax.random.uniform(keys[d], (n, d), dtype)) / n
    return (radius + (1 - 2 * radius) * unit).astype(dtype)


def lattice_centres(n_per_axis: int, radius: float, d: int = 2, dtype=None) -> Float[Array, "n d"]:
    """A regular lattice of ``n_per_axis^d`` centres spanning ``[R, 1 - R]^d``.

    Args:
        n_per_axis: centres along each axis, ``>= 1`` (one: the cube's centre).
        radius: the balls' radius ``R``, ``0 < R < 0.5``.
        d: dimension, 1 or 2.
        dtype: floating dtype of the result (default: JAX's default float).

    Returns:
        ``(n_per_axis^d, d)`` centres, the last axis varying fastest.
    """
    name = "lattice_centres"
    n = _check_count(name, "n_per_axis", n_per_axis, 1)
    d = _check_dimension(name, d)
    _check_radius(name, radius)
    axis = np.full(1, 0.5) if n == 1 else np.linspace(radius, 1 - radius, n)
    mesh = np.stack(np.meshgrid(*([axis] * d), indexing="ij"), axis=-1).reshape(-1, d)
    return jnp.asarray(mesh, dtype)


# ------------------------------------------------------------------------ nodal fields


def _check_nodal_values(name: str, values) -> Array:
    values = jnp.asarray(values)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 2:
        raise ValueError(
            f"{name} expects nodal values of shape (s, s) with s >= 2 on the nodes of the "
            f"unit square; got shape {values.shape}"
        )
    if not jnp.issubdtype(values.dtype, jnp.floating):
        values = values.astype(jnp.result_type(values.dtype, jnp.float32))
    return values


class BilinearField(eqx.Module):
    """The bilinear interpolant of nodal values on the ``s x s`` nodes of the unit square.

    ``values[i, j]`` sits at ``(x, y) = (i, j) h``, ``h = 1 / (s - 1)``, boundary included
    (the layout of ``sciml.solvers.darcy``). Its gradient (by ``jax.grad``) is the
    piecewise one of each cell, so the weak residual of a 5-point solution converges at
    second order (the solver's nodal error is ``O(h^2)``, and so is the interpolation
    error tested against a smooth ``phi``). The solver's face coefficient, the mean of the
    two nodal values, is this interpolant at the face's midpoint. Differentiable in
    ``values`` and in ``x``; points outside the square are extrapolated from the
    boundary cells.

    Args:
        values: ``(s, s)`` nodal values, ``s >= 2``.
    """

    values: Float[Array, "s s"]

    def __init__(self, values: Float[ArrayLike, "s s"]):
        self.values = _check_nodal_values("BilinearField", values)

    def __call__(self, x: Float[Array, " 2"]) -> Float[Array, ""]:
        """The interpolated value at one point ``x: (2,)``."""
        s = self.values.shape[0]
        t = jnp.asarray(x, self.values.dtype) * (s - 1)
        cell = jnp.clip(jnp.floor(t), 0, s - 2)
        lam = t - cell
        i, j = cell.astype(jnp.int32)
        corners = jax.lax.dynamic_slice(self.values, (i, j), (2, 2))
        along_x = (1 - lam[0]) * corners[0] + lam[0] * corners[1]
        return (1 - lam[1]) * along_x[0] + lam[1] * along_x[1]


class NearestNodeField(eqx.Module):
    """The value of the nearest node: piecewise constant on the nodes' cells.

    For a two-phase coefficient, looked up as the DGNO code does,
    ``index = floor(x / h + 1/2)`` on the ``s x s`` nodes of the unit square (spacing
    ``h = 1 / (s - 1)``): each node owns the square of side ``h`` around it, so the phase
    boundary lies on the cell faces, halfway between nodes, where ``sciml.solvers.darcy``
    puts the arithmetic mean of the two sides. Bilinear interpolation would instead
    smear the jump over a cell and invent intermediate values. Its gradient in ``x`` is
    zero; in ``values`` it selects one node.

    Args:
        values: ``(s, s)`` nodal values, ``s >= 2``.
    """

    values: Float[Array, "s s"]

    def __init__(self, values: Float[ArrayLike, "s s"]):
        self.values = _check_nodal_values("NearestNodeField", values)

    def __call__(self, x: Float[Array, " 2"]) -> Float[Array, ""]:
        """The value of the node nearest to one point ``x: (2,)``."""
        s = self.values.shape[0]
        index = jnp.clip(jnp.floor(jnp.asarray(x) * (s - 1) + 0.5), 0, s - 1).astype(jnp.int32)
        return self.values[index[0], index[1]]


# --------------------------------------------------------------------------- residuals


class _Constant(eqx.Module):
    value: Array

    def __call__(self, x: Array) -> Array:
        return self.value


def _as_field(name: str, what: str, field, d: int, shape: tuple[int, ...], dtype):
    """A callable ``x: (d,) -> shape``; numbers become traced constants (scalars only)."""
    if not callable(field):
        if shape != () or np.ndim(field) != 0:
            raise ValueError(f"{name} expects {what} to be a callable or a number; got {field!r}")
        return _Constant(jnp.asarray(field, dtype))
    try:
        out = jax.eval_shape(field, jax.ShapeDtypeStruct((d,), dtype))
    except Exception as error:  # the field's own error, re-raised with what was expected
        raise ValueError(
            f"{name} expects {what} to map one point x of shape ({d},) to shape {shape}; "
            f"calling it failed with {type(error).__name__}: {error}"
        ) from error
    if getattr(out, "shape", None) != shape:
        raise ValueError(
            f"{name} expects {what} to map one point x of shape ({d},) to shape {shape}; "
            f"got {getattr(out, 'shape', type(out).__name__)}"
        )
    return field


def _check_centres(name: str, centres, radius, quadrature: BallQuadrature) -> Array:
    centres = jnp.asarray(centres)
    if centres.ndim != 2 or centres.shape[0] < 1 or centres.shape[1] not in (1, 2):
        raise ValueError(
            f"{name} expects centres of shape (n, d) with n >= 1 and d = 1 or 2; "
            f"got shape {centres.shape}"
        )
    if not jnp.issubdtype(centres.dtype, jnp.floating):
        centres = centres.astype(jnp.result_type(centres.dtype, jnp.float32))
    _check_radius(name, radius)
    d = centres.shape[1]
    if quadrature.d != d:
        raise ValueError(
            f"{name} expects a quadrature rule in the centres' dimension d = {d}; "
            f"got one in d = {quadrature.d}"
        )
    if _is_concrete(centres) and _is_concrete(radius):
        values = np.asarray(centres)
        slack = 8 * np.finfo(values.dtype).eps
        low, high = float(radius) - slack, 1 - float(radius) + slack
        outside = ~np.all((values >= low) & (values <= high), axis=-1)
        if outside.any():
            raise ValueError(
                f"{name} expects every ball inside the unit cube, i.e. centres in "
                f"[R, 1 - R]^d = [{float(radius)}, {1 - float(radius)}]^{d}; "
                f"{int(outside.sum())} of {len(values)} are not (first: {values[outside][0]})"
            )
    return centres


def _ball_points(centres: Array, radius, quadrature: BallQuadrature):
    """Physical points ``(n, Q, d)``, reference points ``(Q, d)`` and weights ``(Q,)``."""
    xi = quadrature.points.astype(centres.dtype)
    weights = quadrature.weights.astype(centres.dtype)
    return centres[:, None, :] + radius * xi[None], xi, weights


def _over_points(function, points: Array):
    """Map a pointwise function over ``(n, Q, d)`` points."""
    return jax.vmap(jax.vmap(function))(points)


@eqx.filter_jit
def _weak_residual(u, a, f, centres, radius, quadrature, average):
    points, xi, weights = _ball_points(centres, radius, quadrature)
    d = centres.shape[1]
    phi = wendland(_norm(xi), d)
    grad_phi = wendland_gradient(xi) / radius
    grad_u = _over_points(jax.grad(u), points)
    integrand = _over_points(a, points) * jnp.sum(grad_u * grad_phi, axis=-1)
    integrand = integrand - _over_points(f, points) * phi
    scale = 1 / _unit_ball_volume(d) if average else radius**d
    return scale * (integrand @ weights)


@eqx.filter_jit
def _mixed_residuals(u, flux, a, f, centres, radius, quadrature, average):
    points, xi, weights = _ball_points(centres, radius, quadrature)
    d = centres.shape[1]
    phi = wendland(_norm(xi), d)
    grad_phi = wendland_gradient(xi) / radius
    grad_u = _over_points(jax.grad(u), points)
    s = _over_points(flux, points)
    mismatch = s - _over_points(a, points)[..., None] * grad_u
    r1 = jnp.sum(mismatch**2, axis=-1) @ weights / jnp.sum(weights)
    integrand = jnp.sum(s * grad_phi, axis=-1) - _over_points(f, points) * phi
    scale = 1 / _unit_ball_volume(d) if average else radius**d
    return r1, scale * (integrand @ weights)


def darcy_weak_residual(
    u: ScalarField,
    a: ScalarField | float,
    f: ScalarField | float,
    centres: Float[ArrayLike, "n d"],
    radius: float,
    *,
    quadrature: BallQuadrature | None = None,
    average: bool = False,
) -> Float[Array, " n"]:
    """The weak residuals ``r_c = int_{B_c} (a grad u . grad phi_c - f phi_c) dx``.

    One per ball ``B_c = B(c, R)``, with the Wendland test function ``phi_c`` (Zang &
    Koutsourelakis 2025); ``grad u`` by ``jax.grad`` of ``u`` (first derivatives only).
    Zero for the exact solution of ``-div(a grad u) = f``, up to the quadrature error.

    Compiled with ``equinox.filter_jit``: arrays inside equinox modules (a network, a
    ``BilinearField``) are traced, so new values do not recompile; a plain function is
    static, and a new closure compiles anew.

    Args:
        u: the solution, ``x: (d,) -> ()``.
        a: the coefficient, ``x: (d,) -> ()``, or a number.
        f: the source, ``x: (d,) -> ()``, or a number.
        centres: ``(n, d)`` ball centres in ``[R, 1 - R]^d``, ``d = 1`` or 2.
        radius: the balls' radius ``R``, ``0 < R < 0.5``.
        quadrature: the rule on the unit ball; ``None``: ``polar_ball_quadrature(d)``.
        average: divide by the ball's volume, giving the mean over the ball rather than
            the integral (the DGNO code's plain mean, with ``grid_ball_quadrature``).

    Returns:
        ``(n,)`` residuals, in the centres' dtype.
    """
    name = "darcy_weak_residual"
    quadrature = _default_quadrature(name, quadrature, centres)
    points = _check_centres(name, centres, radius, quadrature)
    d, dtype = points.shape[1], points.dtype
    u = _as_field(name, "u", u, d, (), dtype)
    a = _as_field(name, "a", a, d, (), dtype)
    f = _as_field(name, "f", f, d, (), dtype)
    return _weak_residual(u, a, f, points, radius, quadrature, bool(average))


def darcy_mixed_residuals(
    u: ScalarField,
    flux: Callable[[Array], Array],
    a: ScalarField | float,
    f: ScalarField | float,
    centres: Float[ArrayLike, "n d"],
    radius: float,
    *,
    quadrature: BallQuadrature | None = None,
    average: bool = False,
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """The mixed residuals of the DGNO code, with a flux ``s ~ a grad u``.

        r1_c = mean_{B_c} |s - a grad u|^2,   r2_c = int_{B_c} (s . grad phi_c - f phi_c) dx,

    ``r1`` the constitutive relation, pointwise, as a weighted mean over the quadrature
    points (the plain mean for ``grid_ball_quadrature``); ``r2`` the conservation law
    ``div s + f = 0`` in weak form (Zang & Koutsourelakis 2025). Both vanish when
    ``s = a grad u`` and ``u`` solves the equation. Compiled as ``darcy_weak_residual``.

    Args:
        u: the solution, ``x: (d,) -> ()``.
        flux: the flux ``s``, ``x: (d,) -> (d,)``.
        a: the coefficient, ``x: (d,) -> ()``, or a number.
        f: the source, ``x: (d,) -> ()``, or a number.
        centres: ``(n, d)`` ball centres in ``[R, 1 - R]^d``, ``d = 1`` or 2.
        radius: the balls' radius ``R``, ``0 < R < 0.5``.
        quadrature: the rule on the unit ball; ``None``: ``polar_ball_quadrature(d)``.
        average: ``r2`` as the mean over the ball rather than the integral (the DGNO
            code's convention; ``r1`` is always a mean).

    Returns:
        ``(r1, r2)``, each ``(n,)``.
    """
    name = "darcy_mixed_residuals"
    quadrature = _default_quadrature(name, quadrature, centres)
    points = _check_centres(name, centres, radius, quadrature)
    d, dtype = points.shape[1], points.dtype
    u = _as_field(name, "u", u, d, (), dtype)
    flux = _as_field(name, "flux", flux, d, (d,), dtype)
    a = _as_field(name, "a", a, d, (), dtype)
    f = _as_field(name, "f", f, d, (), dtype)
    return _mixed_residuals(u, flux, a, f, points, radius, quadrature, bool(average))


def _default_quadrature(name: str, quadrature, centres) -> BallQuadrature:
    if quadrature is None:
        shape = np.shape(centres)
        d = shape[-1] if len(shape) == 2 and shape[-1] in (1, 2) else 2
        return polar_ball_quadrature(d)
    if not isinstance(quadrature, BallQuadrature):
        raise ValueError(
            f"{name} expects quadrature to be a BallQuadrature or None; got {quadrature!r}"
        )
    return quadrature


def mixed_residual_loss(
    r1: Float[ArrayLike, "... n"],
    r2: Float[ArrayLike, "... n"],
    *,
    weak_weight: float | None = None,
) -> Float[Array, ""]:
    """The physics loss of the DGNO code: ``mean r1 + w mean r2^2``.

    Means over all entries (samples and centres); ``w = sqrt(n)`` by default, ``n`` the
    number of centres (the last axis), as in the authors' Darcy example, where ``r2`` is
    the plain mean over the ball (``average=True``). Read as the negative log-likelihood
    of Gaussian virtual observables ``r = 0`` (Zang & Koutsourelakis 2025), ``w`` sets the
    ratio of the two precisions.

    Args:
        r1: ``(..., n)`` constitutive residuals, as from ``darcy_mixed_residuals``.
        r2: ``(..., n)`` weak residuals.
        weak_weight: the weight ``w`` of the weak term; ``None``: ``sqrt(n)``.

    Returns:
        The scalar loss.
    """
    r1, r2 = jnp.asarray(r1), jnp.asarray(r2)
    if r2.ndim < 1 or r1.shape != r2.shape:
        raise ValueError(
            f"mixed_residual_loss expects r1 and r2 of the same shape (..., n); "
            f"got {r1.shape} and {r2.shape}"
        )
    weight = math.sqrt(r2.shape[-1]) if weak_weight is None else weak_weight
    return jnp.mean(r1) + weight * jnp.mean(r2**2)
