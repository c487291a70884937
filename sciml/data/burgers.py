"""The Burgers task of the FNO paper, generated with our own solver.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier
Neural Operator for Parametric Partial Differential Equations", ICLR 2021, §5.1:
learn the map ``u0 -> u(., T = 1)`` of ``u_t + (u^2/2)_x = nu u_xx`` on the periodic
interval ``[0, 1)`` with ``nu = 0.1``, for initial conditions
``u0 ~ N(0, 625 (-Laplacian + 25 I)^(-2))``. Solutions are computed on 2^13 = 8192
points and every ``subsample``-th point is kept (s = 256 .. 8192).

In the convention of :func:`sciml.fields.periodic_grf` (eigenvalues
``sigma^2 (|2 pi k / L|^2 + tau^2)^(-alpha)``) that covariance is ``alpha = 2``,
``tau = 5``, ``sigma = 25``: ``625 (4 pi^2 k^2 + 25)^(-2)``. As in the paper's generator
the mean mode is left out (its variance would be 1). The released MATLAB generator
of the authors uses other values (``gamma = 2.5``, ``tau = 7``, ``sigma = 49``); the
defaults here follow the paper's text, and any of them can be set.

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

__all__ = ["BurgersConfig", "burgers_initial_condition", "generate_burgers", "generation_rate"]


@dataclasses.dataclass(frozen=True)
class BurgersConfig:
    """Generation config of a Burgers data set; serialises to JSON.

    Attributes:
        fine_resolution: grid points of the solve (8192 = 2^13 in the paper).
        subsample: keep every ``subsample``-th point; it must divide
            ``fine_resolution``, and the stored grid has ``fine_resolution // subsample``
            points (8 gives the paper's s = 1024).
        n_train, n_test: split sizes (1000 / 100 in the paper's experiments).
        nu: viscosity (0.1).
        t_final: the time T of the output ``u(., T)`` (1).
        dt: the solver's fixed time step; ``t_final / dt`` must be an integer. The
            default 1/100 (100 steps) differs from a dt/4 solve by about 1.5e-6 in
            relative L2 at 8192 points, the size of the float32 round-off of the solve
            itself (smaller steps add round-off; see ``benchmarks/burgers_solver.py``).
        alpha, tau, sigma: the initial condition's law
            ``N(0, sigma^2 (-Laplacian + tau^2 I)^(-alpha))``, mean mode removed.
        length: period of the interval.
        seed: the random seed; sample i always uses ``fold_in(key(seed), i)``, so a
            sample does not depend on the batch it was generated in.
    """

    fine_resolution: int = 8192
    subsample: int = 8
    n_train: int = 1000
    n_test: int = 100
    nu: float = 0.1
    t_final: float = 1.0
    dt: float = 1 / 100
    alpha: float = 2.0
    tau: float = 5.0
    sigma: float = 25.0
    length: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_integers(self, ("fine_resolution",), minimum=16)
        check_integers(self, ("subsample", "n_train", "n_test"))
        if self.fine_resolution % self.subsample:
            raise ValueError(
                f"BurgersConfig expects subsample to divide fine_resolution so that the "
                f"coarse grid is periodic and equispaced; got fine_resolution="
                f"{self.fine_resolution}, subsample={self.subsample}"
            )
        check_positive(self, ("nu", "t_final", "dt", "tau", "sigma", "length", "alpha"))
        if not self.alpha > 0.5:
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

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def burgers_initial_condition(key: PRNGKeyArray, config: BurgersConfig) -> Float[Array, " n"]:
    """One initial condition ``u0: (fine_resolution,)`` in float32 on the fine grid."""
    return periodic_grf(
        key,
        1,
        (config.fine_resolution,),
        alpha=config.alpha,
        tau=config.tau,
        sigma=config.sigma,
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
