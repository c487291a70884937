"""Gaussian random fields with Matérn-like covariance ``sigma^2 (-Laplacian + tau^2 I)^(-alpha)``.

Two samplers, both batched (the sample axis first) and keyed:

- :func:`periodic_grf` on the periodic box ``[0, L)^d``, d = 1, 2, 3, by FFT: the
  Karhunen–Loève expansion in the Fourier basis, as used for the FNO Burgers and
  Navier–Stokes inputs.
- :func:`neumann_grf` on the unit square with Neumann (cosine) eigenfunctions, by an
  inverse orthonormal DCT-II: the generator of the FNO Darcy coefficients.

Each has a companion ``*_spectrum`` function giving the variance of every transform
coefficient of the samples, so that users (and the tests) can check the law exactly.

Shape arguments (``num``, ``shape``, ``s``) and ``dtype``/``mean_zero`` are static under
``jax.jit``; ``alpha``, ``tau``, ``sigma`` and ``length`` may be traced (e.g. to
differentiate a sample with respect to ``tau`` at a fixed key).
"""

import functools
import operator
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.spectral import check_size, per_axis_lengths, wavenumber_grid

__all__ = [
    "interpolate_field",
    "neumann_grf",
    "neumann_grf_spectrum",
    "periodic_grf",
    "periodic_grf_spectrum",
]


# --------------------------------------------------------------------------- checks


def _check_grid_shape(shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    if not 1 <= len(shape) <= 3:
        raise ValueError(
            f"shape must have 1, 2 or 3 axes (d = 1, 2, 3), got {shape} with {len(shape)} axes"
        )
    for n in shape:
        check_size(f"every grid size in shape {shape}", n)
    return tuple(operator.index(n) for n in shape)


def _check_positive(name: str, value) -> None:
    """Raise unless ``value`` is > 0; traced values cannot be inspected and pass."""
    try:
        concrete = np.asarray(value, dtype=float)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return
    if concrete.size == 0 or not np.all(np.isfinite(concrete) & (concrete > 0)):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")


def _check_dtype(dtype) -> None:
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a real floating dtype, got {dtype!r}")


def _check_parameters(tau, sigma, length=1.0) -> None:
    _check_positive("tau", tau)
    if sigma is not None:
        _check_positive("sigma", sigma)
    _check_positive("length", length)


# --------------------------------------------------------------------------- periodic


@functools.partial(jax.jit, static_argnames=("shape", "mean_zero", "real", "dtype"))
def _periodic_fourier_std(
    shape: tuple[int, ...], alpha, tau, sigma, length, mean_zero: bool, real: bool, dtype
) -> Float[Array, "..."]:
    """``sqrt(E|fftn(u)[k]|^2)`` on the full (``real=False``) or ``rfftn`` layout."""
    d = len(shape)
    if sigma is None:
        sigma = tau ** (0.5 * (2 * alpha - d))
    lengths = per_axis_lengths(length, d)
    volume = 1.0
    for axis_length in lengths:
        volume = volume * axis_length
    kappas = wavenumber_grid(shape, lengths, real=real, dtype=dtype)
    kappa_squared = sum(kappa**2 for kappa in kappas)
    num_points = int(np.prod(shape))
    std = num_points * sigma * volume**-0.5 * (kappa_squared + tau**2) ** (-alpha / 2)
    std = jnp.asarray(std, dtype=dtype)
    if mean_zero:
        std = std.at[(0,) * d].set(0)
    return std


def periodic_grf_spectrum(
    shape: Sequence[int],
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    length: float | Sequence[float] = 1.0,
    mean_zero: bool = True,
    dtype=jnp.float32,
) -> Float[Array, "*shape"]:
    """Variance ``E|fftn(u)[k]|^2`` of each full-FFT coefficient of a :func:`periodic_grf` sample.

    With ``N = prod(shape)`` grid points, box volume ``V = L^d`` and angular wavenumbers
    ``kappa_k = 2 pi k / L``,

        E|fftn(u)[k]|^2 = N^2 / V * sigma^2 (|kappa_k|^2 + tau^2)^(-alpha),

    (zero at ``k = 0`` when ``mean_zero``), with the unnormalised forward FFT of
    ``jnp.fft``. This makes the grid values have the covariance of the continuous field
    truncated to the modes the grid resolves,

        E[u(x) u(y)] = (1 / V) sum_k sigma^2 (|kappa_k|^2 + tau^2)^(-alpha) exp(i kappa_k.(x - y)),

    since ``lambda_k = sigma^2 (|kappa_k|^2 + tau^2)^(-alpha)`` are the eigenvalues of the
    covariance operator for the ``L^2``-orthonormal eigenfunctions ``V^(-1/2) exp(i kappa_k.x)``.
    By Parseval, the pointwise variance is ``sum(spectrum) / N^2``.

    Args:
        shape: grid sizes ``(n_1, ..., n_d)``, d = 1, 2, 3.
        alpha: smoothness exponent.
        tau: inverse length scale.
        sigma: amplitude; default ``tau ** (0.5 * (2 * alpha - d))`` (see :func:`periodic_grf`).
        length: period ``L`` of the box (a scalar, or one per axis).
        mean_zero: whether the ``k = 0`` mode is removed.
        dtype: floating dtype of the result.

    Returns:
        ``(*shape)`` array of variances in ``numpy.fft.fftfreq`` order.
    """
    shape = _check_grid_shape(shape)
    _check_parameters(tau, sigma, length)
    length = per_axis_lengths(length, len(shape))
    _check_dtype(dtype)
    std = _periodic_fourier_std(shape, alpha, tau, sigma, length, mean_zero, False, dtype)
    return std**2


def periodic_grf(
    key: PRNGKeyArray,
    num: int,
    shape: Sequence[int],
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    length: float | Sequence[float] = 1.0,
    mean_zero: bool = True,
    dtype=jnp.float32,
) -> Float[Array, " num *shape"]:
    """Samples of a periodic Gaussian random field on ``[0, L)^d`` at grid points.

    The covariance operator is ``C = sigma^2 (-Laplacian + tau^2 I)^(-alpha)`` on the
    torus; its Karhunen–Loève basis is the Fourier basis, with eigenvalues
    ``sigma^2 (|2 pi k / L|^2 + tau^2)^(-alpha)``. A sample at the grid points
    ``x_j = j L / n`` is drawn as

        u = irfftn( sqrt(S_k / N) * rfftn(w) ),    w ~ N(0, I) white noise on the grid,

    where ``S_k`` is :func:`periodic_grf_spectrum`. The FFT of real white noise has
    ``E|fftn(w)[k]|^2 = N`` and exactly the Hermitian symmetry of a real field (real
    zero and Nyquist modes, ``W[-k] = conj(W[k])``), and ``S_k`` is even in ``k``, so
    ``E|fftn(u)[k]|^2 = S_k`` on every mode and ``u`` is real.

    The default ``sigma = tau ** (0.5 * (2 * alpha - d))`` is the scaling of the released
    FNO generators (Li et al., 2021); it makes the field O(1) whatever ``tau``: once
    ``tau L >> 2 pi`` the pointwise variance tends to
    ``(4 pi)^(-d/2) Gamma(alpha - d/2) / Gamma(alpha)`` (substitute ``kappa = tau q`` in
    the variance integral). With ``L = 1`` and ``mean_zero=True`` the law is that of those
    generators (on the even, square grids they support), which draw complex coefficients
    with ``E|c_k|^2 = 2 N^2 lambda_k`` and keep the real part of their inverse FFT. For
    ``L != 1`` the eigenfunctions are normalised on ``[0, L)^d``, which brings the factor
    ``1 / L^d`` into the covariance.

    Args:
        key: a JAX PRNG key.
        num: number of samples.
        shape: grid sizes ``(n_1, ..., n_d)``, d = 1, 2, 3 (an int for d = 1).
        alpha: smoothness exponent; the continuous field has finite pointwise variance
            only for ``alpha > d / 2`` (on a grid it is always finite).
        tau: inverse length scale, > 0.
        sigma: amplitude, > 0; default ``tau ** (0.5 * (2 * alpha - d))``.
        length: period ``L`` of the box (a scalar, or one per axis).
        mean_zero: remove the ``k = 0`` mode (as the FNO generators do); each sample then
            has zero mean over the grid.
        dtype: real floating dtype of the samples (float32 by default).

    Returns:
        ``(num, *shape)`` array of samples, batch axis first.

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021. Lord, Powell and Shardlow, "An Introduction to
        Computational Stochastic PDEs", Cambridge University Press (2014), ch. 7.
    """
    num = check_size("num", num)
    shape = _check_grid_shape(shape)
    _check_parameters(tau, sigma, length)
    length = per_axis_lengths(length, len(shape))
    _check_dtype(dtype)
    white = jax.random.normal(key, (num, *shape), dtype=dtype)
    return _color_periodic(white, alpha, tau, sigma, length, mean_zero)


@functools.partial(jax.jit, static_argnames=("mean_zero",))
def _color_periodic(white, alpha, tau, sigma, length, mean_zero):
    """Filter white noise ``(num, *shape)`` to the periodic field with spectrum ``S_k``."""
    shape = white.shape[1:]
    std = _periodic_fourier_std(shape, alpha, tau, sigma, length, mean_zero, True, white.dtype)
    axes = tuple(range(1, len(shape) + 1))
    scale = std / float(np.sqrt(np.prod(shape)))
    field = jnp.fft.irfftn(jnp.fft.rfftn(white, axes=axes) * scale, s=shape, axes=axes)
    return field.astype(white.dtype)


# --------------------------------------------------------------------------- Neumann


@functools.partial(jax.jit, static_argnames=("s", "dtype"))
def _neumann_kl_std(s: int, alpha, tau, sigma, dtype) -> Float[Array, "s s"]:
    """``s * sigma * (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha/2)``, zero at ``(0, 0)``."""
    if sigma is None:
        sigma = tau ** (alpha - 1)
    k = jnp.arange(s, dtype=dtype)
    eigenvalue = jnp.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2) + tau**2
    std = jnp.asarray(s * sigma * eigenvalue ** (-alpha / 2), dtype=dtype)
    return std.at[0, 0].set(0)


def neumann_grf_spectrum(
    s: int,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    dtype=jnp.float32,
) -> Float[Array, "s s"]:
    """Variance of each orthonormal DCT-II coefficient of a :func:`neumann_grf` sample.

        E[dctn(u, type=2, norm="ortho")[k1, k2]^2]
            = s^2 sigma^2 (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha),    zero at (0, 0).

    Args:
        s: grid points per side.
        alpha: smoothness exponent.
        tau: inverse length scale, > 0.
        sigma: amplitude, > 0; default ``tau ** (alpha - 1)``.
        dtype: floating dtype of the result.

    Returns:
        ``(s, s)`` array of variances, indexed by ``(k1, k2)``.
    """
    s = check_size("s", s)
    _check_parameters(tau, sigma)
    _check_dtype(dtype)
    return _neumann_kl_std(s, alpha, tau, sigma, dtype) ** 2


def neumann_grf(
    key: PRNGKeyArray,
    num: int,
    s: int,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    dtype=jnp.float32,
) -> Float[Array, "num s s"]:
    """Samples of a Gaussian random field on the unit square with Neumann eigenfunctions.

    The covariance ``sigma^2 (-Laplacian + tau^2 I)^(-alpha)`` with zero-flux boundary
    conditions has eigenfunctions ``cos(pi k1 x) cos(pi k2 y)``, ``k1, k2 = 0, 1, ...``,
    and eigenvalues ``sigma^2 (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha)``. The sampler is
    that of the FNO Darcy generator (``GRF.m``, Li et al., ICLR 2021):

        coef[k1, k2] = sigma (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha/2),   k1, k2 = 0..s-1
        L = s * coef * xi,   xi ~ N(0, 1) i.i.d.,   L[0, 0] = 0   (zero mean)
        u = idctn(L, type=2, norm="ortho")

    with default ``sigma = tau ** (alpha - 1)``. The factor ``s`` comes from that
    generator: it turns the orthonormal DCT-II basis vectors into the values of the
    ``L^2``-orthonormal eigenfunctions ``c_k1 c_k2 cos(pi k1 x) cos(pi k2 y)``
    (``c_0 = 1``, ``c_k = sqrt(2)``) at the cell centres ``x_j = (j + 1/2) / s``, so the
    samples are the Karhunen–Loève series truncated to ``s x s`` modes, evaluated there.

    Args:
        key: a JAX PRNG key.
        num: number of samples.
        s: grid points per side.
        alpha: smoothness exponent.
        tau: inverse length scale, > 0.
        sigma: amplitude, > 0; default ``tau ** (alpha - 1)``.
        dtype: real floating dtype of the samples (float32 by default).

    Returns:
        ``(num, s, s)`` array of samples, batch axis first.

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021 (Darcy flow data, generator ``GRF.m``).
    """
    num = check_size("num", num)
    s = check_size("s", s)
    _check_parameters(tau, sigma)
    _check_dtype(dtype)
    xi = jax.random.normal(key, (num, s, s), dtype=dtype)
    return _neumann_from_kl(xi, alpha, tau, sigma)


@jax.jit
def _neumann_from_kl(xi, alpha, tau, sigma):
    """``idctn(s * coef * xi)`` for standard normal ``xi: (num, s, s)``."""
    coefficients = _neumann_kl_std(xi.shape[-1], alpha, tau, sigma, xi.dtype) * xi
    field = jax.scipy.fft.idctn(coefficients, type=2, axes=(1, 2), norm="ortho")
    return field.astype(xi.dtype)


def interpolate_field(field: np.ndarray, grid: Sequence[int], *, periodic: bool) -> np.ndarray:
    """Multilinear interpolation of ``field: (C, *old)`` onto ``(C, *grid)``.

    Node grids with both end points (``linspace(0, 1, n)``, Darcy) map end to end;
    periodic grids (``j / n``) wrap around.
    """
    from scipy.ndimage import map_coordinates

    old = field.shape[1:]
    if len(grid) != len(old):
        raise ValueError(f"interpolate_field: grid {tuple(grid)} does not match field {old}")
    if periodic:
        axes = [np.arange(n) * (m / n) for n, m in zip(grid, old)]
        mode = "grid-wrap"
    else:
        axes = [np.linspace(0.0, m - 1.0, n) for n, m in zip(grid, old)]
        mode = "nearest"
    coordinates = np.stack(np.meshgrid(*axes, indexing="ij"))
    return np.stack(
        [map_coordinates(channel, coordinates, order=1, mode=mode) for channel in field]
    ).astype(field.dtype)
