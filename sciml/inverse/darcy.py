r"""Darcy permeability from sparse noisy pressure observations.

The unknown is the two-phase coefficient of the FNO Darcy task (Li et al. 2021),
``a = 12`` where a Neumann Gaussian random field ``g`` is ``>= 0`` and ``4`` elsewhere.
Its parameterisation keeps the field's own law as the prior: ``g`` is the truncated
Karhunen–Loève expansion of :func:`sciml.fields.neumann_grf`,

    g = idctn( pad_{m x m -> s x s}( sqrt(lambda_k) z_k ) ),    z ~ N(0, I_{m^2}),

with ``lambda_k`` the variances of :func:`sciml.fields.neumann_grf_spectrum`, and the
threshold is smoothed while optimising,

    a(z) = a_low + (a_high - a_low) sigmoid(g(z) / width),

then applied exactly at the end: ``a_hat = a_high`` where ``g(z_MAP) >= 0``. The forward
map is either the finite-difference solver with its adjoint gradient
(:func:`sciml.solvers.solve_darcy`) or a trained operator ``a -> u``.

References:
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (the Darcy task).
    A. M. Stuart, "Inverse problems: a Bayesian perspective", Acta Numerica 19 (2010)
    451-559 (the whitened Gaussian prior and the MAP estimate).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from sciml.fields import neumann_grf_spectrum
from sciml.solvers.darcy import solve_darcy

__all__ = ["DarcySolver", "SmoothThreshold", "Surrogate", "classification_accuracy"]


class SmoothThreshold(eqx.Module):
    """``z: (m, m) -> a: (s, s)``, a Neumann-GRF latent through a smoothed two-phase threshold.

    Attributes:
        std: ``(m, m)`` standard deviations of the kept DCT-II coefficients.
        resolution: nodes per side ``s``.
        a_low, a_high: the two phases.
        width: the sigmoid's width, in units of the field (its pointwise standard
            deviation is about 0.3 for ``alpha = 2, tau = 3``).
    """

    std: Float[Array, "m m"]
    resolution: int = eqx.field(static=True)
    a_low: float = eqx.field(static=True)
    a_high: float = eqx.field(static=True)
    width: float = eqx.field(static=True)

    def __init__(
        self,
        resolution: int,
        modes: int,
        *,
        alpha: float = 2.0,
        tau: float = 3.0,
        a_low: float = 4.0,
        a_high: float = 12.0,
        width: float = 0.05,
        dtype=jnp.float32,
    ):
        if not (isinstance(modes, (int, np.integer)) and 1 <= modes <= resolution):
            raise ValueError(
                f"SmoothThreshold expects 1 <= modes <= resolution = {resolution}; got {modes!r}"
            )
        if not (0 < a_low < a_high and width > 0):
            raise ValueError(
                "SmoothThreshold expects 0 < a_low < a_high and width > 0; got "
                f"a_low={a_low}, a_high={a_high}, width={width}"
            )
        spectrum = neumann_grf_spectrum(resolution, alpha=alpha, tau=tau, dtype=dtype)
        self.std = jnp.sqrt(spectrum[:modes, :modes])
        self.resolution = int(resolution)
        self.a_low, self.a_high, self.width = float(a_low), float(a_high), float(width)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.std.shape[0], self.std.shape[1]

    def field(self, latent: Float[Array, "m m"]) -> Float[Array, "s s"]:
        """The Gaussian random field ``g(z)`` at the nodes."""
        m, s = self.std.shape[0], self.resolution
        coefficients = jnp.pad(self.std * latent, ((0, s - m), (0, s - m)))
        return jax.scipy.fft.idctn(coefficients, type=2, norm="ortho")

    def __call__(self, latent: Float[Array, "m m"]) -> Float[Array, "s s"]:
        """The smooth coefficient ``a(z)`` in ``(a_low, a_high)``."""
        phase = jax.nn.sigmoid(self.field(latent) / self.width)
        return self.a_low + (self.a_high - self.a_low) * phase

    def threshold(self, latent: Float[Array, "m m"]) -> Float[Array, "s s"]:
        """The two-phase coefficient ``a_high`` where ``g(z) >= 0``, else ``a_low``."""
        return jnp.where(self.field(latent) >= 0, self.a_high, self.a_low)

    def project(self, field: Float[Array, "s s"]) -> Float[Array, "m m"]:
        """The latent whose field is the truncated KL expansion of ``field`` (least squares)."""
        m = self.std.shape[0]
        coefficients = jax.scipy.fft.dctn(field, type=2, norm="ortho")[:m, :m]
        return jnp.where(self.std > 0, coefficients / jnp.where(self.std > 0, self.std, 1), 0)


class DarcySolver(eqx.Module):
    """``a: (s, s) -> u: (s, s)``, the finite-difference solve of ``-div(a grad u) = f``.

    Differentiated by the solver's adjoint rule (one extra solve per gradient).
    """

    source: float = eqx.field(static=True, default=1.0)
    rtol: float = eqx.field(static=True, default=1e-6)

    def __call__(self, a: Float[Array, "s s"]) -> Float[Array, "s s"]:
        return solve_darcy(a, self.source, rtol=self.rtol)


class Surrogate(eqx.Module):
    """A trained one-channel operator ``(1, *grid) -> (1, *grid)`` used as ``(*grid) -> (*grid)``.

    The model runs in float32 (its weights' dtype); its output takes the input's dtype.
    """

    model: Callable[[Array], Array]

    def __call__(self, x: Float[Array, "*grid"]) -> Float[Array, "*grid"]:
        return self.model(x[None].astype(jnp.float32))[0].astype(x.dtype)


def classification_accuracy(
    estimate: Float[ArrayLike, "s s"],
    truth: Float[ArrayLike, "s s"],
    *,
    a_low: float = 4.0,
    a_high: float = 12.0,
) -> float:
    """The fraction of nodes on the right side of the midpoint ``(a_low + a_high) / 2``."""
    estimate, truth = np.asarray(estimate), np.asarray(truth)
    if estimate.shape != truth.shape:
        raise ValueError(
            f"classification_accuracy expects estimate and truth of one shape; got "
            f"{estimate.shape} and {truth.shape}"
        )
    midpoint = 0.5 * (a_low + a_high)
    return float(np.mean((estimate >= midpoint) == (truth >= midpoint)))
