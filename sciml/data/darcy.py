"""The Darcy-flow task of the FNO paper, generated with our own solver.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier
Neural Operator for Parametric Partial Differential Equations", ICLR 2021, §5.2:
-div(a grad u) = 1 on the unit square with u = 0 on the boundary, where
a = 12 where a Neumann Gaussian random field (alpha = 2, tau = 3) is >= 0 and
a = 4 elsewhere. Solutions are computed on 421 x 421 nodes and every r-th node is
kept: r = 5 gives 85 x 85, r = 3 gives 141, r = 2 gives 211.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.data.batched import batch_rate, solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.fields import neumann_grf
from sciml.solvers.darcy import solve_darcy


@dataclasses.dataclass(frozen=True)
class DarcyConfig:
    """Generation config of a Darcy data set; serialises to JSON.

    Attributes:
        fine_resolution: nodes per side of the grid the solver runs on (421 in the paper).
        subsample: keep every ``subsample``-th node; the stored grid has
            ``(fine_resolution - 1) // subsample + 1`` nodes per side.
        n_train, n_test: split sizes (1000 / 100 in the paper).
        alpha, tau: the Gaussian random field's smoothness and length scale.
        a_high, a_low: coefficient where the field is >= 0, and elsewhere.
        source: the constant right-hand side f.
        rtol: the solver's relative residual tolerance.
        seed: the random seed; sample i always uses ``fold_in(key(seed), i)``, so a
            sample does not depend on the batch it was generated in.
    """

    fine_resolution: int = 421
    subsample: int = 5
    n_train: int = 1000
    n_test: int = 100
    alpha: float = 2.0
    tau: float = 3.0
    a_high: float = 12.0
    a_low: float = 4.0
    source: float = 1.0
    rtol: float = 1e-6
    seed: int = 0

    def __post_init__(self):
        if self.fine_resolution < 3 or self.subsample < 1:
            raise ValueError(
                "DarcyConfig expects fine_resolution >= 3 and subsample >= 1, got "
                f"fine_resolution={self.fine_resolution}, subsample={self.subsample}"
            )
        if (self.fine_resolution - 1) % self.subsample:
            raise ValueError(
                f"DarcyConfig expects subsample to divide fine_resolution - 1 so that the "
                f"coarse grid keeps the boundary nodes; got fine_resolution="
                f"{self.fine_resolution}, subsample={self.subsample}"
            )
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError(
                f"DarcyConfig expects n_train >= 1 and n_test >= 1, got {self.n_train}, "
                f"{self.n_test}"
            )
        if not (0 < self.a_low and 0 < self.a_high):
            raise ValueError(
                f"DarcyConfig expects positive coefficients, got a_low={self.a_low}, "
                f"a_high={self.a_high}"
            )

    @property
    def resolution(self) -> int:
        """Nodes per side of the stored grid."""
        return (self.fine_resolution - 1) // self.subsample + 1

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def darcy_coefficient(key: PRNGKeyArray, config: DarcyConfig) -> Float[Array, "s s"]:
    """One thresholded coefficient ``a: (s, s)`` on the fine grid."""
    field = neumann_grf(key, 1, config.fine_resolution, alpha=config.alpha, tau=config.tau)[0]
    return jnp.where(field >= 0, config.a_high, config.a_low).astype(jnp.float32)


def _make_batch_solver(config: DarcyConfig):
    r = config.subsample

    def one(key):
        a = darcy_coefficient(key, config)
        u = solve_darcy(a, config.source, rtol=config.rtol)
        return a[::r, ::r], u[::r, ::r]

    return jax.jit(jax.vmap(one))


def generate_darcy(
    config: DarcyConfig, *, batch_size: int = 32, progress=None
) -> dict[str, OperatorDataset]:
    """Generate the train and test splits of ``config``.

    Samples ``0 .. n_train-1`` form the train split and the next ``n_test`` the test
    split. Generation runs ``jit(vmap(solve))`` over batches of ``batch_size``
    samples (the last batch is padded, so one compiled program serves all).

    Returns:
        ``{"train": OperatorDataset, "test": OperatorDataset}`` with inputs ``a`` and
        outputs ``u``, each ``(N, 1, s, s)`` in float32.
    """
    a, u = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    s = config.resolution
    coords = (np.linspace(0.0, 1.0, s), np.linspace(0.0, 1.0, s))
    return train_test_splits(a[:, None], u[:, None], config.n_train, coords, config.to_dict())


def generate_darcy_test(
    config: DarcyConfig, *, batch_size: int = 32, progress=None
) -> OperatorDataset:
    """Only the test split of ``config``: samples ``n_train .. n_train+n_test-1``.

    The same coefficients as ``generate_darcy(config)["test"]``, without solving the
    training samples; with another ``subsample`` it gives the test split at another
    resolution, for zero-shot super-resolution (Li et al., ICLR 2021, section 5.4).
    """
    a, u = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_test,
        batch_size=batch_size,
        progress=progress,
        start=config.n_train,
    )
    s = config.resolution
    coords = (np.linspace(0.0, 1.0, s), np.linspace(0.0, 1.0, s))
    return OperatorDataset(a[:, None], u[:, None], coords, config.to_dict())


def generation_rate(config: DarcyConfig, *, batch_size: int = 32, repeats: int = 1) -> dict:
    """Samples per second of `generate_darcy`'s compiled batch solver (compile excluded)."""
    compile_s, rate = batch_rate(
        _make_batch_solver(config), seed=config.seed, batch_size=batch_size, repeats=repeats
    )
    return {
        "resolution": config.fine_resolution,
        "batch_size": batch_size,
        "compile_s": compile_s,
        "samples_per_s": rate,
    }
