r"""Fourth-order exponential time differencing Runge–Kutta (ETDRK4) for diagonal stiff parts.

The problem. A semilinear system whose linear part is diagonal (a Fourier multiplier),

    dv / dt = lambda v + N(v),

with ``lambda`` real and ``<= 0`` (diffusion, viscosity) and ``N`` the nonlinear and
forcing terms. The linear part is integrated exactly and the variation-of-constants
integral of ``N`` is approximated by a Runge–Kutta rule, so the step is limited by ``N``
only, never by the stiffness of ``lambda``.

The scheme (Cox and Matthews 2002, eqs. 26–29). With step ``h``, ``E = e^{h lambda}`` and
``E_2 = e^{h lambda / 2}``,

    a = E_2 v_n + Q N(v_n)
    b = E_2 v_n + Q N(a)
    c = E_2 a + Q (2 N(b) - N(v_n))
    v_{n+1} = E v_n + f_1 N(v_n) + 2 f_2 (N(a) + N(b)) + f_3 N(c),

with, for ``z = h lambda``,

    Q   = h (e^{z/2} - 1) / z,
    f_1 = h (-4 - z + e^z (4 - 3 z + z^2)) / z^3,
    f_2 = h ( 2 + z + e^z (z - 2)) / z^3,
    f_3 = h (-4 - 3 z - z^2 + e^z (4 - z)) / z^3.

It is fourth order in ``h`` for every ``lambda``; for ``lambda = 0`` it is the classical
RK4 method.

The coefficients. The formulas above cancel catastrophically for small ``|z|``. Following
Kassam and Trefethen (2005), each ``g(z)`` is evaluated as its mean over a circle centred
at ``z``, ``g(z) = (1 / 2 pi) \int g(z + r e^{i theta}) d theta`` (Cauchy's integral
formula; the functions are entire), discretised by the trapezoid rule, which converges
geometrically. For real ``z`` the upper half circle suffices: ``M`` points
``theta_j = pi (j - 1/2) / M`` and the real part of their mean equal the ``2 M``-point rule
on the full circle. Kassam and Trefethen take ``r = 1``; then for ``|z|`` near 1 some
points come close to ``w = 0`` and the cancellation returns (relative errors ~1e-4 in
float32). Here ``r = 1 + |z|`` for ``|z| < 2`` and ``r = 1`` beyond, so every point is at
least 1 from the origin; with the default ``M = 32`` the coefficients are accurate to a
few ulps in float32 and float64 for every ``z <= 0``. They are computed with
``jax.numpy``, so ``lambda`` (a viscosity in it) may be traced: a solver built from a
traced viscosity inside ``jit``/``grad`` is differentiable with respect to it, and a
sweep over viscosities compiles once.

References:
    S. M. Cox and P. C. Matthews, "Exponential time differencing for stiff systems",
    J. Comput. Phys. 176 (2002) 430-455.
    A.-K. Kassam and L. N. Trefethen, "Fourth-order time-stepping for stiff PDEs",
    SIAM J. Sci. Comput. 26 (2005) 1214-1233.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Inexact

__all__ = ["ETDRK4Coefficients", "check_contour_points", "etdrk4_coefficients", "etdrk4_step"]


class ETDRK4Coefficients(NamedTuple):
    """The six diagonal arrays of one ETDRK4 step, each of the shape of ``lambda``.

    A tuple, so ``E, E_2, Q, f_1, f_2, f_3 = coefficients`` unpacks it, and a PyTree.
    """

    exp_step: Float[Array, "*shape"]  # E = e^{h lambda}
    exp_half_step: Float[Array, "*shape"]  # E_2 = e^{h lambda / 2}
    q: Float[Array, "*shape"]
    f1: Float[Array, "*shape"]
    f2: Float[Array, "*shape"]
    f3: Float[Array, "*shape"]

    def astype(self, dtype) -> ETDRK4Coefficients:
        """The same coefficients in ``dtype``."""
        return ETDRK4Coefficients(*(c.astype(dtype) for c in self))


def check_contour_points(caller: str, contour_points) -> int:
    """``contour_points`` checked to be an integer >= 8, or a ValueError naming ``caller``."""
    if not isinstance(contour_points, numbers.Integral) or contour_points < 8:
        raise ValueError(
            f"{caller} expects contour_points to be an integer >= 8, got {contour_points!r}"
        )
    return int(contour_points)


def etdrk4_coefficients(
    linear: Float[ArrayLike, "*shape"],
    dt: float | Float[ArrayLike, ""],
    *,
    contour_points: int = 32,
) -> ETDRK4Coefficients:
    r"""The ETDRK4 coefficients of a diagonal, real linear operator.

    For ``z = dt * linear`` (elementwise), ``E = e^z``, ``E_2 = e^{z/2}`` and ``Q``,
    ``f_1``, ``f_2``, ``f_3`` of the module docstring (Cox and Matthews 2002, eqs. 26–29),
    the latter four evaluated as means over the circle ``|w - z| = r`` (Kassam and
    Trefethen 2005), ``r = 1 + |z|`` for ``|z| < 2`` and ``r = 1`` beyond (so that
    ``|w| >= 1``): the trapezoid rule on ``contour_points`` points of the upper half
    circle, real part taken, which for real ``z`` equals the rule on twice as many points
    of the full circle. This avoids the cancellation of the formulas near ``z = 0`` and is
    accurate to a few ulps (in float32 and float64) for every ``z <= 0``.

    Args:
        linear: real eigenvalues ``lambda`` of the linear operator (any shape), e.g.
            ``-nu |kappa|^2``; may be traced.
        dt: the time step ``h``; may be traced.
        contour_points: points on the half circle (>= 8).

    Returns:
        ``(E, E_2, Q, f_1, f_2, f_3)`` as :class:`ETDRK4Coefficients`, each of the shape
        and real dtype of ``linear``.

    References:
        Cox and Matthews, J. Comput. Phys. 176 (2002) 430-455; Kassam and Trefethen,
        SIAM J. Sci. Comput. 26 (2005) 1214-1233.
    """
    contour_points = check_contour_points("etdrk4_coefficients", contour_points)
    linear = jnp.asarray(linear)
    if not jnp.issubdtype(linear.dtype, jnp.floating):
        raise ValueError(
            f"etdrk4_coefficients expects a real floating operator, got dtype {linear.dtype}"
        )
    return _contour_coefficients(linear, jnp.asarray(dt, linear.dtype), contour_points)


# Compiled once per shape, dtype and contour size (linear and dt are traced), and inlined
# under an outer jit.
@functools.partial(jax.jit, static_argnums=(2,))
def _contour_coefficients(linear, dt, contour_points: int) -> ETDRK4Coefficients:
    z = dt * linear
    complex_dtype = jnp.result_type(z.dtype, jnp.complex64)
    theta = np.pi * (np.arange(contour_points) + 0.5) / contour_points
    circle = jnp.asarray(np.exp(1j * theta), complex_dtype)
    # Radius 1 (Kassam & Trefethen) keeps the points >= 1 away from the cancellation at
    # w = 0 only when |z| >= 2; for |z| < 2 the radius 1 + |z| does (then |e^w| <= e).
    # The mean does not depend on the radius, so its derivative is not propagated.
    radius = jax.lax.stop_gradient(jnp.where(jnp.abs(z) < 2, 1 + jnp.abs(z), 1))
    w = z[..., None].astype(complex_dtype) + radius[..., None] * circle  # (..., M)
    exp_w = jnp.exp(w)
    w_squared = w * w
    w_cubed = w_squared * w
    # One stacked division and mean (rather than four) keeps XLA's compile time low.
    numerators = jnp.stack(
        [
            jnp.exp(w / 2) - 1,
            -4 - w + exp_w * (4 - 3 * w + w_squared),
            2 + w + exp_w * (w - 2),
            -4 - 3 * w - w_squared + exp_w * (4 - w),
        ]
    )
    denominators = jnp.stack([w, w_cubed, w_cubed, w_cubed])
    means = jnp.mean(numerators / denominators, axis=-1).real
    q, f1, f2, f3 = (dt * means).astype(linear.dtype)
    return ETDRK4Coefficients(jnp.exp(z), jnp.exp(z / 2), q, f1, f2, f3)


def etdrk4_step(
    coefficients: ETDRK4Coefficients,
    v: Inexact[Array, "*shape"],
    nonlinear: Callable[[Inexact[Array, "*shape"]], Inexact[Array, "*shape"]],
) -> Inexact[Array, "*shape"]:
    """One ETDRK4 step ``v_n -> v_{n+1}`` of ``dv/dt = lambda v + N(v)`` (Cox–Matthews 2002).

    The four stages of the module docstring, with four evaluations of ``N``.

    Args:
        coefficients: :func:`etdrk4_coefficients` of ``lambda`` and the step ``h``, in a
            dtype that combines with ``v`` without promotion.
        v: the state, e.g. Fourier coefficients, shape ``*shape`` (or broadcastable
            against the coefficients).
        nonlinear: ``N``, a pure function of a state of the shape of ``v``.

    Returns:
        ``v_{n+1}``, of the shape and dtype of ``v``.
    """
    exp_step, exp_half_step, q, f1, f2, f3 = coefficients
    n_v = nonlinear(v)
    a = exp_half_step * v + q * n_v
    n_a = nonlinear(a)
    b = exp_half_step * v + q * n_a
    n_b = nonlinear(b)
    c = exp_half_step * a + q * (2 * n_b - n_v)
    n_c = nonlinear(c)
    return exp_step * v + f1 * n_v + 2 * f2 * (n_a + n_b) + f3 * n_c
