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

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sciml.solvers.burgers import solve_burgers

__all__ = ["BurgersSolver"]


class BurgersSolver(eqx.Module):
    """``u0: (n,) -> u(T): (n,)`` on the periodic unit interval.

    ``nu`` is an array leaf, not static: the ETDRK4 coefficients are computed from it
    inside every call, so a sweep over viscosities reuses one compiled solve (and one
    compiled optimiser step around it), and the solver is differentiable with respect to
    ``nu`` (e.g. ``eqx.filter_grad`` of a loss of the solver). ``t_final`` and ``dt`` fix
    the step count and stay static. A traced ``nu`` that is not finite and > 0 makes the
    compiled solve raise a runtime error naming ``nu`` (checked by
    :func:`sciml.solvers.solve_burgers`), never a silent NaN.

    Attributes:
        nu: viscosity > 0, a scalar array of at least the default float precision.
        t_final: final time ``T`` (a whole number of steps ``dt``).
        dt: time step.
    """

    nu: Float[Array, ""]
    t_final: float = eqx.field(static=True)
    dt: float = eqx.field(static=True)

    def __init__(
        self, nu: float | Float[Array, ""], t_final: float = 1.0, dt: float = 1 / 200
    ) -> None:
        if np.ndim(nu) != 0:
            raise ValueError(
                f"BurgersSolver expects a scalar viscosity nu, got shape {np.shape(nu)}"
            )
        if not isinstance(nu, jax.core.Tracer):
            value = float(np.asarray(nu))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"BurgersSolver expects a finite viscosity nu > 0, got {nu!r}")
        nu = jnp.asarray(nu)
        # A Python number becomes a strongly typed array, so that it and an array of the
        # same dtype share one compiled program.
        self.nu = nu.astype(jnp.promote_types(nu.dtype, jnp.result_type(float)))
        self.t_final = float(t_final)
        self.dt = float(dt)

    def __call__(self, u0: Float[Array, " n"]) -> Float[Array, " n"]:
        return solve_burgers(u0, nu=self.nu, t_final=self.t_final, dt=self.dt)
