"""Relative Lp and Sobolev (H1) losses between one predicted and one true sample.

Each loss takes one sample ``(C, *grid)`` (or any shape) and returns a scalar; a
batch loss is ``jnp.mean(jax.vmap(loss)(pred, target))``, the per-sample relative
error averaged over the batch, as in the FNO training recipe.

References:
    Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (relative L2 loss; the authors' code adds an H1 loss).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sciml.spectral import each_axis


def _safe_root(total: Array, p: float) -> Array:
    """``total ** (1/p)`` with a zero (not NaN) gradient at ``total = 0``.

    A prediction equal to its target has a zero error norm, where the p-th root has
    an infinite derivative; the double ``where`` keeps that out of the gradient.
    """
    positive = total > 0
    return jnp.where(positive, jnp.where(positive, total, 1.0) ** (1.0 / p), 0.0)


def _lp_norm(x: Array, p: float) -> Array:
    magnitude = jnp.abs(x)
    if p == jnp.inf:
        return jnp.max(magnitude)
    return _safe_root(jnp.sum(magnitude**p), p)


def relative_lp(
    pred: Float[Array, "*shape"], target: Float[Array, "*shape"], p: float = 2
) -> Float[Array, ""]:
    """Relative Lp error of one sample over all its axes.

    ``||pred - target||_p / ||target||_p`` with ``||x||_p = (sum_i |x_i|^p)^(1/p)``
    (``p = inf``: the largest magnitude). On a uniform grid the quadrature weights
    cancel in the ratio, so this is also the relative error of the continuous Lp norm.

    Args:
        pred: one predicted sample, e.g. ``(C, *grid)``.
        target: the true sample, of the same shape.
        p: the order, ``p >= 1`` or ``inf``.

    Returns:
        A scalar. A target of zero norm gives ``inf`` (or NaN for a zero error).

    Raises:
        ValueError: if the shapes differ or ``p < 1``.
    """
    _check_pair(pred, target, "relative_lp")
    if not p >= 1:
        raise ValueError(f"relative_lp expects p >= 1 (or inf), got p={p}")
    return _lp_norm(pred - target, p) / _lp_norm(target, p)


def relative_l2(pred: Float[Array, "*shape"], target: Float[Array, "*shape"]) -> Float[Array, ""]:
    """Relative L2 error ``||pred - target||_2 / ||target||_2`` of one sample.

    The default training loss and test metric of the FNO benchmarks; see
    :func:`relative_lp`.
    """
    return relative_lp(pred, target, p=2)


def relative_h1(
    pred: Float[Array, " C *grid"],
    target: Float[Array, " C *grid"],
    length: float | Sequence[float] = 1.0,
) -> Float[Array, ""]:
    """Relative H1 (Sobolev) error of one sample ``(C, *grid)``, computed in Fourier space.

    With ``û`` the discrete Fourier transform over the spatial axes (every axis after
    the channel axis) and ``k = 2π n / L`` the angular wavenumber of integer mode
    ``n`` on a domain of side ``L``,

        sqrt( sum_{c,k} (1 + |k|^2) |û_pred - û_target|^2
              / sum_{c,k} (1 + |k|^2) |û_target|^2 ),

    which by Parseval is ``||e||_H1 / ||u||_H1`` with ``||u||_H1^2 = ||u||^2 +
    ||grad u||^2``. The transform treats the grid as periodic, as the FNO authors'
    H1 loss does: for non-periodic data the jump at the boundary adds high-wavenumber
    content, so this is a Sobolev-weighted error, not the exact H1 norm of the field.

    Args:
        pred: one predicted sample ``(C, *grid)``.
        target: the true sample, of the same shape.
        length: the domain's side ``L``, one for all spatial axes or one per axis.

    Returns:
        A scalar.

    Raises:
        ValueError: if the shapes differ, there is no spatial axis, or ``length`` has
            the wrong number of entries.
    """
    _check_pair(pred, target, "relative_h1")
    grid = pred.shape[1:]
    if pred.ndim < 2:
        raise ValueError(
            f"relative_h1 expects one sample (C, *grid) with at least one spatial axis, "
            f"got shape {pred.shape}"
        )
    lengths = each_axis(length, len(grid))
    if len(lengths) != len(grid):
        raise ValueError(
            f"relative_h1 expects one length or one per spatial axis ({len(grid)}), got {length}"
        )
    axes = tuple(range(1, pred.ndim))
    error_hat = jnp.fft.fftn(pred - target, axes=axes)
    target_hat = jnp.fft.fftn(target, axes=axes)
    weight = (1.0 + _wavenumber_squared(grid, lengths)).astype(error_hat.real.dtype)
    error = jnp.sum(weight * jnp.abs(error_hat) ** 2)
    reference = jnp.sum(weight * jnp.abs(target_hat) ** 2)
    return _safe_root(error, 2) / jnp.sqrt(reference)


def _wavenumber_squared(grid: tuple[int, ...], lengths: tuple[float, ...]) -> np.ndarray:
    """``|k|^2`` on the FFT grid: ``sum_d (2π n_d / L_d)^2``, shape ``grid``."""
    total = np.zeros(grid)
    for axis, (size, side) in enumerate(zip(grid, lengths)):
        k = 2 * np.pi * np.fft.fftfreq(size, d=1.0 / size) / side
        shape = [1] * len(grid)
        shape[axis] = size
        total = total + np.reshape(k, shape) ** 2
    return total


def _check_pair(pred, target, name):
    if jnp.shape(pred) != jnp.shape(target):
        raise ValueError(
            f"{name} expects pred and target of the same shape, "
            f"got {jnp.shape(pred)} and {jnp.shape(target)}"
        )
