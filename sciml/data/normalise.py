"""Per-point Gaussian normalisation of operator inputs and outputs.

Li et al. (ICLR 2021, "Fourier Neural Operator for Parametric Partial Differential
Equations") normalise every grid point of the inputs and outputs by its mean and
standard deviation over the training set; the loss is taken on decoded outputs.
Lu et al. (CMAME 2022) take theirs on the normalised outputs instead
(:func:`in_normalised_units`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from sciml.fields import interpolate_field


class GaussianNormaliser(eqx.Module):
    """x -> (x - mean) / (std + eps), with statistics per grid point and channel.

    The statistics are data, not parameters: training code must not update them
    (``sciml.train.trainable_filter`` leaves every ``GaussianNormaliser`` frozen), and
    they are wrapped in ``stop_gradient`` so no gradient flows into them.

    Attributes:
        mean: (C, *grid) mean over the training samples.
        std: (C, *grid) standard deviation over the training samples.
        eps: added to ``std`` so constant points (a Dirichlet boundary) stay finite.
    """

    mean: Float[Array, "C ..."]
    std: Float[Array, "C ..."]
    eps: float = eqx.field(static=True, default=1e-5)

    @classmethod
    def fit(cls, samples: Float[ArrayLike, "N C ..."], eps: float = 1e-5) -> GaussianNormaliser:
        """Statistics of a batch of samples ``(N, C, *grid)``."""
        samples = jnp.asarray(samples)
        if samples.ndim < 2 or samples.shape[0] < 2:
            raise ValueError(
                "GaussianNormaliser.fit expects samples of shape (N, C, *grid) with N >= 2, "
                f"got shape {samples.shape}"
            )
        return cls(jnp.mean(samples, axis=0), jnp.std(samples, axis=0), eps)

    def _stats(self):
        return jax.lax.stop_gradient(self.mean), jax.lax.stop_gradient(self.std) + self.eps

    def encode(self, x: Float[Array, "C ..."]) -> Float[Array, "C ..."]:
        """One sample ``(C, *grid)`` to normalised units."""
        self._check(x)
        mean, scale = self._stats()
        return (x - mean) / scale

    def decode(self, z: Float[Array, "C ..."]) -> Float[Array, "C ..."]:
        """One normalised sample ``(C, *grid)`` back to physical units."""
        self._check(z)
        mean, scale = self._stats()
        return z * scale + mean

    def _check(self, x):
        if x.shape != self.mean.shape:
            raise ValueError(
                f"GaussianNormaliser expects one sample of shape {self.mean.shape} "
                f"(channels, *grid), got {x.shape}; batches go through jax.vmap"
            )


class NormalisedOperator(eqx.Module):
    """``decode(operator(encode(a)))``: an operator trained in normalised units.

    Maps one sample ``(C_in, *grid) -> (C_out, *grid)`` in physical units, so losses
    and metrics compare with the raw data, as in the FNO reference training.
    """

    operator: Callable[[Array], Array]
    input_normaliser: GaussianNormaliser
    output_normaliser: GaussianNormaliser

    def __call__(self, a: Float[Array, "C_in ..."]) -> Float[Array, "C_out ..."]:
        return self.output_normaliser.decode(self.operator(self.input_normaliser.encode(a)))

    def on_grid(self, grid: Sequence[int], *, periodic: bool) -> NormalisedOperator:
        """The operator for fields on another ``grid``: its per-point statistics
        interpolated multilinearly to it (:func:`sciml.fields.interpolate_field`), as for
        zero-shot super-resolution; the statistics describe smooth fields."""

        def resample(normaliser: GaussianNormaliser) -> GaussianNormaliser:
            mean, std = (
                jnp.asarray(interpolate_field(np.asarray(x), grid, periodic=periodic))
                for x in (normaliser.mean, normaliser.std)
            )
            return GaussianNormaliser(mean, std, normaliser.eps)

        return NormalisedOperator(
            self.operator, resample(self.input_normaliser), resample(self.output_normaliser)
        )


def in_normalised_units(
    loss: Callable[[Array, Array], Array], normaliser: GaussianNormaliser
) -> Callable[[Array, Array], Array]:
    """The per-sample ``loss`` taken in ``normaliser``'s units:
    ``(prediction, target) -> loss(encode(prediction), encode(target))``.

    For the mean squared error this is Lu et al.'s (2022) training loss on normalised
    outputs: ``mean(((prediction - target) / std)^2)`` with the per-point ``std``.
    """
    return functools.partial(_encoded_loss, loss, normaliser)


def _encoded_loss(loss, normaliser, prediction, target):
    return loss(normaliser.encode(prediction), normaliser.encode(target))
