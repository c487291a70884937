r"""2-D incompressible Navier–Stokes in vorticity form on the unit torus, pseudo-spectral.

The equation. On ``[0, 1)^2`` with periodic boundaries, the vorticity ``w`` obeys

    w_t + u . grad w = nu Laplacian w + f,
    -Laplacian psi = w,        u = (u, v) = (psi_y, -psi_x),

with ``x`` along array axis 0 and ``y`` along axis 1 (``w[i, j] = w(i / s, j / s)``),
the convention of the FNO generator (Li et al. 2021). Then ``div u = psi_yx - psi_xy = 0``
and ``curl u = v_x - u_y = -psi_xx - psi_yy = w``.

Space. Fields are sampled at ``s x s`` points (``s`` even) and advanced as their real
FFTs ``w_hat = rfft2(w)``. With angular wavenumbers ``k = 2 pi (k_x, k_y)``,

    psi_hat = w_hat / |k|^2,   u_hat = i k_y psi_hat,   v_hat = -i k_x psi_hat,
    N_hat = D * rfft2( u * irfft2(i k_x w_hat) + v * irfft2(i k_y w_hat) ),

where ``D`` is the 2/3-rule mask of :func:`sciml.spectral.dealias_mask` (Orszag 1971):
the quadratic product is formed on the grid from the full ``w`` and only the modes that
no alias can reach are kept (Canuto et al. 2006, §3.4). For even ``s`` not divisible by
3 (every power of two) this mask is the released generator's ``|k_i| <= (2/3)(s/2)``.
The semi-discrete system is ``d w_hat / dt = -nu |k|^2 w_hat - N_hat + f_hat``.

Time. Two steppers advance it; both are equinox modules holding static configuration,
the viscosity (an array, which may be traced: a sweep over ``nu`` compiles once, and a
stepper built inside ``grad`` from a traced ``nu`` is differentiable with respect to it)
and precomputed Fourier-space arrays, stepped by a pure function and rolled out with
``lax.scan`` (:func:`rollout`, by :func:`sciml.solvers.stepping.rollout`).

- :class:`CrankNicolsonEuler` is the scheme of the released FNO generator ``ns_2d.py``:
  Crank–Nicolson on the viscous term, forward Euler on advection and forcing,

      w_hat^{n+1} = [ (1 - dt nu |k|^2 / 2) w_hat^n + dt (f_hat - N_hat^n) ]
                    / (1 + dt nu |k|^2 / 2),

  with ``dt = 1e-4``. It is first order in time (the explicit Euler advection term
  dominates the error), so ``dt = 1e-4`` buys an error ``O(1e-4)`` relative at ``T``.
- :class:`ETDRK4` is the exponential time-differencing fourth-order Runge–Kutta scheme
  of Cox and Matthews (2002), with the ``phi``-function coefficients evaluated by the
  contour integrals of Kassam and Trefethen (2005) (:mod:`sciml.solvers.etdrk`, shared
  with the Burgers solver). The linear operator
  ``L = -nu |k|^2`` is diagonal and integrated exactly; ``N(w_hat) = f_hat - N_hat``
  (the forcing is time-independent, so it belongs to the explicit part without loss
  of order). Fourth order in time; four evaluations of ``N`` per step.

The wavenumber conventions reproduce the released generator exactly: the ``x``
derivatives use ``k_x = -s/2`` on the Nyquist row (as its ``k`` vector does), and the
``y`` derivatives of the Nyquist column vanish (its inverse real FFT of a full spectrum
discards them). Both steppers share this nonlinear term, so they discretise the same
semi-discrete ODE and differ only in time.

References:
    Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart and
    A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (§5.3 and the generator ``navier_stokes/ns_2d.py``).
    S. M. Cox and P. C. Matthews, "Exponential time differencing for stiff systems",
    J. Comput. Phys. 176 (2002) 430-455.
    A.-K. Kassam and L. N. Trefethen, "Fourth-order time-stepping for stiff PDEs",
    SIAM J. Sci. Comput. 26 (2005) 1214-1233.
    C. Canuto, M. Y. Hussaini, A. Quarteroni and T. A. Zang, "Spectral Methods:
    Fundamentals in Single Domains", Springer (2006).
    S. A. Orszag, "On the elimination of aliasing in finite-difference schemes by
    filtering high-wavenumber components", J. Atmos. Sci. 28 (1971) 1074.
    G. I. Taylor and A. E. Green, "Mechanism of the production of small eddies from
    large ones", Proc. R. Soc. Lond. A 158 (1937) 499-521.
"""

from __future__ import annotations

import functools
import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Float

from sciml.solvers import stepping
from sciml.solvers.etdrk import ETDRK4Coefficients, etdrk4_coefficients, etdrk4_step
from sciml.spectral import (
    dealias_mask,
    spectral_derivative,
    squared_wavenumbers,
    wavenumber_grid,
)

__all__ = [
    "DEFAULT_CFL",
    "CrankNicolsonEuler",
    "ETDRK4",
    "cfl_time_step",
    "divergence",
    "fno_forcing",
    "make_stepper",
    "max_speed",
    "rollout",
    "solve_navier_stokes",
    "steps_per_interval",
    "velocity_from_vorticity",
    "vorticity_from_velocity",
]

DEFAULT_CFL = 0.5
"""Default CFL number ``C = max|u| dt / dx`` of the :class:`ETDRK4` step.

The advection eigenvalues of the dealiased spectral operator are bounded by
``|u k_x + v k_y| <= sqrt(2) max|u| (2 pi / 3) / dx``, i.e. ``|lambda dt| <= 2.96 C``. On
modes with little viscous damping, ETDRK4 reduces to classical RK4, whose stability
interval on the imaginary axis is ``|lambda dt| <= 2 sqrt(2) = 2.83``; ``C = 0.5`` keeps a
factor ~2 below that limit (``|lambda dt| <= 1.5``), which leaves room for a velocity
that grows past its estimate. The step is in any case capped by ``max_dt`` for
accuracy of the resolved dynamics (see :func:`cfl_time_step`)."""

# ----------------------------------------------------------------------------- checks


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_resolution(name: str, s) -> int:
    if not isinstance(s, numbers.Integral) or isinstance(s, bool):
        raise ValueError(f"{name} expects an integer grid size s, got {s!r}")
    s = int(s)
    if s < 4 or s % 2:
        raise ValueError(f"{name} expects an even grid size s >= 4 (s x s points); got s = {s}")
    return s


def _check_field(name: str, field_name: str, w, s: int | None = None) -> int:
    """Check a real square ``(s, s)`` field with even ``s``; return ``s``."""
    shape = np.shape(w)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"{name} expects {field_name} to be one square field of shape (s, s) "
            f"(vmap over batches); got shape {shape}"
        )
    if s is None:
        s = _check_resolution(name, shape[0])
    elif shape != (s, s):
        raise ValueError(f"{name} expects {field_name} of shape {(s, s)}; got shape {shape}")
    dtype = jnp.result_type(w)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{name} expects a real floating {field_name}; got dtype {dtype}")
    if _is_concrete(w):
        n_bad = int((~np.isfinite(np.asarray(w))).sum())
        if n_bad:
            raise ValueError(f"{name} expects a finite {field_name}; got {n_bad} NaN or inf values")
    return s


def _check_positive(name: str, value_name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, jax.core.Tracer) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} expects {value_name} to be a Python number; got {value!r}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} expects a finite {value_name} {bound}; got {value!r}")
    return value


def _check_viscosity(name: str, nu) -> Array:
    """``nu`` as a scalar array of at least the default float precision, or a ValueError.

    A traced ``nu`` (a sweep or a gradient with respect to it) is taken as it comes.
    """
    if np.ndim(nu) != 0:
        raise ValueError(f"{name} expects a scalar viscosity nu; got shape {np.shape(nu)}")
    if _is_concrete(nu):
        value = float(np.asarray(nu))
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} expects a finite nu >= 0; got {nu!r}")
    nu = jnp.asarray(nu)
    return nu.astype(jnp.promote_types(nu.dtype, _default_float()))


def _default_float():
    """float64 when x64 is enabled, else float32: the precision of precomputed operators."""
    return jnp.result_type(float)


# ------------------------------------------------------------------------ wavenumbers


def _wavenumbers(s: int, dtype) -> tuple[Array, Array]:
    """Angular wavenumbers in the ``rfft2`` layout: ``k_x: (s, 1)``, ``k_y: (1, m)``.

    ``k_x`` follows ``fftfreq`` (the Nyquist row carries ``-s/2``), ``k_y`` follows
    ``rfftfreq`` (``0 .. s/2``); :func:`sciml.spectral.wavenumber_grid`.
    """
    kx, ky = wavenumber_grid((s, s), dtype=dtype)
    return kx, ky


def _without_nyquist(k: Array, s: int) -> Array:
    """``k`` with its Nyquist entry (index ``s / 2``) set to zero: the odd derivative of
    that mode is not representable by a real field on the grid."""
    index = np.arange(k.size).reshape(k.shape)
    return jnp.where(index == s // 2, 0, k)


def _inverse_laplacian(s: int, dtype) -> Array:
    """``1 / |k|^2`` on the ``rfft2`` layout, zero at ``k = 0``."""
    k2 = squared_wavenumbers((s, s), dtype=dtype)
    return jnp.where(k2 == 0, 0, 1 / jnp.where(k2 == 0, 1, k2))


# ------------------------------------------------------------------- field utilities


def fno_forcing(s: int, dtype=jnp.float32) -> Float[Array, "s s"]:
    """The forcing of the FNO Navier–Stokes data, ``f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``.

    Args:
        s: grid points per side (``x_i = i / s``).
        dtype: floating dtype of the result.

    Returns:
        ``(s, s)`` array, ``f[i, j] = f(x_i, y_j)``.
    """
    if not isinstance(s, numbers.Integral) or s < 1:
        raise ValueError(f"fno_forcing expects an integer grid size s >= 1; got {s!r}")
    x = np.arange(s) / s
    phase = 2 * np.pi * (x[:, None] + x[None, :])
    return jnp.asarray(0.1 * (np.sin(phase) + np.cos(phase)), dtype=dtype)


def velocity_from_vorticity(
    w: Float[ArrayLike, "s s"],
) -> tuple[Float[Array, "s s"], Float[Array, "s s"]]:
    """The divergence-free velocity of a vorticity field: ``u = psi_y``, ``v = -psi_x``.

    ``psi`` solves ``-Laplacian psi = w`` with zero mean (the mean of ``w`` carries no
    velocity). Derivatives are exact Fourier multipliers; as in
    :func:`sciml.spectral.spectral_derivative`, first derivatives of the Nyquist modes
    are set to zero, so that :func:`divergence` of the result vanishes to round-off.

    Args:
        w: ``(s, s)`` vorticity, ``s`` even.

    Returns:
        ``(u, v)``, each ``(s, s)`` in the dtype of ``w``.
    """
    s = _check_field("velocity_from_vorticity", "w", w)
    return _velocity(jnp.asarray(w), s)


def _velocity(w: Array, s: int) -> tuple[Array, Array]:
    # Formed in the default float precision, rounded once to the field's dtype.
    kx, ky = (_without_nyquist(k, s).astype(w.dtype) for k in _wavenumbers(s, _default_float()))
    psi_hat = jnp.fft.rfft2(w) * _inverse_laplacian(s, _default_float()).astype(w.dtype)
    u = jnp.fft.irfft2(1j * ky * psi_hat, s=(s, s))
    v = jnp.fft.irfft2(-1j * kx * psi_hat, s=(s, s))
    return u.astype(w.dtype), v.astype(w.dtype)


def divergence(u: Float[ArrayLike, "s s"], v: Float[ArrayLike, "s s"]) -> Float[Array, "s s"]:
    """Spectral divergence ``u_x + v_y`` of a periodic velocity field on the unit torus.

    Args:
        u: ``(s, s)`` component along array axis 0 (``x``).
        v: ``(s, s)`` component along array axis 1 (``y``).

    Returns:
        ``(s, s)`` divergence.
    """
    s = _check_field("divergence", "u", u)
    _check_field("divergence", "v", v, s)
    return spectral_derivative(u, (1, 0)) + spectral_derivative(v, (0, 1))


def vorticity_from_velocity(
    u: Float[ArrayLike, "s s"], v: Float[ArrayLike, "s s"]
) -> Float[Array, "s s"]:
    """Spectral curl ``v_x - u_y`` of a periodic velocity field on the unit torus.

    Args:
        u: ``(s, s)`` component along array axis 0 (``x``).
        v: ``(s, s)`` component along array axis 1 (``y``).

    Returns:
        ``(s, s)`` vorticity.
    """
    s = _check_field("vorticity_from_velocity", "u", u)
    _check_field("vorticity_from_velocity", "v", v, s)
    return spectral_derivative(v, (1, 0)) - spectral_derivative(u, (0, 1))


def max_speed(w: Float[ArrayLike, "s s"]) -> float:
    """``max_x |u(x)|`` of the velocity of a concrete vorticity field (a Python float)."""
    _check_field("max_speed", "w", w)
    if not _is_concrete(w):
        raise ValueError("max_speed expects a concrete (not traced) vorticity field")
    u, v = velocity_from_vorticity(w)
    return float(jnp.max(jnp.sqrt(u**2 + v**2)))


# --------------------------------------------------------------------- time step size


def steps_per_interval(interval: float, dt: float) -> int:
    """Smallest number of steps of size ``<= dt`` that spans ``interval`` exactly.

    ``ceil(interval / dt)``, except that a ratio within ``1e-9`` (relative) of an integer
    is taken as that integer, so that ``dt = 1e-4`` gives exactly 10000 steps per unit.
    """
    ratio = interval / dt
    nearest = round(ratio)
    if nearest >= 1 and abs(ratio - nearest) <= 1e-9 * ratio:
        return int(nearest)
    return max(1, math.ceil(ratio))


def cfl_time_step(
    speed: float,
    resolution: int,
    *,
    cfl: float = DEFAULT_CFL,
    max_dt: float = 0.05,
    record_every: float = 1.0,
) -> float:
    """The :class:`ETDRK4` step for a velocity bound: ``min(C dx / speed, max_dt)``, rounded down.

    ``dx = 1 / resolution``. The step is then shortened to ``record_every / n`` with
    ``n`` = :func:`steps_per_interval`, so an integer number of steps lands exactly on
    every recording time. ``max_dt`` bounds the step for flows too slow for the CFL
    condition to matter (the error of the resolved dynamics, not stability, limits it).

    Args:
        speed: an upper bound on ``max |u|`` over the whole rollout (> 0).
        resolution: grid points per side.
        cfl: CFL number ``C`` (see :data:`DEFAULT_CFL`).
        max_dt: largest step allowed.
        record_every: interval between recorded frames.

    Returns:
        The step size, a Python float.
    """
    name = "cfl_time_step"
    speed = _check_positive(name, "speed", speed)
    resolution = _check_resolution(name, resolution)
    cfl = _check_positive(name, "cfl", cfl)
    max_dt = _check_positive(name, "max_dt", max_dt)
    record_every = _check_positive(name, "record_every", record_every)
    dt = min(cfl / (resolution * speed), max_dt)
    return record_every / steps_per_interval(record_every, dt)


# ------------------------------------------------------------------------ the steppers


def _complex_dtype(real_dtype):
    return jnp.result_type(real_dtype, jnp.complex64)


class _SpectralOperators(eqx.Module):
    """Precomputed ``rfft2``-layout arrays shared by both steppers, in the default float
    dtype (float64 when x64 is enabled); each step casts them to its state's dtype."""

    kx: Float[Array, "s 1"]  # Nyquist row -pi s, as the released generator
    ky: Float[Array, "1 m"]  # Nyquist column zeroed (its y derivative is discarded)
    inverse_laplacian: Float[Array, "s m"]  # 1 / |k|^2, zero at k = 0
    dealias: Float[Array, "s m"]  # 1.0 on the 2/3-rule band
    resolution: int = eqx.field(static=True)

    def __init__(self, s: int):
        dtype = _default_float()
        kx, ky = _wavenumbers(s, dtype)
        self.kx = kx
        self.ky = _without_nyquist(ky, s)
        self.inverse_laplacian = _inverse_laplacian(s, dtype)
        self.dealias = dealias_mask((s, s)).astype(dtype)
        self.resolution = s

    def advection(self, w_hat: Complex[Array, "s m"]) -> Complex[Array, "s m"]:
        """``D * rfft2(u . grad w)`` from ``w_hat = rfft2(w)``."""
        s = self.resolution
        real = w_hat.real.dtype
        kx, ky = jnp.asarray(self.kx, real), jnp.asarray(self.ky, real)
        psi_hat = w_hat * jnp.asarray(self.inverse_laplacian, real)

        def to_grid(spectrum):  # four separate transforms run faster than one stacked
            return jnp.fft.irfft2(spectrum, s=(s, s))

        u, v = to_grid(1j * ky * psi_hat), to_grid(-1j * kx * psi_hat)
        w_x, w_y = to_grid(1j * kx * w_hat), to_grid(1j * ky * w_hat)
        return jnp.fft.rfft2(u * w_x + v * w_y) * jnp.asarray(self.dealias, real)


def _forcing_hat(forcing, s: int, name: str):
    if forcing is None:
        return None
    _check_field(name, "forcing", forcing, s)
    return jnp.fft.rfft2(jnp.asarray(forcing))


def _cast_forcing(forcing_hat, w_hat):
    if forcing_hat is None:
        return 0.0
    return forcing_hat.astype(w_hat.dtype)


class CrankNicolsonEuler(eqx.Module):
    r"""The FNO generator's scheme: Crank–Nicolson viscosity, forward-Euler advection.

    One step on ``w_hat = rfft2(w)``, with ``a = dt nu |k|^2 / 2``:

        w_hat <- [ (1 - a) w_hat + dt (f_hat - N_hat(w_hat)) ] / (1 + a),

    exactly the update of ``navier_stokes_2d`` in the released ``ns_2d.py`` of Li et
    al. (2021), including its 2/3 dealiasing of ``N_hat`` (and nothing else). First
    order in time: the explicit Euler treatment of advection and forcing leaves a local
    error ``O(dt^2)`` (the Crank–Nicolson part alone would be second order). The
    generator uses ``dt = 1e-4``.

    Attributes:
        resolution: grid points per side ``s`` (even).
        nu: viscosity, a scalar array.
        dt: time step.
    """

    operators: _SpectralOperators
    forcing_hat: Array | None
    nu: Float[Array, ""]
    half_viscous: Float[Array, "s m"]  # dt nu |k|^2 / 2
    resolution: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)

    def __init__(
        self,
        resolution: int,
        *,
        nu: float | Float[Array, ""],
        dt: float = 1e-4,
        forcing: Float[ArrayLike, "s s"] | None = None,
    ):
        """
        Args:
            resolution: grid points per side ``s`` (even, >= 4).
            nu: viscosity (>= 0), a number or a scalar array (possibly traced).
            dt: time step (> 0); the released generator uses ``1e-4``.
            forcing: ``(s, s)`` time-independent vorticity forcing, or ``None``.
        """
        name = "CrankNicolsonEuler"
        s = _check_resolution(name, resolution)
        self.nu = _check_viscosity(name, nu)
        self.dt = _check_positive(name, "dt", dt)
        self.resolution = s
        self.operators = _SpectralOperators(s)
        self.forcing_hat = _forcing_hat(forcing, s, name)
        k2 = squared_wavenumbers((s, s), dtype=self.nu.dtype)
        self.half_viscous = 0.5 * self.dt * self.nu * k2

    def step(self, w_hat: Complex[Array, "s m"]) -> Complex[Array, "s m"]:
        """One step in Fourier space: ``(s, s // 2 + 1) -> (s, s // 2 + 1)``."""
        a = jnp.asarray(self.half_viscous, w_hat.real.dtype)
        rhs = _cast_forcing(self.forcing_hat, w_hat) - self.operators.advection(w_hat)
        return ((1 - a) * w_hat + self.dt * rhs) / (1 + a)

    def __call__(self, w: Float[Array, "s s"]) -> Float[Array, "s s"]:
        """One step in physical space: ``w: (s, s) -> (s, s)``."""
        return _physical_step(self, w)


class ETDRK4(eqx.Module):
    r"""Fourth-order exponential time differencing Runge–Kutta (Cox–Matthews 2002).

    For ``d w_hat / dt = L w_hat + N(w_hat)`` with ``L = -nu |k|^2`` (diagonal, exact)
    and ``N(w_hat) = f_hat - N_hat(w_hat)``, one step of size ``h`` is

        a = E2 w + Q N(w),          b = E2 w + Q N(a),
        c = E2 a + Q (2 N(b) - N(w)),
        w <- E w + f1 N(w) + 2 f2 (N(a) + N(b)) + f3 N(c),

    with ``E = exp(L h)``, ``E2 = exp(L h / 2)`` and the coefficients ``Q, f1, f2, f3``
    of :func:`sciml.solvers.etdrk.etdrk4_coefficients` (Kassam–Trefethen 2005 contour
    integrals), stepped by :func:`sciml.solvers.etdrk.etdrk4_step`. Fourth order in time
    for any ``nu``, including the stiff high wavenumbers; for ``L = 0`` it reduces to
    classical RK4. Pick ``dt`` from :func:`cfl_time_step`.

    The coefficients are computed from ``nu`` when the stepper is built: to differentiate
    with respect to ``nu``, build the stepper inside the differentiated function.

    Attributes:
        resolution: grid points per side ``s`` (even).
        nu: viscosity, a scalar array.
        dt: time step.
    """

    operators: _SpectralOperators
    forcing_hat: Array | None
    nu: Float[Array, ""]
    coefficients: ETDRK4Coefficients
    resolution: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)

    def __init__(
        self,
        resolution: int,
        *,
        nu: float | Float[Array, ""],
        dt: float,
        forcing: Float[ArrayLike, "s s"] | None = None,
    ):
        """
        Args:
            resolution: grid points per side ``s`` (even, >= 4).
            nu: viscosity (>= 0), a number or a scalar array (possibly traced).
            dt: time step (> 0), e.g. from :func:`cfl_time_step`.
            forcing: ``(s, s)`` time-independent vorticity forcing, or ``None``.
        """
        name = "ETDRK4"
        s = _check_resolution(name, resolution)
        self.nu = _check_viscosity(name, nu)
        self.dt = _check_positive(name, "dt", dt)
        self.resolution = s
        self.operators = _SpectralOperators(s)
        self.forcing_hat = _forcing_hat(forcing, s, name)
        linear = -self.nu * squared_wavenumbers((s, s), dtype=self.nu.dtype)
        self.coefficients = etdrk4_coefficients(linear, self.dt)

    def _explicit(self, w_hat):
        return _cast_forcing(self.forcing_hat, w_hat) - self.operators.advection(w_hat)

    def step(self, w_hat: Complex[Array, "s m"]) -> Complex[Array, "s m"]:
        """One step in Fourier space: ``(s, s // 2 + 1) -> (s, s // 2 + 1)``."""
        coefficients = self.coefficients.astype(w_hat.real.dtype)
        return etdrk4_step(coefficients, w_hat, self._explicit)

    def __call__(self, w: Float[Array, "s s"]) -> Float[Array, "s s"]:
        """One step in physical space: ``w: (s, s) -> (s, s)``."""
        return _physical_step(self, w)


Stepper = CrankNicolsonEuler | ETDRK4


def _physical_step(stepper, w):
    s = _check_field(type(stepper).__name__, "w", w, stepper.resolution)
    w = jnp.asarray(w)
    return jnp.fft.irfft2(stepper.step(jnp.fft.rfft2(w)), s=(s, s)).astype(w.dtype)


# -------------------------------------------------------------------------- rollouts


@functools.partial(jax.jit, static_argnames=("num_frames", "steps_per_frame"))
def _rollout(stepper, w0, num_frames: int, steps_per_frame: int):
    s = stepper.resolution

    def to_grid(w_hat):
        return jnp.fft.irfft2(w_hat, s=(s, s)).astype(w0.dtype)

    n_steps = num_frames * steps_per_frame
    w0_hat = jnp.fft.rfft2(w0)
    _, frames = stepping.rollout(stepper.step, w0_hat, n_steps, steps_per_frame, observe=to_grid)
    return frames


def rollout(
    stepper: Stepper, w0: Float[ArrayLike, "s s"], *, num_frames: int, steps_per_frame: int
) -> Float[Array, "T s s"]:
    """Advance ``w0`` by ``num_frames * steps_per_frame`` steps, keeping every frame.

    Frame ``n`` (0-based) is the state after ``(n + 1) * steps_per_frame`` steps, i.e. at
    ``t = (n + 1) * steps_per_frame * stepper.dt``. Jit-compiled
    (:func:`sciml.solvers.stepping.rollout`: ``lax.scan`` over frames and, inside, over
    steps); differentiable with respect to ``w0`` and the stepper's
    arrays; vmap it over a batch of initial conditions. Computes in the dtype of ``w0``.

    Args:
        stepper: a :class:`CrankNicolsonEuler` or :class:`ETDRK4`.
        w0: ``(s, s)`` initial vorticity.
        num_frames: number of frames ``T`` (>= 1).
        steps_per_frame: steps between frames (>= 1).

    Returns:
        ``(T, s, s)`` frames, dtype of ``w0``.
    """
    if not isinstance(stepper, (CrankNicolsonEuler, ETDRK4)):
        raise ValueError(f"rollout expects a CrankNicolsonEuler or ETDRK4 stepper; got {stepper!r}")
    _check_field("rollout", "w0", w0, stepper.resolution)
    for value_name, value in (("num_frames", num_frames), ("steps_per_frame", steps_per_frame)):
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"rollout expects an integer {value_name} >= 1; got {value!r}")
    return _rollout(stepper, jnp.asarray(w0), int(num_frames), int(steps_per_frame))


SCHEMES = ("fast", "paper")


def make_stepper(
    resolution: int,
    *,
    nu: float | Float[Array, ""],
    scheme: str = "fast",
    forcing: Float[ArrayLike, "s s"] | None = None,
    dt: float | None = None,
    record_every: float = 1.0,
    speed: float | None = None,
    cfl: float = DEFAULT_CFL,
    max_dt: float = 0.05,
) -> tuple[Stepper, int]:
    """Build a stepper whose step divides ``record_every``; return it and the steps per frame.

    ``scheme="paper"`` gives :class:`CrankNicolsonEuler` with ``dt = 1e-4`` unless given;
    ``scheme="fast"`` gives :class:`ETDRK4` with ``dt`` given, or else from
    :func:`cfl_time_step` for the velocity bound ``speed``. Either ``dt`` is rounded down
    to ``record_every / n`` for an integer ``n`` (:func:`steps_per_interval`).

    Returns:
        ``(stepper, steps_per_frame)``.
    """
    name = "make_stepper"
    s = _check_resolution(name, resolution)
    record_every = _check_positive(name, "record_every", record_every)
    if scheme not in SCHEMES:
        raise ValueError(f"{name} expects scheme to be one of {SCHEMES}; got {scheme!r}")
    if dt is None:
        if scheme == "paper":
            dt = 1e-4
        elif speed is None:
            raise ValueError(
                f"{name} needs dt or a velocity bound speed for the fast scheme's CFL step"
            )
        else:
            dt = cfl_time_step(speed, s, cfl=cfl, max_dt=max_dt, record_every=record_every)
    dt = _check_positive(name, "dt", dt)
    steps = steps_per_interval(record_every, dt)
    dt = record_every / steps
    stepper_class = CrankNicolsonEuler if scheme == "paper" else ETDRK4
    return stepper_class(s, nu=nu, dt=dt, forcing=forcing), steps


def solve_navier_stokes(
    w0: Float[ArrayLike, "s s"],
    *,
    nu: float | Float[Array, ""],
    t_final: float,
    forcing: Float[ArrayLike, "s s"] | None = None,
    scheme: str = "fast",
    dt: float | None = None,
    record_every: float = 1.0,
    speed: float | None = None,
    speed_safety: float = 2.0,
    cfl: float = DEFAULT_CFL,
    max_dt: float = 0.05,
) -> Float[Array, "T s s"]:
    """Vorticity frames at ``t = record_every, 2 record_every, ..., t_final``.

    One sample in, one out: ``w0: (s, s) -> (T, s, s)`` with ``T = t_final / record_every``
    (an integer). For the fast scheme without ``dt``, the CFL step needs a bound on the
    speed over the whole rollout: ``speed`` if given, else ``speed_safety`` times the
    largest speed of ``w0`` (which must then be concrete; under ``vmap``/``grad`` pass
    ``speed`` or ``dt``). A forced flow can speed up beyond the ``w0`` estimate, so give
    ``speed`` when the forcing is strong.

    Args:
        w0: ``(s, s)`` initial vorticity (``s`` even); its dtype is the compute dtype.
        nu: viscosity.
        t_final: final time, an integer multiple of ``record_every``.
        forcing: ``(s, s)`` time-independent forcing (e.g. :func:`fno_forcing`) or ``None``.
        scheme: ``"fast"`` (:class:`ETDRK4`) or ``"paper"`` (:class:`CrankNicolsonEuler`).
        dt: time step; default ``1e-4`` for ``"paper"``, the CFL step for ``"fast"``.
        record_every: interval between frames.
        speed: upper bound on ``max |u|`` over the rollout, for the CFL step.
        speed_safety: factor applied to the speed of ``w0`` when ``speed`` is ``None``.
        cfl: CFL number (:data:`DEFAULT_CFL`).
        max_dt: cap on the CFL step.

    Returns:
        ``(T, s, s)`` frames in the dtype of ``w0``.
    """
    name = "solve_navier_stokes"
    s = _check_field(name, "w0", w0)
    record_every = _check_positive(name, "record_every", record_every)
    t_final = _check_positive(name, "t_final", t_final)
    num_frames = round(t_final / record_every)
    if num_frames < 1 or abs(num_frames * record_every - t_final) > 1e-9 * t_final:
        raise ValueError(
            f"{name} expects t_final to be a positive integer multiple of record_every; "
            f"got t_final={t_final}, record_every={record_every}"
        )
    w0 = jnp.asarray(w0)
    if scheme == "fast" and dt is None and speed is None:
        if not _is_concrete(w0):
            raise ValueError(
                f"{name} cannot estimate the CFL step from a traced w0 (under vmap, grad or "
                "jit); pass dt or a velocity bound speed"
            )
        speed_safety = _check_positive(name, "speed_safety", speed_safety)
        speed = speed_safety * max_speed(w0)
        if speed == 0:
            speed = None
            dt = max_dt
    if forcing is not None:
        _check_field(name, "forcing", forcing, s)
        forcing = jnp.asarray(forcing, w0.dtype)
    stepper, steps = make_stepper(
        s,
        nu=nu,
        scheme=scheme,
        forcing=forcing,
        dt=dt,
        record_every=record_every,
        speed=speed,
        cfl=cfl,
        max_dt=max_dt,
    )
    return _rollout(stepper, w0, num_frames, steps)
