"""Losses between one predicted and one true sample: relative Lp, Sobolev (H1, H^-s), MSE.

Each loss takes one sample ``(C, *grid)`` (or any shape) and returns a scalar; a
batch loss is ``jnp.mean(jax.vmap(loss)(pred, target))``, the per-sample relative
error averaged over the batch, as in the FNO training recipe.

The losses a :class:`~sciml.train.TrainConfig` names (``loss = "l2"``) are registered
here with :func:`register_loss`: a factory ``make(length) -> loss`` of the domain's
side; a user's loss registered the same way is usable by name from a preset or
``--set train.loss=NAME``.

References:
    Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (relative L2 loss; the authors' code adds an H1 loss).
    S. Cao, F. Brarda, R. Li and Y. Xi, "Spectral-Refiner: Accurate Fine-Tuning of
    Spatiotemporal Fourier Neural Operator for Turbulent Flows", ICLR 2025,
    arXiv:2405.17211 (negative Sobolev norms as operator-learning losses).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

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


def mean_squared_error(
    pred: Float[Array, "*shape"], target: Float[Array, "*shape"]
) -> Float[Array, ""]:
    """Mean squared error ``mean_i (pred_i - target_i)^2`` of one sample over all its axes.

    Averaged over a batch (``loss_reduction = "mean"``) it is PyTorch's
    ``F.mse_loss(..., reduction="mean")`` of equal-sized samples: the loss Lu et al.
    (2022) back-propagate in their FNO scripts (``src/burgers/fourier_1d.py`` of the
    authors' repository). It is not scale-free: a field 60 times smaller has a loss
    3600 times smaller.

    Raises:
        ValueError: if the shapes differ.
    """
    _check_pair(pred, target, "mean_squared_error")
    return jnp.mean(jnp.square(pred - target))


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


def negative_sobolev_norm(
    x: Float[Array, " C *grid"], s: float = 1.0, length: float | Sequence[float] = 1.0
) -> Float[Array, ""]:
    """The H^-s norm of one periodic sample ``(C, *grid)``, exactly, by Parseval.

    With ``x_hat_k = fftn(x)_k / N`` (``N`` grid points, so the coefficients are
    those of the Fourier series) and ``k`` the angular wavenumbers ``2 pi n / L``,

        ||x||_{H^-s}^2 = |Omega| sum_c sum_k |x_hat_{c,k}|^2 / (1 + |k|^2)^s,

    the channels summed (for a trajectory ``(T, *grid)`` the discrete L2-in-time of
    the H^-s-in-space norm, a Bochner norm). For ``s = 1`` it is ``<x, (I -
    Laplacian)^{-1} x>``: the dual norm of H^1 (Cao et al., 2025, eq. for the
    fine-tuning loss); ``s = 0`` is the L2 norm.

    Args:
        x: one sample ``(C, *grid)``, real.
        s: the order, a number ``>= 0``.
        length: the periodic domain's side, one for all spatial axes or one per axis.

    Returns:
        A scalar.
    """
    grid, lengths = _spatial_grid("negative_sobolev_norm", x, length)
    if not s >= 0:
        raise ValueError(f"negative_sobolev_norm expects an order s >= 0, got s={s}")
    return _safe_root(_negative_sobolev_squared(x, grid, lengths, s), 2)


def _negative_sobolev_squared(x, grid, lengths, s):
    axes = tuple(range(1, x.ndim))
    x_hat = jnp.fft.fftn(x, axes=axes, norm="forward")
    weight = ((1.0 + _wavenumber_squared(grid, lengths)) ** (-s)).astype(x_hat.real.dtype)
    volume = float(np.prod(lengths))
    return volume * jnp.sum(weight * jnp.abs(x_hat) ** 2)


def relative_hminus(
    pred: Float[Array, " C *grid"],
    target: Float[Array, " C *grid"],
    s: float = 1.0,
    length: float | Sequence[float] = 1.0,
) -> Float[Array, ""]:
    """Relative H^-s error ``||pred - target||_{H^-s} / ||target||_{H^-s}`` of one sample.

    See :func:`negative_sobolev_norm`. A weaker norm than L2: the error of the high
    wavenumbers counts ``(1 + |k|^2)^-s`` times less (Cao et al., 2025).
    """
    _check_pair(pred, target, "relative_hminus")
    grid, lengths = _spatial_grid("relative_hminus", pred, length)
    if not s >= 0:
        raise ValueError(f"relative_hminus expects an order s >= 0, got s={s}")
    error = _negative_sobolev_squared(pred - target, grid, lengths, s)
    reference = _negative_sobolev_squared(target, grid, lengths, s)
    return _safe_root(error, 2) / jnp.sqrt(reference)


def _spatial_grid(name, x, length):
    if jnp.ndim(x) < 2:
        raise ValueError(
            f"{name} expects one sample (C, *grid) with at least one spatial axis, "
            f"got shape {jnp.shape(x)}"
        )
    grid = tuple(jnp.shape(x)[1:])
    lengths = each_axis(length, len(grid))
    if len(lengths) != len(grid):
        raise ValueError(
            f"{name} expects one length or one per spatial axis ({len(grid)}), got {length}"
        )
    return grid, lengths


# ------------------------------------------------------------------ the loss registry

LossFactory = Callable[[float], Callable[[Array, Array], Array]]
_LOSSES: dict[str, LossFactory] = {}


def register_loss(name: str) -> Callable[[LossFactory], LossFactory]:
    """Register ``make(length) -> loss(prediction, target)`` under ``name``; a decorator.

    ``length`` is the periodic domain's side (``TrainConfig.domain_length``); the loss
    maps one sample pair to a scalar. A registered name is valid for
    ``TrainConfig.loss`` and for ``fit(loss=NAME)``.

    Raises:
        ValueError: if ``name`` is taken by another factory.
    """

    def decorator(make: LossFactory) -> LossFactory:
        held = _LOSSES.get(name)
        if held is not None and held is not make:
            raise ValueError(f"a loss named {name!r} is already registered ({held.__qualname__})")
        _LOSSES[name] = make
        return make

    return decorator


def loss_names() -> tuple[str, ...]:
    """The registered loss names, built-in ones first."""
    return tuple(_LOSSES)


def get_loss(name: str, length: float = 1.0) -> Callable[[Array, Array], Array]:
    """The per-sample loss registered as ``name``, for a domain of side ``length``."""
    if name not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(_LOSSES)}")
    return _LOSSES[name](length)


register_loss("l2")(lambda length: relative_l2)
register_loss("h1")(lambda length: functools.partial(relative_h1, length=length))
register_loss("hminus1")(lambda length: functools.partial(relative_hminus, s=1.0, length=length))
register_loss("mse")(lambda length: mean_squared_error)
