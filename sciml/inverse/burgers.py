r"""Burgers initial condition from noisy observations of ``u(., T)``.

The unknown ``u0`` carries the law of the Burgers data (Li et al. 2021):
``u0 ~ N(0, 625 (-Laplacian + 25 I)^(-2))``, mean zero, written as coloured white noise
(:class:`sciml.inverse.periodic.PeriodicField`). The forward map is the
pseudo-spectral ETDRK4 solver (:func:`sciml.solvers.solve_burgers`), differentiated by
reverse mode through its ``lax.scan``. Viscosity damps the Fourier mode ``k`` of the
solution by about ``exp(-nu (2 pi k)^2 T)``, so the larger ``nu`` (and the noise), the
fewer modes of ``u0`` the data still carry: the recovery error grows with both.

References:
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (the Burgers task).
    A. M. Stuart, "Inverse problems: a Bayesian perspective", Acta Numerica 19 (2010)
    451-559.
"""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array, Float

from sciml.solvers.burgers import solve_burgers

__all__ = ["BurgersSolver"]


class BurgersSolver(eqx.Module):
    """``u0: (n,) -> u(T): (n,)`` on the periodic unit interval."""

    nu: float = eqx.field(static=True)
    t_final: float = eqx.field(static=True, default=1.0)
    dt: float = eqx.field(static=True, default=1 / 200)

    def __call__(self, u0: Float[Array, " n"]) -> Float[Array, " n"]:
        return solve_burgers(u0, nu=self.nu, t_final=self.t_final, dt=self.dt)
