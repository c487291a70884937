r"""Allen–Cahn and Cahn–Hilliard gradient flows on periodic boxes, with energy-stable schemes.

The energy. On a periodic box ``Omega = [0, L_1) x ... x [0, L_d)`` (``d = 1, 2, 3``),

    E(phi) = \int_Omega eps^2 / 2 |grad phi|^2 + F(phi) dx,    F(phi) = (phi^2 - 1)^2 / 4,

with chemical potential ``mu = dE/dphi = -eps^2 Laplacian phi + f(phi)``,
``f = F' = phi^3 - phi``. Its two gradient flows are

    Allen–Cahn (L2):        phi_t = -mu,
    Cahn–Hilliard (H^-1):   phi_t = M Laplacian mu    (conserves the mass \int phi dx).

Both are ``phi_t = -G mu`` with a symmetric positive semi-definite mobility operator
``G = I`` (Allen–Cahn) or ``G = -M Laplacian`` (Cahn–Hilliard), and
``dE/dt = -<G mu, mu> <= 0``.

Discretisation. ``phi`` is sampled at ``n_i`` equispaced points per axis; every linear
operator is a Fourier multiplier on ``rfftn`` coefficients (Fourier spectral). The
symbol of ``-Laplacian`` is ``k2 = |kappa|^2`` (``laplacian="spectral"``, the default),
or, with ``laplacian="central"``, that of the second-order central difference,
``k2 = sum_i (2 / h_i)^2 sin^2(kappa_i h_i / 2)``, also diagonalised by the FFT; the
latter's resolvents and semigroup are positivity preserving, which the maximum bound
principle below needs. With ``<u, v> = h^d sum_j u_j v_j`` (``h^d`` the cell volume),
``lambda = eps^2 k2`` the symbol of the linear part ``L = -eps^2 Laplacian`` of ``mu``,
and ``g = 1`` or ``M k2`` the symbol of ``G``, the discrete energy is

    E_h(phi) = 1/2 <L phi, phi> + <F(phi), 1>,

and the semi-discrete flow ``phi_t = -G (L phi + f(phi))`` dissipates it exactly. A
state is one field ``phi`` of the grid's shape (``(n,)``, ``(n_1, n_2)`` or
``(n_1, n_2, n_3)``), with no channel axis; batches go through ``jax.vmap``.

Schemes (all unconditionally solvable; see each class for what it dissipates):

* :class:`StabilisedSemiImplicit` – first order, linear, ``S (phi^{n+1} - phi^n)``
  stabilisation (Shen and Yang 2010; Tang and Yang 2016 for the maximum principle).
* :class:`ConvexSplitting` – first order, Eyre's splitting ``F = F_c - F_e`` with the
  convex part implicit, solved by Newton's method with preconditioned CG (Eyre 1998).
* :class:`SAV` – the scalar auxiliary variable schemes of Shen, Xu and Yang (2018),
  first order (backward Euler) and second order (Crank–Nicolson).
* :class:`StabilisedETD` – first-order stabilised exponential time differencing
  (Du, Ju, Li and Qiao 2019, 2021).

Every scheme is an equinox module holding static configuration and precomputed symbols,
with pure ``init(phi0) -> state``, ``step(state) -> state``, ``field(state) -> phi`` and
``discrete_energy(state)``; :func:`rollout` scans the steps with ``lax.scan``.

References:
    D. J. Eyre, "Unconditionally gradient stable time marching the Cahn–Hilliard
    equation", MRS Proc. 529 (1998) 39-46.
    J. Shen and X. Yang, "Numerical approximations of Allen–Cahn and Cahn–Hilliard
    equations", Discrete Contin. Dyn. Syst. A 28 (2010) 1669-1691.
    T. Tang and J. Yang, "Implicit-explicit scheme for the Allen–Cahn equation preserves
    the maximum principle", J. Comput. Math. 34 (2016) 451-461.
    J. Shen, J. Xu and J. Yang, "The scalar auxiliary variable (SAV) approach for gradient
    flows", J. Comput. Phys. 353 (2018) 407-416.
    Q. Du, L. Ju, X. Li and Z. Qiao, "Maximum principle preserving exponential time
    differencing schemes for the nonlocal Allen–Cahn equation", SIAM J. Numer. Anal. 57
    (2019) 875-898; "Maximum bound principles for a class of semilinear parabolic
    equations and exponential time-differencing schemes", SIAM Rev. 63 (2021) 317-359.
"""

import abc
import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.sparse.linalg import cg
from jaxtyping import Array, ArrayLike, Complex, Float

from sciml.solvers import stepping
from sciml.spectral import STENCILS, each_axis, squared_wavenumbers

__all__ = [
    "EQUATIONS",
    "SCHEMES",
    "ConvexSplitting",
    "EnergyStableScheme",
    "GradientFlow",
    "SAV",
    "SAVState",
    "StabilisedETD",
    "StabilisedSemiImplicit",
    "double_well",
    "double_well_derivative",
    "make_scheme",
    "rollout",
]

EQUATIONS = ("allen-cahn", "cahn-hilliard")
LAPLACIANS = STENCILS
SCHEMES = ("stabilised", "convex-splitting", "sav1", "sav2", "etd1")


def double_well(phi: Float[Array, "*grid"]) -> Float[Array, "*grid"]:
    """``F(phi) = (phi^2 - 1)^2 / 4``, pointwise."""
    return (phi * phi - 1) ** 2 / 4


def double_well_derivative(phi: Float[Array, "*grid"]) -> Float[Array, "*grid"]:
    """``f(phi) = F'(phi) = phi^3 - phi``, pointwise."""
    return phi * phi * phi - phi


def _check_positive(caller: str, name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, jax.core.Tracer) or not isinstance(
        value, numbers.Real | np.ndarray | np.generic
    ):
        raise ValueError(f"{caller} expects {name} to be a Python number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{caller} expects a finite {name} {bound}, got {value!r}")
    return value


class GradientFlow(eqx.Module):
    r"""An Allen–Cahn or Cahn–Hilliard flow of the double-well energy on a periodic grid.

    Holds the static description (``equation``, grid ``shape``, box ``length``, ``eps``,
    mobility ``M``, Laplacian discretisation) and the Fourier symbols built from it, in
    the ``rfftn`` layout ``(*shape[:-1], shape[-1] // 2 + 1)``:

        k2     = symbol of -Laplacian (spectral |kappa|^2 or central difference),
        linear = lambda = eps^2 k2        (the linear part L of mu),
        mobility = g = 1 (Allen–Cahn) or M k2 (Cahn–Hilliard)   (the operator G).

    Example:
        >>> flow = GradientFlow("cahn-hilliard", (128, 128), length=2 * np.pi, eps=0.1)
        >>> flow.energy(phi), flow.mass(phi)
    """

    equation: str = eqx.field(static=True)
    shape: tuple[int, ...] = eqx.field(static=True)
    length: tuple[float, ...] = eqx.field(static=True)
    eps: float = eqx.field(static=True)
    mobility_constant: float = eqx.field(static=True)
    laplacian: str = eqx.field(static=True)
    k2: Float[Array, "..."]
    linear: Float[Array, "..."]
    mobility: Float[Array, "..."]

    def __init__(
        self,
        equation: str,
        shape: int | Sequence[int],
        *,
        length: float | Sequence[float] = 1.0,
        eps: float = 0.1,
        mobility: float = 1.0,
        laplacian: str = "spectral",
        dtype=jnp.float32,
    ):
        """Build the symbols.

        Args:
            equation: ``"allen-cahn"`` or ``"cahn-hilliard"``.
            shape: grid points per axis, 1 to 3 axes, each >= 4.
            length: period of the box, one for all axes or one per axis.
            eps: interface parameter ``eps > 0``.
            mobility: ``M > 0`` of Cahn–Hilliard (ignored by Allen–Cahn, whose mobility
                is 1).
            laplacian: ``"spectral"`` or ``"central"`` (see the module docstring).
            dtype: real floating dtype of the symbols and of the states.
        """
        name = "GradientFlow"
        if equation not in EQUATIONS:
            raise ValueError(
                f"{name} expects equation to be one of {', '.join(EQUATIONS)}, got {equation!r}"
            )
        if laplacian not in LAPLACIANS:
            raise ValueError(
                f"{name} expects laplacian to be one of {', '.join(LAPLACIANS)}, got {laplacian!r}"
            )
        shape = (
            (cast(int, shape),)
            if isinstance(shape, numbers.Integral)
            else tuple(cast(Sequence[int], shape))
        )
        if not (1 <= len(shape) <= 3) or any(
            not isinstance(n, numbers.Integral) or n < 4 for n in shape
        ):
            raise ValueError(f"{name} expects a grid shape of 1 to 3 integers >= 4, got {shape!r}")
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"{name} expects a real floating dtype, got {dtype!r}")
        lengths = each_axis(length, len(shape))
        if len(lengths) != len(shape):
            raise ValueError(
                f"{name} expects one length for all axes or one per axis ({len(shape)}), got "
                f"{length!r}"
            )
        self.equation = equation
        self.shape = tuple(int(n) for n in shape)
        self.length = tuple(_check_positive(name, "length", value) for value in lengths)
        self.eps = _check_positive(name, "eps", eps)
        self.mobility_constant = _check_positive(name, "mobility", mobility)
        self.laplacian = laplacian
        # The symbols are formed in the default float precision (float64 with x64) and
        # then rounded once to the flow's dtype.
        precise = jnp.promote_types(dtype, jnp.result_type(float))
        k2 = squared_wavenumbers(self.shape, self.length, dtype=precise, stencil=laplacian)
        mobility_symbol = jnp.ones_like(k2) if equation == "allen-cahn" else mobility * k2
        self.k2 = k2.astype(dtype)
        self.linear = (self.eps**2 * k2).astype(dtype)
        self.mobility = mobility_symbol.astype(dtype)

    @property
    def dtype(self):
        return self.k2.dtype

    @property
    def cell_volume(self) -> float:
        """``h^d``, the weight of the discrete inner product ``<u, v> = h^d sum u v``."""
        return math.prod(side / n for side, n in zip(self.length, self.shape))

    def fft(self, phi: Float[Array, "*grid"]) -> Complex[Array, "*spectrum"]:
        return jnp.fft.rfftn(phi)

    def ifft(self, phi_hat: Complex[Array, "*spectrum"]) -> Float[Array, "*grid"]:
        return jnp.fft.irfftn(phi_hat, s=self.shape).astype(self.dtype)

    def apply(
        self, symbol: Float[Array, "*spectrum"], phi: Float[Array, "*grid"]
    ) -> Float[Array, "*grid"]:
        """The Fourier multiplier ``symbol`` applied to the real field ``phi``."""
        return self.ifft(symbol * self.fft(phi))

    def inner(self, u: Float[Array, "*grid"], v: Float[Array, "*grid"]) -> Float[Array, ""]:
        """``<u, v> = h^d sum_j u_j v_j``."""
        return self.cell_volume * jnp.sum(u * v)

    def check_state(
        self, phi: Float[ArrayLike, "*grid"], caller: str = "GradientFlow"
    ) -> Float[Array, "*grid"]:
        """``phi`` as an array of the grid's shape and dtype, or a ValueError."""
        phi = jnp.asarray(phi)
        if phi.shape != self.shape:
            hint = " (use jax.vmap for batches)" if phi.shape[1:] == self.shape else ""
            raise ValueError(
                f"{caller} expects one field phi of shape {self.shape}, got shape {phi.shape}{hint}"
            )
        if phi.dtype != self.dtype:
            raise ValueError(
                f"{caller} was built for dtype {self.dtype} but got phi of dtype {phi.dtype}; "
                "build the GradientFlow with dtype=phi.dtype"
            )
        if not isinstance(phi, jax.core.Tracer):
            n_bad = int((~np.isfinite(np.asarray(phi))).sum())
            if n_bad:
                raise ValueError(f"{caller} expects a finite phi; got {n_bad} NaN or inf values")
        return phi

    def bulk_energy(self, phi: Float[Array, "*grid"]) -> Float[Array, ""]:
        """``<F(phi), 1> = h^d sum_j F(phi_j)`` (>= 0)."""
        return self.cell_volume * jnp.sum(double_well(phi))

    def energy(self, phi: Float[ArrayLike, "*grid"]) -> Float[Array, ""]:
        """The discrete energy ``E_h(phi) = 1/2 <L phi, phi> + h^d sum_j F(phi_j)``."""
        phi = jnp.asarray(phi)
        return 0.5 * self.inner(self.apply(self.linear, phi), phi) + self.bulk_energy(phi)

    def mass(self, phi: Float[ArrayLike, "*grid"]) -> Float[Array, ""]:
        """``h^d sum_j phi_j``, the discrete ``\\int phi dx``."""
        return self.cell_volume * jnp.sum(jnp.asarray(phi))

    def chemical_potential(self, phi: Float[ArrayLike, "*grid"]) -> Float[Array, "*grid"]:
        """``mu = L phi + f(phi) = -eps^2 Laplacian phi + phi^3 - phi``."""
        phi = jnp.asarray(phi)
        return self.apply(self.linear, phi) + double_well_derivative(phi)

    def time_derivative(self, phi: Float[ArrayLike, "*grid"]) -> Float[Array, "*grid"]:
        """The right-hand side ``-G mu`` of the semi-discrete flow."""
        return -self.apply(self.mobility, self.chemical_potential(phi))


class EnergyStableScheme(eqx.Module):
    """A one-step (or two-level) time-stepping scheme for a :class:`GradientFlow`.

    ``init(phi0)`` makes the scheme's state, ``step(state)`` advances it by ``dt``,
    ``field(state)`` reads ``phi`` from it and ``discrete_energy(state)`` is the energy
    the scheme dissipates (the original ``E_h`` or a modified one). All are pure.
    """

    flow: eqx.AbstractVar[GradientFlow]
    dt: eqx.AbstractVar[Float[Array, ""]]

    @abc.abstractmethod
    def init(self, phi0: Float[ArrayLike, "*grid"]) -> Any: ...

    @abc.abstractmethod
    def step(self, state: Any) -> Any: ...

    @abc.abstractmethod
    def field(self, state: Any) -> Float[Array, "*grid"]: ...

    @abc.abstractmethod
    def discrete_energy(self, state: Any) -> Float[Array, ""]: ...


class _LinearOneStepScheme(EnergyStableScheme):
    """A scheme ``phi^{n+1} = phi^n - c(D) (L phi^n + f(phi^n))`` whose state is ``phi``
    and which dissipates the original energy ``E_h``; subclasses set the symbol ``c``."""

    coefficient: eqx.AbstractVar[Float[Array, "..."]]

    def init(self, phi0):
        return self.flow.check_state(phi0, type(self).__name__)

    def step(self, state):
        mu_hat = self.flow.linear * self.flow.fft(state)
        mu_hat = mu_hat + self.flow.fft(double_well_derivative(state))
        return state - self.flow.ifft(self.coefficient * mu_hat)

    def field(self, state):
        return state

    def discrete_energy(self, state):
        return self.flow.energy(state)


class StabilisedSemiImplicit(_LinearOneStepScheme):
    r"""Stabilised linear semi-implicit Euler (Shen and Yang 2010).

        (phi^{n+1} - phi^n) / dt = -G [ L phi^{n+1} + S (phi^{n+1} - phi^n) + f(phi^n) ],

    i.e. ``phi^{n+1} = phi^n - dt g / (1 + dt g (lambda + S)) (lambda phi^n + f(phi^n))``
    mode by mode; first order.

    Energy. It dissipates the ORIGINAL discrete energy ``E_h`` whenever ``phi^n`` and
    ``phi^{n+1}`` take values in ``[-beta, beta]`` and

        S >= (3 beta^2 - 1) / 2      (half the Lipschitz constant of f there),

    for every ``dt`` (for Allen–Cahn ``1/dt + S >= (3 beta^2 - 1)/2`` suffices). Testing
    the scheme with ``G^{-1} (phi^{n+1} - phi^n)`` gives
    ``E_h^{n+1} - E_h^n <= -||delta||^2_{(dt G)^{-1}} - (S - L_f / 2) ||delta||^2 -
    1/2 <L delta, delta>``.

    Maximum principle (Allen–Cahn). With ``laplacian="central"``, ``|phi^0| <= 1`` and
    ``S >= 2 - 1/dt``, every ``|phi^n| <= 1`` (Tang and Yang 2016): the right-hand side
    ``(1 + dt S) phi - dt f(phi)`` is monotone on ``[-1, 1]`` with range
    ``[-(1 + dt S), 1 + dt S]``, and ``((1 + dt S) I - dt eps^2 Delta_h)^{-1}`` is a
    non-negative matrix with row sums ``1 / (1 + dt S)``. Then ``beta = 1``, and ``S = 2``
    makes the scheme energy stable for every ``dt``. (The Fourier spectral Laplacian's
    resolvent is not positivity preserving, so with it the bound is not guaranteed.)

    References:
        Shen and Yang, Discrete Contin. Dyn. Syst. A 28 (2010) 1669-1691; Tang and Yang,
        J. Comput. Math. 34 (2016) 451-461.
    """

    flow: GradientFlow
    dt: Float[Array, ""]
    stabilisation: float = eqx.field(static=True)
    coefficient: Float[Array, "..."]

    def __init__(self, flow: GradientFlow, dt: float, *, stabilisation: float = 2.0):
        self.flow = flow
        self.dt = jnp.asarray(_check_positive("StabilisedSemiImplicit", "dt", dt), flow.dtype)
        self.stabilisation = _check_positive(
            "StabilisedSemiImplicit", "stabilisation", stabilisation, allow_zero=True
        )
        g, lam = flow.mobility, flow.linear
        self.coefficient = self.dt * g / (1 + self.dt * g * (lam + self.stabilisation))


class StabilisedETD(_LinearOneStepScheme):
    r"""Stabilised first-order exponential time differencing, ETD1 (Du, Ju, Li, Qiao).

    The flow is split as ``phi_t = -G (L + kappa) phi + G (kappa phi - f(phi))``, the
    linear part integrated exactly and the stabilised nonlinearity held at ``phi^n``:

        phi^{n+1} = e^{-dt a} phi^n + a^{-1} (1 - e^{-dt a}) G (kappa phi^n - f(phi^n)),
        a = g (lambda + kappa),

    which is ``phi^{n+1} = phi^n - (1 - e^{-dt a}) / (lambda + kappa) (lambda phi^n +
    f(phi^n))`` mode by mode (``expm1`` keeps small ``dt a`` accurate).

    Energy. It dissipates the ORIGINAL discrete energy ``E_h`` whenever ``phi^n``,
    ``phi^{n+1}`` lie in ``[-beta, beta]`` and ``kappa >= (3 beta^2 - 1) / 2``, for every
    ``dt``: the update reads ``Phi^{-1} delta = -(L phi^n + f(phi^n))`` with
    ``Phi^{-1}`` of symbol ``(lambda + kappa) / (1 - e^{-dt a}) >= lambda + kappa``, and
    the argument of :class:`StabilisedSemiImplicit` applies.

    Maximum bound principle (Allen–Cahn). With ``laplacian="central"``,
    ``kappa >= max_{|s| <= 1} |f'(s)| = 2`` and ``|phi^0| <= 1``, every ``|phi^n| <= 1``
    for every ``dt`` (Du et al. 2019, 2021): ``e^{dt eps^2 Delta_h}`` is a contraction in
    the maximum norm with a non-negative kernel and ``kappa s - f(s)`` maps ``[-1, 1]``
    monotonically into ``[-kappa, kappa]``. The default ``kappa = 2`` gives both.

    References:
        Du, Ju, Li and Qiao, SIAM J. Numer. Anal. 57 (2019) 875-898; SIAM Rev. 63 (2021)
        317-359.
    """

    flow: GradientFlow
    dt: Float[Array, ""]
    stabilisation: float = eqx.field(static=True)
    coefficient: Float[Array, "..."]

    def __init__(self, flow: GradientFlow, dt: float, *, stabilisation: float = 2.0):
        self.flow = flow
        self.dt = jnp.asarray(_check_positive("StabilisedETD", "dt", dt), flow.dtype)
        self.stabilisation = _check_positive("StabilisedETD", "stabilisation", stabilisation)
        m = flow.linear + self.stabilisation
        self.coefficient = -jnp.expm1(-self.dt * flow.mobility * m) / m


class ConvexSplitting(EnergyStableScheme):
    r"""Eyre's convex splitting, first order (Eyre 1998).

    ``E = E_c - E_e`` with the convex ``E_c = 1/2 <L phi, phi> + <phi^4 / 4 + 1/4, 1>``
    taken implicitly and the concave part ``-E_e = -<phi^2 / 2, 1>`` explicitly:

        (phi^{n+1} - phi^n) / dt = -G [ L phi^{n+1} + (phi^{n+1})^3 - phi^n ].

    The step is the unique minimiser of a strongly convex functional; it is found by
    Newton's method from ``phi^n``, each Newton system
    ``(G^+ + dt P (L + 3 diag(phi^2))) delta = -G^+ R(phi)`` (``G^+`` the pseudo-inverse,
    ``P`` the projection onto the range of ``G``: mean-free fields for Cahn–Hilliard)
    being symmetric positive definite and solved by conjugate gradients preconditioned
    with the Fourier multiplier ``1 / (1/g + dt (lambda + 3 mean(phi^2)))``. Newton stops
    when ``max |delta| <= newton_tol`` (then the quadratic convergence has already put
    the error far below it) or after ``max_newton`` iterations.

    Energy. It dissipates the ORIGINAL discrete energy ``E_h`` for every ``dt``,
    unconditionally: ``E_h^{n+1} - E_h^n <= -||delta||^2_{(dt G)^{-1}}`` by convexity
    of ``E_c`` and ``E_e`` — to the accuracy of the nonlinear solve.

    References:
        D. J. Eyre, MRS Proc. 529 (1998) 39-46.
    """

    flow: GradientFlow
    dt: Float[Array, ""]
    newton_tol: float = eqx.field(static=True)
    cg_tol: float = eqx.field(static=True)
    max_newton: int = eqx.field(static=True)
    max_cg: int = eqx.field(static=True)
    mobility_pinv: Float[Array, "..."]
    projection: Float[Array, "..."]

    def __init__(
        self,
        flow: GradientFlow,
        dt: float,
        *,
        newton_tol: float | None = None,
        cg_tol: float | None = None,
        max_newton: int = 30,
        max_cg: int = 400,
    ):
        self.flow = flow
        self.dt = jnp.asarray(_check_positive("ConvexSplitting", "dt", dt), flow.dtype)
        machine = float(jnp.finfo(flow.dtype).eps)
        self.newton_tol = math.sqrt(machine) if newton_tol is None else float(newton_tol)
        self.cg_tol = (1e-10 if machine < 1e-10 else 1e-5) if cg_tol is None else float(cg_tol)
        self.max_newton = int(max_newton)
        self.max_cg = int(max_cg)
        g = flow.mobility
        positive = g > 0
        self.mobility_pinv = jnp.where(positive, 1 / jnp.where(positive, g, 1), 0)
        self.projection = positive.astype(flow.dtype)

    def init(self, phi0):
        return self.flow.check_state(phi0, "ConvexSplitting")

    def residual(self, phi: Array, phi_old: Array) -> Array:
        """``R(phi) = phi - phi^n + dt G (L phi + phi^3 - phi^n)``."""
        flow = self.flow
        mu = flow.apply(flow.linear, phi) + phi**3 - phi_old
        return phi - phi_old + self.dt * flow.apply(flow.mobility, mu)

    def step(self, state):
        flow, dt = self.flow, self.dt
        phi_old = state

        def newton_system(phi):
            weight = 3 * phi * phi
            shift = jnp.mean(weight)
            preconditioner = self.projection / (self.mobility_pinv + dt * (flow.linear + shift))
            preconditioner = jnp.where(self.projection > 0, preconditioner, 0)

            def matvec(delta):
                hat = flow.fft(delta)
                out = (self.mobility_pinv + dt * flow.linear) * hat
                out = out + dt * self.projection * flow.fft(weight * delta)
                return flow.ifft(out)

            return matvec, lambda r: flow.apply(preconditioner, r)

        def body(carry):
            phi, _, iteration = carry
            matvec, precondition = newton_system(phi)
            rhs = -flow.apply(self.mobility_pinv, self.residual(phi, phi_old))
            delta, _ = cg(matvec, rhs, tol=self.cg_tol, maxiter=self.max_cg, M=precondition)
            return phi + delta, jnp.max(jnp.abs(delta)), iteration + 1

        def keep_going(carry):
            _, size, iteration = carry
            return (size > self.newton_tol) & (iteration < self.max_newton)

        start = (phi_old, jnp.asarray(jnp.inf, flow.dtype), jnp.asarray(0))
        phi, _, _ = jax.lax.while_loop(keep_going, body, start)
        return phi

    def field(self, state):
        return state

    def discrete_energy(self, state):
        return self.flow.energy(state)


class SAVState(NamedTuple):
    """The state of :class:`SAV`: ``phi^n``, ``phi^{n-1}`` (for the extrapolation of the
    second-order scheme; ``phi^0`` at the start) and the scalar ``r^n``."""

    phi: Array
    phi_previous: Array
    r: Array


class SAV(EnergyStableScheme):
    r"""Scalar auxiliary variable schemes (Shen, Xu and Yang 2018), order 1 or 2.

    With a stabilisation ``beta >= 0`` the energy is split as
    ``E_h = 1/2 <(L + beta) phi, phi> + E_1(phi)``, ``E_1(phi) = <F(phi) - beta phi^2 / 2, 1>``,
    which is bounded below by ``-B = -|Omega| (beta / 2 + beta^2 / 4)``. With
    ``r = sqrt(E_1(phi) + B + C_0)`` (``C_0 > 0``) the flow is rewritten as

        phi_t = -G mu,   mu = (L + beta) phi + r b(phi),   r_t = 1/2 <b(phi), phi_t>,
        b(phi) = (f(phi) - beta phi) / sqrt(E_1(phi) + B + C_0).

    ``order=1`` (backward Euler), with ``b^n = b(phi^n)`` and ``L_beta = L + beta``:

        (phi^{n+1} - phi^n) / dt = -G [L_beta phi^{n+1} + r^{n+1} b^n],
        r^{n+1} - r^n = 1/2 <b^n, phi^{n+1} - phi^n>.

    ``order=2`` (Crank–Nicolson), with ``b^n = b((3 phi^n - phi^{n-1}) / 2)``:

        (phi^{n+1} - phi^n) / dt = -G [L_beta (phi^{n+1} + phi^n) / 2 + (r^{n+1} + r^n) / 2 b^n],
        r^{n+1} - r^n = 1/2 <b^n, phi^{n+1} - phi^n>.

    Both are linear with constant coefficients: writing ``A = I + theta_L dt G L_beta``, the
    step needs one scalar ``<b^n, phi^{n+1}>`` from
    ``(1 + theta dt <b^n, A^{-1} G b^n>) <b^n, phi^{n+1}> = <b^n, A^{-1} c>``, then
    ``phi^{n+1} = A^{-1} c - theta dt <b^n, phi^{n+1}> A^{-1} G b^n``, where
    ``theta = 1/2`` or ``1/4`` (``theta_L = 1`` or ``1/2``) and ``c`` collects the known terms.
    ``beta`` (default 0) treats the stiff part of ``f'`` implicitly; ``beta = 2`` keeps
    Cahn–Hilliard from grid-scale noise accurate at practical steps.

    Energy. Both dissipate the MODIFIED energy
    ``E~(phi, r) = 1/2 <L_beta phi, phi> + r^2 - B - C_0`` unconditionally, for every ``dt``
    and any data:

        order 1:  E~^{n+1} - E~^n = -dt <G mu, mu> - 1/2 <L_beta delta, delta>
                                    - (r^{n+1} - r^n)^2,
        order 2:  E~^{n+1} - E~^n = -dt <G mu, mu>.

    ``E~`` equals ``E_h`` while ``r = sqrt(E_1(phi) + B + C_0)``, and tends to it as
    ``dt -> 0``. The first step of order 2 extrapolates with ``phi^{-1} = phi^0``; its
    local error is then ``O(dt^2)``, which keeps the global order 2.

    References:
        J. Shen, J. Xu and J. Yang, J. Comput. Phys. 353 (2018) 407-416.
    """

    flow: GradientFlow
    dt: Float[Array, ""]
    order: int = eqx.field(static=True)
    offset: float = eqx.field(static=True)
    stabilisation: float = eqx.field(static=True)
    implicit: Float[Array, "..."]
    explicit: Float[Array, "..."]

    def __init__(
        self,
        flow: GradientFlow,
        dt: float,
        *,
        order: int = 2,
        offset: float = 1.0,
        stabilisation: float = 0.0,
    ):
        self.flow = flow
        self.dt = jnp.asarray(_check_positive("SAV", "dt", dt), flow.dtype)
        if order not in (1, 2):
            raise ValueError(f"SAV expects order 1 or 2, got {order!r}")
        self.order = int(order)
        beta = _check_positive("SAV", "stabilisation", stabilisation, allow_zero=True)
        self.stabilisation = beta
        volume = math.prod(flow.length)
        # C_0 plus the bound B of -E_1: r^2 = E_1 + B + C_0 >= C_0 > 0.
        self.offset = _check_positive("SAV", "offset C_0", offset) + volume * (
            beta / 2 + beta**2 / 4
        )
        theta_linear = 1.0 if order == 1 else 0.5
        gl = flow.mobility * (flow.linear + beta)
        self.implicit = 1 / (1 + theta_linear * self.dt * gl)  # A^{-1}
        self.explicit = 1 - (1 - theta_linear) * self.dt * gl  # (I - (1 - theta_L) dt G L)

    def auxiliary(self, phi: Array) -> Array:
        """``r = sqrt(E_1(phi) + B + C_0)``."""
        split = self.flow.bulk_energy(phi) - 0.5 * self.stabilisation * self.flow.inner(phi, phi)
        return jnp.sqrt(split + self.offset)

    def init(self, phi0):
        phi0 = self.flow.check_state(phi0, "SAV")
        return SAVState(phi0, phi0, self.auxiliary(phi0))

    def step(self, state: SAVState) -> SAVState:
        flow, dt = self.flow, self.dt
        phi, r = state.phi, state.r
        anchor = phi if self.order == 1 else 1.5 * phi - 0.5 * state.phi_previous
        b = (double_well_derivative(anchor) - self.stabilisation * anchor) / self.auxiliary(anchor)
        theta = 0.5 if self.order == 1 else 0.25
        # c = (I - (1 - theta_L) dt G L) phi^n - dt G b (r^n - theta <b, phi^n>)
        b_hat = flow.fft(b)
        c_hat = self.explicit * flow.fft(phi) - dt * flow.mobility * b_hat * (
            r - theta * flow.inner(b, phi)
        )
        a_inv_c = flow.ifft(self.implicit * c_hat)
        a_inv_gb = flow.ifft(self.implicit * flow.mobility * b_hat)
        b_dot_next = flow.inner(b, a_inv_c) / (1 + theta * dt * flow.inner(b, a_inv_gb))
        phi_next = a_inv_c - theta * dt * b_dot_next * a_inv_gb
        r_next = r + 0.5 * flow.inner(b, phi_next - phi)
        return SAVState(phi_next, phi, r_next)

    def field(self, state):
        return state.phi

    def discrete_energy(self, state):
        """The modified energy ``1/2 <(L + beta) phi, phi> + r^2 - B - C_0``."""
        flow, phi = self.flow, state.phi
        quadratic = flow.inner(flow.apply(flow.linear + self.stabilisation, phi), phi)
        return 0.5 * quadratic + state.r**2 - self.offset


def make_scheme(name: str, flow: GradientFlow, dt: float, **options) -> EnergyStableScheme:
    """The scheme called ``name`` (one of :data:`SCHEMES`) for ``flow`` with step ``dt``."""
    if name == "stabilised":
        return StabilisedSemiImplicit(flow, dt, **options)
    if name == "convex-splitting":
        return ConvexSplitting(flow, dt, **options)
    if name == "sav1":
        return SAV(flow, dt, order=1, **options)
    if name == "sav2":
        return SAV(flow, dt, order=2, **options)
    if name == "etd1":
        return StabilisedETD(flow, dt, **options)
    raise ValueError(f"unknown scheme {name!r}; expected one of {', '.join(SCHEMES)}")


def rollout(
    scheme: EnergyStableScheme,
    phi0: Float[ArrayLike, "*grid"],
    n_steps: int,
    *,
    save_every: int = 1,
) -> tuple[Float[Array, " n_saves *grid"], Float[Array, " n_saves"]]:
    """Take ``n_steps`` steps of ``scheme`` from ``phi0`` (:func:`sciml.solvers.stepping.rollout`).

    Args:
        scheme: the stepper (its ``dt`` fixes the time of each step).
        phi0: the initial field, of the flow's grid shape and dtype.
        n_steps: steps to take (a Python int >= 0, a multiple of ``save_every``).
        save_every: keep the field and the scheme's discrete energy every this many steps.

    Returns:
        ``(fields, energies)``: ``(n_steps // save_every + 1, *grid)`` fields at steps
        ``0, save_every, ..., n_steps`` and the scheme's discrete energy at each (the
        modified energy for SAV). One sample; batch with ``jax.vmap``.
    """
    if not isinstance(n_steps, numbers.Integral) or n_steps < 0:
        raise ValueError(f"rollout expects an integer n_steps >= 0, got {n_steps!r}")
    if not isinstance(save_every, numbers.Integral) or save_every < 1 or n_steps % save_every:
        raise ValueError(
            f"rollout expects save_every to be an integer >= 1 dividing n_steps = {n_steps}, "
            f"got {save_every!r}"
        )

    def observe(state):
        return scheme.field(state), scheme.discrete_energy(state)

    _, (fields, energies) = stepping.rollout(
        scheme.step,
        scheme.init(phi0),
        n_steps,
        save_every,
        observe=observe,
        include_initial=True,
    )
    return fields, energies
