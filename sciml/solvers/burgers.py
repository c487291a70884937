r"""1-D viscous Burgers, u_t + (u^2 / 2)_x = nu u_xx on the periodic interval [0, L).

Discretisation. ``u`` is sampled at ``n`` equispaced points ``x_j = j L / n`` and
advanced in real-FFT space, ``v = rfft(u)`` with angular wavenumbers
``kappa_k = 2 pi k / L``, ``k = 0 .. n // 2``. Each mode obeys the semilinear system

    dv_k / dt = lambda_k v_k + N_k(v),    lambda_k = -nu kappa_k^2,
    N(v) = -(i kappa / 2) P rfft( (irfft(P v))^2 ),

where ``P`` is the 2/3-rule projection (:func:`sciml.spectral.dealias_mask`: mode ``k``
is kept iff ``3 |k| < n``). ``P`` is applied to the state before the product and to the
product afterwards, so aliases of the quadratic term land only on discarded modes. The
discarded modes of the state still carry the heat flow ``exp(lambda_k t)``, but they do
not enter the nonlinear term. The mean (``k = 0``) has ``lambda_0 = 0`` and
``N_0 = 0``, so it is conserved exactly.

Time stepping. The fourth-order exponential time-differencing Runge–Kutta scheme
ETDRK4 of Cox and Matthews (2002, eqs. 26–29), which integrates the stiff diffusion
exactly, with the coefficients evaluated by contour integrals after Kassam and Trefethen
(2005): :mod:`sciml.solvers.etdrk`, shared with the Navier–Stokes solver. The
coefficients are computed with ``jax.numpy`` from ``nu``, so ``nu`` may be a traced
value and the solution is differentiable with respect to it.

Gradients. Everything is differentiable by JAX's automatic differentiation through
the ``lax.scan`` of the steps (forward and reverse mode), with respect to ``u0`` and
``nu``. Reverse mode stores one state per step.

Exact solution. The Cole–Hopf transform ``u = -2 nu phi_x / phi`` turns Burgers into
the heat equation ``phi_t = nu phi_xx`` (Hopf 1950, Cole 1951); see
:func:`cole_hopf_solution`.

References:
    S. M. Cox and P. C. Matthews, "Exponential time differencing for stiff systems",
    J. Comput. Phys. 176 (2002) 430-455.
    A.-K. Kassam and L. N. Trefethen, "Fourth-order time-stepping for stiff PDEs",
    SIAM J. Sci. Comput. 26 (2005) 1214-1233.
    E. Hopf, "The partial differential equation u_t + u u_x = mu u_xx", Comm. Pure
    Appl. Math. 3 (1950) 201-230; J. D. Cole, "On a quasi-linear parabolic equation
    occurring in aerodynamics", Quart. Appl. Math. 9 (1951) 225-236.
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (the Burgers data set, see ``sciml.data.burgers``).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Complex, Float

from sciml.solvers import stepping
from sciml.solvers.etdrk import ETDRK4Coefficients, check_contour_points, etdrk4_step
from sciml.solvers.etdrk import etdrk4_coefficients as etdrk4_coefficients
from sciml.spectral import dealias_mask, rwavenumbers, squared_wavenumbers

__all__ = [
    "BurgersETDRK4",
    "cole_hopf_solution",
    "solve_burgers",
]

# A time that is this close (relative) to a whole number of steps counts as one.
_STEP_TOLERANCE = 1e-9


# ----------------------------------------------------------------------------- validation


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _check_static_positive(name: str, caller: str, value, *, allow_zero: bool = False) -> float:
    """``value`` as a float, or a ValueError unless it is a finite Python/NumPy number > 0."""
    if _is_traced(value) or not isinstance(value, numbers.Real | np.ndarray | np.generic):
        raise ValueError(
            f"{caller} expects {name} to be a Python number (it fixes the step count and "
            f"is static under jit), got {type(value).__name__} {value!r}"
        )
    if np.asarray(value).ndim != 0:
        raise ValueError(
            f"{caller} expects {name} to be a scalar, got shape {np.asarray(value).shape}"
        )
    value = float(value)
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{caller} expects a finite {name} {bound}, got {value!r}")
    return value


def _check_nu(caller: str, nu):
    """``nu`` checked to be a finite scalar > 0.

    A concrete ``nu`` that is not raises a ValueError here. A traced ``nu`` (under
    ``jit``, ``vmap`` or ``grad``) has no value yet, so it is returned wrapped in
    :func:`equinox.error_if`: the compiled program raises a runtime error naming ``nu``
    instead of returning NaN, and the check passes gradients through unchanged and
    leaves ``nu`` traced (a sweep still compiles once). The returned ``nu`` must be the
    one used, or the check is dropped as dead code.
    """
    if np.ndim(nu) != 0:
        raise ValueError(f"{caller} expects a scalar viscosity nu, got shape {np.shape(nu)}")
    if _is_traced(nu):
        bad = ~(jnp.isfinite(nu) & (nu > 0))
        return eqx.error_if(nu, bad, f"{caller} expects a finite viscosity nu > 0")
    value = float(np.asarray(nu))
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{caller} expects a finite viscosity nu > 0, got {value!r}")
    return nu


def _step_count(caller: str, name: str, time: float, dt: float) -> int:
    """``time / dt`` as an int, or a ValueError if it is not whole to ``_STEP_TOLERANCE``."""
    ratio = time / dt
    steps = round(ratio)
    if abs(ratio - steps) > _STEP_TOLERANCE * max(1.0, ratio):
        raise ValueError(
            f"{caller} takes whole steps of a fixed dt: {name} / dt must be an integer, got "
            f"{name} = {time!r}, dt = {dt!r}, ratio {ratio!r}; choose dt = {name} / k for an "
            f"integer k (e.g. dt = {time / max(1, math.ceil(ratio))!r})"
        )
    return steps


def _check_initial_condition(caller: str, u0) -> Array:
    shape = np.shape(u0)
    if len(shape) != 1:
        raise ValueError(
            f"{caller} expects one sample u0 of shape (n,) on the periodic grid; got shape "
            f"{shape} (use jax.vmap for batches)"
        )
    if shape[0] < 4:
        raise ValueError(f"{caller} expects at least 4 grid points, got n = {shape[0]}")
    dtype = jnp.result_type(u0)
    if jnp.issubdtype(dtype, jnp.complexfloating) or dtype == jnp.bool_:
        raise ValueError(f"{caller} expects a real u0, got dtype {dtype}")
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.float32
    u0 = jnp.asarray(u0, dtype)
    if not _is_traced(u0):
        n_bad = int((~np.isfinite(np.asarray(u0))).sum())
        if n_bad:
            raise ValueError(f"{caller} expects a finite u0; got {n_bad} NaN or inf values")
    return u0


# ---------------------------------------------------------------------------- the stepper


# Compiled once per grid, dtype and contour size (nu and dt are traced).
@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _burgers_operators(nu, dt, n, length, contour_points):
    linear = -nu * squared_wavenumbers((n,), length, dtype=nu.dtype)
    coefficients = etdrk4_coefficients(linear, dt, contour_points=contour_points)
    kappa = rwavenumbers(n, length, dtype=nu.dtype)
    keep = dealias_mask((n,))
    complex_dtype = jnp.result_type(nu.dtype, jnp.complex64)
    nonlinear_multiplier = jnp.where(keep, -0.5j * kappa, 0).astype(complex_dtype)
    return (*coefficients, nonlinear_multiplier, keep)


class BurgersETDRK4(eqx.Module):
    r"""One ETDRK4 step of periodic 1-D viscous Burgers, ``u_t + (u^2/2)_x = nu u_xx``.

    Holds the static configuration (``n``, ``length``, ``dt``) and the operators
    precomputed from it and from ``nu``: the exponentials and Kassam–Trefethen
    coefficients of ``lambda_k = -nu kappa_k^2``, and the dealiased multiplier
    ``-(i kappa / 2) P`` of the nonlinear term (see the module docstring). ``nu`` is a
    JAX array, so the stepper may be built inside ``jit``/``grad`` from a traced ``nu``.

    ``stepper(u)`` advances ``u: (n,) -> (n,)`` by ``dt``; :meth:`rollout` takes many steps
    with ``lax.scan``. One sample; batch with ``jax.vmap``. The input must have the
    stepper's dtype (float32 by default; pass ``dtype=jnp.float64`` with x64 enabled).

    Example:
        >>> stepper = BurgersETDRK4(1024, nu=0.1, dt=1e-3)
        >>> u_T = stepper.rollout(u0, 1000)          # u(t = 1)
    """

    n: int = eqx.field(static=True)
    length: float = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    nu: Float[Array, ""]
    exp_step: Float[Array, " m"]
    exp_half_step: Float[Array, " m"]
    q: Float[Array, " m"]
    f1: Float[Array, " m"]
    f2: Float[Array, " m"]
    f3: Float[Array, " m"]
    nonlinear_multiplier: Complex[Array, " m"]
    keep: Bool[Array, " m"]

    def __init__(
        self,
        n: int,
        *,
        nu: float | Float[Array, ""],
        dt: float,
        length: float = 1.0,
        dtype=jnp.float32,
        contour_points: int = 32,
    ):
        """Precompute the operators.

        Args:
            n: grid points (>= 4); the state is ``u: (n,)`` at ``x_j = j length / n``.
            nu: viscosity > 0 (a number or a scalar array, possibly traced).
            dt: time step > 0 (a Python number).
            length: period ``L`` of the interval.
            dtype: real floating dtype of the state and operators.
            contour_points: points of the Kassam–Trefethen half circle (>= 8).
        """
        name = "BurgersETDRK4"
        if not isinstance(n, numbers.Integral) or n < 4:
            raise ValueError(f"{name} expects an integer number of grid points n >= 4, got {n!r}")
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"{name} expects a real floating dtype, got {dtype!r}")
        nu = _check_nu(name, nu)
        self.n = int(n)
        self.dt = _check_static_positive("dt", name, dt)
        self.length = _check_static_positive("length", name, length)
        contour_points = check_contour_points(name, contour_points)
        self.nu = jnp.asarray(nu, dtype)
        (
            self.exp_step,
            self.exp_half_step,
            self.q,
            self.f1,
            self.f2,
            self.f3,
            self.nonlinear_multiplier,
            self.keep,
        ) = _burgers_operators(
            self.nu, jnp.asarray(self.dt, dtype), self.n, self.length, contour_points
        )

    @property
    def dtype(self):
        return self.q.dtype

    def nonlinear(self, v: Complex[Array, " m"]) -> Complex[Array, " m"]:
        """``N(v) = -(i kappa / 2) P rfft((irfft(P v))^2)``, the dealiased ``-(u^2/2)_x``."""
        u = jnp.fft.irfft(jnp.where(self.keep, v, 0), n=self.n)
        return self.nonlinear_multiplier * jnp.fft.rfft(u * u)

    @property
    def coefficients(self) -> ETDRK4Coefficients:
        """``(E, E_2, Q, f_1, f_2, f_3)`` of :func:`sciml.solvers.etdrk.etdrk4_coefficients`."""
        return ETDRK4Coefficients(
            self.exp_step, self.exp_half_step, self.q, self.f1, self.f2, self.f3
        )

    def step_fourier(self, v: Complex[Array, " m"]) -> Complex[Array, " m"]:
        """One ETDRK4 step of the Fourier coefficients ``v = rfft(u): (n // 2 + 1,)``."""
        return etdrk4_step(self.coefficients, v, self.nonlinear)

    def _check_state(self, u) -> Array:
        u = jnp.asarray(u)
        if u.shape != (self.n,):
            raise ValueError(
                f"BurgersETDRK4 expects one state u of shape ({self.n},); got shape {u.shape} "
                "(use jax.vmap for batches)"
            )
        if u.dtype != self.dtype:
            raise ValueError(
                f"BurgersETDRK4 was built for dtype {self.dtype} but got u of dtype {u.dtype}; "
                "build it with dtype=u.dtype"
            )
        return u

    def __call__(self, u: Float[ArrayLike, " n"]) -> Float[Array, " n"]:
        """Advance ``u: (n,)`` by one step ``dt``."""
        u = self._check_state(u)
        return jnp.fft.irfft(self.step_fourier(jnp.fft.rfft(u)), n=self.n).astype(self.dtype)

    def rollout(
        self,
        u0: Float[ArrayLike, " n"],
        n_steps: int,
        *,
        save_steps: Sequence[int] | None = None,
    ) -> Float[Array, " n"] | Float[Array, "n_saves n"]:
        """Take ``n_steps`` steps from ``u0`` (:func:`sciml.solvers.stepping.advance`, or
        :func:`sciml.solvers.stepping.snapshots` when ``save_steps`` is given).

        States after the last of ``save_steps`` are not computed.

        Args:
            u0: ``(n,)`` initial state.
            n_steps: number of steps (a Python int >= 0).
            save_steps: optional increasing step indices in ``[0, n_steps]`` at which to
                keep the state (``0`` is ``u0``).

        Returns:
            ``u(n_steps dt): (n,)``, or ``(len(save_steps), n)`` snapshots.
        """
        u0 = self._check_state(u0)
        if not isinstance(n_steps, numbers.Integral) or n_steps < 0:
            raise ValueError(f"rollout expects an integer n_steps >= 0, got {n_steps!r}")
        v0 = jnp.fft.rfft(u0)
        if save_steps is None:
            v = stepping.advance(self.step_fourier, v0, n_steps)
            return jnp.fft.irfft(v, n=self.n).astype(self.dtype)
        steps = np.asarray(save_steps)
        if (
            steps.ndim != 1
            or steps.size == 0
            or not np.issubdtype(steps.dtype, np.integer)
            or np.any(np.diff(steps) <= 0)
            or steps[0] < 0
            or steps[-1] > n_steps
        ):
            raise ValueError(
                f"rollout expects save_steps to be increasing integers in [0, {n_steps}], got "
                f"{steps.tolist()}"
            )
        v = stepping.snapshots(self.step_fourier, v0, steps.tolist())
        return jnp.fft.irfft(v, n=self.n, axis=-1).astype(self.dtype)


# ----------------------------------------------------------------------- functional solver


# Compiled once per stepper configuration, step count and save list; inlined under jit.
@eqx.filter_jit
def _rollout_compiled(stepper, u0, n_steps, save_steps):
    return stepper.rollout(u0, n_steps, save_steps=save_steps)


def solve_burgers(
    u0: Float[ArrayLike, " n"],
    *,
    nu: float | Float[Array, ""],
    t_final: float,
    dt: float,
    length: float = 1.0,
    save_at: Sequence[float] | None = None,
    contour_points: int = 32,
) -> Float[Array, " n"] | Float[Array, "n_saves n"]:
    r"""Solve ``u_t + (u^2/2)_x = nu u_xx`` on the periodic interval ``[0, L)`` from ``u0``.

    Fourier pseudo-spectral in space with 2/3-rule dealiasing, ETDRK4 in time with
    Kassam–Trefethen coefficients and a fixed step (see the module docstring). Runs in
    the dtype of ``u0`` (float32 unless float64 is passed; integers become float32).
    jit-compiled once per grid size, dtype and step count; jit-, vmap- and
    grad-compatible, differentiable with respect to ``u0`` and ``nu`` (forward and
    reverse mode). One sample; batch with ``jax.vmap``.

    The step count is ``t_final / dt``, which must be a whole number (to a relative
    ``1e-9``); the step actually taken is ``t_final / round(t_final / dt)``. Likewise
    every time in ``save_at`` must be a whole number of steps.

    Args:
        u0: ``(n,)`` initial values at ``x_j = j L / n``, ``n >= 4``.
        nu: viscosity > 0; a number or a scalar array, which may be traced.
        t_final: final time >= 0 (a Python number).
        dt: time step > 0 (a Python number) with ``t_final / dt`` an integer.
        length: period ``L``.
        save_at: optional increasing times in ``[0, t_final]``, each a multiple of dt.
        contour_points: points of the Kassam–Trefethen half circle.

    Returns:
        ``u(t_final): (n,)``, or ``(len(save_at), n)`` snapshots when ``save_at`` is given.

    Raises:
        ValueError: ``u0`` is not one real 1-D sample of >= 4 finite values, ``nu`` is
            not a positive scalar, ``dt``/``t_final``/``length`` are not positive
            Python numbers, or a time is not a whole number of steps. A traced ``nu``
            is checked by the compiled program instead (:func:`equinox.error_if`): a
            ``nu`` that is not finite and > 0 makes the call raise a runtime error naming
            ``nu`` rather than return NaN.

    References:
        Cox and Matthews, J. Comput. Phys. 176 (2002); Kassam and Trefethen, SIAM J.
        Sci. Comput. 26 (2005).
    """
    name = "solve_burgers"
    u0 = _check_initial_condition(name, u0)
    nu = _check_nu(name, nu)
    dt = _check_static_positive("dt", name, dt)
    t_final = _check_static_positive("t_final", name, t_final, allow_zero=True)
    length = _check_static_positive("length", name, length)
    contour_points = check_contour_points(name, contour_points)
    n_steps = _step_count(name, "t_final", t_final, dt)
    save_steps = None
    if save_at is not None:
        times = np.atleast_1d(np.asarray(save_at, dtype=float))
        if times.ndim != 1 or times.size == 0:
            raise ValueError(f"{name} expects save_at to be a 1-D list of times, got {save_at!r}")
        save_steps = tuple(_step_count(name, "save_at", float(t), dt) for t in times)
        if any(b <= a for a, b in zip(save_steps, save_steps[1:])) or not (
            0 <= save_steps[0] and save_steps[-1] <= n_steps
        ):
            raise ValueError(
                f"{name} expects save_at to be increasing times in [0, t_final = {t_final}], "
                f"got {times.tolist()}"
            )
    step = t_final / n_steps if n_steps else dt
    nu = jnp.asarray(nu, u0.dtype)
    stepper = BurgersETDRK4(
        u0.shape[0],
        nu=nu,
        dt=step,
        length=length,
        dtype=u0.dtype,
        contour_points=contour_points,
    )
    return _rollout_compiled(stepper, u0, n_steps, save_steps)


# ------------------------------------------------------------------------ exact solution


@functools.partial(jax.jit, static_argnames=("length",))
def _cole_hopf_compiled(u0, t, nu, length):
    n = u0.shape[0]
    kappa = rwavenumbers(n, length, dtype=u0.dtype)
    # The Nyquist mode of an even grid has no representable antiderivative/derivative.
    odd_ok = jnp.asarray(np.arange(n // 2 + 1) != n / 2)
    mean = jnp.mean(u0)
    w_hat = jnp.fft.rfft(u0 - mean)
    safe_kappa = jnp.where(kappa == 0, 1, kappa)
    potential_hat = jnp.where((kappa != 0) & odd_ok, w_hat / (1j * safe_kappa), 0)
    exponent = -jnp.fft.irfft(potential_hat, n=n) / (2 * nu)
    phi0 = jnp.exp(exponent - jnp.max(exponent))  # phi is defined up to a factor
    phase = -nu * kappa**2 * t - 1j * kappa * mean * t  # heat flow, then shift by mean * t
    phi_hat = jnp.fft.rfft(phi0) * jnp.exp(phase)
    phi = jnp.fft.irfft(phi_hat, n=n)
    phi_x = jnp.fft.irfft(jnp.where(odd_ok, 1j * kappa * phi_hat, 0), n=n)
    return (mean - 2 * nu * phi_x / phi).astype(u0.dtype)


def cole_hopf_solution(
    u0: Float[ArrayLike, " n"],
    t: float | Float[Array, ""],
    *,
    nu: float | Float[Array, ""],
    length: float = 1.0,
) -> Float[Array, " n"]:
    r"""The exact solution of periodic viscous Burgers by the Cole–Hopf transform.

    With ``c`` the mean of ``u0`` and ``W`` the periodic antiderivative of ``u0 - c``,

        phi_0 = exp(-W / (2 nu)),   phi(t) = exp(t nu d_xx) phi_0  (heat flow),
        u(x, t) = c - 2 nu phi_x(x - c t, t) / phi(x - c t, t),

    i.e. ``u = -2 nu phi_x / phi`` solves Burgers for mean-zero data and the mean ``c``
    is a Galilean shift. The antiderivative, the heat flow, the shift and ``phi_x`` are
    exact Fourier multipliers on the grid, so the result is exact up to round-off once
    the grid resolves ``phi_0`` (spectral accuracy in ``n``); no time stepping. The
    Nyquist mode of an even grid is dropped from ``W`` and ``phi_x``.

    Limitation: ``phi_0`` spans ``exp(-(max W - min W) / (2 nu))``; for small ``nu`` this
    dynamic range costs accuracy where ``phi`` is tiny (and underflows in float32).

    Args:
        u0: ``(n,)`` initial values at ``x_j = j L / n``.
        t: time >= 0 (may be traced).
        nu: viscosity > 0 (may be traced).
        length: period ``L``.

    Returns:
        ``u(t): (n,)`` in the dtype of ``u0``.

    References:
        Hopf, Comm. Pure Appl. Math. 3 (1950); Cole, Quart. Appl. Math. 9 (1951).
    """
    name = "cole_hopf_solution"
    u0 = _check_initial_condition(name, u0)
    nu = _check_nu(name, nu)
    length = _check_static_positive("length", name, length)
    if np.ndim(t) != 0:
        raise ValueError(f"{name} expects a scalar time t, got shape {np.shape(t)}")
    return _cole_hopf_compiled(u0, jnp.asarray(t, u0.dtype), jnp.asarray(nu, u0.dtype), length)
