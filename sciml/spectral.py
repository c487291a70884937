"""Spectral helpers on periodic boxes: wavenumbers, the 2/3 dealiasing rule, derivatives.

A periodic box ``[0, L_1) x ... x [0, L_d)`` is sampled at ``n_i`` equispaced points
``x_j = j L_i / n_i`` per axis. Its discrete Fourier modes carry the integer wavenumbers
``k_i`` of ``numpy.fft.fftfreq(n_i, 1 / n_i)`` (``0, 1, ..., -1``; for even ``n_i`` the
Nyquist mode is listed as ``-n_i / 2``), or of ``rfftfreq`` on the last axis of a real
transform (``0, 1, ..., n_i // 2``). The angular wavenumber of mode ``k_i`` is
``2 pi k_i / L_i``. Everything here uses the unnormalised forward transform of
``jnp.fft`` (``fftn(u)[k] = sum_j u_j exp(-2 pi i k.j / n)``).

The functions are pure and jit-compatible: sizes are static Python integers, lengths
may be traced.
"""

import operator
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

__all__ = [
    "STENCILS",
    "check_size",
    "dealias_mask",
    "each_axis",
    "per_axis_lengths",
    "rwavenumbers",
    "spectral_derivative",
    "squared_wavenumbers",
    "wavenumber_grid",
    "wavenumbers",
]

STENCILS = ("spectral", "central")
"""The discretisations of ``-Laplacian`` that :func:`squared_wavenumbers` gives the symbol of."""


def check_size(name: str, n: int) -> int:
    """``n`` as an int, or a ValueError naming ``name``, unless it is an integer >= 1."""
    try:
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n}")
    return n


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(shape) == 0:
        raise ValueError("shape must have at least one axis, got ()")
    for n in shape:
        check_size(f"every size in shape {shape}", n)
    return tuple(operator.index(n) for n in shape)


def each_axis(value: Any, ndim: int) -> tuple:
    """``value`` once per axis: a scalar repeated ``ndim`` times, a sequence as a tuple.

    The length of a sequence is left to the caller to check, in its own words.
    """
    if not isinstance(value, Sequence) and jnp.ndim(value) == 0:
        return (value,) * ndim
    return tuple(value)


def per_axis_lengths(length: float | Sequence[float], ndim: int) -> tuple:
    """``length`` as one value per axis; a scalar is shared by all axes."""
    lengths = each_axis(length, ndim)
    if len(lengths) != ndim or any(jnp.ndim(value) != 0 for value in lengths):
        raise ValueError(
            f"length must be a scalar or have one scalar per axis ({ndim}), got {length!r}"
        )
    return lengths


def _integer_wavenumbers(shape: tuple[int, ...], real: bool = True) -> list[np.ndarray]:
    """Integer wavenumbers per axis, sparse numpy arrays (``rfftfreq`` on the last if ``real``)."""
    grid = []
    for axis, n in enumerate(shape):
        last = axis == len(shape) - 1
        k = np.fft.rfftfreq(n, 1.0 / n) if real and last else np.fft.fftfreq(n, 1.0 / n)
        broadcast_shape = [1] * len(shape)
        broadcast_shape[axis] = k.shape[0]
        grid.append(k.reshape(broadcast_shape))
    return grid


def wavenumbers(n: int, length: float = 1.0, dtype=jnp.float32) -> Float[Array, " n"]:
    """Angular wavenumbers of a full FFT of ``n`` points on a period ``length``.

    ``kappa_k = 2 pi k / length`` with ``k = numpy.fft.fftfreq(n, 1 / n)``, i.e. the same
    values and order as ``2 pi * numpy.fft.fftfreq(n, d=length / n)``.

    Args:
        n: number of grid points (positive).
        length: period of the box.
        dtype: floating dtype of the result.

    Returns:
        ``(n,)`` array of angular wavenumbers.
    """
    n = check_size("n", n)
    k = np.fft.fftfreq(n, 1.0 / n)  # exact integers
    return (2 * jnp.pi / length) * jnp.asarray(k, dtype=dtype)


def rwavenumbers(n: int, length: float = 1.0, dtype=jnp.float32) -> Float[Array, " m"]:
    """Angular wavenumbers of a real FFT (``rfft``) of ``n`` points on a period ``length``.

    ``kappa_k = 2 pi k / length`` with ``k = 0, 1, ..., n // 2`` (``numpy.fft.rfftfreq``).

    Args:
        n: number of grid points (positive).
        length: period of the box.
        dtype: floating dtype of the result.

    Returns:
        ``(n // 2 + 1,)`` array of angular wavenumbers.
    """
    n = check_size("n", n)
    k = np.fft.rfftfreq(n, 1.0 / n)
    return (2 * jnp.pi / length) * jnp.asarray(k, dtype=dtype)


def wavenumber_grid(
    shape: Sequence[int],
    length: float | Sequence[float] = 1.0,
    real: bool = True,
    dtype=jnp.float32,
) -> tuple[Float[Array, "..."], ...]:
    """Angular wavenumbers of a d-dimensional FFT as sparse, broadcastable arrays.

    Axis ``i`` gets ``wavenumbers(shape[i], length_i)`` reshaped to
    ``(1, ..., n_i, ..., 1)``; with ``real=True`` the last axis gets
    ``rwavenumbers(shape[-1], length_d)`` (the layout of ``jnp.fft.rfftn``). Like
    ``numpy.meshgrid(..., indexing="ij", sparse=True)``.

    Args:
        shape: grid sizes ``(n_1, ..., n_d)``.
        length: period of the box, a scalar for all axes or one per axis.
        real: whether the last axis follows the ``rfftn`` layout.
        dtype: floating dtype of the result.

    Returns:
        ``d`` arrays that broadcast to ``shape`` (or to the ``rfftn`` shape
        ``(*shape[:-1], shape[-1] // 2 + 1)`` when ``real``).
    """
    shape = _check_shape(shape)
    lengths = per_axis_lengths(length, len(shape))
    return tuple(
        (2 * jnp.pi / axis_length) * jnp.asarray(k, dtype=dtype)
        for k, axis_length in zip(_integer_wavenumbers(shape, real), lengths)
    )


def squared_wavenumbers(
    shape: Sequence[int],
    length: float | Sequence[float] = 1.0,
    real: bool = True,
    dtype=jnp.float32,
    *,
    stencil: str = "spectral",
) -> Float[Array, "..."]:
    """The Fourier symbol of ``-Laplacian`` on a periodic box: ``|kappa|^2`` by default.

    With ``stencil="spectral"`` the symbol is ``sum_i kappa_i^2``, ``kappa_i`` the angular
    wavenumbers of :func:`wavenumber_grid`. With ``stencil="central"`` it is the symbol of
    the second-order central difference ``(u_{j+1} - 2 u_j + u_{j-1}) / h_i^2`` on each
    axis, the modified wavenumbers ``sum_i (2 / h_i)^2 sin^2(kappa_i h_i / 2)`` with
    ``h_i = L_i / n_i``; it equals ``|kappa|^2 (1 + O(kappa^2 h^2))`` and stays below
    ``sum_i 4 / h_i^2`` (Lele, J. Comput. Phys. 103 (1992), §2).

    Args:
        shape: grid sizes ``(n_1, ..., n_d)``.
        length: period of the box, a scalar for all axes or one per axis.
        real: whether the result is in the ``rfftn`` layout.
        dtype: floating dtype of the result.
        stencil: ``"spectral"`` or ``"central"``.

    Returns:
        A dense array of shape ``shape``, or ``(*shape[:-1], shape[-1] // 2 + 1)`` when
        ``real``; zero at ``k = 0`` and positive elsewhere.
    """
    if stencil not in STENCILS:
        raise ValueError(f"stencil must be one of {', '.join(STENCILS)}, got {stencil!r}")
    shape = _check_shape(shape)
    lengths = per_axis_lengths(length, len(shape))
    total = jnp.zeros((), dtype)
    for n, axis_length, kappa in zip(shape, lengths, wavenumber_grid(shape, lengths, real, dtype)):
        if stencil == "central":
            h = axis_length / n
            kappa = (2 / h) * jnp.sin(kappa * h / 2)
        total = total + kappa**2
    return total


def dealias_mask(shape: Sequence[int], real: bool = True) -> Bool[Array, "..."]:
    """The 2/3-rule dealiasing mask of a d-dimensional FFT.

    Convention: the mode with integer wavenumbers ``(k_1, ..., k_d)`` is kept iff
    ``3 |k_i| < n_i`` on every axis, i.e. ``|k_i| <= ceil(n_i / 3) - 1``. This is the
    largest cut-off ``K`` for which a quadratic product of kept modes aliases only onto
    discarded modes (a sum ``p + q`` with ``|p|, |q| <= K`` folds back to ``p + q - n``,
    which lies outside the kept band iff ``n - 2K > K``). The Nyquist mode of an even
    axis is always dropped.

    Args:
        shape: grid sizes ``(n_1, ..., n_d)``.
        real: whether to return the mask in the ``rfftn`` layout.

    Returns:
        Boolean array of shape ``shape``, or ``(*shape[:-1], shape[-1] // 2 + 1)`` when
        ``real``; ``True`` marks a kept mode.

    References:
        Orszag, "On the elimination of aliasing in finite-difference schemes by
        filtering high-wavenumber components", J. Atmos. Sci. 28 (1971).
    """
    shape = _check_shape(shape)
    mask = np.ones((1,) * len(shape), dtype=bool)
    for n, k in zip(shape, _integer_wavenumbers(shape, real)):
        mask = mask & (3 * np.abs(k) < n)
    return jnp.asarray(mask)


def _normalise_order(order: int | Sequence[int]) -> tuple[int, ...]:
    orders = tuple(order) if isinstance(order, Sequence) else (order,)
    try:
        orders = tuple(operator.index(m) for m in orders)
    except TypeError:
        orders = ()
    if len(orders) == 0 or any(m < 0 for m in orders):
        raise ValueError(
            f"order must be a non-negative int or a tuple of them (one per axis), got {order!r}"
        )
    return orders


def spectral_derivative(
    u: Float[ArrayLike, "*grid"],
    order: int | Sequence[int],
    length: float | Sequence[float] = 1.0,
) -> Float[Array, "*grid"]:
    """Derivative of a real periodic field by Fourier multipliers.

    ``d^m u = irfftn( prod_i (i kappa_i)^{m_i} * rfftn(u) )`` with ``kappa_i`` the angular
    wavenumbers ``2 pi k_i / L_i``. For an odd order ``m_i`` on an even-sized axis the
    Nyquist mode is set to zero: its derivative is not representable by a real field on
    the grid (the mode ``cos(pi n x / L)`` has an odd derivative that vanishes at every
    grid point). Exact, to round-off, for trigonometric polynomials the grid resolves.

    Args:
        u: real field of shape ``(n_1, ..., n_d)`` (one sample; use ``jax.vmap`` for
            batches and channels).
        order: derivative order per axis ``(m_1, ..., m_d)``; an int for a 1-D field.
        length: period of the box, a scalar for all axes or one per axis.

    Returns:
        The derivative, same shape and dtype as ``u``.
    """
    u = jnp.asarray(u)
    orders = _normalise_order(order)
    if not jnp.issubdtype(u.dtype, jnp.floating):
        raise ValueError(f"u must be a real floating array, got dtype {u.dtype}")
    if u.ndim != len(orders):
        raise ValueError(
            f"order {order!r} has {len(orders)} axes but u has shape {u.shape} "
            f"({u.ndim} axes); pass one order per axis and vmap over batches"
        )
    lengths = per_axis_lengths(length, u.ndim)
    # The integer-wavenumber part of the multiplier is static (numpy); only the scale
    # prod_i (2 pi / L_i)^{m_i} may depend on traced lengths.
    multiplier = np.ones((1,) * u.ndim)
    scale = 1.0
    for axis, (m, k, axis_length) in enumerate(zip(orders, _integer_wavenumbers(u.shape), lengths)):
        if m == 0:
            continue
        if m % 2 == 1 and u.shape[axis] % 2 == 0:
            k = np.where(np.abs(k) == u.shape[axis] // 2, 0.0, k)
        multiplier = multiplier * k**m
        scale = scale * (2 * np.pi / axis_length) ** m
    # i^{sum m} is one of 1, i, -1, -i: applied exactly.
    phase = (1, 1j, -1, -1j)[sum(orders) % 4]
    u_hat = jnp.fft.rfftn(u)
    u_hat = u_hat * jnp.asarray(phase * multiplier, dtype=u_hat.dtype) * scale
    return jnp.fft.irfftn(u_hat, s=u.shape).astype(u.dtype)
