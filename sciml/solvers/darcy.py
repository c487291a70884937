r"""Steady Darcy flow, -div(a grad u) = f on the unit square, u = 0 on the boundary.

Discretisation. The grid has ``s x s`` nodes including the boundary, spacing
``h = 1 / (s - 1)``. The 5-point finite-difference operator uses face coefficients
that are the arithmetic mean of the two nodal values, ``a_{i+1/2,j} = (a_ij + a_{i+1,j}) / 2``
(as in the data generator of Li et al., "Fourier Neural Operator for Parametric Partial
Differential Equations", ICLR 2021). At an interior node

    (A u)_ij = [ a_{i+1/2,j} (u_ij - u_{i+1,j}) + a_{i-1/2,j} (u_ij - u_{i-1,j})
               + a_{i,j+1/2} (u_ij - u_{i,j+1}) + a_{i,j-1/2} (u_ij - u_{i,j-1}) ] / h^2,

and ``A`` restricted to the ``(s - 2)^2`` interior unknowns is symmetric positive definite.
The scheme is second-order accurate for smooth ``a`` and ``u``.

Conventions. ``solve_darcy`` takes the coefficient at the nodes, where the solution
lives. The FNO data generator instead takes its coefficient at cell centres, splines it
to the nodes, solves this scheme and splines the solution back: ``solve_darcy_fno_matlab``.
Its nodal coefficient can be negative, mostly on the boundary, which ``solve_darcy``
accepts with ``require_positive=False`` as long as CG finds the operator positive definite.

Linear solve. Preconditioned conjugate gradients (Hestenes & Stiefel 1952) with a
fast-Poisson preconditioner (Concus & Golub 1973): ``M = c L_h``, the constant-coefficient
5-point Dirichlet Laplacian scaled by ``c = sqrt(min a * max a)``, inverted exactly with
the type-I discrete sine transform, whose basis vectors are the eigenvectors of ``L_h``.
Every face coefficient lies in ``[min a, max a]``, so the spectrum of ``M^{-1} A`` lies in
``[min a / c, max a / c]`` and CG converges in ``O(sqrt(max a / min a) log(1 / rtol))``
iterations, independently of the grid size. Each iteration costs one 5-point matvec and
four real FFTs of length ``2 (s - 1)`` along the rows and columns.

Gradients. ``solve_darcy`` is differentiated with the adjoint (implicit) rule and never
through the CG iterations. For a loss ``L(u)`` with ``u = A(a)^{-1} f``, one extra solve
``A lambda = dL/du`` (``A`` is symmetric) gives

    dL/df = lambda,    dL/da = -d/da [ lambda . A(a) u ]   (u held fixed),

the latter obtained exactly as the vector-Jacobian product of ``a -> darcy_operator(a, u)``
with cotangent ``lambda``, negated.

References:
    M. R. Hestenes and E. Stiefel, "Methods of conjugate gradients for solving linear
    systems", J. Res. Nat. Bur. Standards 49 (1952) 409-436.
    P. Concus and G. H. Golub, "Use of fast direct methods for the efficient numerical
    solution of nonseparable elliptic equations", SIAM J. Numer. Anal. 10 (1973) 1103-1120.
"""

from __future__ import annotations

import functools
import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from sciml.splines import spline_to_centres, spline_to_nodes

__all__ = [
    "darcy_operator",
    "darcy_residual",
    "solve_darcy",
    "solve_darcy_fno_matlab",
    "solve_darcy_with_info",
]

# ----------------------------------------------------------------------------- validation


def _check_coefficient_shape(name: str, a) -> int:
    shape = np.shape(a)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"{name} expects a square 2-D nodal coefficient a of shape (s, s); got shape {shape}"
        )
    if shape[0] < 3:
        raise ValueError(
            f"{name} expects at least 3 x 3 nodes (one interior node); got shape {shape}"
        )
    return shape[0]


def _check_field_shape(name: str, field_name: str, field, s: int, allow_scalar: bool) -> None:
    shape = np.shape(field)
    if allow_scalar and shape == ():
        return
    if shape != (s, s):
        expected = f"a scalar or shape {(s, s)}" if allow_scalar else f"shape {(s, s)}"
        raise ValueError(f"{name} expects {field_name} of {expected} to match a; got shape {shape}")


def _check_dtype(name: str, dtype) -> None:
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"{name} expects real inputs; got dtype {dtype}")


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_coefficient_values(name: str, a: Array, require_positive: bool = True) -> Array:
    """Raise eagerly on a concrete bad coefficient; under tracing, fail at run time."""
    if not require_positive:
        return _check_finite_coefficient(name, a)
    if _is_concrete(a):
        values = np.asarray(a)
        n_nan = int(np.isnan(values).sum())
        if n_nan:
            raise ValueError(
                f"{name} expects a positive, finite coefficient a; got {n_nan} NaN values"
            )
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            raise ValueError(
                f"{name} expects a positive, finite coefficient a; got {n_inf} infinite values"
            )
        a_min = values.min()
        if a_min <= 0:
            raise ValueError(
                f"{name} expects a positive, finite coefficient a; got min(a) = {a_min}"
            )
        return a
    bad = jnp.any(~jnp.isfinite(a)) | jnp.any(a <= 0)
    return eqx.error_if(
        a, bad, f"{name} expects a positive, finite coefficient a; got a NaN, inf or value <= 0"
    )


def _check_finite_coefficient(name: str, a: Array) -> Array:
    if _is_concrete(a):
        n_bad = int((~np.isfinite(np.asarray(a))).sum())
        if n_bad:
            raise ValueError(
                f"{name} expects a finite coefficient a; got {n_bad} NaN or infinite values"
            )
        return a
    return eqx.error_if(
        a, jnp.any(~jnp.isfinite(a)), f"{name} expects a finite coefficient a; got NaN or inf"
    )


def _check_source_values(name: str, f: Array) -> Array:
    if _is_concrete(f):
        n_bad = int((~np.isfinite(np.asarray(f))).sum())
        if n_bad:
            raise ValueError(f"{name} expects a finite source f; got {n_bad} NaN or inf values")
        return f
    return eqx.error_if(
        f, jnp.any(~jnp.isfinite(f)), f"{name} expects a finite source f; got NaN or inf"
    )


def _check_solver_options(name: str, rtol, maxiter) -> None:
    if isinstance(rtol, jax.core.Tracer) or isinstance(maxiter, jax.core.Tracer):
        raise ValueError(f"{name} expects rtol and maxiter to be Python numbers, not traced values")
    if not (isinstance(rtol, numbers.Real) and 0 < float(rtol) < 1):
        raise ValueError(f"{name} expects 0 < rtol < 1; got rtol = {rtol!r}")
    if maxiter is not None and not (isinstance(maxiter, numbers.Integral) and int(maxiter) >= 1):
        raise ValueError(f"{name} expects maxiter to be None or an integer >= 1; got {maxiter!r}")


def _float_dtype(*xs):
    dtype = jnp.result_type(*xs)
    if not jnp.issubdtype(dtype, jnp.inexact):
        dtype = jnp.result_type(dtype, jnp.float32)
    return dtype


# -------------------------------------------------------------------------- the operator


def _face_coefficients(a: Float[Array, "s s"]) -> tuple[Array, Array]:
    """Arithmetic means on the faces that touch interior nodes.

    Returns ``a_x: (s - 1, s - 2)``, the faces between rows ``i`` and ``i + 1``, and
    ``a_y: (s - 2, s - 1)``, the faces between columns ``j`` and ``j + 1``.
    """
    a_x = 0.5 * (a[1:, 1:-1] + a[:-1, 1:-1])
    a_y = 0.5 * (a[1:-1, 1:] + a[1:-1, :-1])
    return a_x, a_y


def _flux_divergence(a_x: Array, a_y: Array, u: Float[Array, "s s"]) -> Float[Array, "n n"]:
    """``-div(a grad u)`` in flux form on the interior nodes of the full field ``u``."""
    s = u.shape[0]
    flux_x = a_x * (u[1:, 1:-1] - u[:-1, 1:-1])
    flux_y = a_y * (u[1:-1, 1:] - u[1:-1, :-1])
    divergence = (flux_x[1:] - flux_x[:-1]) + (flux_y[:, 1:] - flux_y[:, :-1])
    return -divergence * (s - 1) ** 2


def _interior_operator(a_x: Array, a_y: Array, v: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """``A v`` on the interior unknowns ``v: (s - 2, s - 2)``, with zero boundary values."""
    return _flux_divergence(a_x, a_y, jnp.pad(v, 1))


def darcy_operator(a: Float[ArrayLike, "s s"], u: Float[ArrayLike, "s s"]) -> Float[Array, "s s"]:
    """The 5-point operator ``-div(a grad u)`` with face-averaged coefficients.

    The stencil is applied at every interior node using the values of ``u`` as given
    (zero on the boundary for the homogeneous Dirichlet problem).

    Args:
        a: ``(s, s)`` nodal coefficient.
        u: ``(s, s)`` nodal field.

    Returns:
        ``(s, s)``: ``(A u)_ij`` at interior nodes, zero on the boundary.
    """
    s = _check_coefficient_shape("darcy_operator", a)
    _check_field_shape("darcy_operator", "u", u, s, allow_scalar=False)
    dtype = _float_dtype(a, u)
    _check_dtype("darcy_operator", dtype)
    return _operator_compiled(jnp.asarray(a, dtype), jnp.asarray(u, dtype))


def darcy_residual(
    a: Float[ArrayLike, "s s"], f: Float[ArrayLike, "s s"] | float, u: Float[ArrayLike, "s s"]
) -> Float[Array, "s s"]:
    """The residual ``f - A u`` at interior nodes, zero on the boundary.

    Args:
        a: ``(s, s)`` nodal coefficient.
        f: ``(s, s)`` source, or a scalar for a constant source.
        u: ``(s, s)`` nodal field.

    Returns:
        ``(s, s)`` residual.
    """
    s = _check_coefficient_shape("darcy_residual", a)
    _check_field_shape("darcy_residual", "f", f, s, allow_scalar=True)
    _check_field_shape("darcy_residual", "u", u, s, allow_scalar=False)
    dtype = _float_dtype(a, f, u)
    _check_dtype("darcy_residual", dtype)
    f = jnp.broadcast_to(jnp.asarray(f, dtype), (s, s))
    return _residual_compiled(jnp.asarray(a, dtype), f, jnp.asarray(u, dtype))


# Compiled once per shape and dtype, so that eager calls run one kernel; inlined under jit.
@jax.jit
def _operator_compiled(a: Array, u: Array) -> Array:
    return jnp.pad(_flux_divergence(*_face_coefficients(a), u), 1)


@jax.jit
def _residual_compiled(a: Array, f: Array, u: Array) -> Array:
    return jnp.pad(f[1:-1, 1:-1] - _flux_divergence(*_face_coefficients(a), u), 1)


# ------------------------------------------------------------- the fast-Poisson preconditioner


def _dst1(x: Array, axis: int) -> Array:
    """Type-I discrete sine transform along ``axis`` (unnormalised).

    ``X_k = sum_{j=1}^{n} x_j sin(pi j k / (n + 1))`` for ``k = 1 .. n``, computed from
    the real FFT of the odd extension ``[0, x, 0, -reverse(x)]`` of length ``2 (n + 1)``,
    whose coefficient ``k`` is ``-2 i X_k``. Applying it twice gives ``(n + 1) / 2`` times
    the identity.
    """
    x = jnp.moveaxis(x, axis, -1)
    n = x.shape[-1]
    zero = jnp.zeros(x.shape[:-1] + (1,), x.dtype)
    odd_extension = jnp.concatenate([zero, x, zero, -x[..., ::-1]], axis=-1)
    transform = -0.5 * jnp.fft.rfft(odd_extension, axis=-1).imag[..., 1 : n + 1]
    return jnp.moveaxis(transform.astype(x.dtype), -1, axis)


def _dst1_2d(x: Float[Array, "n n"]) -> Float[Array, "n n"]:
    return _dst1(_dst1(x, -1), -2)


def _laplacian_eigenvalues(s: int, dtype) -> Float[Array, "n n"]:
    """Eigenvalues of the 5-point Dirichlet Laplacian on ``(s - 2)^2`` interior nodes."""
    n = s - 2
    k = np.arange(1, n + 1)
    one_d = 4.0 * (s - 1) ** 2 * np.sin(0.5 * np.pi * k / (n + 1)) ** 2
    return jnp.asarray(one_d[:, None] + one_d[None, :], dtype)


def _fast_poisson_inverse(a: Float[Array, "s s"], require_positive: bool = True):
    """``r -> (c L_h)^{-1} r`` with ``c = sqrt(min a * max a)``, exact through DST-I.

    Without ``require_positive`` (a coefficient that may be <= 0 somewhere) ``c = max |a|``
    instead: the iterates of preconditioned CG do not depend on the scale of the
    preconditioner, only the spectral bound of the module docstring does.
    """
    s = a.shape[0]
    n = s - 2
    if require_positive:
        c = jnp.sqrt(jnp.min(a) * jnp.max(a))
    else:
        largest = jnp.max(jnp.abs(a))
        c = jnp.where(largest > 0, largest, jnp.ones_like(largest))
    # Two unnormalised DSTs multiply by ((n + 1) / 2)^2; fold that into the eigenvalues.
    scaled_inverse = (2.0 / (n + 1)) ** 2 / (c * _laplacian_eigenvalues(s, a.dtype))

    def apply(r: Float[Array, "n n"]) -> Float[Array, "n n"]:
        return _dst1_2d(scaled_inverse * _dst1_2d(r))

    return apply


# ------------------------------------------------------------------- conjugate gradients


def _default_maxiter(a: Float[Array, "s s"], rtol: float) -> Int[Array, ""]:
    """Twice the classical CG bound ``sqrt(kappa) / 2 * log(2 / rtol)``, plus 20.

    ``kappa = max a / min a`` bounds the condition number of ``M^{-1} A``; the factor two
    covers measuring convergence by the residual rather than the energy norm (at contrast
    1e4 with a smooth log-normal coefficient CG needs about 1.2 times the bound).
    """
    kappa = jnp.max(a) / jnp.min(a)
    bound = jnp.sqrt(kappa) * math.log(2.0 / rtol) + 20
    return jnp.minimum(jnp.ceil(bound), 2**30).astype(jnp.int32)


def _pcg(
    a: Float[Array, "s s"],
    b: Float[Array, "n n"],
    rtol: float,
    maxiter: int | Array | None,
    require_positive: bool = True,
) -> tuple[Float[Array, "n n"], Int[Array, ""]]:
    """Preconditioned CG for ``A x = b`` on the interior unknowns, from ``x = 0``.

    Stops when ``||b - A x|| <= rtol ||b||`` (the recursively updated residual) or after
    ``maxiter`` iterations (``None``: see ``_default_maxiter``). Returns ``(x, iterations)``.

    Without ``require_positive`` nothing guarantees that ``A`` is positive definite: the
    default cap is then ``(s - 2)^2``, the number of unknowns (CG's bound in exact
    arithmetic), and a search direction with ``p . A p <= 0`` stops the iteration and
    returns NaN, since CG cannot go on there.
    """
    check_curvature = not require_positive
    if maxiter is None:
        maxiter = _default_maxiter(a, rtol) if require_positive else (a.shape[0] - 2) ** 2
    a_x, a_y = _face_coefficients(a)
    precondition = _fast_poisson_inverse(a, require_positive)
    tolerance = rtol * jnp.linalg.norm(b)

    r = b
    z = precondition(r)
    rz = jnp.vdot(r, z)
    broken = jnp.asarray(False)
    initial = (jnp.zeros_like(b), r, z, rz, jnp.linalg.norm(r), jnp.asarray(0, jnp.int32), broken)

    def not_converged(state):
        *_, residual_norm, iterations, broken = state
        going = (residual_norm > tolerance) & (iterations < maxiter)
        return going & ~broken if check_curvature else going

    def step(state):
        x, r, p, rz, _, iterations, broken = state
        q = _interior_operator(a_x, a_y, p)
        curvature = jnp.vdot(p, q)
        if check_curvature:
            broken = curvature <= 0
        alpha = rz / curvature
        x = x + alpha * p
        r = r - alpha * q
        z = precondition(r)
        rz_next = jnp.vdot(r, z)
        p = z + (rz_next / rz) * p
        return x, r, p, rz_next, jnp.linalg.norm(r), iterations + 1, broken

    x, *_, iterations, broken = jax.lax.while_loop(not_converged, step, initial)
    if check_curvature:
        x = jnp.where(broken, jnp.full_like(x, jnp.nan), x)
    return x, iterations


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _solve(
    a: Array, f: Array, rtol: float, maxiter: int, require_positive: bool
) -> tuple[Array, Array]:
    x, iterations = _pcg(a, f[1:-1, 1:-1], rtol, maxiter, require_positive)
    return jnp.pad(x, 1), iterations


def _solve_forward(a, f, rtol, maxiter, require_positive):
    u, iterations = _solve(a, f, rtol, maxiter, require_positive)
    return (u, iterations), (a, u)


def _solve_backward(rtol, maxiter, require_positive, residuals, cotangents):
    a, u = residuals
    u_bar, _ = cotangents
    # A is symmetric, so the adjoint solve is the same solve.
    adjoint, _ = _pcg(a, u_bar[1:-1, 1:-1], rtol, maxiter, require_positive)
    adjoint = jnp.pad(adjoint, 1)
    _, operator_vjp = jax.vjp(lambda coefficient: darcy_operator(coefficient, u), a)
    (a_bar,) = operator_vjp(adjoint)
    return -a_bar, adjoint


_solve.defvjp(_solve_forward, _solve_backward)

# Compiled once per shape, dtype and options, so that eager calls do not re-trace the loop;
# inside an outer jit it is inlined.
_solve_compiled = jax.jit(_solve, static_argnums=(2, 3, 4))


@jax.jit
def _relative_residual(a: Array, f: Array, u: Array) -> Array:
    residual_norm = jnp.linalg.norm(_residual_compiled(a, f, u))
    f_norm = jnp.linalg.norm(f[1:-1, 1:-1])
    return residual_norm / jnp.where(f_norm > 0, f_norm, 1)


# ------------------------------------------------------------------------- public solvers


def _prepare(name: str, a, f, rtol, maxiter, require_positive):
    s = _check_coefficient_shape(name, a)
    _check_field_shape(name, "f", f, s, allow_scalar=True)
    _check_solver_options(name, rtol, maxiter)
    if not isinstance(require_positive, bool):
        raise ValueError(
            f"{name} expects require_positive to be True or False; got {require_positive!r}"
        )
    maxiter = None if maxiter is None else int(maxiter)
    dtype = _float_dtype(a, f)
    _check_dtype(name, dtype)
    a = _check_coefficient_values(name, jnp.asarray(a, dtype), require_positive)
    f = _check_source_values(name, jnp.asarray(f, dtype))
    return a, jnp.broadcast_to(f, (s, s)), maxiter


def _check_definite(name: str, u: Array, require_positive: bool) -> Array:
    """Without ``require_positive`` a NaN solution is CG's breakdown (``p . A p <= 0``)."""
    if require_positive:
        return u
    return eqx.error_if(
        u,
        jnp.any(jnp.isnan(u)),
        f"{name}: the operator of this coefficient is not positive definite (CG met a "
        "direction with p . A p <= 0), so conjugate gradients cannot solve it",
    )


def solve_darcy_with_info(
    a: Float[ArrayLike, "s s"],
    f: Float[ArrayLike, "s s"] | float,
    *,
    rtol: float = 1e-6,
    maxiter: int | None = None,
    require_positive: bool = True,
) -> tuple[Float[Array, "s s"], Int[Array, ""], Float[Array, ""]]:
    """Solve the Darcy problem and report how the linear solve went.

    Same as ``solve_darcy``, and also returns the number of CG iterations and the final
    relative residual ``||f - A u|| / ||f||`` over the interior nodes (recomputed from
    ``u``, not the recursively updated one; ``||f - A u||`` itself when ``f = 0``).

    This residual cannot fall below the rounding of ``u`` times ``||A||``: in float32 on
    fine grids it stays near ``1e-3`` (2e-3 at ``s = 421`` with a 12:4 coefficient) even
    though ``u`` then matches a float64 solution to about ``3e-7`` relative. CG stops on
    the recursively updated residual, which keeps decreasing.

    Args:
        a: ``(s, s)`` nodal coefficient, as for ``solve_darcy``.
        f: ``(s, s)`` source, or a scalar for a constant source.
        rtol: the relative residual at which CG stops (static).
        maxiter: iteration cap (static), as for ``solve_darcy``.
        require_positive: refuse a coefficient <= 0 somewhere, as for ``solve_darcy``.

    Returns:
        ``(u, iterations, relative_residual)``: ``(s, s)``, an int32 scalar, a scalar.
    """
    name = "solve_darcy_with_info"
    a, f, maxiter = _prepare(name, a, f, rtol, maxiter, require_positive)
    u, iterations = _solve_compiled(a, f, float(rtol), maxiter, require_positive)
    u = _check_definite(name, u, require_positive)
    return u, iterations, _relative_residual(a, f, u)


def solve_darcy(
    a: Float[ArrayLike, "s s"],
    f: Float[ArrayLike, "s s"] | float,
    *,
    rtol: float = 1e-6,
    maxiter: int | None = None,
    require_positive: bool = True,
) -> Float[Array, "s s"]:
    """Solve ``-div(a grad u) = f`` on the unit square with ``u = 0`` on the boundary.

    5-point finite differences on ``s x s`` nodes with face-averaged coefficients, solved
    by conjugate gradients preconditioned with the exact DST-I inverse of the scaled
    constant-coefficient Laplacian (see the module docstring). Differentiable with
    respect to ``a`` and ``f`` by the adjoint rule (one extra solve per backward pass;
    reverse mode only); jit- and vmap-compatible. One sample; batch with ``jax.vmap``.

    A NaN, infinite or (unless ``require_positive=False``) non-positive coefficient
    raises ``ValueError`` when ``a`` is concrete, and fails at run time under ``jit``.
    The dtype follows the inputs.

    Args:
        a: ``(s, s)`` positive nodal coefficient, ``s >= 3``; with
            ``require_positive=False`` it may be <= 0 at some nodes.
        f: ``(s, s)`` source, or a scalar for a constant source. Boundary values are
            ignored.
        rtol: stop when ``||f - A u|| <= rtol ||f||`` over the interior nodes (static).
        maxiter: iteration cap (static). ``None`` sets it from the coefficient's contrast
            ``kappa = max a / min a`` to ``sqrt(kappa) log(2 / rtol) + 20``, twice the
            classical CG bound (46 at 12:4 and ``rtol = 1e-6``; 479 at contrast 1e3).
            Hitting the cap returns the current iterate; ``solve_darcy_with_info``
            reports the iterations and the residual. With ``require_positive=False``
            ``None`` means ``(s - 2)^2``, the number of unknowns.
        require_positive: ``True`` (default) refuses a coefficient <= 0 anywhere, which
            makes the operator positive definite. ``False`` accepts any finite ``a``, as
            the spline-interpolated coefficient of ``solve_darcy_fno_matlab`` needs (it
            can be negative, mostly on the boundary). The operator is then positive definite
            only if the face averages make it so, which is not checked in advance: CG
            is run as usual and a search direction with ``p . A p <= 0`` (proof that the
            operator is not positive definite) raises, at run time under ``jit``.

    Returns:
        ``u: (s, s)`` with zero boundary rows and columns.
    """
    a, f, maxiter = _prepare("solve_darcy", a, f, rtol, maxiter, require_positive)
    u, _ = _solve_compiled(a, f, float(rtol), maxiter, require_positive)
    return _check_definite("solve_darcy", u, require_positive)


def solve_darcy_fno_matlab(
    a: Float[ArrayLike, "s s"],
    f: Float[ArrayLike, "s s"] | float,
    *,
    rtol: float = 1e-6,
    maxiter: int | None = None,
) -> Float[Array, "s s"]:
    """The Darcy solution as the FNO data generator makes it: cell-centred in and out.

    The pipeline of ``solve_gwf.m`` in the data-generation scripts of Li et al.,
    "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021
    (``data_generation/darcy``, called by ``demo.m`` on the thresholded field):

    1. ``a`` holds values at the ``s x s`` cell centres ``((i + 1/2) / s, (j + 1/2) / s)``
       of the unit square; MATLAB's ``interp2(..., 'spline')`` (a tensor-product
       not-a-knot cubic spline that extrapolates) takes it to the ``s x s`` nodes
       ``(i / (s - 1), j / (s - 1))`` (`sciml.splines.spline_to_nodes`). A two-valued
       ``a`` is not two-valued at the nodes; at the boundary nodes, half a cell outside
       the outermost centres, the spline extrapolates and can turn negative (rarely an
       interior node does too). Nothing is clipped, as in the original.
    2. The 5-point scheme with arithmetic face averages ``(a_ij + a_{i+1,j}) / 2`` and
       the factor ``(s - 1)^2``, zero Dirichlet values, as assembled there, is this
       module's operator; it is solved by ``solve_darcy(..., require_positive=False)``
       (``solve_gwf.m`` uses a sparse direct solve; CG agrees with it to ``rtol``).
    3. The nodal solution is splined back to the cell centres.

    Orientation: ``solve_gwf.m`` reshapes the solution vector with ``vec2mat``, which
    fills a matrix row by row, from unknowns numbered column by column, i.e. it
    transposes the solution; the final ``'`` transposes it back. The returned ``u`` is
    therefore aligned with ``a`` (``u[i, j]`` and ``a[i, j]`` at the same centre).

    The source is splined like the coefficient; a scalar ``f`` is used as the constant it
    stays (the spline reproduces constants exactly, up to round-off in MATLAB).

    Args:
        a: ``(s, s)`` coefficient at the cell centres, ``s >= 4`` (the not-a-knot spline
            needs four points).
        f: ``(s, s)`` source at the cell centres, or a scalar for a constant source.
        rtol: stop CG at this relative residual (static).
        maxiter: CG's iteration cap (static); ``None``: ``(s - 2)^2``.

    Returns:
        ``u: (s, s)`` at the cell centres, not zero on the outermost ones.
    """
    name = "solve_darcy_fno_matlab"
    s = _check_coefficient_shape(name, a)
    if s < 4:
        raise ValueError(
            f"{name} expects at least 4 x 4 cells (the not-a-knot spline needs four "
            f"points per axis); got shape {np.shape(a)}"
        )
    _check_field_shape(name, "f", f, s, allow_scalar=True)
    dtype = _float_dtype(a, f)
    _check_dtype(name, dtype)
    a_nodes = spline_to_nodes(jnp.asarray(a, dtype))
    f_nodes = jnp.asarray(f, dtype) if np.ndim(f) == 0 else spline_to_nodes(jnp.asarray(f, dtype))
    u_nodes = solve_darcy(a_nodes, f_nodes, rtol=rtol, maxiter=maxiter, require_positive=False)
    return spline_to_centres(u_nodes)
