r"""Navier–Stokes initial vorticity from sparse noisy observations of ``w(., T)``.

The Bayesian inverse problem of Li et al. (2021, §5.5): the vorticity equation on the
unit torus with ``nu = 1e-3`` and the forcing ``f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``
of the Navier–Stokes task; the initial vorticity ``w0`` has the law of that task's
initial conditions, ``N(0, 7^3 (-Laplacian + 49 I)^(-2.5))``, written as coloured white
noise (:class:`sciml.inverse.periodic.PeriodicField`); ``w(., T)`` is observed on a
uniform 7 x 7 grid with Gaussian noise. The paper samples the posterior by MCMC; here
the MAP estimate is computed, through the pseudo-spectral ETDRK4 solver (reverse mode
through its ``lax.scan``) or through a trained FNO ``w0 -> w(., 1..T)``.

References:
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021, §5.5 (Bayesian inverse problem).
    A. M. Stuart, "Inverse problems: a Bayesian perspective", Acta Numerica 19 (2010)
    451-559.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from sciml.solvers.navier_stokes import ETDRK4, fno_forcing, make_stepper, rollout

__all__ = ["NavierStokesSolver", "TrajectorySurrogate"]


class NavierStokesSolver(eqx.Module):
    """``w0: (s, s) -> w(T): (s, s)``, ETDRK4 with a fixed step dividing 1.

    ``nu`` is an array leaf, not static: the :class:`sciml.solvers.navier_stokes.ETDRK4`
    stepper and its coefficients are built from it inside every call, so a sweep over
    viscosities reuses one compiled solve, and the solver is differentiable with respect
    to ``nu``. The grid, the step and ``t_final`` fix the step count and stay static.

    Attributes:
        nu: viscosity >= 0, a scalar array.
        forcing: ``(s, s)`` the forcing of the Navier–Stokes task (:func:`fno_forcing`).
        resolution: grid points per side ``s``.
        dt: the time step, ``1 / steps_per_unit_time``.
        steps_per_unit_time: steps per unit of time.
        t_final: final time ``T``, an integer.
    """

    nu: Float[Array, ""]
    forcing: Float[Array, "s s"]
    resolution: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    steps_per_unit_time: int = eqx.field(static=True)
    t_final: int = eqx.field(static=True)

    def __init__(
        self,
        resolution: int,
        *,
        nu: float | Float[Array, ""] = 1e-3,
        t_final: int = 10,
        dt: float,
    ):
        if not (isinstance(t_final, int) and t_final >= 1):
            raise ValueError(f"NavierStokesSolver expects an integer t_final >= 1; got {t_final!r}")
        forcing = fno_forcing(resolution)
        # make_stepper checks the grid, nu and dt and rounds dt to divide 1.
        stepper, self.steps_per_unit_time = make_stepper(
            resolution, nu=nu, scheme="fast", forcing=forcing, dt=dt
        )
        self.nu = stepper.nu
        self.forcing = forcing
        self.resolution = stepper.resolution
        self.dt = stepper.dt
        self.t_final = t_final

    @property
    def stepper(self) -> ETDRK4:
        """The ETDRK4 stepper of ``nu``, its coefficients computed from it."""
        return ETDRK4(self.resolution, nu=self.nu, dt=self.dt, forcing=self.forcing)

    def __call__(self, w0: Float[Array, "s s"]) -> Float[Array, "s s"]:
        frames = rollout(
            self.stepper,
            w0,
            num_frames=self.t_final,
            steps_per_frame=self.steps_per_unit_time,
        )
        return frames[-1]


class TrajectorySurrogate(eqx.Module):
    """A trained operator ``(1, s, s) -> (T, s, s)`` used as ``w0 -> w(T)`` (its last frame)."""

    model: Callable[[Array], Array]

    def __call__(self, w0: Float[Array, "s s"]) -> Float[Array, "s s"]:
        return self.model(w0[None].astype(jnp.float32))[-1].astype(w0.dtype)
