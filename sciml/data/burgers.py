"""The Burgers task of the FNO paper, generated with our own solver.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier
Neural Operator for Parametric Partial Differential Equations", ICLR 2021, §5.1:
learn the map ``u0 -> u(., T = 1)`` of ``u_t + (u^2/2)_x = nu u_xx`` on the periodic
interval ``[0, 1)`` with ``nu = 0.1``, for initial conditions
``u0 ~ N(0, 625 (-Laplacian + 25 I)^(-2))``. Solutions are computed on 2^13 = 8192
points and every ``subsample``-th point is kept (s = 256 .. 8192).

Two laws of the initial condition (``BurgersConfig.law``):

- ``"paper"`` (default): the paper's text, ``N(0, 625 (-Laplacian + 25 I)^(-2))``. In the
  convention of :func:`sciml.fields.periodic_grf` (eigenvalues
  ``sigma^2 (|2 pi k / L|^2 + tau^2)^(-alpha)``) that is ``alpha = 2``, ``tau = 5``,
  ``sigma = 25``: ``625 (4 pi^2 k^2 + 25)^(-2)``, the mean mode left out.
- ``"grf1"``: the released MATLAB generator of the authors (``GRF1.m``, called by
  ``gen_burgers1.m`` with ``gamma = 2.5``, ``tau = 7``, ``sigma = 7^2``), drawn as
  :func:`grf1_initial_condition` does. ``GRF1(N, 0, gamma, tau, sigma, "periodic")``
  returns ``sum_{k=1..N} sqrt(2) sigma ((2 pi k)^2 + tau^2)^(-gamma/2) (xi_k cos 2 pi k x
  + eta_k sin 2 pi k x)`` with ``xi, eta ~ N(0, 1)`` on ``[0, 1]`` (its half-period shift
  only flips signs), the Karhunen-Loeve expansion of ``N(0, sigma^2 (-Laplacian +
  tau^2 I)^(-gamma))`` in the orthonormal basis ``sqrt(2) cos, sqrt(2) sin``. Its
  parameters are therefore ours as they stand: ``alpha = gamma = 2.5``, ``tau = 7``,
  ``sigma = 49`` (``sigma`` enters squared: the covariance is ``7^4 (-Laplacian +
  49 I)^(-2.5)``), with the mean mode zero and ``N = n / 2`` modes on ``n`` grid points.
  On the grid it differs from :func:`sciml.fields.periodic_grf` with the same parameters
  only at the Nyquist mode ``k = n / 2``, where ``cos(pi j)`` keeps its full variance
  ``2 lambda`` (twice the FFT sampler's); the two laws' spectra are otherwise equal.
  The paper's law is ``GRF1`` with ``gamma = 2``, ``tau = 5``, ``sigma = 25``.

Which of the two made the published ``burgers_data_R10.mat`` is discussed, with the
sources, in ``benchmarks/results/burgers-data-law.md``.

The solution uses :func:`sciml.solvers.burgers.solve_burgers` (pseudo-spectral, 2/3
dealiasing, ETDRK4 with a fixed step) in float32 on the fine grid.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.data._checks import check_integers, check_positive, check_whole_steps
from sciml.data.batched import batch_rate, solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.fields import periodic_grf
from sciml.solvers.burgers import solve_burgers

__all__ = [
    "LAWS",
    "BurgersConfig",
    "burgers_initial_condition",
    "generate_burgers",
    "generation_rate",
    "grf1_initial_condition",
]

#: The laws of ``BurgersConfig.law`` and their ``(alpha, tau, sigma)``.
LAWS: dict[str, tuple[float, float, float]] = {
    "paper": (2.0, 5.0, 25.0),
    "grf1": (2.5, 7.0, 49.0),
}


@dataclasses.dataclass(frozen=True)
class BurgersConfig:
    """Generation config of a Burgers data set; serialises to JSON.

    Attributes:
        fine_resolution: grid points of the solve (8192 = 2^13 in the paper).
        subsample: keep every ``subsample``-th point; it must divide
            ``fine_resolution``, and the stored grid has ``fine_resolution // subsample``
            points (8 gives the paper's s = 1024).
        n_train, n_test: split sizes (1000 / 100 in the paper's experiments).
        nu: viscosity (0.1, the paper's; ``gen_burgers1.m`` sets ``visc = 1/1000``, the
            viscosity of the authors' ``burgers_v1000_t200_r1024_N2048.mat``).
        t_final: the time T of the output ``u(., T)`` (1).
        dt: the solver's fixed time step; ``t_final / dt`` must be an integer. The
            default 1/100 (100 steps) differs from a dt/4 solve by about 1.5e-6 in
            relative L2 at 8192 points, the size of the float32 round-off of the solve
            itself (smaller steps add round-off; see ``benchmarks/burgers_solver.py``).
        alpha: smoothness exponent of the initial condition's law
            ``N(0, sigma^2 (-Laplacian + tau^2 I)^(-alpha))`` (mean mode removed); ``None``
            (default) takes the value of ``law``: 2 for ``"paper"``, 2.5 for ``"grf1"``
            (``GRF1``'s ``gamma``).
        tau: inverse length scale of that law; ``None`` takes ``law``'s: 5 or 7.
        sigma: amplitude of that law (it enters squared); ``None`` takes ``law``'s: 25
            or 49 (``GRF1``'s ``sigma = 7^2``).
        length: period of the interval.
        seed: the random seed; sample i always uses ``fold_in(key(seed), i)``, so a
            sample does not depend on the batch it was generated in.
        law: the initial condition's law, a key of :data:`LAWS`: ``"paper"`` (default)
            draws with :func:`sciml.fields.periodic_grf`, ``"grf1"`` as the authors'
            ``GRF1.m`` (:func:`grf1_initial_condition`); each supplies the default
            ``alpha``, ``tau``, ``sigma``, which may still be set. A ``"paper"`` config
            serialises without ``law``, as it did before the option existed, so its cache
            entries and run folders stay valid.
    """

    fine_resolution: int = 8192
    subsample: int = 8
    n_train: int = 1000
    n_test: int = 100
    nu: float = 0.1
    t_final: float = 1.0
    dt: float = 1 / 100
    alpha: float | None = None
    tau: float | None = None
    sigma: float | None = None
    length: float = 1.0
    seed: int = 0
    law: str = "paper"

    def __post_init__(self):
        if self.law not in LAWS:
            raise ValueError(
                f"BurgersConfig expects law to be one of {', '.join(map(repr, LAWS))}; got "
                f"{self.law!r}"
            )
        for name, value in zip(("alpha", "tau", "sigma"), LAWS[self.law]):
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        check_integers(self, ("fine_resolution",), minimum=16)
        check_integers(self, ("subsample", "n_train", "n_test"))
        if self.fine_resolution % self.subsample:
            raise ValueError(
                f"BurgersConfig expects subsample to divide fine_resolution so that the "
                f"coarse grid is periodic and equispaced; got fine_resolution="
                f"{self.fine_resolution}, subsample={self.subsample}"
            )
        check_positive(self, ("nu", "t_final", "dt", "tau", "sigma", "length", "alpha"))
        if not self.law_parameters[0] > 0.5:
            raise ValueError(
                f"BurgersConfig expects alpha > 1/2 (finite pointwise variance in 1-D), got "
                f"{self.alpha!r}"
            )
        check_whole_steps(self, "t_final", self.t_final, self.dt)

    @property
    def resolution(self) -> int:
        """Points of the stored grid."""
        return self.fine_resolution // self.subsample

    @property
    def n_steps(self) -> int:
        """Time steps of each solve."""
        return round(self.t_final / self.dt)

    @property
    def law_parameters(self) -> tuple[float, float, float]:
        """``(alpha, tau, sigma)`` of the initial condition's law, resolved."""
        alpha, tau, sigma = self.alpha, self.tau, self.sigma
        assert alpha is not None and tau is not None and sigma is not None
        return alpha, tau, sigma

    def to_dict(self) -> dict[str, Any]:
        """The JSON config; ``law`` is left out when it is ``"paper"``, so that such a
        config has the dict (and cache entry and run folder) it had before the option
        existed, while ``"grf1"`` changes the hash."""
        return config_to_dict(self, added={"law": "paper"})


def grf1_initial_condition(
    key: PRNGKeyArray,
    n: int,
    *,
    gamma: float = 2.5,
    tau: float = 7.0,
    sigma: float = 49.0,
    length: float = 1.0,
    dtype=jnp.float32,
) -> Float[Array, " n"]:
    """One sample of the law of the authors' ``GRF1.m`` at the points ``j L / n``.

    ``u(x) = sum_{k=1..n//2} s_k (xi_k cos(2 pi k x / L) + eta_k sin(2 pi k x / L))`` with
    ``s_k = sqrt(2 / L) sigma ((2 pi k / L)^2 + tau^2)^(-gamma/2)`` and independent
    ``xi_k, eta_k ~ N(0, 1)``: ``GRF1(n/2, 0, gamma, tau, sigma, "periodic")`` evaluated on
    the grid, as ``gen_burgers1.m`` stores it. ``L = 1`` is ``GRF1``'s interval; other
    ``L`` keep the eigenfunctions orthonormal on ``[0, L)``. The ``rfft`` of a sample has
    ``E|U_k|^2 = n^2 lambda_k`` for ``0 < k < n/2`` and ``2 n^2 lambda_k`` at ``k = n/2``
    (even ``n``: only the cosine survives there), ``lambda_k = sigma^2 ((2 pi k / L)^2 +
    tau^2)^(-gamma) / L``, and ``U_0 = 0``.

    Args:
        key: a JAX PRNG key.
        n: grid points.
        gamma: ``GRF1``'s smoothness exponent (our ``alpha``).
        tau: inverse length scale.
        sigma: amplitude (the covariance carries ``sigma^2``).
        length: period ``L``.
        dtype: floating dtype of the sample.

    Returns:
        ``(n,)`` array.
    """
    k = jnp.arange(1, n // 2 + 1, dtype=dtype)
    kappa = 2 * jnp.pi * k / length
    std = jnp.sqrt(2 / length) * sigma * (kappa**2 + tau**2) ** (-gamma / 2)
    xi, eta = jax.random.normal(key, (2, n // 2), dtype=dtype)
    coefficients = 0.5 * n * std * (xi - 1j * eta)  # u = sum a cos + b sin, a - ib
    if n % 2 == 0:  # the Nyquist mode: cos(pi j) = (-1)^j, sin(pi j) = 0
        coefficients = coefficients.at[-1].set(n * std[-1] * xi[-1])
    coefficients = jnp.concatenate([jnp.zeros(1, coefficients.dtype), coefficients])
    return jnp.fft.irfft(coefficients, n).astype(dtype)


def burgers_initial_condition(key: PRNGKeyArray, config: BurgersConfig) -> Float[Array, " n"]:
    """One initial condition ``u0: (fine_resolution,)`` in float32 on the fine grid, drawn
    from the law ``config.law``."""
    alpha, tau, sigma = config.law_parameters
    if config.law == "grf1":
        return grf1_initial_condition(
            key,
            config.fine_resolution,
            gamma=alpha,
            tau=tau,
            sigma=sigma,
            length=config.length,
            dtype=jnp.float32,
        )
    return periodic_grf(
        key,
        1,
        (config.fine_resolution,),
        alpha=alpha,
        tau=tau,
        sigma=sigma,
        length=config.length,
        mean_zero=True,
        dtype=jnp.float32,
    )[0]


def _make_batch_solver(config: BurgersConfig):
    r = config.subsample

    def one(key):
        u0 = burgers_initial_condition(key, config)
        u = solve_burgers(
            u0, nu=config.nu, t_final=config.t_final, dt=config.dt, length=config.length
        )
        return u0[::r], u[::r]

    return jax.jit(jax.vmap(one))


def generate_burgers(
    config: BurgersConfig, *, batch_size: int = 32, progress=None
) -> dict[str, OperatorDataset]:
    """Generate the train and test splits of ``config``.

    Samples ``0 .. n_train-1`` form the train split and the next ``n_test`` the test
    split. Generation runs ``jit(vmap(solve))`` over batches of ``batch_size``
    samples (the last batch is padded, so one compiled program serves all);
    ``progress(count)`` is called after each batch.

    Returns:
        ``{"train": OperatorDataset, "test": OperatorDataset}`` with inputs ``u0`` and
        outputs ``u(., t_final)``, each ``(N, 1, s)`` in float32, and coordinates
        ``(x,)`` with ``x = arange(s) * length / s``.
    """
    u0, u = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    s = config.resolution
    coords = (np.arange(s) * config.length / s,)
    return train_test_splits(u0[:, None], u[:, None], config.n_train, coords, config.to_dict())


def generation_rate(config: BurgersConfig, *, batch_size: int = 32, repeats: int = 1) -> dict:
    """Samples per second of `generate_burgers`'s compiled batch solver (compile excluded)."""
    compile_s, rate = batch_rate(
        _make_batch_solver(config), seed=config.seed, batch_size=batch_size, repeats=repeats
    )
    return {
        "resolution": config.fine_resolution,
        "n_steps": config.n_steps,
        "batch_size": batch_size,
        "compile_s": compile_s,
        "samples_per_s": rate,
    }
