r"""A whitened periodic Gaussian random field: the prior of an unknown initial condition.

``z ~ N(0, I)`` on the grid is coloured by the square root of the covariance
``C = sigma^2 (-Laplacian + tau^2 I)^(-alpha)``, diagonal in the Fourier basis,

    u(z) = irfftn( sqrt(S_k / N) rfftn(z) ),

with ``S_k`` the spectrum of :func:`sciml.fields.periodic_grf_spectrum` and ``N`` the
number of grid points. This is the sampler of :func:`sciml.fields.periodic_grf` written
as a map of its white noise, so ``u(z)`` has exactly the law of the data generators'
initial conditions when ``z`` is standard normal, and the prior term of the posterior
is ``|z|^2 / 2`` (Stuart 2010, §6).

References:
    A. M. Stuart, "Inverse problems: a Bayesian perspective", Acta Numerica 19 (2010)
    451-559.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sciml.fields import periodic_grf_spectrum

__all__ = ["PeriodicField"]


class PeriodicField(eqx.Module):
    """``z: (*shape) -> u: (*shape)``, white noise coloured to a periodic Gaussian random field.

    Attributes:
        scale: ``sqrt(S_k / N)`` in the ``rfftn`` layout (zero at ``k = 0``: mean zero).
        shape: the grid.
    """

    scale: Float[Array, ...]
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        shape: Sequence[int],
        *,
        alpha: float,
        tau: float,
        sigma: float | None = None,
        dtype=jnp.float32,
    ):
        shape = tuple(int(n) for n in shape)
        spectrum = np.asarray(
            periodic_grf_spectrum(shape, alpha=alpha, tau=tau, sigma=sigma, dtype=dtype)
        )
        half = spectrum[..., : shape[-1] // 2 + 1]
        self.scale = jnp.asarray(np.sqrt(half / np.prod(shape)), dtype)
        self.shape = shape

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.shape

    def __call__(self, latent: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        axes = tuple(range(len(self.shape)))
        spectrum = jnp.fft.rfftn(latent, axes=axes) * self.scale.astype(latent.dtype)
        return jnp.fft.irfftn(spectrum, s=self.shape, axes=axes).astype(latent.dtype)

    def whiten(self, field: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """The minimum-norm latent of a mean-zero ``field`` (its inverse where ``scale > 0``)."""
        axes = tuple(range(len(self.shape)))
        scale = self.scale.astype(field.dtype)
        inverse = jnp.where(scale > 0, 1 / jnp.where(scale > 0, scale, 1), 0)
        return jnp.fft.irfftn(jnp.fft.rfftn(field, axes=axes) * inverse, s=self.shape, axes=axes)
