r"""The residual of the vorticity equation for a given trajectory and its time derivative.

For a candidate vorticity ``w(t)`` on the unit torus with time derivative ``w_t(t)``,

    R(w) = w_t + u . grad w - nu Laplacian w - f,     u = (psi_y, -psi_x), -Laplacian psi = w,

the equation of :mod:`sciml.solvers.navier_stokes`, whose operators (wavenumbers, the
Biot–Savart velocity, the advection term and its 2/3-rule mask) are reused here. ``R``
vanishes for an exact solution; measured in a negative Sobolev norm it is the
functional-type a posteriori error estimator of Cao et al. (2025), computed exactly in
Fourier space. ``dealias=False`` keeps every mode of the advection product (the
"relaxed" dealiasing of that paper's fine-tuning: on a grid as coarse as the stored
data the 2/3 rule would hide a third of the resolved modes from the estimator).

References:
    S. Cao, F. Brarda, R. Li and Y. Xi, "Spectral-Refiner: Accurate Fine-Tuning of
    Spatiotemporal Fourier Neural Operator for Turbulent Flows", ICLR 2025,
    arXiv:2405.17211.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from sciml.solvers.navier_stokes import _check_field, _check_viscosity, _SpectralOperators
from sciml.spectral import squared_wavenumbers

__all__ = ["vorticity_residual"]


def vorticity_residual(
    w: Float[ArrayLike, "T s s"],
    w_t: Float[ArrayLike, "T s s"],
    *,
    nu: float | Float[Array, ""],
    forcing: Float[ArrayLike, "s s"] | None = None,
    dealias: bool = True,
) -> Float[Array, "T s s"]:
    """``R = w_t + u . grad w - nu Laplacian w - f`` at every frame of a trajectory.

    Args:
        w: ``(T, s, s)`` vorticity frames (``s`` even).
        w_t: ``(T, s, s)`` their time derivatives.
        nu: viscosity (may be traced).
        forcing: ``(s, s)`` time-independent forcing, or ``None`` for ``f = 0``.
        dealias: apply the solver's 2/3-rule mask to the advection term.

    Returns:
        ``(T, s, s)`` residual, in the dtype of ``w``.
    """
    name = "vorticity_residual"
    w, w_t = jnp.asarray(w), jnp.asarray(w_t)
    if w.ndim != 3 or w.shape != w_t.shape:
        raise ValueError(
            f"{name} expects w and w_t of the same shape (T, s, s); got {w.shape} and {w_t.shape}"
        )
    s = _check_field(name, "w[0]", w[0])
    nu = _check_viscosity(name, nu)
    operators = _SpectralOperators(s)
    if not dealias:
        operators = eqx.tree_at(lambda o: o.dealias, operators, jnp.ones_like(operators.dealias))
    real = w.dtype
    k2 = squared_wavenumbers((s, s), dtype=real)
    forcing_hat: Array | float = 0.0
    if forcing is not None:
        _check_field(name, "forcing", forcing, s)
        forcing_hat = jnp.fft.rfft2(jnp.asarray(forcing, real))

    def one(frame, frame_t):
        w_hat = jnp.fft.rfft2(frame)
        r_hat = (
            jnp.fft.rfft2(frame_t)
            + operators.advection(w_hat)
            + nu.astype(real) * k2 * w_hat
            - forcing_hat
        )
        return jnp.fft.irfft2(r_hat, s=(s, s)).astype(real)

    return jax.vmap(one)(w, w_t)
