"""The 2-D Navier–Stokes task of the FNO paper, generated with our own solver.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier Neural
Operator for Parametric Partial Differential Equations", ICLR 2021, §5.3: the vorticity
equation on the unit torus (:mod:`sciml.solvers.navier_stokes`)

    w_t + u . grad w = nu Laplacian w + f,   f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y)),

from ``w0`` drawn from the periodic Gaussian random field with covariance
``sigma^2 (-Laplacian + tau^2 I)^(-alpha)``, ``alpha = 2.5``, ``tau = 7`` and
``sigma = tau^(0.5 (2 alpha - d)) = 7^1.5`` (d = 2; the released generator's scaling, see
:func:`sciml.fields.periodic_grf`), mean zero. The solver runs on 256 x 256 points and the
stored fields are the 64 x 64 subgrid (every 4th point in each direction; the released
``ns_2d.py`` saves the full grid, and its published 64 x 64 files are consistent with a
strided subsampling, which is what we do). Frames are kept at t = 1, 2, ..., T. The three
cases of the paper's Table 1 are :data:`PAPER_CASES`; 1000 training and 200 test samples
per case (the split of its ``fourier_2d*.py`` scripts).

Sample ``i`` uses the key ``fold_in(key(seed), i)`` whatever the batch it is generated in.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

from sciml.data._checks import check_integers, check_positive, check_strided_grid
from sciml.data.batched import batch_rate, solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.fields import periodic_grf
from sciml.solvers.navier_stokes import (
    DEFAULT_CFL,
    SCHEMES,
    Stepper,
    fno_forcing,
    make_stepper,
    rollout,
)

__all__ = [
    "PAPER_CASES",
    "NavierStokesConfig",
    "generate_navier_stokes",
    "generation_rate",
    "paper_config",
]

PAPER_CASES: dict[float, int] = {1e-3: 50, 1e-4: 30, 1e-5: 20}
"""Viscosity -> final time T of the FNO paper's three Navier–Stokes data sets."""

SPEED_BOUND = 1.0
"""Default bound on ``max |u|`` for the CFL step. The FNO flows (forced by ``f`` above,
from these initial conditions) reach at most ~0.3 (nu = 1e-3, T = 50), ~0.55 (1e-4,
T = 30) and ~0.5 (1e-5, T = 20) on our samples, so 1.0 leaves a margin of about 2."""


@dataclasses.dataclass(frozen=True)
class NavierStokesConfig:
    """Generation config of a Navier–Stokes data set; serialises to JSON.

    Attributes:
        solve_resolution: grid points per side of the solver grid (256 in the paper).
        resolution: grid points per side of the stored fields; must divide
            ``solve_resolution`` (every ``solve_resolution // resolution``-th point is kept).
        nu: viscosity (1e-3, 1e-4, 1e-5 in the paper).
        t_final: number of frames T, at t = 1, ..., T (an integer).
        scheme: ``"fast"`` (ETDRK4, the default: fourth order; at its default CFL step,
            dt = 1/512 on 256^2, it needs ~5x fewer right-hand-side evaluations than the
            paper's dt = 1e-4 and its temporal error is at round-off, ~1e-13 relative
            on 128^2 at T = 5, where the paper scheme's is ~3e-6) or ``"paper"`` (the
            released generator's Crank–Nicolson / forward-Euler scheme, first order,
            dt = 1e-4), to reproduce that generator's data exactly.
        dt: time step; ``None`` means 1e-4 for ``"paper"`` and the CFL step
            ``cfl / (solve_resolution * speed_bound)`` (rounded down to divide 1) for
            ``"fast"``.
        cfl: the fast scheme's CFL number (see ``sciml.solvers.navier_stokes.DEFAULT_CFL``).
        speed_bound: bound on ``max |u|`` over the rollout used by the CFL step.
        alpha, tau: the initial condition's Gaussian random field; sigma is the default
            ``tau^(0.5 (2 alpha - d)) = tau^(alpha - 1)`` for d = 2.
        n_train, n_test: split sizes (1000 / 200 in the paper).
        seed: the random seed; sample i uses ``fold_in(key(seed), i)``.
    """

    solve_resolution: int = 256
    resolution: int = 64
    nu: float = 1e-3
    t_final: int = 50
    scheme: str = "fast"
    dt: float | None = None
    cfl: float = DEFAULT_CFL
    speed_bound: float = SPEED_BOUND
    alpha: float = 2.5
    tau: float = 7.0
    n_train: int = 1000
    n_test: int = 200
    seed: int = 0

    def __post_init__(self):
        name = "NavierStokesConfig"
        check_integers(self, ("solve_resolution", "resolution", "t_final", "n_train", "n_test"))
        check_strided_grid(name, self.solve_resolution, self.resolution)
        if self.scheme not in SCHEMES:
            raise ValueError(f"{name} expects scheme in {SCHEMES}; got {self.scheme!r}")
        check_positive(
            self, ("cfl", "speed_bound", "tau") + (("dt",) if self.dt is not None else ())
        )
        if not (isinstance(self.nu, (int, float)) and math.isfinite(self.nu) and self.nu >= 0):
            raise ValueError(f"{name} expects a finite nu >= 0; got {self.nu!r}")

    @property
    def subsample(self) -> int:
        """Stride from the solver grid to the stored grid."""
        return self.solve_resolution // self.resolution

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def paper_config(nu: float, **overrides) -> NavierStokesConfig:
    """The config of one of the paper's cases, ``nu`` in :data:`PAPER_CASES`."""
    matches = [case for case in PAPER_CASES if math.isclose(case, nu, rel_tol=1e-9)]
    if not matches:
        raise ValueError(f"paper_config expects nu in {sorted(PAPER_CASES)}; got {nu!r}")
    return NavierStokesConfig(nu=matches[0], t_final=PAPER_CASES[matches[0]], **overrides)


def make_stepper_for(config: NavierStokesConfig) -> tuple[Stepper, int]:
    """The solver-grid stepper of ``config`` and its number of steps per unit time."""
    s = config.solve_resolution
    return make_stepper(
        s,
        nu=config.nu,
        scheme=config.scheme,
        forcing=fno_forcing(s),
        dt=config.dt,
        record_every=1.0,
        speed=config.speed_bound,
        cfl=config.cfl,
    )


def _make_batch_solver(config: NavierStokesConfig, t_final: int | None = None):
    stepper, steps = make_stepper_for(config)
    num_frames = config.t_final if t_final is None else t_final
    r, s = config.subsample, config.solve_resolution

    def one(key):
        w0 = periodic_grf(key, 1, (s, s), alpha=config.alpha, tau=config.tau)[0]
        frames = rollout(stepper, w0, num_frames=num_frames, steps_per_frame=steps)
        return w0[::r, ::r], frames[:, ::r, ::r]

    return jax.jit(jax.vmap(one))


def generate_navier_stokes(
    config: NavierStokesConfig, *, batch_size: int = 16, progress=None
) -> dict[str, OperatorDataset]:
    """Generate the train and test splits of ``config``.

    Samples ``0 .. n_train-1`` form the train split and the next ``n_test`` the test
    split. Generation runs ``jit(vmap(rollout))`` over batches of ``batch_size`` samples
    (the last batch is padded, so one compiled program serves all) in float32.

    Returns:
        ``{"train": OperatorDataset, "test": OperatorDataset}`` with inputs ``w0`` of
        shape ``(N, 1, s, s)`` and outputs the trajectory ``(N, T, s, s)`` (time as the
        channel axis, frame ``k`` at ``t = k + 1``), float32, coordinates
        ``x = y = arange(s) / s``.
    """
    inputs, outputs = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    if not np.all(np.isfinite(outputs)):
        raise ValueError(
            "generate_navier_stokes produced non-finite vorticity: the time step is too "
            "large for this flow; lower cfl or dt, or raise speed_bound"
        )
    x = np.arange(config.resolution) / config.resolution
    return train_test_splits(inputs[:, None], outputs, config.n_train, (x, x), config.to_dict())


def generate_navier_stokes_test(
    config: NavierStokesConfig, *, batch_size: int = 16, progress=None
) -> OperatorDataset:
    """Only the test split of ``config``: samples ``n_train .. n_train+n_test-1``.

    The same flows as ``generate_navier_stokes(config)["test"]``, without solving the
    training samples; with another ``resolution`` (same ``solve_resolution``) it
    stores them on another grid, for zero-shot super-resolution (Li et al., ICLR 2021,
    section 5.4).
    """
    inputs, outputs = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_test,
        batch_size=batch_size,
        progress=progress,
        start=config.n_train,
    )
    if not np.all(np.isfinite(outputs)):
        raise ValueError(
            "generate_navier_stokes_test produced non-finite vorticity: the time step is "
            "too large for this flow; lower cfl or dt, or raise speed_bound"
        )
    x = np.arange(config.resolution) / config.resolution
    return OperatorDataset(inputs[:, None], outputs, (x, x), config.to_dict())


def generation_rate(
    config: NavierStokesConfig,
    *,
    batch_size: int = 16,
    repeats: int = 1,
    horizon: int | None = None,
) -> dict:
    """Samples per second of `generate_navier_stokes`'s compiled batch solver (compile excluded).

    With ``horizon`` (< ``t_final``) only that many frames are computed and the rate is
    scaled by ``horizon / t_final`` to estimate the full horizon (the cost per frame is
    constant: a fixed number of steps).
    """
    horizon = config.t_final if horizon is None else horizon
    solve_batch = _make_batch_solver(config, t_final=horizon)
    stepper, steps = make_stepper_for(config)
    compile_s, measured = batch_rate(
        solve_batch, seed=config.seed, batch_size=batch_size, repeats=repeats
    )
    return {
        "solve_resolution": config.solve_resolution,
        "scheme": config.scheme,
        "dt": stepper.dt,
        "steps_per_unit_time": steps,
        "batch_size": batch_size,
        "horizon": horizon,
        "compile_s": compile_s,
        "samples_per_s": measured * horizon / config.t_final,
    }
