"""Burgers trajectories: ``u(., 0) -> (u(., t_j))_j`` on a training horizon and past it.

Each sample starts from ``u0 ~ N(0, sigma^2 (-Laplacian + tau^2 I)^(-alpha))`` (the
law of the FNO paper's Burgers data, mean mode removed; see :mod:`sciml.data.burgers`)
and is solved with :func:`sciml.solvers.burgers.solve_burgers` (pseudo-spectral,
ETDRK4, fixed step) in float32 on a fine grid, then subsampled. Snapshots are stored
every half frame interval up to twice the training horizon, ``t_j = j Delta / 2`` for
``j = 1 .. 2 (n_frames + n_extra_frames)``:

* the frames ``t = Delta, 2 Delta, ..., n_frames Delta = T`` are the training targets;
* the frames past ``T`` (up to ``T + n_extra_frames Delta``, by default ``2 T``) judge a
  model rolled out beyond its training horizon;
* the half-way snapshots ``t = (k + 1/2) Delta`` judge a model evaluated between the
  snapshots it was trained on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sciml.data._checks import check_integers, check_positive, check_whole_steps
from sciml.data.batched import solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.fields import periodic_grf
from sciml.solvers.burgers import solve_burgers

__all__ = ["BurgersTrajectoryConfig", "generate_burgers_trajectories"]


@dataclasses.dataclass(frozen=True)
class BurgersTrajectoryConfig:
    """Generation config of a Burgers trajectory data set; serialises to JSON.

    Attributes:
        fine_resolution: grid points of the solve.
        subsample: keep every ``subsample``-th point (it must divide
            ``fine_resolution``).
        nu: viscosity.
        frame_interval: ``Delta``, the time between two training frames.
        n_frames: training frames; the horizon is ``T = n_frames * Delta``.
        n_extra_frames: frames past the horizon.
        dt: the solver's step; ``Delta / 2`` must be a whole number of steps.
        alpha, tau, sigma: the initial condition's law.
        length: period of the interval.
        n_train, n_test: split sizes.
        seed: sample ``i`` uses ``fold_in(key(seed), i)``.
    """

    fine_resolution: int = 512
    subsample: int = 8
    nu: float = 0.02
    frame_interval: float = 0.1
    n_frames: int = 10
    n_extra_frames: int = 10
    dt: float = 1 / 1000
    alpha: float = 2.0
    tau: float = 5.0
    sigma: float = 25.0
    length: float = 1.0
    n_train: int = 256
    n_test: int = 64
    seed: int = 0

    def __post_init__(self):
        name = "BurgersTrajectoryConfig"
        check_integers(self, ("fine_resolution", "subsample", "n_frames", "n_train", "n_test"))
        check_integers(self, ("n_extra_frames",), minimum=0)
        if self.fine_resolution % self.subsample or self.fine_resolution // self.subsample < 8:
            raise ValueError(
                f"{name} expects subsample to divide fine_resolution into at least 8 points, "
                f"got fine_resolution={self.fine_resolution}, subsample={self.subsample}"
            )
        check_positive(self, ("nu", "frame_interval", "dt", "tau", "sigma", "length", "alpha"))
        if not self.alpha > 0.5:
            raise ValueError(f"{name} expects alpha > 1/2, got {self.alpha!r}")
        check_whole_steps(self, "frame_interval / 2", self.frame_interval / 2, self.dt)

    @property
    def resolution(self) -> int:
        """Points of the stored grid."""
        return self.fine_resolution // self.subsample

    @property
    def horizon(self) -> float:
        """``T``, the time of the last training frame."""
        return self.n_frames * self.frame_interval

    @property
    def snapshot_times(self) -> np.ndarray:
        """The times of the stored snapshots, every ``Delta / 2`` up to the last frame."""
        count = 2 * (self.n_frames + self.n_extra_frames)
        return np.arange(1, count + 1) * (self.frame_interval / 2)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def _make_batch_solver(config: BurgersTrajectoryConfig):
    r = config.subsample
    times = config.snapshot_times
    steps = np.rint(times / config.dt)
    t_final = float(steps[-1] * config.dt)
    save_at = tuple(float(k * config.dt) for k in steps)

    def one(key):
        u0 = periodic_grf(
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
        u = solve_burgers(
            u0, nu=config.nu, t_final=t_final, dt=config.dt, length=config.length, save_at=save_at
        )
        return u0[None, ::r], u[:, ::r]

    return jax.jit(jax.vmap(one))


def generate_burgers_trajectories(
    config: BurgersTrajectoryConfig, *, batch_size: int = 32, progress=None
) -> dict[str, OperatorDataset]:
    """Generate the train and test splits of ``config``.

    Returns:
        ``{"train", "test"}``: inputs ``u0: (N, 1, s)`` and outputs the snapshots
        ``(N, 2 (n_frames + n_extra_frames), s)`` at ``config.snapshot_times``, float32,
        coordinates ``(x,)`` with ``x = arange(s) * length / s``.
    """
    inputs, outputs = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    if not (np.all(np.isfinite(inputs)) and np.all(np.isfinite(outputs))):
        raise ValueError(f"Burgers trajectory generation produced non-finite values for {config}")
    s = config.resolution
    coords = (np.arange(s) * config.length / s,)
    return train_test_splits(inputs, outputs, config.n_train, coords, config.to_dict())
